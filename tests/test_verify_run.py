"""`tinykd verify MODEL --run RUN`: the AOT engine against TFLM on a real run folder's test set.

The run folder has no int8 .tflite until the quantize stage exists, so the test converts the run's student.keras
itself (full int8, calibrated on random data in [0, 1], the range of the normalized samples)."""
import json

import pytest

from aot_models import keras_tflite, student
from conftest import invoke
from pipeline import mlperf_tiny
from pipeline.keras import keras


@pytest.fixture(scope="session")
def student_tflite(tiny_run, tmp_path_factory):
    model = keras.models.load_model(tiny_run / "student.keras")
    path = tmp_path_factory.mktemp("verify") / "student_int8.tflite"
    path.write_bytes(mlperf_tiny.int8_tflite(model, low=0.0, high=1.0))
    return path


@pytest.mark.slow
def test_verify_run_compares_the_whole_test_set(tiny_run, student_tflite):
    manifest = json.loads((tiny_run / "run.json").read_text())
    test_samples = manifest["data"]["sizes"]["test"]
    assert test_samples >= 200  # the acceptance: >= 200 inputs per whole model
    result = invoke("verify", str(student_tflite), "--run", str(tiny_run), "--samples", "10", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)  # the progress line went to stderr
    assert report["inputs"] == test_samples + 10
    assert report["elements"] == report["inputs"] * manifest["data"]["num_classes"]
    assert report["mismatches"] == 0 and report["max_abs_diff"] == 0
    assert f"{test_samples} test samples" in result.stderr


@pytest.fixture
def digits_tflite(tmp_path):
    path = tmp_path / "m.tflite"
    path.write_bytes(student("dsconv"))
    return path


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
