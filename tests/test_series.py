"""Sensor time series end to end: real multichannel recordings (sktime's BasicMotions) from .npz to the emulated
Cortex-M4 with QAT and with PTQ, per-channel normalization that keeps int8 honest when channel ranges differ by
1000x, and a terminal that shows tinykd's lines only."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import sensor_sets
from conftest import invoke

ROOT = Path(__file__).resolve().parents[1]
NOISE = ("cuInit", "absl::InitializeLog", "retracing", "oneDNN", "Traceback")


def tinykd(*args, cwd: Path) -> subprocess.CompletedProcess:
    """`tinykd ARGS` as a user runs it: its own process, stdout and stderr as the terminal would show them."""
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "PYTEST_CURRENT_TEST")}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run([sys.executable, "-m", "pipeline.cli.main", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def basic_motions(tmp_path_factory) -> Path:
    try:
        folder = sensor_sets.data_folder()
    except FileNotFoundError:
        pytest.skip("sktime's data files are not installed (make install puts them in .venv)")
    assert (folder / "BasicMotions").is_dir()
    return sensor_sets.write_npz("BasicMotions", tmp_path_factory.mktemp("data") / "basic_motions.npz")


@pytest.mark.slow
def test_real_imu_recordings_reach_the_device_bit_exact_with_qat_and_ptq(basic_motions, tmp_path):
    """BasicMotions: 6-channel accelerometer + gyroscope, 4 activities. QAT then PTQ (which reuses the teacher and
    the students), each through the AOT engine in QEMU: every device output equals TFLM's on the host."""
    common = ["--dataset", basic_motions, "--layout", "series", "--run", "imu", "--teacher-epochs", "60",
              "--epochs", "80"]
    for mode in ("qat", "ptq"):
        done = tinykd("run", *common, "--mode", mode, cwd=tmp_path)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        shown = done.stdout + done.stderr
        for noise in NOISE:  # TensorFlow's chatter went to the run's log, not to the terminal
            assert noise not in shown, f"{noise!r} on the terminal:\n{shown[:3000]}"
        manifest = json.loads((tmp_path / "models" / "imu" / "run.json").read_text())
        stages = {name: entry["metrics"] for name, entry in manifest["stages"].items()}
        assert manifest["data"]["kind"] == "series" and manifest["data"]["normalization"]["per_channel"]
        assert stages["quantize"]["mode"] == mode
        validate = stages["validate"]
        assert validate["samples"] == 40 and validate["mismatched_outputs"] == 0
        assert validate["accuracy"] == pytest.approx(stages["quantize"]["int8_accuracy"], abs=1e-9)
        # the student that ships really learned the activities (4 classes: 25% by chance); on this short schedule
        # that may be the baseline (the distilled one can stay at 3 of the 4 validation samples)
        assert stages["quantize"]["float_accuracy"] >= 0.8 and validate["accuracy"] >= 0.8
        if mode == "qat":  # the estimate came before training (PTQ trains nothing)
            assert "quantize  200 epochs x 1 step of 64: about" in done.stdout
    assert (tmp_path / "models" / "imu" / "tinykd.log").stat().st_size > 0


def multichannel(tmp_path: Path) -> Path:
    """Two classes told apart by a slow vs a fast wave in channel 0 (amplitude 0.01), beside two channels of loud
    noise (amplitude 1 and 10): with one scale for all channels the signal would be a fraction of one int8 step."""
    rng = np.random.default_rng(0)
    n, steps = 500, 32
    labels = np.arange(n) % 2
    t = np.arange(steps) / steps
    phase = rng.uniform(0, 2 * np.pi, (n, 1))
    wave = np.sin(2 * np.pi * np.where(labels[:, None] == 1, 4.0, 1.0) * t + phase)  # (n, T)
    x = np.stack([0.01 * wave + 0.001 * rng.standard_normal((n, steps)),
                  rng.standard_normal((n, steps)), 10 * rng.standard_normal((n, steps))], axis=-1)
    path = tmp_path / "multichannel.npz"
    np.savez(path, x_train=x[:400].astype(np.float32), y_train=labels[:400], x_test=x[400:].astype(np.float32),
             y_test=labels[400:])
    return path


@pytest.mark.slow
def test_channels_1000x_apart_keep_their_accuracy_in_int8(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text(f'[run]\nroot = "{tmp_path}"\nname = "mc"\n')
    data = multichannel(tmp_path)
    args = ["--config", config, "--dataset", data, "--layout", "series", "--teacher-epochs", "10", "--epochs", "30"]
    result = invoke("distill", *args)
    assert result.exit_code == 0, result.output
    result = invoke("quantize", *args, "--mode", "ptq")
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "mc" / "run.json").read_text())["stages"]["quantize"]["metrics"]
    assert metrics["float_accuracy"] >= 0.9  # the wave in the quiet channel was learned
    assert metrics["int8_accuracy"] >= metrics["float_accuracy"] - 0.01  # and int8 (TFLM) keeps it


def test_an_unexpected_failure_is_one_line_naming_the_stage_and_the_log(models_root, monkeypatch):
    root, config = models_root

    def broken(*args, **kwargs):
        raise RuntimeError("the teacher's builder broke\nsecond line")

    monkeypatch.setattr("pipeline.kd.teacher.build_teacher", broken)
    result = invoke("distill", "--config", config, "--run", "broken", "--limit", "100", "--teacher-epochs", "1")
    log = root / "broken" / "tinykd.log"
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        f"error: the teacher stage failed: RuntimeError: the teacher's builder broke second line. The traceback is "
        f"in {log}; rerun with --debug to see it here."]
    assert "Traceback" not in result.output and "Traceback (most recent call last)" in log.read_text()
