"""The transfer set: samples without labels on which only the teacher's soft targets train the student.

Devices record far more than anyone labels; distillation is what turns those recordings into accuracy. Unlabeled
samples come from `x_unlabeled` in the data .npz, from a separate .npz (`--unlabeled FILE`), and, with
`--label-fraction F`, from the training samples whose labels the students do not get (a benchmark of what KD does
with few labels: the teacher still learned from all of them, as a teacher trained elsewhere on a large labeled set).

In a student's training arrays the transfer samples carry label -1 (losses.py gives them no hard-label term).
"""
from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from pipeline.errors import PipelineError

KEY = "x_unlabeled"
UNLABELED = -1  # the label of a transfer-set sample in a student's training arrays


def read_unlabeled(path: str) -> np.ndarray:
    """`x_unlabeled` of the .npz at `path` (raw, as stored)."""
    file = Path(path)
    if file.suffix != ".npz" or not file.is_file():
        what = "is a folder" if file.is_dir() else "does not exist" if not file.exists() else "is not a .npz file"
        raise PipelineError(f"Unlabeled data '{path}' {what}.",
                            f"Give a .npz file with an array {KEY}: numpy.savez(path, {KEY}=x).")
    if not zipfile.is_zipfile(file):
        raise PipelineError(f"Unlabeled data '{path}' is not a .npz file (not a zip archive).",
                            f"Save it with numpy.savez(path, {KEY}=x).")
    try:
        with np.load(file, allow_pickle=False) as f:
            if KEY not in f.files:
                raise PipelineError(f"'{path}' has no array {KEY} (it has: {', '.join(f.files) or 'nothing'}).",
                                    f"Save the unlabeled samples as numpy.savez(path, {KEY}=x).")
            return f[KEY]
    except PipelineError:
        raise
    except Exception as e:  # noqa: BLE001 - numpy raises many kinds for a bad file
        raise PipelineError(f"Cannot read '{path}' as .npz ({e}).", f"Save it with numpy.savez(path, {KEY}=x).")


def check_samples(source: str, key: str, x: np.ndarray) -> None:
    """Samples that cannot train anything: none, not real numbers, NaN/inf. One line each (data.py uses it too)."""
    if len(x) == 0:
        raise PipelineError(f"{key} in '{source}' is empty.", "Give at least one sample (or leave the array out).")
    if not np.issubdtype(x.dtype, np.number) or np.iscomplexobj(x):
        raise PipelineError(f"{key} in '{source}' has dtype {x.dtype}.", "Samples must be real numeric arrays.")
    bad = int(np.size(x) - np.count_nonzero(np.isfinite(x)))
    if bad:
        raise PipelineError(f"{key} in '{source}' holds {bad} NaN/inf values.",
                            "Clean or impute the data (or drop those samples) before distilling.")


def check_unlabeled(source: str, x: np.ndarray, sample_shape: tuple[int, ...]) -> None:
    """Unlabeled samples must be shaped like the training samples, and usable."""
    if x.ndim == 0 or x.shape[1:] != sample_shape:
        raise PipelineError(f"{KEY} in '{source}' holds samples of shape {x.shape[1:]}, x_train's are {sample_shape}.",
                            "Unlabeled samples must be shaped like the training samples.")
    check_samples(source, KEY, x)


def labeled_subset(y: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Sorted indices of a stratified `fraction` of the samples, drawn with `seed`: round(fraction * n) of them (more
    only where a class would get none: each keeps at least one), shared out by largest remainder (rounding each
    class's share on its own gave 101 of 200 at 0.5)."""
    if fraction >= 1.0:
        return np.arange(len(y))
    rng = np.random.default_rng([seed, 1])
    classes, counts = np.unique(y, return_counts=True)
    quota = fraction * counts
    take = np.maximum(1, np.floor(quota).astype(np.int64))
    short = int(round(fraction * len(y))) - int(take.sum())
    if short > 0:
        take[np.argsort(np.floor(quota) - quota, kind="stable")[:short]] += 1  # the largest remainders first
    keep = [rng.permutation(np.flatnonzero(y == c))[:k] for c, k in zip(classes, np.minimum(take, counts))]
    return np.sort(np.concatenate(keep))


def student_arrays(x_train: np.ndarray, y_train: np.ndarray, labeled: np.ndarray, x_unlabeled: np.ndarray,
                   logits: np.ndarray | None = None, transfer_logits: np.ndarray | None = None):
    """A student's training arrays. Without teacher logits (the hard-label baseline): the labeled samples only.
    With them: the labeled samples, then the training samples whose labels are withheld, then x_unlabeled, with
    label -1 on the last two and the teacher's logits on all: (x, y) or (x, y, teacher_logits)."""
    if logits is None:
        return x_train[labeled], y_train[labeled]
    withheld = np.setdiff1d(np.arange(len(y_train)), labeled)
    order = np.concatenate([labeled, withheld])
    x = np.concatenate([x_train[order], x_unlabeled]) if len(x_unlabeled) else x_train[order]
    y = np.concatenate([y_train[labeled], np.full(len(withheld) + len(x_unlabeled), UNLABELED, y_train.dtype)])
    t = np.concatenate([logits[order], transfer_logits]) if len(x_unlabeled) else logits[order]
    return x, y, t
