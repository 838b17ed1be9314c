"""Distillation losses. Each maps (labels, student_logits, teacher_logits) to a per-example loss (batch,).

All take logits; teacher "logits" from a softmax-output teacher are log-probabilities, which give the same
tempered softmax (softmax(log p / T) = softmax(z / T)). Label -1 marks a transfer-set sample (no label): its
hard-label terms are zero and only the teacher's soft targets train on it.
"""
from __future__ import annotations

from typing import Callable

from pipeline.config import METHOD_FIELDS, DistillConfig
from pipeline.kd.keras import keras, tf
from pipeline.kd.sizing import auto_kd_weights

Loss = Callable[[tf.Tensor, tf.Tensor, tf.Tensor], tf.Tensor]


def _ce(labels, logits):
    """Cross-entropy on the labeled samples, 0 on the unlabeled (label -1) ones."""
    labels = tf.cast(labels, tf.int32)
    ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.maximum(labels, 0), logits=logits)
    return ce * tf.cast(labels >= 0, logits.dtype)


def _kl(p_teacher, log_p_student):
    """KL(p_teacher || p_student) per example; 0 * log 0 counts as 0."""
    log_p_teacher = tf.math.log(tf.clip_by_value(p_teacher, 1e-12, 1.0))
    return tf.reduce_sum(p_teacher * (log_p_teacher - log_p_student), axis=-1)


def resolved(cfg: DistillConfig) -> DistillConfig:
    """Auto (0) temperature and auto (-1) alpha that no run chose for its data: the "sharp" KD_WEIGHTS
    (sizing.auto_kd_weights, where a run resolves them too)."""
    return auto_kd_weights(cfg, "sharp")


def hard_labels(labels, student, teacher=None):
    """`--method none`: plain cross-entropy on the labels, the baseline every method is measured against."""
    return _ce(labels, student)


def hinton(cfg: DistillConfig, standardize: bool = False) -> Loss:
    """Hinton, Vinyals & Dean 2015, "Distilling the Knowledge in a Neural Network". With `standardize` (lskd):
    both logit vectors are z-scored first (Sun et al. CVPR 2024, "Logit Standardization in Knowledge
    Distillation"), so the student matches the teacher's logit *relations* and not their range, which a tiny
    student cannot reach."""
    cfg = resolved(cfg)
    t = cfg.temperature
    z = _standardized if standardize else (lambda logits: logits)

    def loss(labels, student, teacher):
        soft = _kl(tf.nn.softmax(z(teacher) / t), tf.nn.log_softmax(z(student) / t))
        # Soft-target gradients scale as 1/T^2, so multiply by T^2 to keep them comparable to the hard term (§2).
        return (1.0 - cfg.alpha) * _ce(labels, student) + cfg.alpha * t * t * soft
    return loss


def _standardized(logits):
    """(z - mean) / std per sample, over the classes (batch, K)."""
    mean, variance = tf.nn.moments(logits, axes=[-1], keepdims=True)
    return (logits - mean) / tf.sqrt(variance + 1e-7)


class WarmUp(keras.callbacks.Callback):
    """Sets `scale` to min(1, (epoch + 1) / epochs) at every epoch start: a function of the epoch alone, so a
    resumed run ramps exactly like an uninterrupted one."""

    def __init__(self, epochs: int):
        super().__init__()
        self.epochs = epochs
        self.scale = tf.Variable(1.0, trainable=False, dtype=tf.float32, name="kd_warmup")

    def on_epoch_begin(self, epoch, logs=None):
        self.scale.assign(min(1.0, (epoch + 1) / self.epochs) if self.epochs else 1.0)


def dkd(cfg: DistillConfig) -> Loss:
    """Decoupled KD, Zhao et al. CVPR 2022: KD = TCKD (target vs rest) + NCKD (among the non-targets),
    reweighted so the non-target "dark knowledge" is not suppressed when the teacher is confident."""
    cfg = resolved(cfg)
    t = cfg.temperature
    warmup = WarmUp(cfg.dkd_warmup)

    def loss(labels, student, teacher):
        labels = tf.cast(labels, tf.int32)
        # The target class: the label, or the teacher's choice on the transfer set (no label there).
        target = tf.where(labels >= 0, labels, tf.argmax(teacher, axis=-1, output_type=tf.int32))
        gt = tf.one_hot(target, tf.shape(student)[-1], dtype=student.dtype)  # (batch, K)
        p_s, p_t = tf.nn.softmax(student / t), tf.nn.softmax(teacher / t)
        # Binary (target, non-target) distributions: (batch, 2).
        b_s = tf.stack([tf.reduce_sum(p_s * gt, -1), tf.reduce_sum(p_s * (1 - gt), -1)], -1)
        b_t = tf.stack([tf.reduce_sum(p_t * gt, -1), tf.reduce_sum(p_t * (1 - gt), -1)], -1)
        tckd = _kl(b_t, tf.math.log(tf.clip_by_value(b_s, 1e-12, 1.0)))
        # Distributions over the non-target classes only: mask the target logit away.
        mask = 1000.0 * gt
        nckd = _kl(tf.nn.softmax(teacher / t - mask), tf.nn.log_softmax(student / t - mask))
        return _ce(labels, student) + warmup.scale * t * t * (cfg.dkd_alpha * tckd + cfg.dkd_beta * nckd)
    loss.callbacks = [warmup]  # train.fit adds it to the trainer's callbacks
    return loss


def _pearson_distance(a, b, axis):
    a = a - tf.reduce_mean(a, axis=axis, keepdims=True)
    b = b - tf.reduce_mean(b, axis=axis, keepdims=True)
    corr = tf.reduce_sum(a * b, axis) / (tf.norm(a, axis=axis) * tf.norm(b, axis=axis) + 1e-8)
    return 1.0 - corr


def dist(cfg: DistillConfig) -> Loss:
    """DIST, Huang et al. NeurIPS 2022: match the teacher's relations (Pearson correlation) rather than its exact
    probabilities, per sample across classes (inter-class) and per class across the batch (intra-class); robust
    when the teacher is much larger than the student."""
    cfg = resolved(cfg)
    t = cfg.temperature

    def loss(labels, student, teacher):
        p_s, p_t = tf.nn.softmax(student / t), tf.nn.softmax(teacher / t)
        inter = _pearson_distance(p_s, p_t, axis=1)  # (batch,)
        intra = tf.reduce_mean(_pearson_distance(p_s, p_t, axis=0))  # scalar: a property of the batch
        return _ce(labels, student) + t * t * (cfg.dist_beta * inter + cfg.dist_gamma * intra)
    return loss


def loss_settings(cfg: DistillConfig) -> dict:
    """The method and only its own weights (for fingerprints: another method's settings retrain nothing)."""
    return {"method": cfg.method, **{k: getattr(cfg, k) for k in METHOD_FIELDS[cfg.method]}}


def make_loss(cfg: DistillConfig) -> Loss:
    if cfg.method == "none":
        return hard_labels
    if cfg.method == "lskd":
        return hinton(cfg, standardize=True)
    return {"hinton": hinton, "dkd": dkd, "dist": dist}[cfg.method](cfg)
