"""Flash stage: `pio run -e <env> -t upload` for a board, with the model of a run.

PlatformIO builds the firmware itself (platformio.ini at the top level); the model folder reaches it through the
TINYKD_MODEL_DIR environment variable, read by firmware/ports/arduino/pio_model.py. Nothing here runs in CI:
`pio run` contacts PlatformIO's registry to fetch toolchains, so the tests check only the command it builds.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from serial.tools import list_ports

from pipeline.config import ENGINES, DeviceConfig
from pipeline.artifacts import AOT_FILES
from pipeline.errors import PipelineError
from pipeline.paths import REPO
from pipeline.serial_url import check_port
from pipeline.targets import board as get_board

# Seconds to wait for a board to come back on USB after its upload (it resets and re-enumerates).
RETURN_TIMEOUT_S = 15.0


@dataclass(frozen=True)
class Flashed:
    command: list[str]  # the upload that ran
    port: str           # where the board is now (its node name may have changed on re-enumeration)


def usb_identity(port: str, lister=list_ports.comports) -> tuple | None:
    """(VID, PID, serial number) of the USB device behind `port`, or None (not USB, or not present)."""
    for info in lister():
        if info.device == port and info.vid is not None:
            return info.vid, info.pid, info.serial_number
    return None


def wait_for_board(port: str, identity: tuple | None, timeout: float = RETURN_TIMEOUT_S, lister=list_ports.comports,
                   sleep=time.sleep, clock=time.monotonic) -> str:
    """The port the board is on once it is back after an upload: the same USB device (VID:PID and serial number)
    under whatever node name it re-enumerated as (the same name first), or the same node name again when the
    port is not USB. PipelineError after `timeout` seconds."""
    deadline = clock() + timeout
    while True:
        ports = list(lister())
        if identity is not None:
            same = [p.device for p in ports if (p.vid, p.pid, p.serial_number) == identity]
            if same:
                return port if port in same else same[0]
        elif any(p.device == port for p in ports) or os.path.exists(port):
            return port
        if clock() >= deadline:
            what = f"USB {identity[0]:04x}:{identity[1]:04x}" if identity else "its port"
            raise PipelineError(f"The board did not come back ({what}) within {timeout:.0f} s after the upload to "
                                f"{port}.", "Press its reset button (double-tap for the bootloader), check the "
                                "cable, and run `tinykd validate --port ...` once it is back.")
        sleep(0.25)


def flash_command(board: str, port: str, engine: str = DeviceConfig.engine) -> list[str]:
    """The argument list of the upload (no shell)."""
    profile = get_board(board)
    if engine not in ENGINES:
        raise PipelineError(f"Unknown engine '{engine}': choose one of {', '.join(ENGINES)}.", "Use --engine aot.")
    check_port(port, urls=False)
    env = profile.pio_env if engine == "aot" else profile.pio_env_tflm
    return ["pio", "run", "--project-dir", str(REPO), "-e", env, "-t", "upload", "--upload-port", port]


def flash(board: str, port: str, model_dir: str | Path, engine: str = DeviceConfig.engine,
          runner: Callable[..., subprocess.CompletedProcess] = subprocess.run, lister=list_ports.comports,
          timeout: float = RETURN_TIMEOUT_S) -> Flashed:
    """Build and upload the firmware for `board` with the model in `model_dir`, then wait for the board to come back
    (it resets and re-enumerates); returns the command and the port it is on now."""
    model_dir = Path(model_dir).resolve()
    needed = AOT_FILES if engine == "aot" else ("model_data.h", "model_data.cc")
    missing = [name for name in needed if not (model_dir / name).is_file()]
    if missing:
        raise PipelineError(f"Model folder '{model_dir}' has no {' or '.join(missing)}.",
                            "Run `tinykd export` first, or pass the folder it wrote with --model-dir.")
    command = flash_command(board, port, engine)
    if runner is subprocess.run and shutil.which("pio") is None:
        raise PipelineError("PlatformIO's 'pio' is not on PATH.", "pip install platformio (it is a test extra).")
    identity = usb_identity(port, lister)
    result = runner(command, env={**os.environ, "TINYKD_MODEL_DIR": str(model_dir)}, check=False)
    if result.returncode != 0:
        raise PipelineError(f"'{' '.join(command)}' failed with status {result.returncode}.",
                            "Read PlatformIO's output above; check the board is connected and the port is right.")
    return Flashed(command, wait_for_board(port, identity, timeout, lister))
