"""Distillation stage: the same tiny student trained on hard labels (the baseline) and with the teacher.

`distill(cfg)` is the public function `tinykd distill` calls: data -> teacher -> baseline -> student, each a
stage that is skipped when its settings and inputs are unchanged.
"""
from __future__ import annotations

import dataclasses
import time
from typing import Callable

import numpy as np

from pipeline.config import Config
from pipeline.data import Dataset, load_dataset, overlap_warnings, same_source
from pipeline.errors import PipelineError, stage
from pipeline.keras import keras
from pipeline.losses import hard_labels, loss_settings, make_loss
from pipeline.progress import count
from pipeline.runs import Run, fingerprint
from pipeline.sizing import sized
from pipeline.teacher import teacher_stage
from pipeline.train import Schedule, Trainer, augmenter, evaluate, fit, make_strategy, set_seed
from pipeline.zoo import build_student, describe

# Settings outside the training schedule: the loss's (losses.loss_settings) and whether a baseline is trained.
KD_FIELDS = ("method", "temperature", "alpha", "dkd_alpha", "dkd_beta", "dist_beta", "dist_gamma", "baseline")


def distill(cfg: Config, *, force: bool = False, log: Callable[[str], None] = print) -> dict:
    """Run the teacher, baseline and distillation stages; return {teacher, baseline, student} metrics."""
    strategy = make_strategy(cfg.distill.strategy)  # multi-worker collectives must be set up before any TF op
    with stage("data"):
        data = load_dataset(cfg.data, cfg.run.seed)
    cfg = sized(cfg, data)  # auto (0) epochs and teacher width chosen for this data
    run = Run(cfg.run_dir)
    before = run.manifest.get("config", {}).get("data", {}).get("dataset")
    if before and not same_source(before, cfg.data.dataset) and not force:  # x/digits.npz must not replace digits
        raise PipelineError(f"Run folder '{run.path}' holds a run on '{before}'; --dataset {cfg.data.dataset} would "
                            "replace it.", f"Use --run {cfg.run_dir.name}_2 (a new folder), or --force to replace it.")
    run.manifest["config"] = cfg.to_dict()
    run.manifest["data"] = data.info()
    log(f"data      {data.name}: {data.info()['sizes']} samples of {data.input_shape}, {data.num_classes} classes"
        + (", validation by groups" if data.split == "groups" else ""))
    for warning in overlap_warnings(data):
        log(f"warning   {warning}")
    teacher = teacher_stage(cfg, data, run, force=force, log=log)
    kd = cfg.distill.method != "none"
    baseline = None
    if kd and cfg.distill.baseline:
        with stage("baseline"):
            baseline = student_stage("baseline", cfg, data, run, strategy, force=force, log=log)
    with stage("distill"):
        student = student_stage("distill", cfg, data, run, strategy, force=force, log=log)
    return {"run": str(run.path), "teacher": teacher, "baseline": baseline or (None if kd else student),
            "student": student}


def student_stage(stage: str, cfg: Config, data: Dataset, run: Run, strategy=None, *, force: bool = False,
                  log: Callable[[str], None] = print) -> dict:
    """Train the student: `baseline` on hard labels, `distill` with cfg.distill.method. Returns its metrics."""
    hard = stage == "baseline" or cfg.distill.method == "none"
    artifact = "baseline.keras" if stage == "baseline" else "student.keras"
    settings = {k: v for k, v in dataclasses.asdict(cfg.distill).items() if k not in KD_FIELDS}
    if not hard:  # the baseline depends on neither the teacher nor the KD settings; a KD run on its method's only
        settings.update(loss_settings(cfg.distill))
    fp = fingerprint(stage, settings, cfg.student, cfg.data, cfg.run.seed, data.source_sha256,
                     "" if hard else run.sha("teacher.keras"))
    if not force and run.is_fresh(stage, fp):
        log(f"{stage:<9} unchanged, skipped (--force reruns)")
        return run.metrics(stage)

    label = "hard labels" if hard else f"{cfg.distill.method}, T={cfg.distill.temperature:g}"
    log(f"{stage:<9} training {cfg.student.family} student ({label}, {count(cfg.distill.epochs, 'epoch')})")
    started = time.time()
    set_seed(cfg.run.seed)
    train = (data.x_train, data.y_train)
    online = not hard and cfg.distill.augment  # augmented batches need the teacher's view of the same batch
    if not hard and not online:
        train += (np.load(run.file("teacher_logits.npy")),)  # (n_train, K) cached once by the teacher stage
    strategy = make_strategy(cfg.distill.strategy) if strategy is None else strategy
    with strategy.scope():
        student = build_student(cfg.student, data.input_shape, data.num_classes, seed=cfg.run.seed)
        teacher = keras.models.load_model(run.file("teacher.keras"), compile=False) if online else None
        trainer = Trainer(student=student, loss_fn=hard_labels if hard else make_loss(cfg.distill),
                          teacher=teacher, teacher_probabilities=bool(run.metrics("teacher").get("probabilities")),
                          augment=augmenter(data.input_shape, cfg.run.seed) if cfg.distill.augment else None)
        info = fit(trainer, train=train, val=(data.x_val, data.y_val), seed=cfg.run.seed,
                   checkpoints=run.checkpoints(stage), key=fp, log=log, label=stage,
                   schedule=Schedule(cfg.distill.epochs, cfg.distill.batch_size, cfg.distill.learning_rate))
    metrics = {**evaluate(student, data.x_test, data.y_test, data.num_classes), **describe(student),
               "method": "none" if hard else cfg.distill.method, "teacher_mode": "online" if online else "cached",
               "replicas": strategy.num_replicas_in_sync, **info}
    run.write(artifact, student.save)
    run.record(stage, fp, [artifact], metrics, time.time() - started)
    return metrics
