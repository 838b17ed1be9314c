"""Teacher stage: train the built-in teacher or load the user's, then cache its logits (the students' soft
targets) on the training set and the transfer set.

The built-in teacher is one CNN on all the training data (teacher.folds = 1, the default), or K-fold
cross-fitted (folds K >= 2): each sample's soft targets then come from a teacher that never trained on it. A
teacher's targets on its own training samples can be nearly the hard labels, which teach a student nothing the
labels do not (Dao et al. 2021); trained with shifts and weight decay they stay soft enough, and one teacher on all
the data is the stronger one (on Fashion-MNIST the best distilled student on the validation split learned from
it: bench/results/fm_kd_defaults.json).
A user's teacher gives its targets as is.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import numpy as np

from pipeline.config import Config
from pipeline.kd.data import Dataset
from pipeline.errors import PipelineError, stage
from pipeline.progress import Ticker, count
from pipeline.paths import KD
from pipeline.runs import Run, fingerprint, sha256_path, sources_hash
from pipeline.kd.losses import hard_labels
from pipeline.kd.keras import keras
from pipeline.kd.transfer import student_arrays
from pipeline.kd.augment import augment_name, augmenter
from pipeline.kd.train import Schedule, Trainer, evaluate, fit, set_seed, teacher_logits_of
from pipeline.kd.zoo import build_teacher, describe, load_teacher

LOGITS = "teacher_logits.npy"  # (n_train, K) float32: the soft targets of the training samples
TRANSFER_LOGITS = "transfer_logits.npy"  # (n_unlabeled, K) float32: those of the transfer set (transfer.py)
ARTIFACTS = ["teacher.keras", LOGITS]
MIN_FOLD_SAMPLES = 500  # a fold teacher learns from at least this many samples, or the teacher is not cross-fitted


@stage("teacher")
def teacher_stage(cfg: Config, data: Dataset, run: Run, *, force: bool = False,
                  log: Callable[[str], None] = print) -> dict:
    """Writes teacher.keras and teacher_logits.npy ((n_train, K) float32); returns the stage's metrics."""
    user_sha = sha256_path(cfg.teacher.path) if cfg.teacher.path and Path(cfg.teacher.path).exists() else ""
    settings = {"path": cfg.teacher.path, "sha256": user_sha} if cfg.teacher.path else cfg.teacher
    fp = fingerprint("teacher", settings, cfg.data, cfg.run.seed, data.source_sha256, unlabeled_sha(cfg),
                     sources_hash(KD))
    if not force and run.is_fresh("teacher", fp):
        log("teacher   unchanged, skipped (--force reruns)")
        return run.metrics("teacher")

    started = time.time()
    folds = 1
    if cfg.teacher.path:
        model, probabilities = load_teacher(cfg.teacher.path, data.input_shape, data.num_classes,
                                            unsafe=cfg.teacher.unsafe, log=log)
        model, inputs = raw_or_scaled(model, data, log)
        info = {"source": cfg.teacher.path, "inputs": inputs}
        logits = logits_of(model, data.x_train, probabilities, log)
    else:
        folds = fold_count(cfg.teacher.folds, data.y_train, log)
        model, logits, info = train_teachers(cfg, data, run, fp, folds, log)
        probabilities = False
    transfer = logits_of(model, data.x_unlabeled, probabilities, log) if len(data.x_unlabeled) else None
    metrics = {**evaluate(model, data.x_test, data.y_test, data.num_classes), **describe(model),
               "probabilities": probabilities, "folds": folds,
               "targets": "cross-fitted" if folds > 1 else "in-sample", **info}
    run.path.mkdir(parents=True, exist_ok=True)
    run.write("teacher.keras", model.save)
    run.write(LOGITS, lambda p: np.save(p, logits.astype(np.float32)))
    artifacts = ARTIFACTS
    if transfer is not None:
        run.write(TRANSFER_LOGITS, lambda p: np.save(p, transfer.astype(np.float32)))
        artifacts = [*ARTIFACTS, TRANSFER_LOGITS]
    run.record("teacher", fp, artifacts, metrics, time.time() - started)
    return metrics


def fold_count(folds: int, y: np.ndarray, log: Callable[[str], None]) -> int:
    """The folds to cross-fit: as asked, unless a fold teacher would learn from too few samples to be worth its
    targets (36 sensor recordings split in two teach worse than one teacher on all 36 does), or a fold would lack
    a class."""
    per_teacher = len(y) * (folds - 1) // folds
    if folds > 1 and (per_teacher < MIN_FOLD_SAMPLES or np.bincount(y).min() < folds):
        log(f"teacher   {len(y):,} samples are too few to cross-fit {folds} teachers (each would learn from "
            f"{per_teacher:,}; {MIN_FOLD_SAMPLES:,} needed): one teacher, in-sample targets")
        return 1
    return folds


def fold_ids(y: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """(n,) fold of each sample in [0, folds): stratified, every class spread evenly, drawn with `seed`."""
    ids = np.empty(len(y), np.int64)
    rng = np.random.default_rng([seed, 2])
    for c in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == c))
        ids[members] = np.arange(len(members)) % folds
    return ids


def train_teachers(cfg: Config, data: Dataset, run: Run, fp: str, folds: int, log: Callable[[str], None]):
    """Train `folds` built-in teachers, teacher k on every fold but k; each gives the logits of the fold it did
    not see (with one fold: one teacher, its own training samples). Returns (the teacher: their average,
    out-of-fold logits (n_train, K), training info)."""
    t = cfg.teacher
    what = f"{folds} cross-fitted CNNs" if folds > 1 else "the built-in CNN"
    log(f"teacher   training {what} (width {t.width}, {count(t.epochs, 'epoch')}"
        + (f", {augment_name(data.kind, t.flip)})" if t.augment else ")"))
    ids = fold_ids(data.y_train, folds, cfg.run.seed)
    logits = np.zeros((len(data.y_train), data.num_classes), np.float32)
    members, history = [], []
    for k in range(folds):
        fit_on = ids != k if folds > 1 else np.ones(len(ids), bool)
        set_seed(cfg.run.seed + k)
        model = build_teacher(t, data.input_shape, data.num_classes, seed=cfg.run.seed + k,
                              name=f"teacher_fold{k}" if folds > 1 else "teacher")
        augment = augmenter(data.kind, data.input_shape, cfg.run.seed + k, flip=t.flip) if t.augment else None
        label = "teacher" if folds == 1 else f"teacher {k + 1}/{folds}"
        info = fit(Trainer(student=model, loss_fn=hard_labels, augment=augment),
                   train=(data.x_train[fit_on], data.y_train[fit_on]), val=(data.x_val, data.y_val),
                   seed=cfg.run.seed + k, checkpoints=run.checkpoints("teacher") / f"fold{k}", key=fp, log=log,
                   label=label, schedule=Schedule(t.epochs, t.batch_size, t.learning_rate, t.weight_decay))
        held_out = ~fit_on if folds > 1 else fit_on
        logits[held_out] = logits_of(model, data.x_train[held_out], False, log)
        members.append(model)
        history.append(info)
    info = {"source": "built-in", "best_val_accuracy": max(h["best_val_accuracy"] for h in history),
            "history": history[0]["history"], "fold_val_accuracy": [h["best_val_accuracy"] for h in history]}
    return average(members, data.input_shape), logits, info


def average(members: list, input_shape: tuple[int, ...]):
    """One Keras model whose logits are the mean of the members' logits (the member itself when alone)."""
    if len(members) == 1:
        return members[0]
    inputs = keras.Input(input_shape, name="input")
    outs = [member(inputs) for member in members]
    return keras.Model(inputs, keras.layers.Average(name="mean_logits")(outs), name="teacher")


def logits_of(model, x: np.ndarray, probabilities: bool, log: Callable[[str], None]) -> np.ndarray:
    """The teacher's logits (n, K) float32 on `x`, in batches of 512 with a progress line every 20 s."""
    batches = np.array_split(x, max(1, len(x) // 512))
    ticker = Ticker("teacher", len(batches), log)
    out = []
    for batch in batches:
        out.append(teacher_logits_of(model, batch, probabilities).numpy())  # (<=512, K)
        ticker.advance("logits")
    return np.concatenate(out)


RAW_MARGIN = 0.1  # a user's teacher gets raw values when it classifies them this much better than scaled ones
CHECK_SAMPLES = 2000


def raw_or_scaled(model, data: Dataset, log: Callable[[str], None]):
    """A user's teacher trained on the data's raw values (uint8 pixels, g and deg/s) classifies tinykd's [0, 1]
    inputs poorly and teaches the student that. When it fits the training labels clearly better on raw values,
    it gets them: a Rescaling layer in front undoes the scaling (x * scale + shift, per channel for series).
    Returns (the teacher, "raw" or "scaled")."""
    shift, scale = (np.asarray(data.normalization[k], np.float32) for k in ("shift", "scale"))
    x, y = data.x_train[:CHECK_SAMPLES], data.y_train[:CHECK_SAMPLES]
    scaled, raw = (float(np.mean(np.argmax(model.predict(v, batch_size=512, verbose=0), -1) == y))
                   for v in (x, x * scale + shift))
    if raw < scaled + RAW_MARGIN:
        return model, "scaled"
    log(f"teacher   your teacher classifies {raw:.2%} on raw values vs {scaled:.2%} on inputs scaled to [0, 1] "
        f"(training samples): it was trained on raw values and gets them (x * scale + shift)")
    inputs = keras.Input(data.input_shape, name="input")
    x = keras.layers.Rescaling(scale.tolist(), offset=shift.tolist(), name="raw_values")(inputs)
    return keras.Model(inputs, model(x), name="teacher"), "raw"


def unlabeled_sha(cfg: Config) -> str:
    """The hash of the --unlabeled file (its contents, not only its name, decide the transfer set's targets)."""
    return sha256_path(cfg.data.unlabeled) if cfg.data.unlabeled else ""


def soft_targets(data: Dataset, run: Run):
    """A distilled student's training arrays (x, y, teacher_logits): the labeled samples, then the transfer set
    with label -1 (transfer.student_arrays), with the targets the teacher stage cached."""
    logits = np.load(run.file(LOGITS))  # (n_train, K) float32
    if logits.shape != (len(data.x_train), data.num_classes):
        raise PipelineError(f"{LOGITS} in '{run.path}' has shape {logits.shape}, the training data needs "
                            f"{(len(data.x_train), data.num_classes)}.",
                            "The run folder holds another data set's teacher: rerun with --force.")
    transfer = np.load(run.file(TRANSFER_LOGITS)) if len(data.x_unlabeled) else None
    return student_arrays(data.x_train, data.y_train, data.labeled, data.x_unlabeled, logits, transfer)
