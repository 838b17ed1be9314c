"""The arrays of a user's data .npz: the ones tinykd reads, the optional validation split, a warning for the rest.

A .npz holds its training and test splits (x_train, y_train, x_test, y_test), or all its labelled samples as x and
y, of which tinykd holds out a stratified data.test_fraction as the test set (drawn with the run's seed). A .npz may
bring its own validation split (`x_val`, `y_val`, both or neither): it then picks the best checkpoint
instead of the share `data.val_fraction` carved from x_train, and every training sample trains. Arrays tinykd
does not read are named in one warning, so a misspelt key (`x_valid`) is not ignored silently.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pipeline.audio.breakdown import SNR_KEY, VOICE_KEY
from pipeline.errors import PipelineError
from pipeline.kd.splits import held_out
from pipeline.kd.transfer import KEY as UNLABELED_KEY

NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")  # required, or:
WHOLE_KEYS = ("x", "y")  # every labelled sample: tinykd holds out the test set
VAL_KEYS = ("x_val", "y_val")  # optional: the validation split, both or neither
GROUPS_KEY = "groups_train"  # optional: a group id (subject, recording) per training sample
NAMES_KEY = "class_names"  # optional: a name per class (strings), e.g. the keywords of `tinykd data kws`
MANIFEST_KEY = "manifest"  # optional: what made the file (`tinykd data`), JSON
# Every array tinykd reads from a data .npz (x_unlabeled: the transfer set; voice_test, snr_test: the report's
# keyword breakdown, pipeline/audio/breakdown.py).
READ_KEYS = (*NPZ_KEYS, *WHOLE_KEYS, *VAL_KEYS, GROUPS_KEY, UNLABELED_KEY, NAMES_KEY, MANIFEST_KEY, VOICE_KEY, SNR_KEY)


@dataclass
class NpzExtras:
    """What only a data .npz brings besides its splits (the defaults: what a built-in set or a folder brings)."""
    groups: np.ndarray | None = None  # groups_train: a recording or subject id per training sample
    layout: str = "auto"  # what --layout auto means for the file
    unlabeled: np.ndarray | None = None  # x_unlabeled: the transfer set
    val: tuple | None = None  # (x_val, y_val): the validation split
    warnings: list[str] = field(default_factory=list)  # a test split drawn from x and y, arrays tinykd ignores


def read_splits(path, f, test_fraction: float, seed: int) -> tuple[list[np.ndarray], str | None]:
    """([x_train, y_train, x_test, y_test] of the open .npz `f`, a warning when tinykd drew the test set from x and
    y); PipelineError when it has neither set of arrays."""
    if all(k in f.files for k in NPZ_KEYS):
        return [f[k] for k in NPZ_KEYS], None
    if not all(k in f.files for k in WHOLE_KEYS) or any(k in f.files for k in NPZ_KEYS):
        missing = [k for k in NPZ_KEYS if k not in f.files]
        raise PipelineError(f"'{path}' lacks {', '.join(missing)} (it has: {', '.join(f.files) or 'nothing'}).",
                            "A data .npz needs the arrays x_train, y_train, x_test, y_test, or x and y (tinykd then "
                            "holds out data.test_fraction of them as the test set).")
    x, y = f["x"], f["y"]
    if len(x) != len(y) or len(x) < 2:
        raise PipelineError(f"'{path}' has {len(x)} samples in x and {len(y)} labels in y.",
                            "Give one label per sample, at least 2 samples.")
    train, test = held_out(y, test_fraction, seed)
    return [x[train], y[train], x[test], y[test]], (
        f"'{path}' has x and y, no test split: {len(test):,} of its {len(y):,} samples ({test_fraction:.0%}, "
        f"stratified, seed {seed}) are the test set. Runs with another --seed test on other samples: save x_test "
        "and y_test in the .npz for one fixed test set.")


def read_validation(path, f) -> tuple | None:
    """(x_val, y_val) as stored in the open .npz `f`, or None when it has neither; PipelineError for one alone."""
    present = [k for k in VAL_KEYS if k in f.files]
    if len(present) == 1:
        missing = next(k for k in VAL_KEYS if k not in present)
        raise PipelineError(f"'{path}' has {present[0]} but no {missing}.",
                            "Give both x_val and y_val (your validation split), or neither: tinykd then holds out "
                            "data.val_fraction of x_train.")
    return (f["x_val"], f["y_val"]) if present else None


def ignored_warning(path, files: list[str]) -> str | None:
    """The warning naming the arrays of the .npz at `path` that tinykd ignores, or None when it reads them all."""
    ignored = [k for k in files if k not in READ_KEYS]
    if not ignored:
        return None
    return (f"'{path}' holds arrays tinykd ignores: {', '.join(ignored)}. It reads {', '.join(READ_KEYS)} "
            "(README \"Bring your own data\"); rename a misspelt one.")
