"""Distillation stage: the same tiny student trained on hard labels (the baseline) and with the teacher.

`distill(cfg)` is the public function `tinykd distill` calls: data -> teacher -> baseline -> student, each a
stage that is skipped when its settings and inputs are unchanged.
"""
from __future__ import annotations

import dataclasses
import time
from typing import Callable

from pipeline.config import Config
from pipeline.kd.data import Dataset, load_dataset, overlap_warnings, same_source
from pipeline.errors import PipelineError, stage
from pipeline.kd.keras import keras
from pipeline.kd.losses import hard_labels, loss_settings, make_loss
from pipeline.progress import count
from pipeline.paths import KD
from pipeline.runs import Run, fingerprint, sources_hash
from pipeline.kd.ship import choose
from pipeline.kd.sizing import sized
from pipeline.kd.teacher import soft_targets, teacher_stage, unlabeled_sha
from pipeline.kd.transfer import student_arrays
from pipeline.kd.augment import augmenter
from pipeline.kd.train import Schedule, Trainer, accuracy, evaluate, fit, make_strategy, set_seed
from pipeline.kd.zoo import build_student, describe

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
    sizes = {k: v for k, v in data.info()["sizes"].items() if k in ("train", "val", "test")}
    log(f"data      {data.name}: {sizes} samples of {data.input_shape}, {data.num_classes} classes"
        + {"groups": ", validation by groups", "given": ", validation: the file's x_val/y_val (none held out of "
           "x_train)"}.get(data.split, "")
        + (f"; the students get {count(len(data.labeled), 'label')}" if len(data.labeled) < len(data.y_train) else "")
        + (f"; {count(len(data.x_unlabeled), 'unlabeled sample')}" if len(data.x_unlabeled) else ""))
    for warning in [*data.warnings, *overlap_warnings(data)]:
        log(f"warning   {warning}")
    teacher = teacher_stage(cfg, data, run, force=force, log=log)
    kd = cfg.distill.method != "none"
    baseline = None
    if kd and cfg.distill.baseline:
        with stage("baseline"):
            baseline = student_stage("baseline", cfg, data, run, strategy, force=force, log=log)
    with stage("distill"):
        student = student_stage("distill", cfg, data, run, strategy, force=force, log=log)
    if kd and baseline is not None:
        log(f"ship      {choose(cfg, student, baseline).reason}")
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
                     "" if hard else run.sha("teacher.keras"), "" if hard else unlabeled_sha(cfg), sources_hash(KD))
    if not force and run.is_fresh(stage, fp):
        log(f"{stage:<9} unchanged, skipped (--force reruns)")
        return run.metrics(stage)

    label = "hard labels" if hard else f"{cfg.distill.method}, T={cfg.distill.temperature:g}"
    started = time.time()
    set_seed(cfg.run.seed)
    online = not hard and cfg.distill.augment  # augmented batches need the teacher's view of the same batch
    if hard:  # the labeled samples only
        train = student_arrays(data.x_train, data.y_train, data.labeled, data.x_unlabeled)
    else:  # and the transfer set (label -1), with the targets cached once by the teacher stage
        train = soft_targets(data, run)
        train = train[:2] if online else train
    samples = count(len(data.labeled), "labeled sample")
    if not hard and len(train[1]) > len(data.labeled):
        samples += f" + {len(train[1]) - len(data.labeled):,} unlabeled"
    log(f"{stage:<9} training {cfg.student.family} student ({label}, {count(cfg.distill.epochs, 'epoch')}, "
        f"{samples})")
    strategy = make_strategy(cfg.distill.strategy) if strategy is None else strategy
    with strategy.scope():
        student = build_student(cfg.student, data.input_shape, data.num_classes, seed=cfg.run.seed)
        teacher = keras.models.load_model(run.file("teacher.keras"), compile=False,  # a trusted Lambda loads
                                          safe_mode=not cfg.teacher.unsafe) if online else None
        trainer = Trainer(student=student, loss_fn=hard_labels if hard else make_loss(cfg.distill),
                          teacher=teacher, teacher_probabilities=bool(run.metrics("teacher").get("probabilities")),
                          augment=augmenter(data.kind, data.input_shape, cfg.run.seed) if cfg.distill.augment else None)
        final = {}  # test accuracy of the last epoch's weights (the student keeps the best validation epoch's)
        info = fit(trainer, train=train, val=(data.x_val, data.y_val), seed=cfg.run.seed,
                   checkpoints=run.checkpoints(stage), key=fp, log=log, label=stage,
                   on_final=lambda s: final.update(final_accuracy=round(accuracy(s, data.x_test, data.y_test), 5)),
                   schedule=Schedule(cfg.distill.epochs, cfg.distill.batch_size, cfg.distill.learning_rate))
    metrics = {**evaluate(student, data.x_test, data.y_test, data.num_classes), **describe(student),
               "method": "none" if hard else cfg.distill.method, "teacher_mode": "online" if online else "cached",
               "replicas": strategy.num_replicas_in_sync, **final, **info}
    run.write(artifact, student.save)
    run.record(stage, fp, [artifact], metrics, time.time() - started)
    return metrics
