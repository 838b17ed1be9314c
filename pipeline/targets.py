"""Board profiles (flash and RAM available to the application) and firmware targets.

The emulator target `qemu-cm4` links with the budget of the board it stands in for, so "does not fit the board"
fails at link time in CI exactly as it would on the board.
"""
from __future__ import annotations

from dataclasses import dataclass

from pipeline.errors import PipelineError


@dataclass(frozen=True)
class Board:
    name: str  # budget name used on the command line
    description: str  # what it is
    flash_bytes: int  # flash available to the application image
    ram_bytes: int  # RAM available to data + bss + stack
    pio_env: str  # platformio.ini environment with the AOT engine
    pio_env_tflm: str  # platformio.ini environment with the TFLM engine


BOARDS = {
    # nRF52840 has 1 MB flash / 256 KB RAM; PlatformIO's nano33ble board allows 960 KB (the bootloader keeps 64 KB).
    "nano33ble": Board("nano33ble", "Arduino Nano 33 BLE (nRF52840, Cortex-M4F 64 MHz)", 983_040, 262_144,
                       "nano33ble", "nano33ble_tflm"),
    # ESP32 dev module: 4 MB flash, but the default partition table gives the app 1.25 MB; ~320 KB usable DRAM.
    "esp32": Board("esp32", "ESP32 dev module (Xtensa LX6 240 MHz)", 1_310_720, 327_680, "esp32dev",
                   "esp32dev_tflm"),
}

TARGETS = ("qemu-cm4", "host")  # qemu-cm4: arm-none-eabi firmware for QEMU mps2-an386; host: x86 app on a pty


def board(name: str) -> Board:
    if name not in BOARDS:
        raise PipelineError(f"Unknown board or budget '{name}': choose one of {', '.join(BOARDS)}.",
                            "Use --budget nano33ble.")
    return BOARDS[name]


def target(name: str) -> str:
    if name not in TARGETS:
        raise PipelineError(f"Unknown target '{name}': choose one of {', '.join(TARGETS)}.",
                            "Use --target qemu-cm4 (emulator) or --target host.")
    return name
