"""Distillation losses against their definitions."""
import numpy as np
import pytest

from pipeline.config import DistillConfig
from pipeline.kd.keras import tf
from pipeline.kd.losses import dist, dkd, hard_labels, hinton, make_loss

rng = np.random.default_rng(0)
LABELS = tf.constant(rng.integers(0, 5, 16))
STUDENT = tf.constant(rng.normal(size=(16, 5)), tf.float32)
TEACHER = tf.constant(3 * rng.normal(size=(16, 5)), tf.float32)


def softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def test_hinton_matches_the_formula():
    cfg = DistillConfig(temperature=3.0, alpha=0.7)
    got = hinton(cfg)(LABELS, STUDENT, TEACHER).numpy()
    pt, ps = softmax(TEACHER.numpy() / 3), softmax(STUDENT.numpy() / 3)
    kl = (pt * (np.log(pt) - np.log(ps))).sum(-1)
    ce = -np.log(softmax(STUDENT.numpy())[np.arange(16), LABELS.numpy()])
    np.testing.assert_allclose(got, 0.3 * ce + 0.7 * 9 * kl, rtol=1e-5)


def test_hinton_alpha_zero_is_the_hard_label_loss():
    got = hinton(DistillConfig(alpha=0.0))(LABELS, STUDENT, TEACHER)
    np.testing.assert_allclose(got, hard_labels(LABELS, STUDENT), rtol=1e-6)


@pytest.mark.parametrize("make", [hinton, dkd, dist])
def test_soft_term_vanishes_when_student_equals_teacher(make):
    cfg = DistillConfig(alpha=1.0) if make is hinton else DistillConfig()
    got = make(cfg)(LABELS, TEACHER, TEACHER).numpy()
    expected = 0 * got if make is hinton else hard_labels(LABELS, TEACHER).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-4)


def test_dkd_reproduces_kd_by_its_decomposition():
    """Zhao et al.: KD = TCKD + (1 - p_t) NCKD, so with weights (1, 1 - p_t) DKD's soft part equals KD."""
    t = 2.0
    pt = softmax(TEACHER.numpy() / t)[np.arange(16), LABELS.numpy()]
    cfg = DistillConfig(temperature=t, dkd_alpha=1.0, dkd_beta=1.0)
    tckd_plus_nckd = dkd(cfg)(LABELS, STUDENT, TEACHER).numpy() - hard_labels(LABELS, STUDENT).numpy()
    only_tckd = dkd(DistillConfig(temperature=t, dkd_beta=0.0))(LABELS, STUDENT, TEACHER).numpy() \
        - hard_labels(LABELS, STUDENT).numpy()
    nckd = tckd_plus_nckd - only_tckd
    kd = hinton(DistillConfig(temperature=t, alpha=1.0))(LABELS, STUDENT, TEACHER).numpy()
    np.testing.assert_allclose(only_tckd + (1 - pt) * nckd, kd, rtol=1e-4, atol=1e-5)


def test_dist_ignores_a_shift_and_scale_of_relations():
    """Pearson correlation is invariant to affine changes: DIST's soft part is ~0 for p_s = a p_t + b."""
    p_t = softmax(TEACHER.numpy())
    cfg = DistillConfig(temperature=1.0, dist_gamma=0.0)
    mixed = np.log(0.5 * p_t + 0.5 / 5)  # an affine map of p_t, still a distribution
    soft = dist(cfg)(LABELS, tf.constant(mixed, tf.float32), TEACHER).numpy() \
        - hard_labels(LABELS, tf.constant(mixed, tf.float32)).numpy()
    np.testing.assert_allclose(soft, 0, atol=1e-4)


UNLABELED = tf.constant([-1] * 8 + list(LABELS.numpy()[8:]))  # the first 8 samples are from the transfer set


@pytest.mark.parametrize("method", ["hinton", "lskd", "dkd", "dist"])
def test_a_transfer_sample_trains_only_on_the_soft_targets(method):
    """Label -1: no hard-label term, and nothing in the loss depends on which label the sample would have had."""
    cfg = DistillConfig(method=method, alpha=0.5, temperature=2.0)
    loss = make_loss(cfg)
    with_labels = loss(LABELS, STUDENT, TEACHER).numpy()
    without = loss(UNLABELED, STUDENT, TEACHER).numpy()
    np.testing.assert_allclose(without[8:], with_labels[8:], rtol=1e-5)  # labeled samples unchanged
    # the unlabeled samples' loss is the labeled loss minus its hard term (DKD: with the teacher's class as target)
    if method in ("hinton", "lskd"):
        np.testing.assert_allclose(without[:8], with_labels[:8] - 0.5 * hard_labels(LABELS, STUDENT).numpy()[:8],
                                   rtol=1e-5)
    assert np.all(np.isfinite(without)) and np.all(without[:8] >= -1e-6)


def test_hard_labels_give_a_transfer_sample_no_loss_and_no_gradient():
    student = tf.Variable(STUDENT)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(hard_labels(UNLABELED, student))
    grad = tape.gradient(loss, student).numpy()
    assert np.all(grad[:8] == 0) and np.any(grad[8:] != 0)


def test_lskd_sees_only_the_relations_of_the_logits():
    """Logit standardization (Sun et al. 2024): any shift and positive scale of either side's logits leaves the
    soft term unchanged; plain Hinton KD changes."""
    cfg = DistillConfig(method="lskd", alpha=1.0, temperature=2.0)
    loss = make_loss(cfg)
    base = loss(LABELS, STUDENT, TEACHER).numpy()
    np.testing.assert_allclose(loss(LABELS, 0.2 * STUDENT - 3.0, 5.0 * TEACHER + 1.0).numpy(), base, rtol=1e-4)
    plain = hinton(DistillConfig(alpha=1.0, temperature=2.0))
    assert not np.allclose(plain(LABELS, 0.2 * STUDENT, TEACHER).numpy(), plain(LABELS, STUDENT, TEACHER).numpy())


def test_dkd_warmup_ramps_its_kd_terms_per_epoch():
    cfg = DistillConfig(method="dkd", dkd_warmup=4)
    loss = make_loss(cfg)
    (warmup,) = loss.callbacks
    ce = hard_labels(LABELS, STUDENT).numpy()
    soft = []
    for epoch in range(6):
        warmup.on_epoch_begin(epoch)
        soft.append((loss(LABELS, STUDENT, TEACHER).numpy() - ce).sum())
    np.testing.assert_allclose(np.array(soft) / soft[-1], [0.25, 0.5, 0.75, 1.0, 1.0, 1.0], rtol=1e-5)
