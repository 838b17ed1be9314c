"""Teacher stage: train the built-in teacher or load the user's, then cache its logits on the training set."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import numpy as np

from pipeline.config import Config
from pipeline.data import Dataset
from pipeline.errors import stage
from pipeline.progress import Ticker, count
from pipeline.runs import Run, fingerprint, sha256_path
from pipeline.losses import hard_labels
from pipeline.train import Schedule, Trainer, evaluate, fit, set_seed, teacher_logits_of
from pipeline.zoo import build_teacher, describe, load_teacher

ARTIFACTS = ["teacher.keras", "teacher_logits.npy"]


@stage("teacher")
def teacher_stage(cfg: Config, data: Dataset, run: Run, *, force: bool = False,
                  log: Callable[[str], None] = print) -> dict:
    """Writes teacher.keras and teacher_logits.npy ((n_train, K) float32); returns the stage's metrics."""
    user_sha = sha256_path(cfg.teacher.path) if cfg.teacher.path and Path(cfg.teacher.path).exists() else ""
    settings = {"path": cfg.teacher.path, "sha256": user_sha} if cfg.teacher.path else cfg.teacher
    fp = fingerprint("teacher", settings, cfg.data, cfg.run.seed, data.source_sha256)
    if not force and run.is_fresh("teacher", fp):
        log("teacher   unchanged, skipped (--force reruns)")
        return run.metrics("teacher")

    started = time.time()
    if cfg.teacher.path:
        model, probabilities = load_teacher(cfg.teacher.path, data.input_shape, data.num_classes,
                                            unsafe=cfg.teacher.unsafe)
        info = {"source": cfg.teacher.path}
    else:
        log(f"teacher   training the built-in CNN (width {cfg.teacher.width}, {count(cfg.teacher.epochs, 'epoch')})")
        set_seed(cfg.run.seed)
        model, probabilities = build_teacher(cfg.teacher, data.input_shape, data.num_classes, seed=cfg.run.seed), False
        info = fit(Trainer(student=model, loss_fn=hard_labels), train=(data.x_train, data.y_train),
                   val=(data.x_val, data.y_val), seed=cfg.run.seed, checkpoints=run.checkpoints("teacher"),
                   key=fp, log=log, label="teacher",
                   schedule=Schedule(cfg.teacher.epochs, cfg.teacher.batch_size, cfg.teacher.learning_rate))
        info["source"] = "built-in"
    log(f"teacher   caching its logits on {len(data.x_train):,} samples for the students")
    batches = np.array_split(data.x_train, max(1, len(data.x_train) // 512))
    ticker = Ticker("teacher", len(batches), log)  # a line every 20 s: this takes a minute on large sets
    logits = []
    for batch in batches:
        logits.append(teacher_logits_of(model, batch, probabilities).numpy())  # (<=512, K) float32
        ticker.advance("logits")
    logits = np.concatenate(logits)
    metrics = {**evaluate(model, data.x_test, data.y_test, data.num_classes), **describe(model),
               "probabilities": probabilities, **info}
    run.path.mkdir(parents=True, exist_ok=True)
    run.write("teacher.keras", model.save)
    run.write("teacher_logits.npy", lambda p: np.save(p, logits.astype(np.float32)))
    run.record("teacher", fp, ARTIFACTS, metrics, time.time() - started)
    return metrics

