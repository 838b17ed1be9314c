"""Crash-safe training: the trainer's state is saved after every epoch, and a rerun resumes from it.

The folder (models/<run>/.checkpoints/<stage>/) holds a TF checkpoint of the student and the optimizer (whose
step counter drives the learning-rate schedule), the best-so-far weights, and state.json naming the last
complete epoch. state.json is written last and atomically, so a kill -9 at any instant leaves either the
previous epoch or the new one. A checkpoint made with other settings (another stage fingerprint) is ignored.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from pipeline.kd.keras import keras, tf
from pipeline.runs import atomic_path, write_json_atomic

STATE = "state.json"


class EpochCheckpoint(keras.callbacks.Callback):
    """Saves after every epoch; `restore()` returns the epoch to start from (0 when there is nothing to resume).

    Must come after the KeepBest callback it shares state with, so it saves that epoch's best weights too."""

    def __init__(self, folder: Path, key: str, trainer, best):
        super().__init__()
        self.folder, self.key, self.best = Path(folder), key, best
        self.checkpoint = tf.train.Checkpoint(student=trainer.student, optimizer=trainer.optimizer)
        self.manager = tf.train.CheckpointManager(self.checkpoint, str(self.folder), max_to_keep=2)

    def restore(self) -> int:
        try:
            state = json.loads((self.folder / STATE).read_text())
        except (OSError, ValueError):
            return 0
        if state.get("key") != self.key:  # settings changed since: start afresh
            clear(self.folder)
            return 0
        self.checkpoint.restore(state["path"]).assert_existing_objects_matched()
        with np.load(self.folder / "best.npz") as best:
            self.best.weights = [best[f"w{i}"] for i in range(len(best.files))]
        self.best.best, self.best.best_epoch = state["best"], state["best_epoch"]
        self.best.history = state.get("history", [])
        return int(state["epoch"])

    def on_epoch_end(self, epoch, logs=None):
        if self.best.best_epoch == epoch:
            with atomic_path(self.folder / "best.npz") as tmp:
                np.savez(tmp, **{f"w{i}": w for i, w in enumerate(self.best.weights)})
        path = self.manager.save(checkpoint_number=epoch + 1)
        write_json_atomic(self.folder / STATE, {"key": self.key, "epoch": epoch + 1, "path": path,
                                                "best": self.best.best, "best_epoch": self.best.best_epoch,
                                                "history": self.best.history})


def clear(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
