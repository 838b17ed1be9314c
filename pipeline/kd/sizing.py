"""Training schedules sized to the data: the settings left at 0 ("auto") are chosen here from the sample count and
the input size, so that 1,300 digits, 36 sensor recordings and 54,000 Fashion-MNIST images all train well and in
reasonable time with the same defaults.

Each schedule asks for a number of optimizer steps (the defaults were tuned on digits: 21 steps per epoch gives
its 20 teacher, 30 student and 10 QAT epochs), at least a floor of epochs (large sets need several passes even
when one pass is many steps: Fashion-MNIST gets 8 / 20 / 5, and `tinykd run` on it takes ~10 min here) and at most
a cap (a 40-sample set is one step per epoch). The built-in teacher is
the widest of WIDTHS whose training fits TEACHER_BUDGET multiply-accumulates (MACs per sample x samples x epochs);
on this project's 2-core machine 1e12 of them take about a minute.
"""
from __future__ import annotations

import dataclasses
import math

from pipeline.config import Config
from pipeline.kd.data import Dataset

STEPS = {"teacher": 420, "student": 630, "qat": 210}  # optimizer steps asked of each schedule
FLOOR = {"teacher": 8, "student": 20, "qat": 5}  # at least this many epochs
CAP = 200  # at most this many epochs (tiny sets: one or two steps per epoch)
WIDTHS = (64, 48, 32, 24, 16)  # the built-in teacher's first-block filters, widest first
TEACHER_BUDGET = 4e12  # MACs per sample x training samples x epochs (~4 min here for Fashion-MNIST's width 16)


def auto_epochs(kind: str, samples: int, batch_size: int) -> int:
    """Epochs of a `kind` schedule (teacher, student, qat) over `samples` in batches of `batch_size`."""
    steps_per_epoch = max(1, math.ceil(samples / batch_size))
    return min(CAP, max(FLOOR[kind], math.ceil(STEPS[kind] / steps_per_epoch)))


def teacher_width(data: Dataset, epochs: int) -> int:
    """The widest built-in teacher whose training fits TEACHER_BUDGET (the narrowest when none does)."""
    from pipeline.config import TeacherConfig
    from pipeline.kd.zoo import build_teacher, count_macs
    for width in WIDTHS:
        macs = count_macs(build_teacher(TeacherConfig(width=width), data.input_shape, data.num_classes))
        if macs * len(data.x_train) * epochs <= TEACHER_BUDGET:
            return width
    return WIDTHS[-1]


def sized_quantize(cfg: Config, samples: int) -> Config:
    """`cfg` with auto (0) QAT epochs chosen for `samples` training samples."""
    q = cfg.quantize
    return dataclasses.replace(cfg, quantize=dataclasses.replace(
        q, qat_epochs=q.qat_epochs or auto_epochs("qat", samples, q.qat_batch_size)))


def sized(cfg: Config, data: Dataset) -> Config:
    """`cfg` with every auto (0) schedule setting replaced by the value chosen for `data`. Fingerprints may use
    the settings as given: the auto values are a function of the data settings they also hold."""
    n = len(data.x_train)
    teacher, distill = cfg.teacher, cfg.distill
    if not teacher.path:
        epochs = teacher.epochs or auto_epochs("teacher", n, teacher.batch_size)
        teacher = dataclasses.replace(teacher, epochs=epochs, width=teacher.width or teacher_width(data, epochs))
    distill = dataclasses.replace(distill, epochs=distill.epochs or auto_epochs("student", n, distill.batch_size))
    return sized_quantize(dataclasses.replace(cfg, teacher=teacher, distill=distill), n)
