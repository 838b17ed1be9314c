"""Data sets: built-ins, user .npz and image folders, and the checks on bad data."""
from pathlib import Path

import numpy as np
import pytest

from pipeline.config import DataConfig
from pipeline.kd.data import FASHION_DIR, load_dataset, overlap_warnings
from pipeline.errors import PipelineError


def npz(tmp_path: Path, name="d.npz", **arrays) -> Path:
    rng = np.random.default_rng(0)
    base = {"x_train": rng.random((40, 6, 5)).astype(np.float32), "y_train": np.arange(40) % 3,
            "x_test": rng.random((12, 6, 5)).astype(np.float32), "y_test": np.arange(12) % 3}
    base.update(arrays)
    path = tmp_path / name
    np.savez(path, **{k: v for k, v in base.items() if v is not None})
    return path


def test_digits_is_split_normalized_and_recorded():
    data = load_dataset(DataConfig(), seed=0)
    assert data.input_shape == (8, 8, 1) and data.num_classes == 10
    sizes = data.info()["sizes"]
    assert sizes["train"] + sizes["val"] + sizes["test"] == 1797
    assert 0.0 == data.x_train.min() and data.x_train.max() == 1.0
    assert data.normalization["scale"] == 16.0
    assert set(np.unique(data.y_test)) == set(range(10))  # stratified test split


def test_digits_split_depends_on_seed_only():
    a, b, c = (load_dataset(DataConfig(), seed=s) for s in (0, 0, 1))
    np.testing.assert_array_equal(a.x_train, b.x_train)
    assert not np.array_equal(a.y_train, c.y_train)


def test_limit_caps_training_samples():
    assert len(load_dataset(DataConfig(limit=100)).y_train) == 100


@pytest.mark.slow
@pytest.mark.skipif(not FASHION_DIR.exists(), reason="Debian package dataset-fashion-mnist (make installs it)")
def test_fashion_mnist_from_the_debian_package():
    data = load_dataset(DataConfig(dataset="fashion_mnist"))
    assert data.input_shape == (28, 28, 1) and data.num_classes == 10
    assert len(data.y_test) == 10_000 and len(data.y_train) + len(data.y_val) == 60_000
    assert data.normalization["scale"] == 255.0 and data.class_names[9] == "boot"


def test_npz_images_and_series(tmp_path):
    image = load_dataset(DataConfig(dataset=str(npz(tmp_path))))
    assert image.kind == "image" and image.input_shape == (6, 5, 1) and image.num_classes == 3
    series = load_dataset(DataConfig(dataset=str(npz(tmp_path)), layout="series"))
    assert series.kind == "series" and series.input_shape == (6, 5)
    x = np.random.default_rng(1).integers(0, 255, (40, 4, 4, 3), dtype=np.uint8)
    rgb = load_dataset(DataConfig(dataset=str(npz(tmp_path, x_train=x, x_test=x[:12]))))
    assert rgb.input_shape == (4, 4, 3) and rgb.normalization["scale"] == 255.0
    assert image.source_sha256 and len(image.source_sha256) == 64


@pytest.mark.parametrize("arrays, needle", [
    ({"y_test": None}, "lacks y_test"),
    ({"y_train": np.arange(39) % 3}, "x_train has 40 samples but y_train has 39"),
    ({"x_train": np.full((40, 6, 5), np.nan)}, "x_train in"),
    ({"x_test": np.full((12, 6, 5), np.inf)}, "NaN/inf"),
    ({"y_test": np.array([0, 1, 2] * 3 + [0, 1, 7])}, "contains label 7"),
    ({"y_train": np.arange(40) % 3 - 1}, "contains label -1"),
    ({"y_train": np.arange(40) % 3 + 0.5}, "non-integer labels (e.g. 0.5)"),
    ({"y_test": np.array(["a", "b", "c"] * 4)}, "y_test in"),  # strings in one split, integers in the other
    ({"y_train": np.array(["run", "walk"] * 20), "y_test": np.array(["run", "swim", "walk"] * 4)},
     "y_test in '"),
    ({"y_train": np.array(["run", "walk"] * 20), "y_test": np.array(["run", "swim", "walk"] * 4)},
     "label 'swim', which y_train does not have (it has: run, walk)"),
    ({"x_test": np.zeros((12, 5, 6))}, "(5, 6)"),
])
def test_bad_npz(tmp_path, arrays, needle):
    with pytest.raises(PipelineError) as e:
        load_dataset(DataConfig(dataset=str(npz(tmp_path, **arrays))))
    assert needle in str(e.value)


def test_string_bool_and_one_hot_labels_are_read(tmp_path):
    words = np.array(["walk", "run", "sit"])
    data = load_dataset(DataConfig(dataset=str(npz(tmp_path, y_train=words[np.arange(40) % 3],
                                                   y_test=words[np.arange(12) % 3]))))
    assert data.class_names == ["run", "sit", "walk"]  # sorted, as np.unique gives them
    np.testing.assert_array_equal(data.y_test, [2, 0, 1] * 4)
    flags = load_dataset(DataConfig(dataset=str(npz(tmp_path, y_train=np.arange(40) % 2 == 1,
                                                    y_test=np.arange(12) % 2 == 1))))
    assert flags.num_classes == 2 and flags.y_test.dtype == np.int64
    hot = load_dataset(DataConfig(dataset=str(npz(tmp_path, y_train=np.eye(3)[np.arange(40) % 3],
                                                  y_test=np.eye(3)[np.arange(12) % 3]))))
    np.testing.assert_array_equal(hot.y_test, np.arange(12) % 3)


def test_unknown_and_missing_sources(tmp_path):
    with pytest.raises(PipelineError, match="Unknown data set 'mnist3'"):
        load_dataset(DataConfig(dataset="mnist3"))
    with pytest.raises(PipelineError, match="does not exist"):
        load_dataset(DataConfig(dataset=str(tmp_path / "none.npz")))
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(PipelineError, match="is not a .npz file"):
        load_dataset(DataConfig(dataset=str(tmp_path / "junk.npz")))


def test_image_folder_one_subfolder_per_class(tmp_path):
    import tensorflow as tf
    rng = np.random.default_rng(0)
    for label in ("cat", "dog"):
        (tmp_path / label).mkdir()
        for i in range(10):
            pixels = rng.integers(0, 255, (6, 6, 1), dtype=np.uint8)
            (tmp_path / label / f"{i}.png").write_bytes(tf.io.encode_png(pixels).numpy())
    data = load_dataset(DataConfig(dataset=str(tmp_path), val_fraction=0.2, test_fraction=0.2))
    assert data.class_names == ["cat", "dog"] and data.input_shape == (6, 6, 1)
    assert len(data.y_train) + len(data.y_val) + len(data.y_test) == 20
    (tmp_path / "dog" / "big.png").write_bytes(tf.io.encode_png(np.zeros((7, 6, 1), np.uint8)).numpy())
    with pytest.raises(PipelineError, match="big.png"):
        load_dataset(DataConfig(dataset=str(tmp_path)))


def test_an_image_folder_of_gray_rgb_and_rgba_pngs_reads_as_rgb(tmp_path):
    import tensorflow as tf
    rng = np.random.default_rng(0)
    for label in ("cat", "dog"):
        (tmp_path / label).mkdir()
        for i, channels in enumerate((1, 3, 4, 2) * 3):  # L, RGB, RGBA, LA
            pixels = rng.integers(0, 255, (6, 6, channels), dtype=np.uint8)
            (tmp_path / label / f"{i}.png").write_bytes(tf.io.encode_png(pixels).numpy())
    gray = tf.io.decode_png((tmp_path / "cat" / "0.png").read_bytes()).numpy()
    data = load_dataset(DataConfig(dataset=str(tmp_path), val_fraction=0.2, test_fraction=0.2))
    assert data.input_shape == (6, 6, 3)
    everything = np.concatenate([data.x_train, data.x_val, data.x_test]) * 255
    assert any(np.allclose(x, np.repeat(gray, 3, axis=-1)) for x in everything)  # gray repeated, not dropped
    (tmp_path / "dog" / "big.png").write_bytes(tf.io.encode_png(np.zeros((7, 6, 3), np.uint8)).numpy())
    with pytest.raises(PipelineError, match=r"big.png' is 7 x 6 pixels, the others are 6 x 6"):
        load_dataset(DataConfig(dataset=str(tmp_path)))


def series_npz(tmp_path: Path, n=60, steps=20, **extra) -> Path:
    """Three channels whose ranges differ 1000x (an accelerometer in g beside a gyroscope in deg/s)."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((n, steps, 3)).astype(np.float32) * np.float32([0.01, 1.0, 10.0])
    return npz(tmp_path, "series.npz", x_train=x[:40], y_train=np.arange(40) % 2, x_test=x[40:],
               y_test=np.arange(n - 40) % 2, **extra)


def test_series_are_normalized_per_channel(tmp_path):
    data = load_dataset(DataConfig(dataset=str(series_npz(tmp_path)), layout="series"))
    norm = data.normalization
    assert norm["per_channel"] and len(norm["scale"]) == 3
    assert norm["scale"][2] > 500 * norm["scale"][0]  # the raw ranges really differ
    train = np.concatenate([data.x_train, data.x_val])
    np.testing.assert_allclose(train.min(axis=(0, 1)), 0.0, atol=1e-6)  # every channel spans [0, 1]
    np.testing.assert_allclose(train.max(axis=(0, 1)), 1.0, atol=1e-6)
    image = load_dataset(DataConfig(dataset=str(npz(tmp_path))))  # images keep one shift and scale
    assert not image.normalization["per_channel"] and isinstance(image.normalization["scale"], float)


def test_groups_never_straddle_the_validation_split(tmp_path):
    groups = np.repeat(np.arange(8), 5)  # 8 recordings of 5 windows each
    data = load_dataset(DataConfig(dataset=str(series_npz(tmp_path, groups_train=groups)), layout="series",
                                   val_fraction=0.2))
    raw = np.load(tmp_path / "series.npz")["x_train"]
    first = raw[:, 0, 1]  # channel 1 of each window's first step identifies the window
    shift, scale = data.normalization["shift"][1], data.normalization["scale"][1]

    def group_of(x):
        raw_values = x[:, 0, 1] * np.float32(scale) + np.float32(shift)
        return {int(groups[np.argmin(np.abs(first - v))]) for v in raw_values}

    train_groups, val_groups = group_of(data.x_train), group_of(data.x_val)
    assert data.split == "groups" and val_groups and not train_groups & val_groups
    assert len(train_groups | val_groups) == 8 and len(data.y_val) % 5 == 0
    assert data.info()["split"] == "groups" and not overlap_warnings(data)


@pytest.mark.parametrize("groups, needle", [
    (np.zeros(40, int), "single group"),
    (np.arange(39), "has shape (39,)"),
    (np.linspace(0, 1, 40), "dtype float64"),
])
def test_bad_groups(tmp_path, groups, needle):
    with pytest.raises(PipelineError) as e:
        load_dataset(DataConfig(dataset=str(series_npz(tmp_path, groups_train=groups)), layout="series"))
    assert needle in str(e.value)


def windows(recording: np.ndarray, length: int, stride: int) -> np.ndarray:
    return np.stack([recording[i:i + length] for i in range(0, len(recording) - length + 1, stride)])


def test_overlapping_windows_without_groups_are_warned_about(tmp_path):
    rng = np.random.default_rng(0)
    recording = rng.standard_normal((3000, 4)).astype(np.float32).cumsum(axis=0)  # (T, C) one long recording
    overlapping = windows(recording[:2000], 50, 25)  # 79 windows, each half-shared with its neighbours
    separate = windows(recording[2000:], 50, 50)  # 20 windows, no step in two of them
    labels = lambda x: np.arange(len(x)) % 2
    path = npz(tmp_path, "o.npz", x_train=overlapping, y_train=labels(overlapping), x_test=separate,
               y_test=labels(separate))
    warnings = overlap_warnings(load_dataset(DataConfig(dataset=str(path), layout="series")))
    assert len(warnings) == 1 and "79 of 79 training windows share time steps" in warnings[0]
    assert "groups_train" in warnings[0]
    path = npz(tmp_path, "s.npz", x_train=windows(recording[:2000], 50, 50), y_train=np.arange(40) % 2,
               x_test=separate, y_test=labels(separate))
    assert overlap_warnings(load_dataset(DataConfig(dataset=str(path), layout="series"))) == []
    # test windows cut from the training recording: test accuracy would be optimistic
    path = npz(tmp_path, "t.npz", x_train=separate, y_train=labels(separate), x_test=windows(recording[2010:], 50, 50),
               y_test=labels(separate)[:19])
    warnings = overlap_warnings(load_dataset(DataConfig(dataset=str(path), layout="series")))
    assert len(warnings) == 1 and "test windows share time steps with training windows" in warnings[0]


def test_x_and_y_alone_get_a_stratified_test_split_of_the_seed(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.random((100, 6, 5)).astype(np.float32), np.repeat(["walk", "run", "sit", "lie"], 25)
    path = npz(tmp_path, "xy.npz", x_train=None, y_train=None, x_test=None, y_test=None, x=x, y=y)
    data = load_dataset(DataConfig(dataset=str(path), test_fraction=0.2), seed=3)
    assert len(data.y_test) == 20 and np.bincount(data.y_test).tolist() == [5, 5, 5, 5]  # stratified
    assert data.class_names == ["lie", "run", "sit", "walk"] and len(data.y_train) + len(data.y_val) == 80
    warning = [w for w in data.warnings if "no test split" in w]
    assert len(warning) == 1 and "20 of its 100 samples" in warning[0] and "seed 3" in warning[0]
    assert not [w for w in data.warnings if "ignores" in w]  # x and y are read
    test_rows = lambda d: sorted(map(tuple, np.round(d.x_test.reshape(len(d.x_test), -1)[:, :3], 5)))
    again = load_dataset(DataConfig(dataset=str(path), test_fraction=0.2), seed=3)
    other = load_dataset(DataConfig(dataset=str(path), test_fraction=0.2), seed=4)
    assert test_rows(again) == test_rows(data) != test_rows(other)  # the seed draws it: quantize sees distill's


@pytest.mark.parametrize("arrays, needle", [
    ({"x": np.zeros((10, 4)), "y": np.arange(9) % 2}, "10 samples in x and 9 labels in y"),
    ({"x": np.zeros((10, 4)), "y": np.arange(10) % 2, "x_test": np.zeros((3, 4))}, "lacks x_train, y_train, y_test"),
    ({"x": np.zeros((10, 4))}, "lacks x_train"),
])
def test_x_and_y_mistakes_are_one_line(tmp_path, arrays, needle):
    path = npz(tmp_path, "bad.npz", **{"x_train": None, "y_train": None, "x_test": None, "y_test": None, **arrays})
    with pytest.raises(PipelineError) as e:
        load_dataset(DataConfig(dataset=str(path)))
    assert needle in str(e.value) and "\n" not in str(e.value)


def test_the_validation_split_is_stratified(tmp_path):
    """40 classes of 50: 10% held out is 5 of each (a random split left some class 1 or none, and the warning about
    it advised holding out 5%, less than the 10% it had)."""
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(40), 50)
    path = npz(tmp_path, "many.npz", x_train=rng.random((2000, 4, 4)).astype(np.float32), y_train=y,
               x_test=rng.random((40, 4, 4)).astype(np.float32), y_test=np.arange(40))
    for seed in (0, 1, 2):
        data = load_dataset(DataConfig(dataset=str(path)), seed=seed)
        assert np.bincount(data.y_val).tolist() == [5] * 40 and data.warnings == []
        assert len(data.y_train) == 1800


def test_padding_is_not_overlap(tmp_path):
    """Series of different lengths zero-padded to the longest (sktime's JapaneseVowels, 7-29 frames): scaled per
    channel, the padding is a different constant in each channel, shared by every short window; it is no overlap."""
    rng = np.random.default_rng(0)
    def padded(n):
        x = rng.standard_normal((n, 30, 3)).astype(np.float32).cumsum(axis=1) + 5
        for window, length in zip(x, rng.integers(8, 20, n)):
            window[length:] = 0
        return x
    path = npz(tmp_path, "p.npz", x_train=padded(60), y_train=np.arange(60) % 3, x_test=padded(30),
               y_test=np.arange(30) % 3)
    assert overlap_warnings(load_dataset(DataConfig(dataset=str(path), layout="series"))) == []


def test_x_val_and_y_val_of_the_npz_are_the_validation_split(tmp_path):
    x_val = np.random.default_rng(2).random((9, 6, 5)).astype(np.float32)
    data = load_dataset(DataConfig(dataset=str(npz(tmp_path, x_val=x_val, y_val=np.arange(9) % 3))))
    assert data.split == "given" and len(data.y_train) == 40  # nothing held out of x_train
    np.testing.assert_array_equal(data.y_val, np.arange(9) % 3)
    shift, scale = data.normalization["shift"], data.normalization["scale"]  # x_train's, applied to x_val too
    np.testing.assert_allclose(data.x_val[..., 0], (x_val - shift) / scale, rtol=1e-6)
    assert data.info()["sizes"]["val"] == 9 and not [w for w in data.warnings if "ignores" in w]
    series = load_dataset(DataConfig(dataset=str(npz(tmp_path, x_val=x_val, y_val=np.arange(9) % 3)), layout="series"))
    assert series.x_val.shape == (9, 6, 5)
    words = np.array(["walk", "run", "sit"])  # class names: y_val is numbered as y_train is
    named = load_dataset(DataConfig(dataset=str(npz(tmp_path, y_train=words[np.arange(40) % 3],
                                                    y_test=words[np.arange(12) % 3], x_val=x_val,
                                                    y_val=words[np.arange(9) % 3]))))
    np.testing.assert_array_equal(named.y_val, [2, 0, 1] * 3)


@pytest.mark.parametrize("arrays, needle", [
    ({"x_val": np.zeros((9, 6, 5))}, "has x_val but no y_val"),
    ({"y_val": np.arange(9) % 3}, "has y_val but no x_val"),
    ({"x_val": np.zeros((9, 6, 5)), "y_val": np.arange(8) % 3}, "x_val has 9 samples but y_val has 8"),
    ({"x_val": np.full((9, 6, 5), np.nan), "y_val": np.arange(9) % 3}, "x_val in"),
    ({"x_val": np.zeros((9, 5, 6)), "y_val": np.arange(9) % 3}, "x_val samples are (5, 6)"),
    ({"x_val": np.zeros((0, 6, 5)), "y_val": np.arange(0)}, "x_val in"),
    ({"x_val": np.zeros((9, 6, 5)), "y_val": np.arange(9) % 3 + 5}, "y_val in"),
    ({"x_val": np.zeros((9, 6, 5)), "y_val": np.array(["a", "b", "c"] * 3)}, "y_val in"),
    ({"x_val": np.zeros(()), "y_val": np.arange(9) % 3}, "x_val in"),
])
def test_bad_validation_arrays_are_one_line_naming_them(tmp_path, arrays, needle):
    with pytest.raises(PipelineError) as e:
        load_dataset(DataConfig(dataset=str(npz(tmp_path, **arrays))))
    assert needle in str(e.value) and "d.npz" in str(e.value)


def test_arrays_tinykd_ignores_are_named_in_one_warning(tmp_path):
    data = load_dataset(DataConfig(dataset=str(npz(tmp_path, x_valid=np.zeros((9, 6, 5)), notes=np.array("hi")))))
    ignored = [w for w in data.warnings if "ignores" in w]  # (the other: its 4 validation samples are too few)
    assert len(ignored) == 1 and "ignores: x_valid, notes" in ignored[0]
    read = {"x_unlabeled": np.zeros((5, 6, 5)), "groups_train": np.arange(40) % 4, "class_names": np.array(["a", "b",
            "c"]), "manifest": np.array("{}"), "voice_test": np.array([""] * 12), "snr_test": np.zeros(12)}
    assert not [w for w in load_dataset(DataConfig(dataset=str(npz(tmp_path, **read)))).warnings if "ignores" in w]


def _distill_log(path: Path, monkeypatch) -> list[str]:
    """The lines `tinykd distill` logs on the data at `path` before the teacher stage (stopped there)."""
    from pipeline.config import load_config
    from pipeline.kd import distill

    def stop(*args, **kwargs):
        raise PipelineError("Stopped before the teacher.", "")
    monkeypatch.setattr(distill, "teacher_stage", stop)
    lines = []
    with pytest.raises(PipelineError, match="Stopped before the teacher"):
        distill.distill(load_config(None, {"run": {"root": str(path.parent)}, "data": {"dataset": str(path)}}),
                        log=lines.append)
    return lines


def test_distill_says_where_validation_comes_from_and_what_it_ignores(tmp_path, monkeypatch):
    path = npz(tmp_path, x_val=np.zeros((9, 6, 5)), y_val=np.arange(9) % 3, x_valid=np.zeros(3))
    lines = _distill_log(path, monkeypatch)
    assert "validation: the file's x_val/y_val (none held out of x_train)" in lines[0]
    assert [line for line in lines if "ignores" in line] == [f"warning   '{path}' holds arrays tinykd ignores: "
                                                             f"x_valid. It reads x_train, y_train, x_test, y_test, "
                                                             "x, y, x_val, y_val, groups_train, x_unlabeled, "
                                                             "class_names, manifest, voice_test, snr_test (README "
                                                             "\"Bring your own data\"); rename a misspelt one."]


def test_a_validation_split_too_small_to_choose_by_is_one_warning_saying_what_to_do(tmp_path, monkeypatch):
    rng = np.random.default_rng(3)
    data = lambda n, **more: str(npz(tmp_path, f"n{n}.npz", x_train=rng.random((n, 6, 5)), y_train=np.arange(n) % 3,
                                     **more))
    tiny = _distill_log(Path(data(30)), monkeypatch)  # 3 validation samples, none of one class
    assert [line for line in tiny if "validation split" in line] == [
        "warning   The validation split has 3 samples, 1 of class '0' (it needs >= 20, and >= 2 of each class): the "
        "choice of the best checkpoint, and of the student that ships, is noise. Give more training data."]
    small = load_dataset(DataConfig(dataset=data(100))).warnings  # 10 validation samples: hold out more
    assert len(small) == 1 and small[0].startswith("The validation split has 10 samples (")
    assert small[0].endswith("Give more training data, or hold out more: Set val_fraction = 0.2 under [data] in "
                             "your --config file.")
    assert load_dataset(DataConfig(dataset=data(100), val_fraction=0.2)).warnings == []  # the advice works
    given = load_dataset(DataConfig(dataset=data(300, x_val=np.zeros((5, 6, 5)), y_val=np.arange(5) % 3))).warnings
    assert len(given) == 1 and "5 samples, 1 of class '2'" in given[0] and "larger x_val/y_val" in given[0]
    assert load_dataset(DataConfig(dataset=data(300))).warnings == [] and load_dataset(DataConfig()).warnings == []
