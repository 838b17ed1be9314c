"""Real multichannel sensor data for tests and benchmarks: the UEA sets that sktime's wheel ships as `.ts` files.

- BasicMotions: a smartwatch's 3-axis accelerometer + 3-axis gyroscope (6 channels, 10 Hz, 100 steps), 4
  activities, 40 train / 40 test recordings.
- JapaneseVowels: 12 LPC cepstrum coefficients per frame, 9 speakers, 270 train / 370 test utterances of 7-29
  frames (zero-padded at the end to the longest, as sktime's own padding does).

The Makefile installs sktime without its dependencies: only these data files are used, read by the small parser
below (sktime's loader would pull in pandas and scikit-base for ten lines of text format).
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

SETS = ("BasicMotions", "JapaneseVowels")


def data_folder() -> Path:
    spec = importlib.util.find_spec("sktime")  # finds the package without importing it (its deps are absent)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("sktime is not installed (make install puts it in .venv)")
    return Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data"


def read_ts(path: Path) -> tuple[list[np.ndarray], list[str], list[str]]:
    """One `.ts` file: (series, labels, class names); each series is (T, C) float32."""
    series, labels, names, in_data = [], [], [], False
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if not in_data:
            if line.lower().startswith("@classlabel"):
                names = line.split()[2:]  # "@classLabel true A B C"
            in_data = line.lower() == "@data"
            continue
        *channels, label = line.split(":")
        series.append(np.stack([np.array(c.split(","), dtype=np.float32) for c in channels], axis=1))
        labels.append(label)
    return series, labels, names


def write_npz(name: str, out: Path) -> Path:
    """Write sktime's `name` set as tinykd's .npz (x_* (n, T, C) float32, y_* int64); returns `out`."""
    folder = data_folder() / name
    train, train_labels, names = read_ts(folder / f"{name}_TRAIN.ts")
    test, test_labels, _ = read_ts(folder / f"{name}_TEST.ts")
    length = max(len(s) for s in train + test)
    pad = lambda s: np.pad(s, ((0, length - len(s)), (0, 0)))  # zeros after the end of shorter series
    index = {n: i for i, n in enumerate(names)}
    np.savez(out, x_train=np.stack([pad(s) for s in train]), x_test=np.stack([pad(s) for s in test]),
             y_train=np.array([index[v] for v in train_labels]), y_test=np.array([index[v] for v in test_labels]))
    return out
