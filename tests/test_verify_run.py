"""`tinykd verify MODEL --run RUN`: the AOT engine against TFLM on a real run folder's test set (the run's own
int8 model, from the quantize stage)."""
import json

import numpy as np
import pytest

from aot_models import STUDENT_DSCONV, keras_tflite
from conftest import invoke
from pipeline.compiler import compile_model
from pipeline.compiler.verify import _test_set
from pipeline.kd.keras import keras


@pytest.mark.slow
def test_verify_run_compares_the_whole_test_set(tiny_int8):
    manifest = json.loads((tiny_int8.path / "run.json").read_text())
    test_samples = manifest["data"]["sizes"]["test"]
    assert test_samples >= 200  # the acceptance: >= 200 inputs per whole model
    result = invoke("verify", str(tiny_int8.model), "--run", str(tiny_int8.path), "--samples", "10", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)  # the progress line went to stderr
    assert report["inputs"] == test_samples + 10
    assert report["elements"] == report["inputs"] * manifest["data"]["num_classes"]
    assert report["mismatches"] == 0 and report["max_abs_diff"] == 0
    assert f"{test_samples} test samples" in result.stderr


def test_verify_run_quantizes_the_test_set_as_the_quantize_stage(tiny_int8):
    """The same int8 inputs as golden.npz (TFLite's rounding, halves away from zero), not a rounding of its own."""
    golden = np.load(tiny_int8.path / "golden.npz")
    assert np.array_equal(_test_set(tiny_int8.path, compile_model(tiny_int8.model)), golden["inputs"])


@pytest.fixture
def digits_tflite(tmp_path):
    path = tmp_path / "m.tflite"
    path.write_bytes(STUDENT_DSCONV.read_bytes())
    return path


@pytest.mark.slow  # builds the kernel library for the host (seconds)
def test_verify_exits_1_when_an_element_differs(digits_tflite, monkeypatch):
    from pipeline.compiler.hostbuild import HostModel
    honest = HostModel.run

    def off_by_one(self, inputs):
        outputs = honest(self, inputs)
        outputs[3, 2] = outputs[3, 2] ^ 1
        return outputs

    monkeypatch.setattr(HostModel, "run", off_by_one)
    result = invoke("verify", str(digits_tflite), "--samples", "8", "--json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["mismatches"] == 1 and report["mismatching_inputs"] == 1 and report["max_abs_diff"] == 1


def test_verify_unknown_run_exits_2_naming_it(digits_tflite, tmp_path):
    result = invoke("verify", str(digits_tflite), "--run", str(tmp_path / "no-such-run"))
    assert result.exit_code == 2
    assert "no-such-run" in result.output


def test_verify_run_without_manifest_exits_2(digits_tflite, tmp_path):
    result = invoke("verify", str(digits_tflite), "--run", str(tmp_path))
    assert result.exit_code == 2
    assert str(tmp_path) in result.output and "no recorded data config" in result.output


def test_verify_run_of_another_shape_exits_2(tiny_run, tmp_path):
    path = tmp_path / "other.tflite"
    path.write_bytes(keras_tflite(lambda x: keras.layers.Dense(3)(x), (5,)))
    result = invoke("verify", str(path), "--run", str(tiny_run), "--samples", "1")
    assert result.exit_code == 2
    assert "(8, 8, 1)" in result.output and "(5,)" in result.output
