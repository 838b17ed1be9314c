"""Where things are: the package's own files, the source checkout's firmware, and run folders named by the user.

`PACKAGE` is the `pipeline/` folder and `REPO` the checkout above it (the firmware sources and platformio.ini live
there): every module takes its folders from here, so no `ROOT` means one folder in one file and another elsewhere.
"""
from __future__ import annotations

from pathlib import Path

from pipeline.errors import PipelineError

PACKAGE = Path(__file__).resolve().parent  # pipeline/: the Python package, its templates and the compiler
REPO = PACKAGE.parent  # the source checkout: firmware/, platformio.ini, README.md
TEMPLATES = PACKAGE / "templates"  # Jinja2 templates of the generated C, the report and the compare page
COMPILER = PACKAGE / "compiler"  # the AOT compiler's sources (their hash decides whether compile reruns)
KD = PACKAGE / "kd"  # data, teachers, students, distillation (their hash: teacher, baseline, distill, quantize)
INT8 = PACKAGE / "int8"  # quantization and export (their hash: quantize, export)
FIRMWARE = REPO / "firmware"  # the app, the ports and the kernels the build stage compiles
KERNELS = FIRMWARE / "lib" / "tinykd_kernels"  # the AOT engine's portable C kernels
FRONTEND = FIRMWARE / "lib" / "tinykd_frontend"  # the fixed-point audio front end (host ctypes and firmware)
RENODE_SCRIPT = FIRMWARE / "renode" / "nano33ble.resc"  # Renode's Nano 33 BLE machine
README = REPO / "README.md"  # holds the op coverage table generated from the compiler's registry
BUILD = Path("build")  # firmware built outside a run folder goes under ./build/firmware/ (relative to the cwd)


def run_folder(name: str | Path, root: str | Path) -> Path:
    """A run given by name (a folder under `root`) or by path; PipelineError when it is neither. The one rule for
    every command that reads an existing run (report, verify, validate)."""
    given = Path(name)
    folder = given if given.is_dir() else Path(root) / name
    if not folder.is_dir():
        raise PipelineError(f"'{name}' is not a run folder: {folder} does not exist.",
                            f"Give a run name under {root}/ (e.g. digits) or a run folder's path; `tinykd run` "
                            "makes one.")
    return folder
