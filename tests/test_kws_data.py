"""`tinykd data kws`: the synthetic keyword set (espeak-ng): held-out voices, determinism, the manifest, the
pipeline reads it, and bad input is one line naming the value."""
import json
import shutil

import numpy as np
import pytest

from conftest import invoke
from pipeline.audio.kws_data import KwsConfig, make_kws, split_variants
from pipeline.config import DataConfig
from pipeline.kd.data import load_dataset

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng (make install)")
SMALL = KwsConfig(keywords=("yes", "no", "stop"), train_per_class=8, test_per_class=4, seed=7)


@pytest.fixture(scope="module")
def small():
    return make_kws(SMALL, log=lambda _: None)


@pytest.mark.slow
@needs_espeak
def test_test_voices_are_held_out(small):
    train = {str(v) for v in small["groups_train"] if "+" in str(v)}
    test = {str(v) for v in small["voice_test"] if v}
    assert train and test and not train & test  # no voice on both sides ...
    variants = lambda voices: {v.split("+")[1] for v in voices}
    assert not variants(train) & variants(test)  # ... nor a voice variant under another accent
    assert variants(test) <= set(split_variants(SMALL.test_every)["test"])


@pytest.mark.slow
@needs_espeak
def test_clips_classes_and_manifest(small):
    assert small["x_train"].shape == (5 * 8, 16000) and small["x_train"].dtype == np.int16
    assert small["x_test"].shape == (5 * 4, 16000)
    assert list(small["class_names"]) == ["yes", "no", "stop", "unknown", "silence"]
    assert np.bincount(small["y_train"]).tolist() == [8] * 5
    manifest = json.loads(str(small["manifest"]))
    assert "Synthetic speech" in manifest["synthetic_speech"] and "espeak-ng" in manifest["synthetic_speech"]
    assert manifest["settings"]["seed"] == 7 and manifest["voices"]["test"]
    assert manifest["counts"]["train"]["per_class"]["yes"] == 8
    spoken = small["x_train"][small["y_train"] < 4]
    assert np.all(np.abs(spoken).max(axis=1) > 1000)  # every spoken clip holds a word, not silence


@pytest.mark.slow
@needs_espeak
def test_same_seed_same_clips_and_the_pipeline_reads_it(small, tmp_path):
    from pipeline.audio.kws_data import write_npz
    again = make_kws(SMALL, log=lambda _: None)
    for key in ("x_train", "y_train", "x_test", "groups_train", "voice_test"):
        np.testing.assert_array_equal(small[key], again[key])
    other = make_kws(KwsConfig(keywords=("yes",), train_per_class=2, test_per_class=1, seed=8), log=lambda _: None)
    assert not np.array_equal(other["x_train"][:2], small["x_train"][:2])
    path = write_npz(small, tmp_path / "kws.npz")
    data = load_dataset(DataConfig(dataset=str(path)))
    assert data.class_names == ["yes", "no", "stop", "unknown", "silence"] and data.split == "groups"
    assert len(data.y_train) + len(data.y_val) == 40 and len(data.y_test) == 20


@pytest.mark.parametrize("args, words", [
    (["--keywords", "yes,banana"], ["'banana'", "yes, no, up"]),
    (["--out", "/no/such/folder/kws.npz"], ["'/no/such/folder'", "does not exist"]),
    (["--out", "kws.wav"], ["'kws.wav'", ".npz"]),
    (["--train-per-class", "0"], ["--train-per-class 0", "1 to 100000"]),
    (["--jobs", "64"], ["--jobs 64", "1 to 16"]),
])
def test_bad_input_is_one_line(args, words, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = args if "--out" in args else ["--out", str(tmp_path / "k.npz"), *args]
    result = invoke("data", "kws", *args)
    assert result.exit_code == 2 and result.output.count("\n") == 1, result.output
    assert all(w in result.output for w in words), result.output
    assert "Traceback" not in result.output and not list(tmp_path.iterdir())
