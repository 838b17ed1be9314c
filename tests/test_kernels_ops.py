"""Each kernel against the TFLite Micro runtime, bit for bit, over a table of shapes and parameters: one small
Keras model per case (seeded random weights), converted to full int8, compiled, run on random int8 inputs."""
import pytest

from aot_models import keras_tflite, mismatches
from pipeline.keras import keras

L = keras.layers
SAMPLES = 20

CASES = {
    # CONV_2D: strides, SAME/VALID, kernel shapes, fused RELU / RELU6. (Keras lowers dilated convolutions to
    # SPACE_TO_BATCH_ND + CONV_2D + BATCH_TO_SPACE_ND, so the kernels' dilation path is not reached from Keras.)
    "conv_same_s1": ((9, 9, 3), lambda x: L.Conv2D(5, 3, padding="same")(x)),
    "conv_valid_s2_relu": ((10, 11, 2), lambda x: L.Conv2D(4, 3, strides=2, activation="relu")(x)),
    "conv_same_s2_rect": ((12, 7, 3), lambda x: L.Conv2D(6, (5, 2), strides=(2, 1), padding="same")(x)),
    "conv_1x1_relu6": ((6, 6, 8), lambda x: L.ReLU(6.0)(L.Conv2D(8, 1)(x))),
    # DEPTHWISE_CONV_2D: depth multiplier, strides, padding
    "dw_same": ((8, 8, 4), lambda x: L.DepthwiseConv2D(3, padding="same")(x)),
    "dw_mult2_s2_valid": ((9, 9, 3), lambda x: L.DepthwiseConv2D(3, strides=2, depth_multiplier=2)(x)),
    "dw_relu_5x5": ((10, 10, 2), lambda x: L.DepthwiseConv2D(5, padding="same", activation="relu")(x)),
    # FULLY_CONNECTED on flat and on 4-D inputs
    "fc": ((20,), lambda x: L.Dense(7)(x)),
    "fc_relu_flatten": ((4, 4, 3), lambda x: L.Dense(5, activation="relu")(L.Flatten()(x))),
    # pools (SAME / VALID, strides), MEAN (global average)
    "maxpool_valid": ((8, 8, 3), lambda x: L.MaxPool2D(2)(x)),
    "maxpool_same_s1": ((7, 7, 2), lambda x: L.MaxPool2D(3, strides=1, padding="same")(x)),
    "avgpool_same": ((7, 9, 3), lambda x: L.AveragePooling2D(3, strides=2, padding="same")(x)),
    "avgpool_valid": ((8, 8, 4), lambda x: L.AveragePooling2D(2)(x)),
    "mean_gap": ((5, 6, 8), lambda x: L.GlobalAveragePooling2D()(L.Conv2D(8, 1)(x))),
    "mean_keepdims": ((4, 4, 6), lambda x: L.GlobalAveragePooling2D(keepdims=True)(L.Conv2D(6, 1)(x))),
    # ADD (residual), SOFTMAX, LOGISTIC, RESHAPE, PAD, CONCATENATION
    "add": ((6, 6, 4), lambda x: L.Add()([L.Conv2D(4, 1)(x), L.Conv2D(4, 3, padding="same")(x)])),
    "add_relu": ((16,), lambda x: L.ReLU()(L.Add()([L.Dense(8)(x), L.Dense(8)(x)]))),
    "softmax": ((12,), lambda x: L.Softmax()(L.Dense(10)(x))),
    "softmax_wide": ((8,), lambda x: L.Softmax()(L.Dense(100)(x))),
    "logistic": ((12,), lambda x: L.Activation("sigmoid")(L.Dense(9)(x))),
    "reshape": ((4, 4, 2), lambda x: L.Dense(3)(L.Flatten()(L.MaxPool2D(2)(x)))),
    "pad": ((5, 5, 2), lambda x: L.Conv2D(3, 3)(L.ZeroPadding2D(((1, 2), (0, 1)))(L.Conv2D(2, 1)(x)))),
    "concat": ((6, 6, 3), lambda x: L.Concatenate()([L.Conv2D(2, 1)(x), L.Conv2D(3, 1)(x)])),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(CASES))
def test_op_bit_exact_with_tflm(case):
    shape, build = CASES[case]
    model = keras_tflite(build, shape, seed=len(case))
    differ, total, compiled = mismatches(model, SAMPLES, seed=1)
    assert total > 0
    assert differ == 0, f"{case}: {differ} of {total} output elements differ from TFLM ({compiled.ops})"
