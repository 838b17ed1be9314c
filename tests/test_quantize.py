"""Quantization stage: int8 model, TFLM scoring and golden outputs, skipping, and bad input."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

from conftest import invoke, snapshot
from pipeline.int8 import tflm
from pipeline.config import load_config
from pipeline.kd.data import load_dataset
from pipeline.errors import PipelineError
from pipeline.int8.tflite_file import io_tensors, read_model, type_name


def test_int8_model_has_int8_input_and_output(tiny_int8):
    model = read_model(tiny_int8.model)
    for which in ("inputs", "outputs"):
        assert [type_name(t.type) for t in io_tensors(model, which)] == ["INT8"]
    assert tiny_int8.quantize["mode"] == "qat" and tiny_int8.quantize["model_bytes"] == tiny_int8.model.stat().st_size


def test_golden_outputs_are_what_tflm_gives(tiny_int8):
    golden = np.load(tiny_int8.path / "golden.npz")
    data = load_dataset(tiny_int8.cfg.data, tiny_int8.cfg.run.seed)
    info = tflm.io_details(tiny_int8.model.read_bytes())
    assert golden["inputs"].dtype == np.int8 and golden["outputs"].dtype == np.int8
    assert golden["inputs"].shape == data.x_test.shape and golden["outputs"].shape == (len(data.y_test), 10)
    np.testing.assert_array_equal(golden["labels"], data.y_test)
    expected_inputs = tflm.quantize_input(data.x_test, info["input"]["scale"], info["input"]["zero_point"])
    np.testing.assert_array_equal(golden["inputs"], expected_inputs)
    # The oracle: a fresh TFLM interpreter on a subset gives the recorded outputs bit for bit.
    np.testing.assert_array_equal(tflm.run(tiny_int8.model.read_bytes(), golden["inputs"][:50]),
                                  golden["outputs"][:50])
    accuracy = np.mean(np.argmax(golden["outputs"], axis=1) == golden["labels"])
    assert tiny_int8.quantize["int8_accuracy"] == pytest.approx(accuracy, abs=1e-5)


def test_quantize_input_rounds_half_away_from_zero_and_clamps():
    x = np.array([0.5, 1.5, -0.5, -1.5, 2.4999, 1000.0, -1000.0], dtype=np.float32)
    np.testing.assert_array_equal(tflm.quantize_input(x, 1.0, 0), [1, 2, -1, -2, 2, 127, -128])
    np.testing.assert_array_equal(tflm.quantize_input(np.float32([0.25]), 0.5, -3), [-2])


def test_unchanged_stage_is_skipped(tiny_int8):
    from pipeline.int8.quantize import quantize
    messages = []
    before = snapshot(tiny_int8.path)
    quantize(tiny_int8.cfg, log=messages.append)
    assert any("skipped" in m for m in messages)
    assert snapshot(tiny_int8.path) == before


def test_qat_depends_only_on_its_own_loss_settings(tiny_int8, tmp_path):
    """Another method's KD weights do not make QAT train again; its own do. (The baseline switch may: without a
    baseline there is nothing to compare, so the distilled student ships; tests/test_ship.py.)"""
    from pipeline.int8.quantize import fingerprint_of, quantize
    shutil.copytree(tiny_int8.path, tmp_path / "tiny")
    messages = []
    unrelated = {"run": {"root": str(tmp_path)}, "distill": {"dkd_beta": 3.0, "dist_gamma": 5.0}}
    quantize(load_config(tiny_int8.config_file, unrelated), log=messages.append)
    assert any("skipped" in m for m in messages), messages
    # the distilled student's QAT (the baseline's, when it ships, uses the labels alone: tests/test_ship.py)
    distilled = {"run": {"root": str(tmp_path)}, "distill": {"ship": "distilled"}}
    own = {"run": {"root": str(tmp_path)}, "distill": {"ship": "distilled", "temperature": 7.0}}
    assert fingerprint_of(load_config(tiny_int8.config_file, own)) != \
        fingerprint_of(load_config(tiny_int8.config_file, distilled))


@pytest.mark.slow
def test_ptq_mode_on_a_copy(tiny_int8, tmp_path):
    from pipeline.int8.quantize import quantize
    shutil.copytree(tiny_int8.path, tmp_path / "tiny")
    cfg = load_config(tiny_int8.config_file, {"run": {"root": str(tmp_path)}, "quantize": {"mode": "ptq"}})
    metrics = quantize(cfg, log=lambda m: None)
    assert metrics["mode"] == "ptq" and "qat_accuracy" not in metrics
    assert metrics["float_accuracy"] == tiny_int8.quantize["float_accuracy"]
    assert type_name(io_tensors(read_model(tmp_path / "tiny" / "student_int8.tflite"), "inputs")[0].type) == "INT8"


def test_missing_run_says_to_distill_first(tmp_path):
    result = invoke("quantize", "--run", "never-distilled")
    assert result.exit_code == 2
    assert "never-distilled" in result.stderr and "tinykd distill" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("option, value", [("--qat-epochs", "-1"), ("--representative-samples", "-5")])
def test_bad_quantize_settings_exit_2_naming_the_value(tiny_int8, option, value):
    before = snapshot(tiny_int8.path)
    result = invoke("quantize", "--config", tiny_int8.config_file, option, value)
    assert result.exit_code == 2 and value in result.stderr
    assert snapshot(tiny_int8.path) == before


def test_quantize_mode_is_validated():
    with pytest.raises(PipelineError, match="int4"):
        load_config(None, {"quantize": {"mode": "int4"}})


def test_qat_weights_rebuild_the_fine_tuned_model(tiny_int8):
    """DESIGN.md: QAT models do not round-trip through .keras; quantize_model(student) + load_weights does."""
    import tensorflow_model_optimization as tfmot

    from pipeline.kd.keras import keras
    from pipeline.kd.train import accuracy
    student = keras.models.load_model(tiny_int8.path / "student.keras", compile=False)
    rebuilt = tfmot.quantization.keras.quantize_model(student)
    rebuilt.load_weights(tiny_int8.path / "student_qat_weights.h5")
    data = load_dataset(tiny_int8.cfg.data, tiny_int8.cfg.run.seed)
    assert accuracy(rebuilt, data.x_test, data.y_test) == pytest.approx(tiny_int8.quantize["qat_accuracy"], abs=1e-5)


@pytest.mark.slow
def test_qat_names_the_layer_it_cannot_quantize():
    from pipeline.kd.keras import keras
    from pipeline.int8.quantize import fake_quantize
    x = keras.Input((20, 3))
    model = keras.Model(x, keras.layers.Dense(2)(keras.layers.Flatten()(keras.layers.Conv1D(4, 3, name="imu_conv")(x))))
    with pytest.raises(PipelineError) as e:
        fake_quantize(model)
    assert "layer 'imu_conv' (Conv1D)" in str(e.value) and "--mode ptq" in str(e.value)
