"""The trainer shared by teacher, baseline and students: a keras Model that wraps a student and a loss.

Batches are (x, y) or (x, y, teacher_logits). With cached teacher logits the teacher never runs during training
(about a third faster here, same accuracy); with augmentation the teacher must see the same augmented batch as
the student, so it runs on every step. Training keeps the weights of the best validation epoch.
"""
from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from pipeline.errors import PipelineError
from pipeline.kd.keras import keras, tf
from pipeline.kd.losses import Loss
from pipeline.kd.selection import rank
from pipeline.metrics import confusion_matrix
from pipeline.progress import Ticker, count, duration, estimate_seconds, interactive

PROBE_STEPS = 3  # timed optimizer steps of a schedule's estimate (after one that traces the step)
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
    # Layers made from here on draw from a tf.random.Generator (a variable Reseed can set) instead of a stateful
    # op whose hidden counter restarts with the process: a resumed run would draw other dropout masks.
    keras.backend.experimental.enable_tf_random_generator()


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
        x, y = data[0], data[1]  # x: (batch, *input_shape) float32, y: (batch,) int64, -1 = unlabeled
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
        labeled = y >= 0  # the transfer set's samples have no label to be right about
        self.accuracy.update_state(tf.maximum(y, 0), logits, sample_weight=tf.cast(labeled, logits.dtype))
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
    """Remember the weights of the best epoch on validation (selection.rank: accuracy, then cross-entropy) and
    restore them at the end; keep each epoch's loss and accuracy (training and validation) in `history` for the
    report's curves."""

    HISTORY = ("loss", "accuracy", "val_loss", "val_accuracy")

    def __init__(self, student, on_final: Callable | None = None):
        super().__init__()
        self.student, self.best, self.best_epoch, self.weights = student, -1.0, -1, None
        self.on_final = on_final  # called with the student at its last epoch's weights, before the restore
        self.history: list[dict] = []

    def on_epoch_end(self, epoch, logs=None):
        entry = {"epoch": epoch + 1, **{k: round(float(logs[k]), 5) for k in self.HISTORY if k in logs}}
        self.history.append(entry)
        # ranked on the figures history keeps, so the recorded best epoch is the best of the recorded ones
        if self.best_epoch < 0 or rank(entry["val_accuracy"], entry.get("val_loss")) > rank(self.best, self.best_loss):
            self.best, self.best_epoch, self.weights = entry["val_accuracy"], epoch, self.student.get_weights()

    @property
    def best_loss(self) -> float | None:
        """The best epoch's validation cross-entropy (from `history`, which a resumed run restores too)."""
        entry = next((h for h in self.history if h["epoch"] == self.best_epoch + 1), {})
        return entry.get("val_loss")

    def on_train_end(self, logs=None):
        if self.on_final is not None:
            self.on_final(self.student)
        if self.weights is not None:
            self.student.set_weights(self.weights)


class Reseed(keras.callbacks.Callback):
    """Every random draw of epoch e (dropout masks, augmentation) comes from generators reset to a function of
    (seed, e), like the batch order of `epoch_batches`: a run resumed at epoch k draws what an uninterrupted run
    draws. Layers whose draws cannot be reset (made before `set_seed`) are refused rather than silently drifting."""

    def __init__(self, trainer, seed: int):
        super().__init__()
        self.seed, self.generators = seed, []
        for layer in trainer.submodules:
            rng = getattr(layer, "_random_generator", None)  # tf_keras's BaseRandomLayer
            if rng is None:
                continue
            rng._maybe_init()  # lazily made on first call otherwise: a resumed run must find it at epoch start
            if rng._generator is None:
                raise RuntimeError(f"layer {layer.name} draws from an unresettable generator; call set_seed first")
            self.generators.append(rng._generator)

    def on_epoch_begin(self, epoch, logs=None):
        for i, generator in enumerate(self.generators):
            generator.reset_from_seed(int(np.random.SeedSequence([self.seed, epoch, i]).generate_state(1)[0]))


class Progress(keras.callbacks.Callback):
    """A tqdm bar when stdout is a terminal; otherwise a Ticker line at least every PERIOD seconds:
    `teacher   epoch 3/8   41%  loss 0.412  accuracy 0.861  val 0.874  2:10 left`."""

    def __init__(self, label: str, epochs: int, steps_per_epoch: int, start_epoch: int,
                 log: Callable[[str], None], tty: bool | None = None):
        super().__init__()
        self.label, self.epochs = label, epochs
        self.total = (epochs - start_epoch) * steps_per_epoch
        self.tty = interactive() if tty is None else tty
        self.epoch, self.val, self.bar = start_epoch, None, None
        self.ticker = Ticker(label, self.total, log)

    def on_train_begin(self, logs=None):
        self.ticker.restart()
        if self.tty:
            from tqdm import tqdm
            self.bar = tqdm(total=self.total, desc=self.label, unit="step", leave=False, file=sys.stdout)

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.bar is not None:
            self.bar.update(1)
            if batch % 20 == 0:
                self.bar.set_postfix_str(self._metrics(logs), refresh=False)
        else:
            self.ticker.advance(f"epoch {self.epoch + 1}/{self.epochs}", self._metrics(logs))

    def on_epoch_end(self, epoch, logs=None):
        self.val = (logs or {}).get("val_accuracy", self.val)
        if self.bar is None and self.ticker.due():
            self.ticker.say(f"epoch {epoch + 1}/{self.epochs}", self._metrics(logs))

    def on_train_end(self, logs=None):
        if self.bar is not None:
            self.bar.close()

    def _metrics(self, logs) -> str:
        logs = logs or {}
        parts = [f"{name} {float(logs[name]):.3f}" for name in ("loss", "accuracy") if name in logs]
        if self.val is not None:
            parts.append(f"val {float(self.val):.3f}")
        return "  ".join(parts)


def seconds_per_step(model, batch_size: int) -> float | None:
    """Wall seconds of one training step of `model`'s architecture at `batch_size`, measured on a fresh copy
    (its weights and optimizer are not touched); None when the copy cannot be trained outside the model's own
    setting (a multi-device strategy). A distillation step costs about the same: the teacher's logits are cached."""
    if tf.distribute.has_strategy() and tf.distribute.get_strategy().num_replicas_in_sync > 1:
        return None
    copy = keras.models.clone_model(model)
    optimizer = keras.optimizers.Adam()
    x = tf.zeros((batch_size, *model.input_shape[1:]))  # (batch, *input_shape) float32
    y = tf.zeros((batch_size,), tf.int32)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            logits = copy(x, training=True)  # (batch, K)
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
        optimizer.apply_gradients(zip(tape.gradient(loss, copy.trainable_variables), copy.trainable_variables))

    step()  # traces and builds the optimizer: not timed
    started = time.perf_counter()
    for _ in range(PROBE_STEPS):
        step()
    return (time.perf_counter() - started) / PROBE_STEPS


@dataclass(frozen=True)
class Schedule:
    epochs: int
    batch_size: int
    learning_rate: float
    weight_decay: float = 0.0  # AdamW's decoupled decay; 0 = Adam

    def optimizer(self, steps_per_epoch: int):
        """Adam (AdamW with weight decay) whose rate is cosine-decayed to zero over the run."""
        lr = keras.optimizers.schedules.CosineDecay(self.learning_rate, decay_steps=steps_per_epoch * self.epochs)
        if self.weight_decay:
            return keras.optimizers.AdamW(lr, weight_decay=self.weight_decay)
        return keras.optimizers.Adam(lr)


def epoch_batches(arrays: tuple[np.ndarray, ...], batch_size: int, seed: int, epochs: int, start: int):
    """Batches for epochs [start, epochs): epoch e visits the samples in the order permutation(seed, e).

    The order is a function of the epoch alone, so a run resumed at epoch k sees exactly the batches an
    uninterrupted run would have seen."""
    n = len(arrays[0])
    orders = np.stack([np.random.default_rng([seed, e]).permutation(n) for e in range(start, epochs)])
    tensors = tuple(tf.constant(a) for a in arrays)  # (n, ...) each
    batches = tf.data.Dataset.from_tensor_slices(orders).flat_map(
        lambda order: tf.data.Dataset.from_tensor_slices(order).batch(batch_size))
    return without_autotune(batches.map(lambda index: tuple(tf.gather(t, index) for t in tensors)).prefetch(2))


def without_autotune(dataset):
    """`dataset` without tf.data's autotuning thread. Nothing here asks for AUTOTUNE, but the thread runs anyway,
    sleeping between its passes for a period that doubles up to a minute, and the iterator's destructor waits for it:
    a 20-epoch Fashion-MNIST run sat 44-85 s in Model.fit's return with no log line (a repro on 54,000 random
    images: 68.6 s with the thread, 0.0 s without)."""
    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.with_options(options)


def fit(trainer: Trainer, *, train: tuple[np.ndarray, ...], val: tuple[np.ndarray, np.ndarray],
        schedule: Schedule, seed: int, checkpoints: Path | None = None, key: str = "",
        log: Callable[[str], None] = print, label: str = "train", probe=None, probe_factor: float = 1.0,
        on_final: Callable | None = None) -> dict:
    """Compile and train inside the current strategy scope; the student ends with its best validation weights.

    Before training, says how long it will take (a few steps of a copy of `probe`, default the student, timed,
    times `probe_factor`); while training, shows progress under `label`. With `checkpoints`, state is saved there
    after every epoch and an interrupted run with the same `key` resumes from its last complete epoch.
    `on_final(student)` sees the last epoch's weights before the best epoch's are restored."""
    steps_per_epoch = -(-len(train[0]) // schedule.batch_size)
    trainer.compile(optimizer=schedule.optimizer(steps_per_epoch))
    trainer.optimizer.build(trainer.student.trainable_variables)  # slots exist before a checkpoint restores them
    best = KeepBest(trainer.student, on_final)
    callbacks, start = [Reseed(trainer, seed), best, *getattr(trainer.loss_fn, "callbacks", ())], 0
    if checkpoints is not None:
        from pipeline.kd.checkpoint import EpochCheckpoint
        saver = EpochCheckpoint(checkpoints, key, trainer, best)
        start = saver.restore()
        callbacks.append(saver)
        if start:
            log(f"          resuming from the checkpoint after epoch {start} of {schedule.epochs}")
    if start < schedule.epochs:
        plan = (f"{label:<9} {count(schedule.epochs - start, 'epoch')} x {count(steps_per_epoch, 'step')} "
                f"of {schedule.batch_size}")
        step = seconds_per_step(trainer.student if probe is None else probe, schedule.batch_size)
        if step is not None:
            step *= probe_factor
            total = estimate_seconds(step, schedule.epochs - start, steps_per_epoch)
            plan += f": about {duration(total)} ({1000 * step:.1f} ms per step measured)"
        log(plan)
        callbacks.append(Progress(label, schedule.epochs, steps_per_epoch, start, log))
        validation = without_autotune(tf.data.Dataset.from_tensor_slices(val).batch(256))
        trainer.fit(epoch_batches(train, schedule.batch_size, seed, schedule.epochs, start), validation_data=validation,
                    epochs=schedule.epochs, initial_epoch=start, steps_per_epoch=steps_per_epoch, callbacks=callbacks,
                    verbose=0)
    else:
        best.on_train_end()
    return {"best_val_accuracy": round(best.best, 5), "best_val_loss": best.best_loss,
            "best_epoch": best.best_epoch + 1, "history": best.history}


def predict_classes(model, x: np.ndarray) -> np.ndarray:
    return np.argmax(model.predict(x, batch_size=512, verbose=0), axis=-1)


def accuracy(model, x: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(predict_classes(model, x) == y))


def evaluate(model, x: np.ndarray, y: np.ndarray, num_classes: int) -> dict:
    """Test accuracy and confusion matrix (rows: true class, columns: predicted) of a logits model."""
    predicted = predict_classes(model, x)
    return {"accuracy": round(float(np.mean(predicted == y)), 5),
            "confusion": confusion_matrix(y, predicted, num_classes)}
