"""Data sets: the built-in `digits` and `fashion_mnist`, a user's `.npz`, or an image folder per class.

Every source ends as the same `Dataset`: float32 samples scaled to [0, 1] by a normalization that is recorded in
the manifest (`x = (raw - shift) / scale`), so later stages (quantization, the device) preprocess exactly alike;
integer labels; a validation split for best-checkpoint selection: the .npz's own `x_val`/`y_val`
(pipeline/kd/npz_keys.py), else carved from the training data (whole groups when the .npz gives `groups_train`:
pipeline/kd/splits.py).

Series are normalized per channel: an accelerometer in g and a gyroscope in deg/s differ in range by 100x or
more, and one shift/scale for all would leave the small channels a few of the int8 input's 256 steps. Images keep
one shift/scale for all channels (uint8 pixels: 0 and 255).
"""
from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
import zipfile
from pathlib import Path

import numpy as np

from pipeline.config import DataConfig
from pipeline.errors import PipelineError
from pipeline.kd.image_folder import image_folder
from pipeline.kd.labels import read_labels
from pipeline.runs import sha256_path
from pipeline.kd.splits import check_groups, held_out, shared_windows, small_validation, validation_split
from pipeline.kd.npz_keys import GROUPS_KEY, NAMES_KEY, NpzExtras, ignored_warning, read_splits, read_validation
from pipeline.kd.transfer import KEY as UNLABELED_KEY
from pipeline.kd.transfer import check_samples, check_unlabeled, labeled_subset, read_unlabeled

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")  # Debian package dataset-fashion-mnist
FASHION_CLASSES = ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "boot"]


@dataclass
class Dataset:
    name: str
    kind: str  # "image" (samples H x W x C) or "series" (samples T x C)
    x_train: np.ndarray  # (n, *input_shape) float32 in [0, 1]
    y_train: np.ndarray  # (n,) int64 in [0, num_classes)
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list[str]
    normalization: dict  # {"shift": s, "scale": k, "per_channel": bool}: x = (raw - s) / k (s, k: lists per channel)
    source_sha256: str  # hash of the user's file or folder ("" for built-in sets)
    # where validation came from: "random" or "groups" (carved from x_train, no group on both sides), or "given"
    # (the .npz's x_val and y_val)
    split: str = "random"
    x_unlabeled: np.ndarray | None = None  # (m, *input_shape) float32: the transfer set (transfer.py); None = none
    labeled: np.ndarray | None = None  # indices of x_train whose labels the students get; None = all
    # about the source (arrays it ignores, a validation split too small to choose by): said once, by distill
    warnings: list[str] = field(default_factory=list)

    def __post_init__(self):
        if self.x_unlabeled is None:
            self.x_unlabeled = np.zeros((0, *self.x_train.shape[1:]), np.float32)
        if self.labeled is None:
            self.labeled = np.arange(len(self.y_train))

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def info(self) -> dict:
        """What the manifest records about the data."""
        return {"name": self.name, "kind": self.kind, "input_shape": list(self.input_shape),
                "num_classes": self.num_classes, "class_names": self.class_names,
                "normalization": self.normalization, "source_sha256": self.source_sha256, "split": self.split,
                "sizes": {"train": len(self.y_train), "val": len(self.y_val), "test": len(self.y_test),
                          "labeled_for_students": len(self.labeled), "unlabeled": len(self.x_unlabeled)}}


BUILT_IN = ("digits", "fashion_mnist")


def same_source(a: str, b: str) -> bool:
    """Whether two `data.dataset` values name the same data: a built-in by name, a file or folder by its path."""
    resolve = lambda d: d if d in BUILT_IN else str(Path(d).resolve())
    return resolve(a) == resolve(b)


def load_dataset(cfg: DataConfig, seed: int = 0) -> Dataset:
    """Load, check and split the data set named by `cfg.dataset`."""
    source = cfg.dataset
    path = Path(source)
    sha, unlabeled = "", []
    extra = NpzExtras()
    if source == BUILT_IN[0]:
        x_train, y_train, x_test, y_test, names = _digits(cfg.test_fraction, seed)
    elif source == BUILT_IN[1]:
        x_train, y_train, x_test, y_test, names = _fashion_mnist()
    elif path.suffix == ".npz":
        if not path.is_file():
            what = "is a folder, not a .npz file" if path.is_dir() else "does not exist"
            raise PipelineError(f"Data file '{source}' {what}.", "Give an existing .npz file.")
        x_train, y_train, x_test, y_test, names, extra = _npz(path, cfg.test_fraction, seed)
        unlabeled += [(source, extra.unlabeled)] if extra.unlabeled is not None else []
        sha = sha256_path(path)
    elif path.is_dir():
        x_train, y_train, x_test, y_test, names = image_folder(path, cfg.test_fraction, seed)
        sha = sha256_path(path)
    else:
        raise PipelineError(f"Unknown data set '{source}'.",
                            "Use digits, fashion_mnist, a .npz file (x_train, y_train, x_test, y_test) "
                            "or a folder with one sub-folder of images per class.")
    groups, val = extra.groups, extra.val  # val: the .npz's (x_val, y_val), or None
    _check_arrays(source, x_train, y_train, x_test, y_test, val)
    if groups is not None:
        groups = check_groups(source, groups, len(x_train))
    if cfg.unlabeled:
        unlabeled.append((cfg.unlabeled, read_unlabeled(cfg.unlabeled)))
    for where, x in unlabeled:
        check_unlabeled(where, x, x_train.shape[1:])
    x_unlabeled = np.concatenate([x for _, x in unlabeled]) if unlabeled else x_train[:0]
    layout = extra.layout if cfg.layout == "auto" else cfg.layout
    x_unlabeled = _layout(source, x_train, x_unlabeled, layout)[1]  # shaped as x_train will be
    if val is not None:
        val = _layout(source, x_train, val[0], layout)[1], val[1]  # shaped as x_train will be
    x_train, x_test, kind = _layout(source, x_train, x_test, layout)
    names = names or [str(i) for i in range(int(y_train.max()) + 1)]
    normalization = _normalization(source, x_train, kind)
    shift, scale = (np.asarray(normalization[k], dtype=np.float32) for k in ("shift", "scale"))
    norm = lambda x: ((x.astype(np.float32) - shift) / scale).astype(np.float32)

    if val is None:
        train, val_rows = validation_split(y_train, cfg.val_fraction, seed, groups)
        val = x_train[val_rows], y_train[val_rows]
    else:  # every training sample trains; shuffled, so --limit takes a random subset
        train = np.random.default_rng(seed).permutation(len(y_train))
    small = small_validation(val[1], list(names), given=bool(extra.val), y_all=y_train)
    if cfg.limit:
        train = train[:cfg.limit]
    return Dataset(name=path.stem if path.suffix == ".npz" or path.is_dir() else source, kind=kind,
                   x_train=norm(x_train[train]), y_train=y_train[train], x_val=norm(val[0]), y_val=val[1],
                   x_test=norm(x_test), y_test=y_test, class_names=list(names), normalization=normalization,
                   source_sha256=sha, split="given" if extra.val else "random" if groups is None else "groups",
                   x_unlabeled=norm(x_unlabeled),
                   labeled=labeled_subset(y_train[train], cfg.label_fraction, seed),
                   warnings=[*extra.warnings, *([small] if small else [])])


def _normalization(source: str, x_train: np.ndarray, kind: str) -> dict:
    """shift and scale that map the training data to [0, 1]: per channel for series, one pair for images."""
    raw_dtype = str(x_train.dtype)
    if source == BUILT_IN[0]:  # scikit-learn's digits are 4-bit intensities, 0..16
        return {"shift": 0.0, "scale": 16.0, "per_channel": False, "raw_dtype": raw_dtype}
    if x_train.dtype == np.uint8:
        return {"shift": 0.0, "scale": 255.0, "per_channel": False, "raw_dtype": raw_dtype}
    axes = tuple(range(x_train.ndim - 1)) if kind == "series" else None
    low, high = x_train.min(axis=axes).astype(np.float64), x_train.max(axis=axes).astype(np.float64)
    span = np.where(high > low, high - low, 1.0)  # a constant channel maps to 0
    if kind == "series":
        return {"shift": low.tolist(), "scale": span.tolist(), "per_channel": True, "raw_dtype": raw_dtype}
    return {"shift": float(low), "scale": float(span), "per_channel": False, "raw_dtype": raw_dtype}


def overlap_warnings(data: Dataset) -> list[str]:
    """Warnings when series windows share time steps (overlapping windows of one recording): among the training
    and validation windows of a random split, and between test and training windows. Said once, by distill."""
    if data.kind != "series":
        return []
    warnings = []
    x_train = np.concatenate([data.x_train, data.x_val])  # the split under suspicion runs between these
    within = shared_windows(x_train) if data.split == "random" else 0
    if within >= max(2, 0.1 * len(x_train)):
        warnings.append(f"{within} of {len(x_train)} training windows share time steps with other windows "
                        "(overlapping windows of one recording?): the validation split may put near-copies on "
                        "both sides and the best-checkpoint choice will look optimistic. Add groups_train "
                        "(a recording or subject id per window) to the .npz.")
    across = shared_windows(data.x_test, other=x_train)
    if across >= max(2, 0.1 * len(data.x_test)):
        warnings.append(f"{across} of {len(data.x_test)} test windows share time steps with training windows: test "
                        "accuracy will be optimistic. Split train and test by recording or subject.")
    return warnings


def _digits(test_fraction: float, seed: int):
    from sklearn.datasets import load_digits
    bunch = load_digits()
    x = bunch.images.astype(np.float32)  # (1797, 8, 8), values 0..16
    y = bunch.target.astype(np.int64)
    train, test = held_out(y, test_fraction, seed)
    return x[train], y[train], x[test], y[test], [str(i) for i in range(10)]


def _read_idx(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def _fashion_mnist():
    if (FASHION_DIR / "train-images-idx3-ubyte.gz").exists():
        x_train = _read_idx(FASHION_DIR / "train-images-idx3-ubyte.gz")
        y_train = _read_idx(FASHION_DIR / "train-labels-idx1-ubyte.gz").astype(np.int64)
        x_test = _read_idx(FASHION_DIR / "t10k-images-idx3-ubyte.gz")
        y_test = _read_idx(FASHION_DIR / "t10k-labels-idx1-ubyte.gz").astype(np.int64)
    else:  # not Debian: Keras's loader (downloads once into ~/.keras)
        import tf_keras
        try:
            (x_train, y_train), (x_test, y_test) = tf_keras.datasets.fashion_mnist.load_data()
        except Exception as e:  # noqa: BLE001 - any download failure means the same to the user
            raise PipelineError(f"Fashion-MNIST is not installed and could not be downloaded ({e}).",
                                "On Debian: apt-get install dataset-fashion-mnist (make does it).")
        y_train, y_test = y_train.astype(np.int64), y_test.astype(np.int64)
    return x_train, y_train, x_test, y_test, FASHION_CLASSES


def _npz(path: Path, test_fraction: float, seed: int):
    if not zipfile.is_zipfile(path):  # np.load would try it as a pickle and suggest allow_pickle
        raise PipelineError(f"'{path}' is not a .npz file (not a zip archive: {path.stat().st_size:,} bytes).",
                            "Save the arrays with numpy.savez(path, x_train=..., y_train=..., x_test=..., y_test=...).")
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays, drawn_test = read_splits(path, f, test_fraction, seed)
            names = [str(n) for n in f[NAMES_KEY]] if NAMES_KEY in f.files else None
            ignored = ignored_warning(path, f.files)
            extra = NpzExtras(groups=f[GROUPS_KEY] if GROUPS_KEY in f.files else None, layout=_manifest_layout(f),
                              unlabeled=f[UNLABELED_KEY] if UNLABELED_KEY in f.files else None,
                              val=read_validation(path, f), warnings=[w for w in (drawn_test, ignored) if w])
    except PipelineError:
        raise
    except Exception as e:  # noqa: BLE001 - numpy raises many kinds for a bad file
        raise PipelineError(f"Cannot read '{path}' as .npz ({e}).", "Save it with numpy.savez.")
    x_train, y_train, x_test, y_test = arrays
    given = {"y_test": y_test, **({"y_val": extra.val[1]} if extra.val else {})}
    y_train, labels, names = read_labels(path, y_train, given, names)
    y_test = labels["y_test"]
    if extra.val:
        extra.val = extra.val[0], labels["y_val"]
    if names is not None and y_train.size and len(names) != int(y_train.max()) + 1:
        raise PipelineError(f"'{path}' names {len(names)} classes in {NAMES_KEY} but y_train's labels run to "
                            f"{int(y_train.max())}.", f"Give one name per class in {NAMES_KEY}, or leave it out.")
    return x_train, y_train, x_test, y_test, names, extra


def _manifest_layout(f) -> str:
    """What `--layout auto` means for this .npz: spectrogram for the features `tinykd data features` wrote (their
    manifest names the front end), else auto."""
    try:
        manifest = json.loads(str(f["manifest"])) if "manifest" in f.files else {}
    except ValueError:  # a user's own manifest need not be JSON
        return "auto"
    return "spectrogram" if isinstance(manifest, dict) and "frontend" in manifest else "auto"


# Most classes a data set may have: a label beyond it is a mistake (a raw ID), refused before any per-class array.
MAX_CLASSES = 10_000


def _check_arrays(source, x_train, y_train, x_test, y_test, val: tuple | None) -> None:
    splits = {"train": (x_train, y_train), "test": (x_test, y_test), **({"val": val} if val else {})}
    for split, (x, y) in splits.items():
        if np.ndim(x) == 0:
            raise PipelineError(f"x_{split} in '{source}' is a single value.", "Give an array of samples.")
        if len(x) != len(y):
            raise PipelineError(f"x_{split} has {len(x)} samples but y_{split} has {len(y)} in '{source}'.",
                                "Each sample needs exactly one label.")
        check_samples(source, f"x_{split}", x)
        if x.shape[1:] != x_train.shape[1:]:
            raise PipelineError(f"x_train samples are {x_train.shape[1:]} but x_{split} samples are "
                                f"{x.shape[1:]} in '{source}'.", "All splits must have the same sample shape.")
    low, high = int(y_train.min()), int(y_train.max())
    if low < 0 or high >= MAX_CLASSES:  # before anything that allocates per class
        raise PipelineError(f"y_train in '{source}' contains label {low if low < 0 else high}.",
                            f"Labels must be class indices 0..K-1 with K <= {MAX_CLASSES:,}; map yours with "
                            "np.unique(y, return_inverse=True).")
    k = high + 1
    for key, y in ((f"y_{split}", y) for split, (_, y) in splits.items()):
        low, high = int(y.min()), int(y.max())
        if low < 0 or high >= k:
            raise PipelineError(f"{key} in '{source}' contains label {low if low < 0 else high}.",
                                f"Labels must be integers in [0, {k - 1}] (the classes of y_train).")
    if len(np.unique(y_train)) < 2:
        raise PipelineError(f"y_train in '{source}' has a single class.", "Classification needs >= 2 classes.")
    missing = np.setdiff1d(np.arange(k), y_train)
    if missing.size:
        listed = ", ".join(str(int(c)) for c in missing[:5]) + (", ..." if missing.size > 5 else "")
        raise PipelineError(f"y_train in '{source}' has no sample of class {listed} (labels run up to {k - 1}).",
                            "Labels must be 0..K-1 with every class in the training split; map yours with "
                            "np.unique(y, return_inverse=True).")


def _layout(source, x_train, x_test, layout: str):
    rank = x_train.ndim - 1
    if layout == "spectrogram":
        if rank == 2:
            return x_train[..., None], x_test[..., None], "spectrogram"
        if rank == 3 and x_train.shape[-1] == 1:
            return x_train, x_test, "spectrogram"
        raise PipelineError(f"Samples of '{source}' have shape {x_train.shape[1:]}: --layout spectrogram needs "
                            "time x frequency (or time x frequency x 1).", "Use --layout auto for other data.")
    if rank == 3:
        return x_train, x_test, "image"
    if rank == 1:
        return x_train[..., None], x_test[..., None], "series"  # a feature vector is a 1-channel series
    if rank == 2:
        if layout == "series":
            return x_train, x_test, "series"
        return x_train[..., None], x_test[..., None], "image"  # H x W grayscale
    raise PipelineError(f"Samples of '{source}' have shape {x_train.shape[1:]}.",
                        "Use images H x W or H x W x C, or series T x C.")
