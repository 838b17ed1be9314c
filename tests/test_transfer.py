"""Out-of-sample targets and the transfer set: cross-fitted teachers never label what they trained on; unlabeled
samples train the student through the teacher's soft targets only; a label share keeps every class."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from conftest import invoke
from pipeline.kd import teacher as teacher_module
from pipeline.config import Config, DataConfig, DistillConfig, StudentConfig, TeacherConfig
from pipeline.kd.data import load_dataset
from pipeline.kd.keras import keras
from pipeline.kd.losses import make_loss
from pipeline.runs import Run
from pipeline.kd.teacher import fold_ids, teacher_stage
from pipeline.kd.train import Schedule, Trainer, fit, set_seed
from pipeline.kd.transfer import UNLABELED, labeled_subset, student_arrays
from pipeline.kd.zoo import build_student


def test_folds_are_stratified_and_cover_every_sample_once():
    y = np.repeat(np.arange(4), [10, 7, 5, 3])
    ids = fold_ids(y, 3, seed=5)
    assert ids.shape == y.shape and set(ids) == {0, 1, 2}
    for c in range(4):  # each class spread evenly: fold sizes differ by at most one
        sizes = np.bincount(ids[y == c], minlength=3)
        assert sizes.max() - sizes.min() <= 1
    assert not np.array_equal(ids, fold_ids(y, 3, seed=6))


@pytest.mark.slow  # trains
def test_cross_fitted_targets_never_come_from_a_teacher_that_saw_the_image(tmp_path, monkeypatch):
    """By construction on a tiny set: record what each fold teacher trained on, then find, for every image, the
    member whose output its cached logits are; that member's training set must not hold the image."""
    seen: list[np.ndarray] = []
    real_fit = teacher_module.fit

    def spy(trainer, *, train, **kwargs):
        seen.append(train[0].copy())
        return real_fit(trainer, train=train, **kwargs)
    monkeypatch.setattr(teacher_module, "fit", spy)
    monkeypatch.setattr(teacher_module, "MIN_FOLD_SAMPLES", 10)  # cross-fit this tiny set all the same
    cfg = Config(data=DataConfig(limit=120), teacher=TeacherConfig(width=4, epochs=1, folds=3))
    cfg = dataclasses.replace(cfg, run=dataclasses.replace(cfg.run, root=str(tmp_path), name="cf"))
    data = load_dataset(cfg.data)
    run = Run(cfg.run_dir)
    metrics = teacher_stage(cfg, data, run, log=lambda line: None)
    assert metrics["folds"] == 3 and metrics["targets"] == "cross-fitted" and len(seen) == 3
    logits = np.load(run.file("teacher_logits.npy"))
    model = keras.models.load_model(run.file("teacher.keras"), compile=False)
    outputs = [model.get_layer(f"teacher_fold{k}").predict(data.x_train, verbose=0) for k in range(3)]
    for i, x in enumerate(data.x_train):
        (member,) = [k for k in range(3) if np.allclose(outputs[k][i], logits[i], atol=1e-5)]
        assert not np.any(np.all(seen[member] == x, axis=(1, 2, 3))), f"sample {i} labeled by a teacher that saw it"
    # the teacher is the members' mean
    np.testing.assert_allclose(model.predict(data.x_train, verbose=0), np.mean(outputs, axis=0), atol=1e-5)


def test_label_share_is_stratified_and_keeps_every_class():
    y = np.repeat(np.arange(3), [100, 50, 4])
    kept = labeled_subset(y, 0.1, seed=0)
    assert np.bincount(y[kept]).tolist() == [10, 5, 1]  # round(0.4) would drop class 2: at least one
    assert np.array_equal(kept, np.sort(kept)) and len(np.unique(kept)) == len(kept)
    assert np.array_equal(labeled_subset(y, 1.0, seed=0), np.arange(len(y)))
    odd = np.repeat(np.arange(8), [23, 27] * 4)  # 200 samples: each class's half rounded alone, 104 of them
    kept = labeled_subset(odd, 0.5, seed=0)
    assert len(kept) == 100 and all(abs(c - n / 2) <= 0.5 for c, n in zip(np.bincount(odd[kept]), np.bincount(odd)))


def test_student_arrays_put_withheld_labels_in_the_transfer_set():
    x, y = np.arange(6.0)[:, None], np.array([0, 1, 0, 1, 0, 1])
    logits, extra, extra_logits = np.eye(6)[:, :2], np.array([[9.0]]), np.array([[0.5, 0.5]])
    xs, ys, ts = student_arrays(x, y, np.array([1, 4]), extra, logits, extra_logits)
    assert xs[:, 0].tolist() == [1, 4, 0, 2, 3, 5, 9] and ys.tolist() == [1, 0] + [UNLABELED] * 5
    np.testing.assert_array_equal(ts[:6], logits[[1, 4, 0, 2, 3, 5]])
    xb, yb = student_arrays(x, y, np.array([1, 4]), extra)  # the scratch baseline: the labeled samples only
    assert xb[:, 0].tolist() == [1, 4] and yb.tolist() == [1, 0]


def _train(train, method="hinton", alpha=0.5):
    """A tiny dense student trained 2 epochs on `train`; returns its weights."""
    set_seed(0)
    student = build_student(StudentConfig(family="dense", width=2, depth=1), (4, 4, 1), 3, seed=0)
    trainer = Trainer(student=student, loss_fn=make_loss(DistillConfig(method=method, alpha=alpha)))
    val = (train[0][:6], np.zeros(6, np.int64))  # the same for every variant: it picks the epoch kept
    fit(trainer, train=train, val=val, schedule=Schedule(2, 8, 1e-2), seed=0, log=lambda line: None)
    return student.get_weights()


def _same(a, b) -> bool:
    return all(np.array_equal(u, v) for u, v in zip(a, b))


@pytest.fixture(scope="module")
def transfer_batches():
    rng = np.random.default_rng(0)
    x = rng.random((40, 4, 4, 1)).astype(np.float32)
    y = np.concatenate([rng.integers(0, 3, 16), np.full(24, UNLABELED)])  # 16 labeled, 24 transfer samples
    return x, y, rng.normal(size=(40, 3)).astype(np.float32) * 3


@pytest.mark.slow  # trains
def test_alpha_zero_the_transfer_set_changes_nothing(transfer_batches):
    """alpha = 0: no soft-target term anywhere, so the transfer set's targets cannot move the student."""
    x, y, t = transfer_batches
    other = t.copy()
    other[16:] = -other[16:]
    assert _same(_train((x, y, t), alpha=0.0), _train((x, y, other), alpha=0.0))


@pytest.mark.slow  # trains
def test_alpha_one_the_labels_change_nothing_and_the_transfer_set_does(transfer_batches):
    """alpha = 1: the labels play no part (only soft targets train), and the transfer set's targets do."""
    x, y, t = transfer_batches
    relabeled = y.copy()
    relabeled[:16] = (relabeled[:16] + 1) % 3
    assert _same(_train((x, y, t), alpha=1.0), _train((x, relabeled, t), alpha=1.0))
    other = t.copy()
    other[16:] = -other[16:]
    assert not _same(_train((x, y, t), alpha=1.0), _train((x, y, other), alpha=1.0))


def test_too_few_samples_for_cross_fitting_give_one_teacher():
    said = []
    y = np.tile(np.arange(4), 9)  # 36 sensor recordings: two teachers of 18 would teach worse than one of 36
    assert teacher_module.fold_count(2, y, said.append) == 1 and "too few to cross-fit" in said[0]
    assert teacher_module.fold_count(2, np.tile(np.arange(4), 300), said.append) == 2
    assert teacher_module.fold_count(1, np.tile(np.arange(4), 300), said.append) == 1


@pytest.mark.slow  # trains
def test_distill_with_an_unlabeled_file_and_a_label_share(tmp_path, monkeypatch):
    """From the CLI: the transfer set's size and the students' labels are in the manifest; the teacher cached its
    targets on the unlabeled file; the scratch baseline saw the labeled share only."""
    x_extra = np.random.default_rng(1).integers(0, 17, (50, 8, 8)).astype(np.float32)
    np.savez(tmp_path / "extra.npz", x_unlabeled=x_extra)
    config = tmp_path / "c.toml"
    config.write_text(f'[run]\nroot = "{tmp_path}"\nname = "u"\n')
    monkeypatch.setattr(teacher_module, "MIN_FOLD_SAMPLES", 10)
    result = invoke("distill", "--config", config, "--limit", "200", "--teacher-epochs", "1", "--epochs", "1",
                    "--unlabeled", tmp_path / "extra.npz", "--label-fraction", "0.5", "--folds", "2")
    assert result.exit_code == 0, result.output
    assert "100 labeled samples + 150 unlabeled" in result.output  # 100 withheld + 50 from the file
    run = Run(tmp_path / "u")
    assert run.manifest["data"]["sizes"]["labeled_for_students"] == 100
    assert run.manifest["data"]["sizes"]["unlabeled"] == 50
    assert np.load(run.file("transfer_logits.npy")).shape == (50, 10)
    assert run.metrics("teacher")["targets"] == "cross-fitted"
