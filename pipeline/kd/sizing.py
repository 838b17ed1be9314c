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

from pipeline.config import KD_WEIGHTS, Config, DistillConfig
from pipeline.kd.data import Dataset

STEPS = {"teacher": 420, "student": 630, "qat": 210}  # optimizer steps asked of each schedule
FLOOR = {"teacher": 8, "student": 20, "qat": 5}  # at least this many epochs
CAP = 200  # at most this many epochs (tiny sets: one or two steps per epoch)
WIDTHS = (64, 48, 32, 24, 16)  # the built-in teacher's first-block filters, widest first
TEACHER_BUDGET = 4e12  # MACs per sample x training samples x epochs (~4 min here for Fashion-MNIST's width 16)
# Auto Hinton KD weights (KD_WEIGHTS: temperature, alpha), chosen on validation splits. Below ~1,000 samples the
# teacher trains 27 to 200 epochs over few samples and its targets there are sharp: T = 4 softens them and alpha 0.9
# lets them lead (JapaneseVowels, 243 samples: 96.3% validation vs 88.9% with T = 1, alpha 0.3). With more data it
# trains few epochs with shifts and weight decay, its targets are soft already, and a ~1.6k-parameter student cannot
# follow them flattened further: T = 1, alpha 0.3 (digits, 1,437 samples: 96.5% vs 95.8%; Fashion-MNIST: 88.4%, vs
# 85.4% for T = 4, alpha 0.9 and 2 folds: 3 pp under the baseline; bench/results/fm_kd_defaults.json).
SOFT_TARGETS_FROM = 1000


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


def auto_kd_weights(kd: DistillConfig, targets: str = "sharp") -> DistillConfig:
    """`kd` with an auto (0) temperature and an auto (-1) alpha replaced by KD_WEIGHTS[targets] ("soft" or
    "sharp"); values set by hand stay. The one place auto KD weights are resolved: kd_weights below for a run, and
    losses.make_loss (the "sharp" ones) for a loss made outside a run."""
    temperature, alpha = KD_WEIGHTS[targets]
    return dataclasses.replace(kd, temperature=kd.temperature or temperature, alpha=alpha if kd.alpha < 0 else kd.alpha)


def kd_weights(cfg: Config, samples: int) -> Config:
    """`cfg` with an auto (0) temperature and an auto (-1) alpha chosen: T = 1, alpha = 0.3 for Hinton KD from the
    built-in teacher on SOFT_TARGETS_FROM training samples or more, else T = 4, alpha = 0.9 (KD_WEIGHTS)."""
    kd = cfg.distill
    soft = kd.method == "hinton" and not cfg.teacher.path and samples >= SOFT_TARGETS_FROM
    return dataclasses.replace(cfg, distill=auto_kd_weights(kd, "soft" if soft else "sharp"))


def sized_quantize(cfg: Config, samples: int) -> Config:
    """`cfg` with auto (0) QAT epochs, and the auto KD weights its loss uses, chosen for `samples` training samples."""
    q = cfg.quantize
    return dataclasses.replace(kd_weights(cfg, samples), quantize=dataclasses.replace(
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
    return sized_quantize(dataclasses.replace(cfg, teacher=teacher, distill=distill), n)  # and the KD weights
