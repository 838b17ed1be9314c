"""`tinykd data features`: raw clips -> the C front end's int8 features in an .npz the pipeline trains on; clips of
the wrong length and missing files are one-line errors naming the value."""
import json

import numpy as np
import pytest

from conftest import invoke
from pipeline.audio.frontend import features
from pipeline.config import DataConfig
from pipeline.kd.data import load_dataset


def raw_npz(path, samples=16000, seed=0):
    rng = np.random.default_rng(seed)
    x = lambda n: (rng.standard_normal((n, samples)) * 3000).astype(np.int16)
    np.savez(path, x_train=x(6), y_train=np.array([0, 1, 2, 0, 1, 2]), x_test=x(3), y_test=np.array([0, 1, 2]),
             groups_train=np.array(["a", "a", "b", "b", "c", "c"]), class_names=np.array(["yes", "no", "silence"]),
             manifest=np.array(json.dumps({"synthetic_speech": "test"})))
    return path


def test_features_file_trains_like_any_data_set(tmp_path):
    raw = raw_npz(tmp_path / "kws.npz")
    result = invoke("data", "features", raw, "--out", tmp_path / "f.npz")
    assert result.exit_code == 0, result.output
    with np.load(tmp_path / "f.npz") as f, np.load(raw) as r:
        np.testing.assert_array_equal(f["x_train"], features(r["x_train"]))
        assert f["x_test"].shape == (3, 49, 40) and f["x_test"].dtype == np.int8
        manifest = json.loads(str(f["manifest"]))
    assert manifest["synthetic_speech"] == "test"
    assert manifest["frontend"]["feature_shape"] == [49, 40] and manifest["frontend"]["feature_scale"] == 0.2
    data = load_dataset(DataConfig(dataset=str(tmp_path / "f.npz")))
    assert data.kind == "spectrogram" and data.input_shape == (49, 40, 1)  # SpecAugment when training
    assert load_dataset(DataConfig(dataset=str(tmp_path / "f.npz"), layout="image")).kind == "image"
    assert data.class_names == ["yes", "no", "silence"] and data.split == "groups"


@pytest.mark.parametrize("make, words", [
    (lambda p: raw_npz(p, samples=15000), ["15000 samples", "16000", "x_train"]),
    (lambda p: p, ["does not exist", "tinykd data kws"]),
])
def test_bad_raw_input_is_one_line(make, words, tmp_path):
    raw = make(tmp_path / "kws.npz")
    result = invoke("data", "features", raw, "--out", tmp_path / "f.npz")
    assert result.exit_code == 2 and result.output.count("\n") == 1, result.output
    assert all(w in result.output for w in words), result.output
    assert not (tmp_path / "f.npz").exists()
