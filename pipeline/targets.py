"""Board profiles (flash and RAM available to the application), firmware targets, and the export's budget check.

Flash and RAM are PlatformIO's figures for each board (`upload.maximum_size`, `upload.maximum_ram_size`). The
emulator target `qemu-cm4` enforces the budget of the board it stands in for, so "does not fit the board" fails
in CI exactly as it would on the board: early in `tinykd export` (an estimate) and at link time (the real check).
"""
from __future__ import annotations

from dataclasses import dataclass

from pipeline.config import ExportConfig
from pipeline.errors import PipelineError

KB = 1024
TFLM_CORE_FLASH = 40 * KB  # estimate: TFLM interpreter, allocator, flatbuffer reader (Cortex-M, -Os)
FLASH_PER_OP = 6 * KB  # estimate: one registered kernel (reference or CMSIS-NN int8) on Cortex-M


@dataclass(frozen=True)
class Board:
    name: str  # the name used by --board
    description: str  # what it is
    flash_bytes: int  # flash the application image may use
    ram_bytes: int  # RAM the application may use (data + bss + stack + heap)
    platform_flash: int  # estimate: startup, C library, serial/USB stack, our protocol loop
    platform_ram: int  # estimate: stack, heap reserve, serial buffers, the core's own data
    pio_env: str = ""  # platformio.ini environment with the AOT engine
    pio_env_tflm: str = ""  # platformio.ini environment with the TFLM engine
    note: str = ""  # where the estimates come from


BOARDS = {
    # nRF52840: 1 MB flash / 256 KB RAM; PlatformIO's nano33ble allows 960 KB (the bootloader keeps 64 KB).
    "nano33ble": Board("nano33ble", "Arduino Nano 33 BLE (nRF52840, Cortex-M4F 64 MHz)", 960 * KB, 256 * KB,
                       platform_flash=90 * KB, platform_ram=48 * KB, pio_env="nano33ble",
                       pio_env_tflm="nano33ble_tflm",
                       note="Mbed OS core with USB CDC serial: ~90 KB flash, ~48 KB RAM before the model"),
    # ESP32 dev module: 4 MB chip, but the default partition table gives the app a 1.25 MB slot; ~320 KB DRAM.
    "esp32": Board("esp32", "ESP32 dev module (Xtensa LX6 240 MHz)", 1280 * KB, 320 * KB,
                   platform_flash=260 * KB, platform_ram=64 * KB, pio_env="esp32dev", pio_env_tflm="esp32dev_tflm",
                   note="flash is the 1.25 MB app slot of the default partition table, not the 4 MB chip; "
                        "ESP-IDF/Arduino core ~260 KB flash, ~64 KB RAM"),
}
EMULATOR = "qemu-cm4"  # QEMU mps2-an386 (Cortex-M4), with the budget of a board it stands in for
TARGETS = (EMULATOR, "host")  # qemu-cm4: arm-none-eabi firmware for QEMU; host: x86 app on a pty


def board(name: str) -> Board:
    if name not in BOARDS:
        raise PipelineError(f"Unknown board or budget '{name}': choose one of {', '.join(BOARDS)}.",
                            "Use --board nano33ble.")
    return BOARDS[name]


def target(name: str) -> str:
    if name not in TARGETS:
        raise PipelineError(f"Unknown target '{name}': choose one of {', '.join(TARGETS)}.",
                            "Use --target qemu-cm4 (emulator) or --target host.")
    return name


def budget_board(board: str, stand_in: str) -> str:
    """The real board whose flash/RAM budget applies: `board`, or for the emulator the board it stands in for."""
    return stand_in if board == EMULATOR else board


def board_profile(name: str, stand_in: str = ExportConfig.stand_in) -> Board:
    """The profile of `name`; qemu-cm4 enforces the budget of `stand_in` with a bare-metal firmware's overhead."""
    if name == EMULATOR:
        real = board(stand_in)
        return Board(EMULATOR, f"QEMU mps2-an386 (Cortex-M4) with the budget of the {real.name}", real.flash_bytes,
                     real.ram_bytes, platform_flash=24 * KB, platform_ram=16 * KB,
                     note=f"budget of {real.name}; bare-metal C firmware: ~24 KB flash, ~16 KB RAM")
    return board(name)


def check_budget(profile: Board, *, model_bytes: int, arena_bytes: int, op_count: int) -> dict:
    """Flash: model + TFLM core + kernels + platform; RAM: arena + platform. Raises PipelineError with the
    numbers and the shortfall when either does not fit; returns the figures when both do."""
    code = TFLM_CORE_FLASH + FLASH_PER_OP * op_count + profile.platform_flash
    flash_need, ram_need = model_bytes + code, arena_bytes + profile.platform_ram
    figures = {"board": profile.name, "flash_budget": profile.flash_bytes, "ram_budget": profile.ram_bytes,
               "model_bytes": model_bytes, "code_bytes_estimate": code, "flash_needed": flash_need,
               "arena_bytes": arena_bytes, "platform_ram_estimate": profile.platform_ram, "ram_needed": ram_need}
    problems = []
    if flash_need > profile.flash_bytes:
        problems.append(f"flash {flash_need:,} B (model {model_bytes:,} + code ~{code:,}) > {profile.flash_bytes:,} B, "
                        f"short by {flash_need - profile.flash_bytes:,} B")
    if ram_need > profile.ram_bytes:
        problems.append(f"RAM {ram_need:,} B (arena {arena_bytes:,} + firmware ~{profile.platform_ram:,}) > "
                        f"{profile.ram_bytes:,} B, short by {ram_need - profile.ram_bytes:,} B")
    if problems:
        raise PipelineError(f"The model does not fit the {profile.name}: {'; '.join(problems)}.",
                            "Use a smaller student (--width, --depth) or a bigger board (--board).")
    return figures
