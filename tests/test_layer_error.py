"""Per-layer int8 error: each int8 op's dequantized output against the float layer it came from."""
import numpy as np
import pytest

from pipeline.config import StudentConfig
from pipeline.int8.layer_error import layer_errors
from pipeline.int8.quantize import convert_int8
from pipeline.kd.zoo import build_student

pytestmark = pytest.mark.slow  # converts Keras models (seconds each)


def _model_and_int8():
    model = build_student(StudentConfig(family="conv", width=4, depth=2), (8, 8, 1), 3)
    x = np.random.default_rng(0).random((64, 8, 8, 1)).astype(np.float32)
    return model, convert_int8(model, lambda: ([s[None]] for s in x)), x


def test_every_op_of_a_faithful_conversion_keeps_8_bit_precision():
    model, tflite, x = _model_and_int8()
    rows = layer_errors(model, tflite, x)
    assert [r["layer"] for r in rows] == ["conv0_relu", "pool0", "conv1_relu", "global_pool", "logits"]
    assert [r["op"] for r in rows] == ["CONV_2D", "MAX_POOL_2D", "CONV_2D", "MEAN", "FULLY_CONNECTED"]
    assert rows[0]["shape"] == [8, 8, 4]
    assert all(r["sqnr_db"] is not None and r["sqnr_db"] > 25 for r in rows), rows


def test_a_layer_that_differs_from_its_int8_op_is_the_one_that_shows_it():
    """Scale one conv's float weights after conversion: its SQNR (and what follows) collapses, the layer before
    it does not move."""
    model, tflite, x = _model_and_int8()
    before = {r["layer"]: r["sqnr_db"] for r in layer_errors(model, tflite, x)}
    conv = model.get_layer("conv1")
    conv.set_weights([w * 1.5 for w in conv.get_weights()])
    after = {r["layer"]: r["sqnr_db"] for r in layer_errors(model, tflite, x)}
    assert after["conv0_relu"] == before["conv0_relu"]
    assert after["conv1_relu"] < 10 < before["conv1_relu"]
