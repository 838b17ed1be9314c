"""The arrays of a user's data .npz: the ones tinykd reads, the optional validation split, a warning for the rest.

A .npz may bring its own validation split (`x_val`, `y_val`, both or neither): it then picks the best checkpoint
instead of the share `data.val_fraction` carved from x_train, and every training sample trains. Arrays tinykd
does not read are named in one warning, so a misspelt key (`x_valid`) is not ignored silently.
"""
from __future__ import annotations

from pipeline.audio.breakdown import SNR_KEY, VOICE_KEY
from pipeline.errors import PipelineError
from pipeline.kd.transfer import KEY as UNLABELED_KEY

NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")  # required
VAL_KEYS = ("x_val", "y_val")  # optional: the validation split, both or neither
GROUPS_KEY = "groups_train"  # optional: a group id (subject, recording) per training sample
NAMES_KEY = "class_names"  # optional: a name per class (strings), e.g. the keywords of `tinykd data kws`
MANIFEST_KEY = "manifest"  # optional: what made the file (`tinykd data`), JSON
# Every array tinykd reads from a data .npz (x_unlabeled: the transfer set; voice_test, snr_test: the report's
# keyword breakdown, pipeline/audio/breakdown.py).
READ_KEYS = (*NPZ_KEYS, *VAL_KEYS, GROUPS_KEY, UNLABELED_KEY, NAMES_KEY, MANIFEST_KEY, VOICE_KEY, SNR_KEY)


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
