"""Shared fixtures: a tiny, fast distillation run on digits, made once per test session."""
from __future__ import annotations

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import hashlib
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli import cli

# Small enough to train in seconds, large enough that the numbers mean something.
TINY = ["--limit", "400", "--teacher-epochs", "4", "--epochs", "8"]


def invoke(*args: str):
    """Run `tinykd ARGS` in-process; returns click's Result (exit_code, output, stderr)."""
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def snapshot(folder: Path) -> dict[str, str]:
    """Name -> SHA-256 of every file under `folder`: to prove a failed command changed nothing."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


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
