"""The validation split, and the checks that keep it honest for sensor windows.

Windows cut from one recording with overlap share time steps, so a random split puts near-copies of validation
windows into training and the best-checkpoint choice is made on leaked data. With group ids (`groups_train` in
the .npz: a subject, a recording, a session) the split keeps every group on one side. Without them,
`shared_windows` finds windows whose time steps also occur in other windows so the user can be warned.
"""
from __future__ import annotations

import numpy as np

from pipeline.config import hint
from pipeline.errors import PipelineError

RUN = 3  # consecutive time steps that identify a stretch of a recording
# Below these the best checkpoint is picked on noise: one sample of 20 moves validation accuracy by 5 pp, more than
# late epochs differ by, and a class with fewer than 2 samples is a coin flip on that class.
MIN_VAL_SAMPLES = 20
MIN_VAL_PER_CLASS = 2
MAX_VAL_FRACTION = 0.45  # the largest share of the training data worth suggesting to hold out (data.val_fraction < 0.5)


def validation_split(y: np.ndarray, val_fraction: float, seed: int,
                     groups: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(train indices, val indices) of the training labels y, both in a seeded random order. Without groups:
    `held_out`'s stratified share. With groups (n,): whole groups, in a seeded order, go to validation until it
    holds at least round(n * val_fraction) samples; no group is on both sides."""
    if groups is None:
        return held_out(y, val_fraction, seed)
    n = len(y)
    rng = np.random.default_rng(seed)
    want = max(1, int(round(n * val_fraction)))
    order = rng.permutation(n)
    ids = np.unique(groups)
    if len(ids) < 2:
        raise PipelineError(f"groups_train holds a single group ({ids[0]!r}).",
                            "Give >= 2 groups (subjects or recordings), or leave groups_train out.")
    val_groups, count = [], 0
    sizes = {g: int(c) for g, c in zip(*np.unique(groups, return_counts=True))}
    for g in rng.permutation(ids):
        if count >= want or len(val_groups) == len(ids) - 1:
            break
        val_groups.append(g)
        count += sizes[g]
    in_val = np.isin(groups, val_groups)
    return order[~in_val[order]], order[in_val[order]]


def held_out(y: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(kept rows, held-out rows) of the labels y (a vector, or one-hot rows), both in a seeded random order: a share
    `fraction` held out, stratified (each class held out in that share) when every class has 2 samples or more and
    the share holds one of each, else at random. A random split of 40 classes of 50 left some class 1 validation
    sample of its 5 (a noisy checkpoint choice, and a warning whose advice was to hold out less)."""
    from sklearn.model_selection import train_test_split

    rows = np.arange(len(y))
    classes = np.unique(y.reshape(len(y), -1), axis=0, return_inverse=True)[1].reshape(-1)
    stratify = classes if np.bincount(classes).min() >= 2 else None
    try:
        return tuple(train_test_split(rows, test_size=fraction, random_state=seed, stratify=stratify))
    except ValueError:  # fewer held-out samples than classes: no stratified split exists
        return tuple(train_test_split(rows, test_size=fraction, random_state=seed))


def small_validation(y_val: np.ndarray, class_names: list[str], *, given: bool, y_all: np.ndarray) -> str | None:
    """The warning for a validation split too small to pick a checkpoint by (fewer than MIN_VAL_SAMPLES samples, or
    a class with fewer than MIN_VAL_PER_CLASS), with what to do; None when it is large enough. `given`: the split is
    the .npz's x_val/y_val; else it was carved from the labels `y_all`."""
    counts = np.bincount(y_val, minlength=len(class_names))  # (K,)
    fewest = int(counts.argmin())
    if len(y_val) >= MIN_VAL_SAMPLES and counts[fewest] >= MIN_VAL_PER_CLASS:
        return None
    sizes = f"{len(y_val)} samples" + (f", {counts[fewest]} of class '{class_names[fewest]}'"
                                        if counts[fewest] < MIN_VAL_PER_CLASS else "")
    rarest = np.bincount(y_all, minlength=len(class_names)).min()
    share = np.ceil(20 * max(MIN_VAL_SAMPLES / len(y_all), MIN_VAL_PER_CLASS / max(rarest, 1))) / 20  # 5% steps
    fix = ("Give a larger x_val/y_val in the .npz." if given else "Give more training data." if share > MAX_VAL_FRACTION
           else f"Give more training data, or hold out more: {hint('data.val_fraction', float(share))}")
    return (f"The validation split has {sizes} (it needs >= {MIN_VAL_SAMPLES}, and >= {MIN_VAL_PER_CLASS} of each "
            f"class): the choice of the best checkpoint, and of the student that ships, is noise. {fix}")


def check_groups(source, groups: np.ndarray, n: int) -> np.ndarray:
    groups = np.asarray(groups)
    if groups.shape != (n,):
        raise PipelineError(f"groups_train in '{source}' has shape {groups.shape}, x_train has {n} samples.",
                            "Give one group id (subject, recording) per training sample.")
    if not (np.issubdtype(groups.dtype, np.integer) or groups.dtype.kind in "US"):
        raise PipelineError(f"groups_train in '{source}' has dtype {groups.dtype}.",
                            "Group ids must be integers or strings.")
    return groups


def _run_keys(x: np.ndarray) -> np.ndarray:
    """(n, T - RUN + 1) float64 keys of every RUN-step stretch of every series window (n, T, C): equal stretches
    get equal keys (each element is a fixed sum of products, computed in the same order for every stretch), and
    different ones collide with negligible probability. Stretches in which no channel changes (padding, a sensor at
    rest or saturated) get NaN: they say nothing about overlap. (Padding is one value per channel once the channels
    are scaled apart: sktime's zero-padded JapaneseVowels had 235 of its 270 windows "shared" by their padding.)"""
    x = x.astype(np.float64)
    steps = x.shape[1] - RUN + 1
    weights = np.random.default_rng(12345).standard_normal((RUN, x.shape[2]))
    keys = np.zeros((x.shape[0], steps))
    for lag in range(RUN):
        for c in range(x.shape[2]):
            keys += x[:, lag:lag + steps, c] * weights[lag, c]
    stretch = np.lib.stride_tricks.sliding_window_view(x, RUN, axis=1)  # (n, steps, C, RUN)
    keys[np.all(stretch.max(-1) == stretch.min(-1), axis=-1)] = np.nan
    return keys


def shared_windows(x: np.ndarray, other: np.ndarray | None = None, share: float = 0.25) -> int:
    """How many series windows of x (n, T, C) have at least `share` of their stretches of RUN time steps also in
    another window of x (or, with `other`, in a window of other). 0 for windows shorter than RUN steps."""
    if x.ndim != 3 or x.shape[1] < RUN:
        return 0
    keys = _run_keys(x)
    owner = np.repeat(np.arange(len(x)), keys.shape[1])
    flat, valid = keys.reshape(-1), ~np.isnan(keys.reshape(-1))
    if other is None:
        # a key is shared when it occurs in >= 2 different windows
        pairs = np.unique(np.stack([flat[valid], owner[valid]]), axis=1)  # one entry per (key, window)
        values, counts = np.unique(pairs[0], return_counts=True)
        shared_keys = values[counts >= 2]
    else:
        other_keys = _run_keys(other).reshape(-1)
        shared_keys = np.unique(other_keys[~np.isnan(other_keys)])
    hit = np.isin(keys, shared_keys)  # NaN keys never match
    usable = np.maximum((~np.isnan(keys)).sum(1), 1)
    return int(np.sum(hit.sum(1) >= share * usable))
