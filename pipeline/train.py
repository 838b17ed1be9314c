"""The trainer shared by teacher, baseline and students: a keras Model that wraps a student and a loss.

Batches are (x, y) or (x, y, teacher_logits). With cached teacher logits the teacher never runs during training
(about a third faster here, same accuracy); with augmentation the teacher must see the same augmented batch as
the student, so it runs on every step. Training keeps the weights of the best validation epoch.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from pipeline.errors import PipelineError
from pipeline.keras import keras, tf
from pipeline.losses import Loss

CPU_DEVICES_ENV = "TINYKD_CPU_DEVICES"  # split the CPU into N logical devices (try a strategy without GPUs)


def configure_devices() -> None:
    """Apply TINYKD_CPU_DEVICES before TensorFlow initializes its devices (call first thing)."""
    count = os.environ.get(CPU_DEVICES_ENV)
    if not count:
        return
    if not count.isdigit() or not 1 <= int(count) <= 64:
        raise PipelineError(f"{CPU_DEVICES_ENV}={count!r} is not allowed: it must be an integer in [1, 64].",
                            f"Unset it or use {CPU_DEVICES_ENV}=2.")
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * int(count))


def make_strategy(name: str):
    """none: the default strategy; mirrored: every local GPU, or every logical CPU when there is no GPU;
    multiworker: the hosts named in TF_CONFIG (a single worker when it is unset)."""
    if name == "mirrored":
        devices = [d.name for d in tf.config.list_logical_devices("GPU")] or \
                  [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices=devices)
    if name == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


def set_seed(seed: int) -> None:
    """Bit-reproducible runs: one seed for Python, NumPy and TF, and deterministic TF ops."""
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def augmenter(input_shape: tuple[int, ...], seed: int):
    """Random shifts for images (10% each way), small noise for series."""
    if len(input_shape) == 3:
        return keras.layers.RandomTranslation(0.1, 0.1, fill_mode="constant", seed=seed)
    return keras.layers.GaussianNoise(0.05, seed=seed)


class Trainer(keras.Model):
    """Trains `student` with `loss_fn(labels, student_logits, teacher_logits)`; evaluates on hard labels."""

    def __init__(self, *, student, loss_fn: Loss, teacher=None, teacher_probabilities=False, augment=None):
        super().__init__()
        self.student, self.teacher, self.loss_fn, self.augment = student, teacher, loss_fn, augment
        self.teacher_probabilities = teacher_probabilities
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.accuracy = keras.metrics.SparseCategoricalAccuracy(name="accuracy")

    @property
    def metrics(self):
        return [self.loss_tracker, self.accuracy]

    def call(self, x, training=False):
        return self.student(x, training=training)

    def train_step(self, data):
        x, y = data[0], data[1]  # x: (batch, *input_shape) float32, y: (batch,) int64
        teacher_logits = data[2] if len(data) == 3 else None  # (batch, K) cached
        if self.augment is not None:
            x = self.augment(x, training=True)
        if self.teacher is not None:
            teacher_logits = teacher_logits_of(self.teacher, x, self.teacher_probabilities)
        with tf.GradientTape() as tape:
            logits = self.student(x, training=True)  # (batch, K)
            # Mean over the global batch: replicas' gradients are summed by the optimizer under a strategy.
            loss = tf.nn.compute_average_loss(self.loss_fn(y, logits, teacher_logits))
        grads = tape.gradient(loss, self.student.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.student.trainable_variables))
        self.loss_tracker.update_state(loss * tf.distribute.get_strategy().num_replicas_in_sync)
        self.accuracy.update_state(y, logits)
        return {m.name: m.result() for m in self.metrics}

    def test_step(self, data):
        x, y = data[0], data[1]
        logits = self.student(x, training=False)
        self.loss_tracker.update_state(tf.reduce_mean(
            tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.cast(y, tf.int32), logits=logits)))
        self.accuracy.update_state(y, logits)
        return {m.name: m.result() for m in self.metrics}


def teacher_logits_of(teacher, x, probabilities: bool):
    out = teacher(x, training=False)
    return tf.math.log(tf.clip_by_value(out, 1e-12, 1.0)) if probabilities else out


class KeepBest(keras.callbacks.Callback):
    """Remember the weights of the epoch with the best validation accuracy and restore them at the end."""

    def __init__(self, student):
        super().__init__()
        self.student, self.best, self.best_epoch, self.weights = student, -1.0, -1, None

    def on_epoch_end(self, epoch, logs=None):
        accuracy = float(logs["val_accuracy"])
        if accuracy > self.best:
            self.best, self.best_epoch, self.weights = accuracy, epoch, self.student.get_weights()

    def on_train_end(self, logs=None):
        if self.weights is not None:
            self.student.set_weights(self.weights)


@dataclass(frozen=True)
class Schedule:
    epochs: int
    batch_size: int
    learning_rate: float


def epoch_batches(arrays: tuple[np.ndarray, ...], batch_size: int, seed: int, epochs: int, start: int):
    """Batches for epochs [start, epochs): epoch e visits the samples in the order permutation(seed, e).

    The order is a function of the epoch alone, so a run resumed at epoch k sees exactly the batches an
    uninterrupted run would have seen."""
    n = len(arrays[0])
    orders = np.stack([np.random.default_rng([seed, e]).permutation(n) for e in range(start, epochs)])
    tensors = tuple(tf.constant(a) for a in arrays)  # (n, ...) each
    batches = tf.data.Dataset.from_tensor_slices(orders).flat_map(
        lambda order: tf.data.Dataset.from_tensor_slices(order).batch(batch_size))
    return batches.map(lambda index: tuple(tf.gather(t, index) for t in tensors)).prefetch(2)


def fit(trainer: Trainer, *, train: tuple[np.ndarray, ...], val: tuple[np.ndarray, np.ndarray],
        schedule: Schedule, seed: int, checkpoints: Path | None = None, key: str = "",
        log: Callable[[str], None] = print, verbose: int = 0) -> dict:
    """Compile and train inside the current strategy scope; the student ends with its best validation weights.

    With `checkpoints`, state is saved there after every epoch and an interrupted run with the same `key`
    resumes from its last complete epoch."""
    steps_per_epoch = -(-len(train[0]) // schedule.batch_size)
    lr = keras.optimizers.schedules.CosineDecay(schedule.learning_rate, decay_steps=steps_per_epoch * schedule.epochs)
    trainer.compile(optimizer=keras.optimizers.Adam(lr))
    trainer.optimizer.build(trainer.student.trainable_variables)  # slots exist before a checkpoint restores them
    best = KeepBest(trainer.student)
    callbacks, start = [best], 0
    if checkpoints is not None:
        from pipeline.checkpoint import EpochCheckpoint
        saver = EpochCheckpoint(checkpoints, key, trainer, best)
        start = saver.restore()
        callbacks.append(saver)
        if start:
            log(f"          resuming from the checkpoint after epoch {start} of {schedule.epochs}")
    if start < schedule.epochs:
        trainer.fit(epoch_batches(train, schedule.batch_size, seed, schedule.epochs, start),
                    validation_data=tf.data.Dataset.from_tensor_slices(val).batch(256), epochs=schedule.epochs,
                    initial_epoch=start, steps_per_epoch=steps_per_epoch, callbacks=callbacks, verbose=verbose)
    else:
        best.on_train_end()
    return {"best_val_accuracy": round(best.best, 5), "best_epoch": best.best_epoch + 1}


def predict_classes(model, x: np.ndarray) -> np.ndarray:
    return np.argmax(model.predict(x, batch_size=512, verbose=0), axis=-1)


def accuracy(model, x: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(predict_classes(model, x) == y))


def evaluate(model, x: np.ndarray, y: np.ndarray, num_classes: int) -> dict:
    """Test accuracy and confusion matrix (rows: true class, columns: predicted) of a logits model."""
    predicted = predict_classes(model, x)
    confusion = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(confusion, (y, predicted), 1)
    return {"accuracy": round(float(np.mean(predicted == y)), 5), "confusion": confusion.tolist()}
