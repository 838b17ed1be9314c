"""Flash stage: `pio run -e <env> -t upload` for a board, with the model of a run.

PlatformIO builds the firmware itself (platformio.ini at the top level); the model folder reaches it through the
TINYKD_MODEL_DIR environment variable, read by firmware/ports/arduino/pio_model.py. Nothing here runs in CI:
`pio run` contacts PlatformIO's registry to fetch toolchains, so the tests check only the command it builds.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Callable

from pipeline.config import ENGINES
from pipeline.errors import PipelineError
from pipeline.ports import check_port
from pipeline.targets import board as get_board

ROOT = Path(__file__).resolve().parent.parent


def flash_command(board: str, port: str, engine: str = "aot") -> list[str]:
    """The argument list of the upload (no shell)."""
    profile = get_board(board)
    if engine not in ENGINES:
        raise PipelineError(f"Unknown engine '{engine}': choose one of {', '.join(ENGINES)}.", "Use --engine aot.")
    check_port(port, urls=False)
    env = profile.pio_env if engine == "aot" else profile.pio_env_tflm
    return ["pio", "run", "--project-dir", str(ROOT), "-e", env, "-t", "upload", "--upload-port", port]


def flash(board: str, port: str, model_dir: str | Path, engine: str = "aot",
          runner: Callable[..., subprocess.CompletedProcess] = subprocess.run) -> list[str]:
    """Build and upload the firmware for `board` with the model in `model_dir`; returns the command it ran."""
    model_dir = Path(model_dir).resolve()
    needed = ("model.h", "model.c") if engine == "aot" else ("model_data.h", "model_data.cc")
    missing = [name for name in needed if not (model_dir / name).is_file()]
    if missing:
        raise PipelineError(f"Model folder '{model_dir}' has no {' or '.join(missing)}.",
                            "Run `tinykd export` first, or pass the folder it wrote with --model-dir.")
    command = flash_command(board, port, engine)
    if runner is subprocess.run and shutil.which("pio") is None:
        raise PipelineError("PlatformIO's 'pio' is not on PATH.", "pip install platformio (it is a test extra).")
    result = runner(command, env={**os.environ, "TINYKD_MODEL_DIR": str(model_dir)}, check=False)
    if result.returncode != 0:
        raise PipelineError(f"'{' '.join(command)}' failed with status {result.returncode}.",
                            "Read PlatformIO's output above; check the board is connected and the port is right.")
    return command
