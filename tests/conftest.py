"""Shared fixtures: one tiny digits run made once per test session (distilled, then quantized and exported)."""
from __future__ import annotations

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli import run as pipeline_run
from pipeline.cli.main import cli
from pipeline.errors import PipelineError
from pipeline.runs import LOCK_NAME
from pipeline.tflog import LOG_NAME

# Small enough to train in seconds, large enough that the numbers mean something.
TINY = ["--limit", "400", "--teacher-epochs", "4", "--epochs", "8"]
# The same settings as a config file, plus the quantization of the tiny run.
TINY_INT8 = """
[run]
root = "{root}"
name = "tiny"
[data]
limit = 400
[teacher]
epochs = 4
[distill]
epochs = 8
[quantize]
mode = "qat"
qat_epochs = 2
representative_samples = 100
"""


def invoke(*args):
    """Run `tinykd ARGS` in-process; returns click's Result (exit_code, output, stderr)."""
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def snapshot(folder: Path) -> dict[str, str]:
    """Name -> SHA-256 of every file under `folder` (hidden temporaries included): to prove a failed command
    changed nothing. The log every command appends to (tinykd.log) and the run lock holding the last command's PID
    (tinykd.lock) are not artifacts and are left out."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name not in (LOG_NAME, LOCK_NAME)}


@pytest.fixture(scope="session")
def host_exe(tmp_path_factory) -> Path:
    """The firmware's host port (x86 app on a pty) around the fixture model, built once, warning-free."""
    from device_helpers import FIXTURE_MODEL
    from pipeline.device.build import build
    result = build("host", FIXTURE_MODEL, out_dir=tmp_path_factory.mktemp("host"))
    assert result.warnings == ""
    return result.elf


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """models/tiny made by `tinykd distill` on digits with tiny settings; tests must not modify it."""
    root = tmp_path_factory.mktemp("models")
    result = invoke("distill", "--run", "tiny", *TINY, "--config", str(_root_config(root)))
    assert result.exit_code == 0, result.output
    return root / "tiny"


def _root_config(root: Path) -> Path:
    config = root / "tiny.toml"
    config.write_text(f'[run]\nroot = "{root}"\n')
    return config


@pytest.fixture
def models_root(tmp_path) -> tuple[Path, Path]:
    """A fresh models root and a config file pointing at it: (root, config)."""
    return tmp_path, _root_config(tmp_path)


@pytest.fixture
def run_config(monkeypatch, tmp_path):
    """`tinykd run ARGS` -> the Config run_all received (run_all stops before the first stage)."""
    monkeypatch.chdir(tmp_path)  # the run folder (its lock and log) lands here
    seen = {}

    def stop(cfg, **kwargs):
        seen["cfg"] = cfg
        raise PipelineError("Stopped before the first stage.", "")
    monkeypatch.setattr(pipeline_run, "run_all", stop)

    def run(*args):
        result = invoke("run", *args)
        assert result.exit_code == 2 and "Stopped before the first stage" in result.stderr, result.output
        return seen.pop("cfg")
    return run


@dataclass
class TinyRun:
    config_file: Path  # a TOML file pointing at the run: pass it as --config to CLI commands
    cfg: object  # the resolved pipeline.config.Config
    path: Path  # the run folder
    quantize: dict  # metrics of the quantize stage
    export: dict  # metrics of the export stage

    @property
    def model(self) -> Path:
        return self.path / "student_int8.tflite"

    @property
    def export_dir(self) -> Path:
        return self.path / "export"


@pytest.fixture(scope="session")
def tiny_int8(tiny_run, tmp_path_factory) -> TinyRun:
    """A copy of the tiny run, quantized (QAT) and exported; tests must not modify it."""
    from pipeline.config import load_config
    from pipeline.int8.export import export
    from pipeline.int8.quantize import quantize

    root = tmp_path_factory.mktemp("int8")
    shutil.copytree(tiny_run, root / "tiny")
    config_file = root / "tiny.toml"
    config_file.write_text(TINY_INT8.format(root=root))
    cfg = load_config(config_file)
    quiet = lambda message: None
    return TinyRun(config_file, cfg, cfg.run_dir, quantize(cfg, log=quiet), export(cfg, log=quiet))


# `tinykd run` end to end on a tiny config: distill, QAT, export, AOT compile, QEMU firmware, validation, report.
TINY_RUN = TINY_INT8 + """
[device]
timeout = 5.0
"""


@pytest.fixture(scope="session")
def e2e_run(tmp_path_factory):
    """(run folder, CLI result) of a whole `tinykd run` on the tiny config through QEMU; tests must not modify it."""
    root = tmp_path_factory.mktemp("e2e")
    config = root / "tiny.toml"
    config.write_text(TINY_RUN.format(root=root))
    result = invoke("run", "--config", config)
    assert result.exit_code == 0, result.output
    return root / "tiny", result, config


TRAINED = {"tiny_run", "tiny_int8", "e2e_run", "imu_run"}  # fixtures that train a model (seconds to minutes)


def pytest_collection_modifyitems(items):
    """A test that needs a trained run is slow whatever its own marks say: the fast tier (`make check`,
    `pytest -m "not slow"`) never trains a model."""
    for item in items:
        if TRAINED & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
