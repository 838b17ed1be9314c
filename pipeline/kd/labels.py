"""The labels of a user's .npz: class indices 0..K-1, or what a user has at hand and maps to them unambiguously.

Accepted as they are: integers, and floats holding whole numbers (1.0). Mapped: booleans (False 0, True 1),
one-hot rows (N, K) (the index of each row's 1), and strings ("walk", "run"), which become classes in sorted order
(np.unique) and give the class names. Integer labels are never renumbered: the device's output index is the label
the user gave, so {3, 7, 9} is refused (pipeline/kd/data.py) rather than silently turned into 0, 1, 2.
"""
from __future__ import annotations

import numpy as np

from pipeline.errors import PipelineError


def read_labels(source, y_train: np.ndarray, others: dict[str, np.ndarray], names: list[str] | None):
    """(y_train, others, names): int64 labels of the training split and of the other splits ({"y_test": ...,
    "y_val": ...}, mapped alike), and the class names (None: not given)."""
    y_train = _vector(source, "y_train", y_train)
    others = {key: _vector(source, key, y) for key, y in others.items()}
    mixed = [key for key, y in others.items() if _is_text(y) != _is_text(y_train)]
    if mixed:
        key, other = ("y_train", mixed[0]) if _is_text(y_train) else (mixed[0], "y_train")
        raise PipelineError(f"{key} in '{source}' holds strings, {other} numbers.",
                            "Give all splits labels of one kind: class names (strings) or class indices 0..K-1.")
    if not _is_text(y_train):
        return _indices(source, "y_train", y_train), {k: _indices(source, k, y) for k, y in others.items()}, names
    classes = np.unique(y_train)  # (K,) sorted
    for key, y in others.items():
        unknown = np.setdiff1d(np.unique(y), classes)
        if unknown.size:
            listed = ", ".join(str(c) for c in classes[:10]) + (", ..." if len(classes) > 10 else "")
            raise PipelineError(f"{key} in '{source}' has the label '{unknown[0]}', which y_train does not have "
                                f"(it has: {listed}).",
                                f"Every label of {key} must name a class of the training split.")
    return (np.searchsorted(classes, y_train), {k: np.searchsorted(classes, y) for k, y in others.items()},
            [str(c) for c in classes])


def _vector(source, key: str, y: np.ndarray) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    elif y.ndim == 2 and y.shape[1] > 1 and np.isin(y, (0, 1)).all() and (y.sum(axis=1) == 1).all():
        y = y.argmax(axis=1)  # one-hot rows
    if y.ndim != 1:
        raise PipelineError(f"{key} in '{source}' has shape {y.shape}.",
                            "Labels must be a 1-D array of class indices (or one-hot rows, or class names).")
    return y


def _is_text(y: np.ndarray) -> bool:
    return y.dtype.kind in "US"


def _indices(source, key: str, y: np.ndarray) -> np.ndarray:
    if y.dtype == bool:
        return y.astype(np.int64)
    if not np.issubdtype(y.dtype, np.number):
        raise PipelineError(f"{key} in '{source}' holds labels of type {y.dtype}.",
                            "Labels must be class indices 0..K-1 or class names (strings).")
    if np.issubdtype(y.dtype, np.floating):
        bad = y[~(np.isfinite(y) & (y == np.round(y)))]
        if bad.size:
            raise PipelineError(f"{key} in '{source}' holds non-integer labels (e.g. {bad[0]}).",
                                "Labels must be integer class indices 0..K-1.")
    return y.astype(np.int64)
