"""Crash safety: kill -9 in the middle of distillation or QAT, rerun, and end exactly where an uninterrupted run
ends."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from pipeline.keras import keras
from conftest import invoke

pytestmark = pytest.mark.slow


def kill_9_after_epoch(args: list[str], state, epoch: int) -> None:
    """Run `tinykd ARGS` in a child process and SIGKILL it once its checkpoint state reaches `epoch`."""
    child = subprocess.Popen([sys.executable, "-m", "pipeline.cli", *args], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and child.poll() is None:
            if state.exists() and json.loads(state.read_text())["epoch"] >= epoch:
                break
            time.sleep(0.02)
        assert child.poll() is None, "training finished before it could be killed"
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait()


def test_kill_9_then_resume_gives_the_uninterrupted_result(tiny_run, tmp_path):
    config = tmp_path / "c.toml"
    config.write_text(f'[run]\nroot = "{tmp_path}"\n[distill]\nbaseline = false\n')
    args = ["distill", "--config", str(config), "--teacher", str(tiny_run / "teacher.keras"), "--limit", "400",
            "--epochs", "12", "--batch-size", "16"]
    reference = invoke(*args, "--run", "reference")
    assert reference.exit_code == 0, reference.output

    state = tmp_path / "killed" / ".checkpoints" / "distill" / "state.json"
    kill_9_after_epoch([*args, "--run", "killed"], state, 3)
    killed_at = json.loads(state.read_text())["epoch"]
    assert 3 <= killed_at < 12 and not (tmp_path / "killed" / "student.keras").exists()

    resumed = invoke(*args, "--run", "killed")
    assert resumed.exit_code == 0, resumed.output
    assert "resuming from the checkpoint after epoch" in resumed.output
    assert not state.parent.exists()  # cleared once the stage finished
    a = keras.models.load_model(tmp_path / "reference" / "student.keras", compile=False).get_weights()
    b = keras.models.load_model(tmp_path / "killed" / "student.keras", compile=False).get_weights()
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    metrics = [json.loads((tmp_path / r / "run.json").read_text())["stages"]["distill"]["metrics"]
               for r in ("reference", "killed")]
    assert metrics[0]["accuracy"] == metrics[1]["accuracy"]


def test_checkpoint_of_other_settings_is_ignored(tiny_run, tmp_path):
    """A stale checkpoint (another fingerprint) must not leak into a run with new settings."""
    config = tmp_path / "c.toml"
    config.write_text(f'[run]\nroot = "{tmp_path}"\n[distill]\nbaseline = false\n')
    folder = tmp_path / "stale" / ".checkpoints" / "distill"
    folder.mkdir(parents=True)
    (folder / "state.json").write_text(json.dumps({"key": "other", "epoch": 5, "path": "x", "best": 1.0,
                                                   "best_epoch": 4}))
    result = invoke("distill", "--config", str(config), "--run", "stale", "--teacher",
                    str(tiny_run / "teacher.keras"), "--limit", "200", "--epochs", "2")
    assert result.exit_code == 0 and "resuming" not in result.output


def test_kill_9_during_qat_then_resume(tiny_int8, tmp_path):
    """QAT resumes too: the int8 model after a kill -9 and a rerun is byte-identical to an uninterrupted one."""
    for name in ("reference", "killed"):
        shutil.copytree(tiny_int8.path, tmp_path / name, ignore=shutil.ignore_patterns("student_int8.tflite"))
    config = tmp_path / "c.toml"
    text = tiny_int8.config_file.read_text().replace(str(tiny_int8.path.parent), str(tmp_path))
    config.write_text(text.replace("qat_epochs = 2", "qat_epochs = 8\nqat_batch_size = 16"))
    assert invoke("quantize", "--config", config, "--run", "reference").exit_code == 0

    state = tmp_path / "killed" / ".checkpoints" / "quantize" / "state.json"
    kill_9_after_epoch(["quantize", "--config", str(config), "--run", "killed"], state, 2)
    assert 2 <= json.loads(state.read_text())["epoch"] < 8

    resumed = invoke("quantize", "--config", config, "--run", "killed")
    assert resumed.exit_code == 0 and "resuming from the checkpoint after epoch" in resumed.output
    reference = (tmp_path / "reference" / "student_int8.tflite").read_bytes()
    assert (tmp_path / "killed" / "student_int8.tflite").read_bytes() == reference
