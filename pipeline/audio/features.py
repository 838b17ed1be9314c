"""`tinykd data features`: a raw-audio .npz (`tinykd data kws`) -> the same clips as front-end features, an .npz
that every stage reads like any other data set: x_train/x_test (n, 49, 40) int8 (time x mel: an image to the
models), the labels, voice groups, class names, and the manifest with the front end's parameters added.

The features come from the C front end (pipeline/audio/frontend.py), the function the device runs too.
"""
from __future__ import annotations

import json
import time
import zipfile
from pathlib import Path
from typing import Callable

import numpy as np

from pipeline.audio.frontend import PARAMS, features
from pipeline.audio.kws_data import write_npz
from pipeline.errors import PipelineError
from pipeline.runs import sha256_path

RAW_KEYS = ("x_train", "y_train", "x_test", "y_test")
CARRIED = ("y_train", "y_test", "groups_train", "voice_test", "snr_test", "class_names")  # copied as they are


def read_raw(path: str | Path) -> dict[str, np.ndarray]:
    path = Path(path)
    if not path.is_file() or not zipfile.is_zipfile(path):
        raise PipelineError(f"'{path}' is not a .npz file{'' if path.exists() else ' (it does not exist)'}.",
                            "Give the .npz that `tinykd data kws --out FILE.npz` wrote.")
    with np.load(path, allow_pickle=False) as f:
        missing = [k for k in RAW_KEYS if k not in f.files]
        if missing:
            raise PipelineError(f"'{path}' lacks {', '.join(missing)}.",
                                "Give the .npz that `tinykd data kws --out FILE.npz` wrote.")
        return {k: f[k] for k in f.files}


def make_features(raw_path: str | Path, log: Callable[[str], None] = print) -> dict[str, np.ndarray]:
    """The arrays of the features .npz."""
    raw = read_raw(raw_path)
    start = time.monotonic()
    out = {k: raw[k] for k in CARRIED if k in raw}
    for split in ("train", "test"):
        out[f"x_{split}"] = features(raw[f"x_{split}"], what=f"x_{split} of '{raw_path}'")  # (n, 49, 40) int8
    seconds = time.monotonic() - start
    manifest = json.loads(str(raw["manifest"])) if "manifest" in raw else {}
    manifest["frontend"] = {**PARAMS.manifest(), "implementation": "firmware/lib/tinykd_frontend/tk_frontend.c",
                            "raw_audio": str(raw_path), "raw_audio_sha256": sha256_path(Path(raw_path)),
                            "seconds": round(seconds, 1)}
    out["manifest"] = np.array(json.dumps(manifest, indent=1))
    log(f"features of {len(out['x_train']) + len(out['x_test']):,} clips in {seconds:.1f} s "
        f"({PARAMS.frames} frames x {PARAMS.mel_bands} mel bands, int8)")
    return out


def write_features(raw_path: str | Path, out: str | Path, log: Callable[[str], None] = print) -> Path:
    return write_npz(make_features(raw_path, log), out)


def raw_test_clips(dataset: str | Path) -> dict[str, np.ndarray] | None:
    """{"pcm": (n, 16000) int16, "features": (n, 49, 40) int8} of the test clips of a features .npz that `tinykd data
    features` wrote (read back from the raw-audio .npz its manifest names, checked by SHA-256); None for any other
    data set. The device validation streams these clips and compares its features with these."""
    path = Path(dataset)
    if path.suffix != ".npz" or not path.is_file():
        return None
    with np.load(path, allow_pickle=False) as f:
        if "manifest" not in f.files or "x_test" not in f.files:
            return None
        frontend = json.loads(str(f["manifest"])).get("frontend")
        if not frontend:
            return None
        test_features = f["x_test"]
    raw = Path(frontend["raw_audio"])
    if not raw.is_absolute() and not raw.is_file():
        raw = path.parent / raw.name
    if not raw.is_file() or sha256_path(raw) != frontend["raw_audio_sha256"]:
        raise PipelineError(f"The features '{path}' were made from '{frontend['raw_audio']}', which is "
                            f"{'changed' if raw.is_file() else 'gone'}: the device validation needs its raw clips.",
                            f"Put it back, or remake both: tinykd data kws --out RAW.npz, then tinykd data features "
                            f"RAW.npz --out {path}.")
    pcm = read_raw(raw)["x_test"]
    if len(pcm) != len(test_features):
        raise PipelineError(f"'{raw}' has {len(pcm)} test clips, the features '{path}' {len(test_features)}.",
                            f"Remake the features: tinykd data features {raw} --out {path}.")
    return {"pcm": pcm.astype(np.int16), "features": test_features.astype(np.int8)}
