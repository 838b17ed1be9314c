"""The training batches (pipeline/kd/train.py, epoch_batches): every sample once per epoch in that epoch's own order,
the same batches for a run resumed at epoch k, and no tf.data autotuning thread (whose shutdown held Model.fit's
return for up to a minute at the end of long runs)."""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from pipeline.kd.train import epoch_batches, without_autotune


def _epochs(arrays, start: int, epochs: int = 3, batch: int = 4) -> list[list[np.ndarray]]:
    """The batches of each epoch [start, epochs), as lists of the `x` arrays."""
    steps = -(-len(arrays[0]) // batch)
    batches = [x.numpy() for x, _ in epoch_batches(arrays, batch, seed=7, epochs=epochs, start=start)]
    return [batches[i:i + steps] for i in range(0, len(batches), steps)]


def test_each_epoch_visits_every_sample_once_in_its_own_order():
    x, y = np.arange(10, dtype=np.float32), np.arange(10) % 3
    epochs = _epochs((x, y), 0)
    assert len(epochs) == 3 and [len(b) for b in epochs[0]] == [4, 4, 2]
    orders = [np.concatenate(e) for e in epochs]
    assert all(sorted(o) == list(x) for o in orders)
    assert not np.array_equal(orders[0], orders[1])  # reshuffled per epoch


def test_a_resumed_run_sees_the_batches_of_the_uninterrupted_one():
    x, y = np.arange(10, dtype=np.float32), np.zeros(10)
    whole, resumed = _epochs((x, y), 0), _epochs((x, y), 1)
    assert all(np.array_equal(a, b) for e, f in zip(whole[1:], resumed) for a, b in zip(e, f))


def test_the_batches_run_without_the_autotuning_thread():
    x = np.zeros((6, 2), np.float32)
    assert epoch_batches((x, x), 2, seed=0, epochs=1, start=0).options().autotune.enabled is False
    assert without_autotune(tf.data.Dataset.from_tensor_slices(x)).options().autotune.enabled is False
    assert tf.data.Dataset.from_tensor_slices(x).options().autotune.enabled is not False  # TensorFlow's default
