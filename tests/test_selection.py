"""The best epoch of a training run and the student that ships are ranked alike (pipeline/kd/selection.py): higher
validation accuracy, then lower validation cross-entropy; the first epoch to reach the top accuracy no longer wins
a tie."""
from __future__ import annotations

import json
import math

import numpy as np

from pipeline.kd.keras import keras
from pipeline.kd.selection import rank
from pipeline.kd.train import KeepBest


def test_rank_orders_by_accuracy_then_lower_cross_entropy():
    assert rank(0.9, 5.0) > rank(0.8, 0.01)  # accuracy first
    assert rank(1.0, 0.1) > rank(1.0, 0.2)
    assert rank(1.0, 0.2) > rank(1.0, None) and rank(1.0, 0.2) > rank(1.0, math.nan)
    assert rank(1.0, None) == rank(1.0, math.inf)


def _model():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
    return model


def _epoch(keep: KeepBest, model, epoch: int, accuracy: float, loss: float) -> None:
    model.set_weights([np.full(w.shape, epoch, np.float32) for w in model.get_weights()])  # which epoch is which
    keep.on_epoch_end(epoch, {"loss": 1.0, "accuracy": 0.5, "val_accuracy": accuracy, "val_loss": loss})


def test_keep_best_breaks_an_accuracy_tie_by_the_lower_validation_loss_and_restores_those_weights():
    model = _model()
    keep = KeepBest(model)
    for epoch, (accuracy, loss) in enumerate([(0.75, 0.9), (1.0, 0.6), (1.0, 0.2), (1.0, 0.3), (0.75, 0.05)]):
        _epoch(keep, model, epoch, accuracy, loss)
    keep.on_train_end()
    assert keep.best_epoch == 2 and keep.best == 1.0 and keep.best_loss == 0.2
    assert all(np.all(w == 2) for w in model.get_weights())  # epoch 2's weights, not the first at 100 % (epoch 1)


def test_a_higher_accuracy_beats_a_lower_loss():
    model = _model()
    keep = KeepBest(model)
    for epoch, (accuracy, loss) in enumerate([(0.5, 0.1), (0.75, 2.0), (0.5, 0.01)]):
        _epoch(keep, model, epoch, accuracy, loss)
    assert keep.best_epoch == 1 and keep.best_loss == 2.0


def test_a_run_records_the_best_epochs_loss_and_no_epoch_ranks_above_it(tiny_run):
    manifest = json.loads((tiny_run / "run.json").read_text())
    for stage in ("baseline", "distill"):
        metrics = manifest["stages"][stage]["metrics"]
        history = metrics["history"]
        best = history[metrics["best_epoch"] - 1]
        assert (metrics["best_val_accuracy"], metrics["best_val_loss"]) == (best["val_accuracy"], best["val_loss"])
        assert all(rank(h["val_accuracy"], h["val_loss"]) <= rank(best["val_accuracy"], best["val_loss"])
                   for h in history), stage
