"""Crash safety: kill -9 in the middle of distillation or QAT, rerun, and end exactly where an uninterrupted run
ends."""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np
import pytest

from pipeline.kd.keras import keras
from conftest import invoke

pytestmark = pytest.mark.slow


def signal_after_epoch(args: list[str], state, epoch: int, sig=signal.SIGKILL) -> tuple[int, str]:
    """Run `tinykd ARGS` in a child process, send it `sig` once its checkpoint state reaches `epoch`; returns its
    exit status and stderr."""
    errors = tempfile.TemporaryFile("w+")  # a file, not a pipe: a full pipe would stall the child
    # Ctrl-C as at a terminal: a job started in the background by a non-interactive shell (CI, a chroot) inherits
    # SIGINT ignored, and Python then installs no KeyboardInterrupt handler; the child gets the default back.
    child = subprocess.Popen([sys.executable, "-m", "pipeline.cli.main", *args], stdout=subprocess.DEVNULL,
                             stderr=errors, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and child.poll() is None:
            if state.exists() and json.loads(state.read_text())["epoch"] >= epoch:
                break
            time.sleep(0.02)
        assert child.poll() is None, f"training ended before the signal: {errors.seek(0) or errors.read()}"
        child.send_signal(sig)
        status = child.wait(timeout=60)
        errors.seek(0)
        return status, errors.read()
    finally:
        child.kill()
        child.wait()
        errors.close()


def kill_9_after_epoch(args: list[str], state, epoch: int) -> None:
    signal_after_epoch(args, state, epoch)


# Every training stage, with its random layers: the teacher's Dropout, the students' augmentation (a random shift).
CHAIN = """
[run]
root = "{root}"
[data]
limit = 1000
[teacher]
epochs = 4
batch_size = 32
folds = 2
[distill]
epochs = 6
batch_size = 32
augment = true
[quantize]
mode = "qat"
qat_epochs = 4
qat_batch_size = 32
representative_samples = 100
"""
# (checkpoint folder, epoch): the teacher is two cross-fitted teachers (1,000 samples: 500 each, the least
# that cross-fits), killed in the first and in the second
KILLS = {"distill": [("teacher/fold0", 1), ("teacher/fold1", 2), ("baseline", 1), ("baseline", 4), ("distill", 1),
                     ("distill", 4)],
         "quantize": [("quantize", 1), ("quantize", 2)]}


def test_kill_9_twice_in_every_stage_then_resume_gives_the_uninterrupted_bytes(tmp_path):
    """kill -9 at two epochs of each of teacher (one in each fold), baseline, distill and QAT, each time in a
    fresh process; the
    rerun's weights and .tflite bytes equal those of an uninterrupted run made in this (much used) process."""
    config = tmp_path / "chain.toml"
    config.write_text(CHAIN.format(root=tmp_path))
    for command in ("distill", "quantize"):
        assert invoke(command, "--config", config, "--run", "reference").exit_code == 0

    killed = tmp_path / "killed"
    for command, kills in KILLS.items():
        for stage, epoch in kills:
            state = killed / ".checkpoints" / stage / "state.json"
            kill_9_after_epoch([command, "--config", str(config), "--run", "killed"], state, epoch)
            assert json.loads(state.read_text())["epoch"] >= epoch
        resumed = invoke(command, "--config", config, "--run", "killed")
        assert resumed.exit_code == 0 and "resuming from the checkpoint after epoch" in resumed.output
    assert not (killed / ".checkpoints").exists() or not any((killed / ".checkpoints").iterdir())

    for artifact in ("teacher.keras", "baseline.keras", "student.keras"):
        a = keras.models.load_model(tmp_path / "reference" / artifact, compile=False).get_weights()
        b = keras.models.load_model(killed / artifact, compile=False).get_weights()
        for x, y in zip(a, b, strict=True):
            np.testing.assert_array_equal(x, y, err_msg=artifact)
    reference = (tmp_path / "reference" / "student_int8.tflite").read_bytes()
    assert (killed / "student_int8.tflite").read_bytes() == reference


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


def test_ctrl_c_is_one_line_exit_1_and_the_rerun_resumes(tiny_run, tmp_path):
    config = tmp_path / "c.toml"
    config.write_text(f'[run]\nroot = "{tmp_path}"\n[distill]\nbaseline = false\n')
    args = ["distill", "--config", str(config), "--run", "stopped", "--teacher", str(tiny_run / "teacher.keras"),
            "--limit", "400", "--epochs", "12", "--batch-size", "16"]
    state = tmp_path / "stopped" / ".checkpoints" / "distill" / "state.json"
    status, stderr = signal_after_epoch(args, state, 2, signal.SIGINT)
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert status == 1 and len(lines) == 1 and "rerun the same command to resume" in lines[0], stderr
    resumed = invoke(*args)
    assert resumed.exit_code == 0 and "resuming from the checkpoint after epoch" in resumed.output
