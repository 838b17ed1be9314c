"""Board profiles (flash and RAM available to the application) and the budget check of an export.

Flash and RAM are PlatformIO's figures for each board (`upload.maximum_size`, `upload.maximum_ram_size` in its
board definitions). The code size and the RAM the firmware itself takes are estimates, stated per board below;
they make the check fail early for models that cannot fit, the linker is the final word.
"""
from __future__ import annotations

from dataclasses import dataclass

from pipeline.config import BOARDS
from pipeline.errors import PipelineError

KB = 1024
TFLM_CORE_FLASH = 40 * KB  # interpreter, allocator, flatbuffer reader, error reporter (TFLM on Cortex-M, -Os)
FLASH_PER_OP = 6 * KB  # one registered kernel (reference or CMSIS-NN int8), a typical size on Cortex-M


@dataclass(frozen=True)
class Board:
    name: str
    description: str
    flash: int  # bytes of flash the application may use
    ram: int  # bytes of RAM the application may use
    platform_flash: int  # estimate: startup, C library, serial/USB stack, our protocol loop
    platform_ram: int  # estimate: stack, heap reserve, serial buffers, the core's own data
    note: str = ""


PROFILES = {
    "nano33ble": Board("nano33ble", "Arduino Nano 33 BLE (nRF52840, Cortex-M4F 64 MHz)", 960 * KB, 256 * KB,
                       platform_flash=90 * KB, platform_ram=48 * KB,
                       note="Mbed OS core with USB CDC serial: ~90 KB flash, ~48 KB RAM before the model"),
    "esp32": Board("esp32", "ESP32 dev module (Xtensa LX6 240 MHz)", 1280 * KB, 320 * KB,
                   platform_flash=260 * KB, platform_ram=64 * KB,
                   note="flash is the 1.25 MB app slot of the default partition table, not the 4 MB chip; "
                        "ESP-IDF/Arduino core ~260 KB flash, ~64 KB RAM"),
}


def board_profile(name: str, stand_in: str = "nano33ble") -> Board:
    """The profile of `name`; qemu-cm4 (QEMU mps2-an386) enforces the budget of the board it stands in for."""
    if name not in BOARDS:
        raise PipelineError(f"Unknown board '{name}': choose one of {', '.join(BOARDS)}.", "Use --board nano33ble.")
    if name == "qemu-cm4":
        real = board_profile(stand_in)
        return Board("qemu-cm4", f"QEMU mps2-an386 (Cortex-M4) with the budget of the {real.name}", real.flash,
                     real.ram, platform_flash=24 * KB, platform_ram=16 * KB,
                     note=f"budget of {real.name}; bare-metal C firmware: ~24 KB flash, ~16 KB RAM")
    return PROFILES[name]


def check_budget(board: Board, *, model_bytes: int, arena_bytes: int, op_count: int) -> dict:
    """Flash: model + TFLM core + kernels + platform; RAM: arena + platform. Raises PipelineError with the
    numbers and the shortfall when either does not fit; returns the figures when both do."""
    code = TFLM_CORE_FLASH + FLASH_PER_OP * op_count + board.platform_flash
    flash_need, ram_need = model_bytes + code, arena_bytes + board.platform_ram
    figures = {"board": board.name, "flash_budget": board.flash, "ram_budget": board.ram,
               "model_bytes": model_bytes, "code_bytes_estimate": code, "flash_needed": flash_need,
               "arena_bytes": arena_bytes, "platform_ram_estimate": board.platform_ram, "ram_needed": ram_need}
    problems = []
    if flash_need > board.flash:
        problems.append(f"flash {flash_need:,} B (model {model_bytes:,} + code ~{code:,}) > {board.flash:,} B, "
                        f"short by {flash_need - board.flash:,} B")
    if ram_need > board.ram:
        problems.append(f"RAM {ram_need:,} B (arena {arena_bytes:,} + firmware ~{board.platform_ram:,}) > "
                        f"{board.ram:,} B, short by {ram_need - board.ram:,} B")
    if problems:
        raise PipelineError(f"The model does not fit the {board.name}: {'; '.join(problems)}.",
                            "Use a smaller student (--width, --depth) or a bigger board (--board).")
    return figures
