"""Shared fixtures: one tiny distilled, quantized and exported digits run for the whole session (~30 s)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

TINY = """
[run]
root = "{root}"
name = "tiny"
[teacher]
width = 16
epochs = 5
[distill]
epochs = 12
baseline = false
[quantize]
mode = "qat"
qat_epochs = 2
representative_samples = 100
"""


@dataclass
class TinyRun:
    config_file: Path  # a TOML file pointing at the run: pass it as --config to CLI commands
    cfg: object  # the resolved pipeline.config.Config
    path: Path  # the run folder
    distill: dict  # metrics of each stage
    quantize: dict
    export: dict

    @property
    def model(self) -> Path:
        return self.path / "student_int8.tflite"

    @property
    def export_dir(self) -> Path:
        return self.path / "export"


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> TinyRun:
    from pipeline.config import load_config
    from pipeline.distill import distill
    from pipeline.export import export
    from pipeline.quantize import quantize

    root = tmp_path_factory.mktemp("runs")
    config_file = root / "tiny.toml"
    config_file.write_text(TINY.format(root=root))
    cfg = load_config(config_file)
    quiet = lambda message: None
    distilled = distill(cfg, log=quiet)
    quantized = quantize(cfg, log=quiet)
    exported = export(cfg, log=quiet)
    return TinyRun(config_file, cfg, cfg.run_dir, distilled, quantized, exported)


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` (hidden temporaries included) with its content."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def invoke(*args: str):
    """Run the tinykd CLI in-process; returns click's Result (exit_code, stdout, stderr)."""
    from click.testing import CliRunner

    from pipeline.cli import cli
    return CliRunner().invoke(cli, [str(a) for a in args])
