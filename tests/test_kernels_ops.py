"""Each kernel against the TFLite Micro runtime, bit for bit, over a table of shapes and parameters: one small
model per case (seeded random weights), converted to full int8, compiled, run on random int8 inputs. Every case
names the operator it exists for, and the test checks that the converter really emitted it."""
import numpy as np
import pytest

from aot_models import function_tflite, keras_tflite, mismatches
from pipeline.compiler.graph import build_graph
from pipeline.kd.keras import keras, tf
from pipeline.int8.tflite_file import op_name, read_model

L = keras.layers
SAMPLES = 20


def _big(std=20.0):
    """A Dense initializer whose outputs span a far wider range than its inputs (forces a rescale)."""
    return keras.initializers.RandomNormal(0.0, std, seed=1)


# name: (input shape, build(inputs) -> outputs with Keras layers, the operator the case is for)
CASES = {
    # CONV_2D: strides, SAME/VALID, kernel shapes, fused RELU / RELU6 (dilation: see FUNCTION_CASES)
    "conv_same_s1": ((9, 9, 3), lambda x: L.Conv2D(5, 3, padding="same")(x), "CONV_2D"),
    "conv_valid_s2_relu": ((10, 11, 2), lambda x: L.Conv2D(4, 3, strides=2, activation="relu")(x), "CONV_2D"),
    "conv_same_s2_rect": ((12, 7, 3), lambda x: L.Conv2D(6, (5, 2), strides=(2, 1), padding="same")(x), "CONV_2D"),
    # (filter rows of at most 4 taps: one masked word per row, the image border inside the word)
    "conv_narrow_rows": ((11, 9, 1), lambda x: L.Conv2D(4, (5, 3), strides=2, padding="same")(x), "CONV_2D"),
    "conv_narrow_2ch": ((7, 6, 2), lambda x: L.Conv2D(6, (3, 2), padding="same", activation="relu")(x),
                        "CONV_2D"),
    "conv_1x1_relu6": ((6, 6, 8), lambda x: L.ReLU(6.0)(L.Conv2D(8, 1)(x)), "CONV_2D"),
    # ... 1x1 over exactly 8 channels (tk_conv2d_narrow_s8, one pixel at a time): an odd channel count (the loop
    # entered at its second half), a single channel, a RELU that clamps nothing; one that clamps (the other kernels)
    "conv_1x1_narrow_odd": ((5, 7, 8), lambda x: L.Conv2D(5, 1)(x), "CONV_2D"),
    "conv_1x1_narrow_one": ((3, 3, 8), lambda x: L.Conv2D(1, 1)(x), "CONV_2D"),
    "conv_1x1_narrow_relu": ((9, 4, 8), lambda x: L.Conv2D(24, 1, activation="relu")(x), "CONV_2D"),
    "conv_1x1_narrow_clamped": ((4, 5, 8), lambda x: L.Concatenate()([
        L.Conv2D(6, 1, activation="relu")(x), L.Conv2D(4, 1)(x)]), "CONV_2D"),
    # DEPTHWISE_CONV_2D: depth multiplier, strides, padding
    "dw_same": ((8, 8, 4), lambda x: L.DepthwiseConv2D(3, padding="same")(x), "DEPTHWISE_CONV_2D"),
    # ... 3x3 SAME stride 1 on channels in fours (planes of 4-row blocks): a last block of 3 rows, a clamped
    # activation; fewer than 4 rows
    "dw3x3_tail_relu6": ((7, 5, 8), lambda x: L.ReLU(6.0)(L.DepthwiseConv2D(3, padding="same")(x)),
                         "DEPTHWISE_CONV_2D"),
    # (a RELU output concatenated with negative values shares their zero point: the activation really clamps)
    "dw3x3_clamped": ((6, 5, 4), lambda x: L.Concatenate()([
        L.DepthwiseConv2D(3, padding="same", activation="relu")(x), L.Conv2D(4, 1)(x)]), "DEPTHWISE_CONV_2D"),
    "dw3x3_one_row_tail": ((5, 4, 4), lambda x: L.DepthwiseConv2D(3, padding="same")(x), "DEPTHWISE_CONV_2D"),
    "dw3x3_two_rows": ((2, 6, 4), lambda x: L.DepthwiseConv2D(3, padding="same", activation="relu")(x),
                       "DEPTHWISE_CONV_2D"),
    # ... 3x3 stride 2 on the same planes (maps of >= 64 output pixels, >= 36 channels: ops/conv.py): padding 1 on
    # top (odd height, SAME) or 0 (even height, VALID), the same for the left; an odd output row count (a last
    # single row); clamped
    "dw3x3_s2_same_odd": ((17, 15, 40), lambda x: L.DepthwiseConv2D(3, strides=2, padding="same")(x),
                          "DEPTHWISE_CONV_2D"),
    "dw3x3_s2_same_even_relu6": ((18, 16, 36), lambda x: L.ReLU(6.0)(L.DepthwiseConv2D(
        3, strides=2, padding="same")(x)), "DEPTHWISE_CONV_2D"),
    "dw3x3_s2_valid_mixed": ((19, 18, 36), lambda x: L.DepthwiseConv2D(3, strides=2)(x), "DEPTHWISE_CONV_2D"),
    "dw3x3_s2_odd_rows_clamped": ((13, 20, 40), lambda x: L.Concatenate()([
        L.DepthwiseConv2D(3, strides=2, padding="same", activation="relu")(x), L.Conv2D(4, 1, strides=2)(x)]),
        "DEPTHWISE_CONV_2D"),
    # ... planes over pack.DW3X3_PLANES_MAX bytes, a band of blocks at a time (40 columns: 3 blocks of 4 rows): 21
    # rows (a last block with no row past the first inside: its padding words written over the band before), written
    # over its own input (the row above each band kept aside); 40 rows, clamped
    "dw3x3_bands_in_place": ((21, 40, 8), lambda x: L.Conv2D(4, 1)(L.DepthwiseConv2D(3, padding="same")(
        L.Conv2D(8, 1)(x))), "DEPTHWISE_CONV_2D"),
    "dw3x3_bands_clamped": ((40, 40, 4), lambda x: L.Concatenate()([
        L.DepthwiseConv2D(3, padding="same", activation="relu")(x), L.Conv2D(4, 1)(x)]), "DEPTHWISE_CONV_2D"),
    # ... the plane fill's last block of 1-3 rows inside, after no whole block (tk_dw3_fill_band: 1, 3, 4 rows)
    "dw3x3_one_row": ((1, 6, 4), lambda x: L.DepthwiseConv2D(3, padding="same")(x), "DEPTHWISE_CONV_2D"),
    "dw3x3_three_rows_relu": ((3, 4, 8), lambda x: L.DepthwiseConv2D(3, padding="same", activation="relu")(x),
                              "DEPTHWISE_CONV_2D"),
    "dw3x3_four_rows": ((4, 5, 12), lambda x: L.DepthwiseConv2D(3, padding="same")(x), "DEPTHWISE_CONV_2D"),
    # ... channels not in fours: the last group's 1-3 channels gathered first (the KWS student's 22), stride 1 and 2
    "dw3x3_22ch_relu": ((9, 7, 22), lambda x: L.DepthwiseConv2D(3, padding="same", activation="relu")(x),
                        "DEPTHWISE_CONV_2D"),
    "dw3x3_3ch": ((5, 6, 3), lambda x: L.DepthwiseConv2D(3, padding="same")(x), "DEPTHWISE_CONV_2D"),
    "dw3x3_s2_same_odd_41ch": ((17, 15, 41), lambda x: L.DepthwiseConv2D(3, strides=2, padding="same")(x),
                               "DEPTHWISE_CONV_2D"),
    # 3x3 per pixel (small stride-2 maps: tk_depthwise_conv2d_fast_s8, weights group-major): inside, on the border
    # gathered (up to 64 channels) or through the clipped window (68 channels)
    "dw3x3_pixel_s2_same": ((9, 7, 8), lambda x: L.DepthwiseConv2D(3, strides=2, padding="same")(x),
                            "DEPTHWISE_CONV_2D"),
    "dw3x3_pixel_s2_68ch": ((7, 6, 68), lambda x: L.DepthwiseConv2D(3, strides=2, padding="same")(x),
                            "DEPTHWISE_CONV_2D"),
    "dw_mult2_s2_valid": ((9, 9, 3), lambda x: L.DepthwiseConv2D(3, strides=2, depth_multiplier=2)(x),
                          "DEPTHWISE_CONV_2D"),
    "dw_relu_5x5": ((10, 10, 2), lambda x: L.DepthwiseConv2D(5, padding="same", activation="relu")(x),
                    "DEPTHWISE_CONV_2D"),
    # FULLY_CONNECTED on flat and on 4-D inputs
    "fc": ((20,), lambda x: L.Dense(7)(x), "FULLY_CONNECTED"),
    "fc_relu_flatten": ((4, 4, 3), lambda x: L.Dense(5, activation="relu")(L.Flatten()(x)), "FULLY_CONNECTED"),
    # pools (SAME / VALID, strides), MEAN (global average)
    "maxpool_valid": ((8, 8, 3), lambda x: L.MaxPool2D(2)(x), "MAX_POOL_2D"),
    "maxpool_same_s1": ((7, 7, 2), lambda x: L.MaxPool2D(3, strides=1, padding="same")(x), "MAX_POOL_2D"),
    # ... channels in fours (a byte-wise max per word): windows clipped at the border, a RELU that clamps (its
    # output concatenated with negative values keeps their zero point)
    "maxpool_8ch_s2_same": ((7, 9, 8), lambda x: L.MaxPool2D(3, strides=2, padding="same")(x), "MAX_POOL_2D"),
    "maxpool_22ch_s2": ((7, 6, 22), lambda x: L.MaxPool2D(2)(x), "MAX_POOL_2D"),  # 20 in fours, 2 one by one
    "maxpool1d_8ch": ((9, 8), lambda x: L.MaxPool1D(2)(x), "MAX_POOL_2D"),  # windows of 2 pixels (a series)
    "maxpool_12ch_relu_clamped": ((6, 6, 12), lambda x: L.Concatenate()([
        L.ReLU()(L.MaxPool2D(2)(x)), L.Conv2D(4, 2, strides=2)(x)]), "MAX_POOL_2D"),
    "avgpool_same": ((7, 9, 3), lambda x: L.AveragePooling2D(3, strides=2, padding="same")(x), "AVERAGE_POOL_2D"),
    "avgpool_valid": ((8, 8, 4), lambda x: L.AveragePooling2D(2)(x), "AVERAGE_POOL_2D"),
    "mean_gap": ((5, 6, 8), lambda x: L.GlobalAveragePooling2D()(L.Conv2D(8, 1)(x)), "MEAN"),
    "mean_keepdims": ((4, 4, 6), lambda x: L.GlobalAveragePooling2D(keepdims=True)(L.Conv2D(6, 1)(x)), "MEAN"),
    # ... channels in fours summed 16 at a time in int16 lanes (two chunks of 64 and 16; too many pixels for them)
    "mean_80ch": ((3, 4, 80), lambda x: L.GlobalAveragePooling2D()(x), "MEAN"),
    "mean_300px": ((20, 15, 4), lambda x: L.GlobalAveragePooling2D()(x), "MEAN"),
    # ADD (residual), SOFTMAX, LOGISTIC, RESHAPE, PAD, CONCATENATION
    "add": ((6, 6, 4), lambda x: L.Add()([L.Conv2D(4, 1)(x), L.Conv2D(4, 3, padding="same")(x)]), "ADD"),
    "add_relu": ((16,), lambda x: L.ReLU()(L.Add()([L.Dense(8)(x), L.Dense(8)(x)])), "ADD"),
    "softmax": ((12,), lambda x: L.Softmax()(L.Dense(10)(x)), "SOFTMAX"),
    "softmax_wide": ((8,), lambda x: L.Softmax()(L.Dense(100)(x)), "SOFTMAX"),
    "logistic": ((12,), lambda x: L.Activation("sigmoid")(L.Dense(9)(x)), "LOGISTIC"),
    "reshape": ((4, 4, 2), lambda x: L.Dense(3)(L.Flatten()(L.MaxPool2D(2)(x))), "RESHAPE"),
    "pad": ((5, 5, 2), lambda x: L.Conv2D(3, 3)(L.ZeroPadding2D(((1, 2), (0, 1)))(L.Conv2D(2, 1)(x))), "PAD"),
    "concat": ((6, 6, 3), lambda x: L.Concatenate()([L.Conv2D(2, 1)(x), L.Conv2D(3, 1)(x)]), "CONCATENATION"),
    # QUANTIZE int8 -> int8: CONCATENATION needs one scale for all its inputs, so the converter inserts a
    # requantize where an input cannot take the concatenation's scale: the model input, read by two
    # concatenations of different ranges (QUANTIZE from the caller's buffer into the arena) ...
    "quantize_input": ((8,), lambda x: L.Add()([L.Concatenate()([x, L.Dense(4)(x)]),
                                                L.Concatenate()([x, L.Dense(4, kernel_initializer=_big())(x)])]),
                       "QUANTIZE"),
    # ... and a LOGISTIC output (fixed scale 1/256) concatenated with a wide one (QUANTIZE within the arena).
    "quantize_logistic": ((8,), lambda x: L.Concatenate()([L.Activation("sigmoid")(L.Dense(4)(x)),
                                                           L.Dense(4, kernel_initializer=_big())(x)]),
                          "QUANTIZE"),
}


def _filter(shape, seed):
    return tf.constant(np.random.default_rng(seed).normal(0.0, 0.3, shape).astype(np.float32))


# Dilation through tf.nn / tf.raw_ops in a tf.function: the converter keeps it in the operator's options.
# name: (input shape, build(x) -> y with TensorFlow ops, operator, (dilation h, dilation w))
FUNCTION_CASES = {
    "conv_dilated_same_relu": ((13, 11, 2), lambda x: tf.nn.relu(
        tf.nn.conv2d(x, _filter((3, 3, 2, 4), 1), strides=1, padding="SAME", dilations=[1, 2, 3, 1])
        + _filter((4,), 2)), "CONV_2D", (2, 3)),
    "conv_dilated_valid": ((12, 12, 3), lambda x: tf.nn.conv2d(
        x, _filter((2, 3, 3, 5), 3), strides=1, padding="VALID", dilations=[1, 3, 2, 1]), "CONV_2D", (3, 2)),
    "dw_dilated_mult2_same": ((13, 11, 2), lambda x: tf.raw_ops.DepthwiseConv2dNative(
        input=x, filter=_filter((3, 3, 2, 2), 4), strides=[1, 1, 1, 1], padding="SAME", dilations=[1, 2, 3, 1]),
        "DEPTHWISE_CONV_2D", (2, 3)),
}


def _check(case, model, op, samples=SAMPLES):
    differ, total, compiled = mismatches(model, samples, seed=1)
    assert op in compiled.ops, f"{case}: the converter emitted {compiled.ops}, not {op}"
    assert total > 0
    assert differ == 0, f"{case}: {differ} of {total} output elements differ from TFLM ({compiled.ops})"


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(CASES))
def test_op_bit_exact_with_tflm(case):
    shape, build, op = CASES[case]
    model = keras_tflite(build, shape, seed=len(case))
    if op == "QUANTIZE":  # a real int8 -> int8 rescale, not a copy
        graph = build_graph(read_model(model))
        for q in (o for o in graph.ops if o.name == op):
            x, y = graph.tensors[q.inputs[0]], graph.tensors[q.outputs[0]]
            assert x.dtype == y.dtype == "INT8" and (x.scale, x.zero_point) != (y.scale, y.zero_point)
    _check(case, model, op)


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(c for c in CASES if c.startswith("dw3x3_s2")))
def test_depthwise_3x3_stride_2_runs_the_plane_kernel(case):
    """The stride-2 cases above are the planar kernel's (tk_depthwise_conv2d_3x3_fast_s8), not the per-pixel one."""
    from pipeline.compiler import compile_model
    shape, build, _ = CASES[case]
    source = compile_model(keras_tflite(build, shape, seed=len(case))).source
    assert "tk_depthwise_conv2d_3x3_fast_s8(" in source and "tk_depthwise_conv2d_fast_s8(" not in source


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(c for c in CASES if c.startswith("conv_1x1_narrow")))
def test_1x1_over_8_channels_runs_the_narrow_kernel_unless_it_clamps(case):
    """The cases above run tk_conv2d_narrow_s8, but for the RELU that clamps, which keeps another conv kernel."""
    from pipeline.compiler import compile_model
    shape, build, _ = CASES[case]
    compiled = compile_model(keras_tflite(build, shape, seed=len(case)))
    layouts = [layer["layout"] for _, layer in sorted(compiled.layers.items())]
    assert sorted(layouts) == (["conv8", "narrow"] if case.endswith("clamped") else ["narrow"])
    assert compiled.source.count("tk_conv2d_narrow_s8(") == 1


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(FUNCTION_CASES))
def test_dilated_op_bit_exact_with_tflm(case):
    shape, build, op, dilation = FUNCTION_CASES[case]
    model = function_tflite(build, shape, seed=len(case))
    graph = build_graph(read_model(model))
    convs = [o for o in graph.ops if o.name == op]
    assert [(o.options.dilationHFactor, o.options.dilationWFactor) for o in convs] == [dilation]
    _check(case, model, op)


# The registry's op set (pipeline/compiler/registry.py): every case in tests/op_cases.py against TFLM.
import op_cases  # noqa: E402


def op_case_model(name: str) -> tuple[bytes, str]:
    """(.tflite, operator) of a case in tests/op_cases.py."""
    if name in op_cases.CASES:
        shape, build, op = op_cases.CASES[name]
        return keras_tflite(build, shape, seed=len(name)), op
    if name in op_cases.FUNCTION_CASES:
        shape, build, op = op_cases.FUNCTION_CASES[name]
        return function_tflite(build, shape, seed=len(name)), op
    make, op = op_cases.CONVERTER_CASES[name]
    return make(), op


# Models TFLM cannot load (a dynamic batch: TFLM does not resize tensors at run time), checked another way below.
NOT_FOR_TFLM = {"shape_fn_reshape_dyn", "shape_keras_reshape_dyn_2"}
OP_CASES = sorted({*op_cases.CASES, *op_cases.FUNCTION_CASES, *op_cases.CONVERTER_CASES} - NOT_FOR_TFLM)


@pytest.mark.slow
@pytest.mark.parametrize("case", OP_CASES)
def test_registry_op_bit_exact_with_tflm(case):
    model, op = op_case_model(case)
    _check(case, model, op)


@pytest.mark.slow
def test_shape_chains_of_a_dynamic_batch_fold_at_compile_time():
    """A model converted with a dynamic batch computes its Reshape's shape at run time (SHAPE -> STRIDED_SLICE ->
    PACK): the compiler folds the chain, resolves the placeholder output shape, and the C code is one copy.
    (TFLM itself cannot load such a model, so the reference is the reshape itself.)"""
    from pipeline.compiler import compile_model
    from pipeline.compiler.hostbuild import HostModel
    model, op = op_case_model("shape_fn_reshape_dyn")
    assert op == "SHAPE" and "SHAPE" in [op_name(read_model(model), o.opcodeIndex)
                                         for o in read_model(model).subgraphs[0].operators]
    compiled = compile_model(model)
    assert compiled.ops == ["RESHAPE"] and compiled.output_shape == (1, 24)
    x = np.random.default_rng(0).integers(-128, 128, (5, 4, 3, 2), dtype=np.int8)
    with HostModel(compiled) as host:
        assert np.array_equal(host.run(x), x.reshape(5, 24))


@pytest.mark.slow
def test_conv8_tiles_on_the_host_run_the_portable_passes_bit_exact():
    """Off the Cortex-M4 (this host build), tk_conv2d_fast8_tiles_s8 runs every pixel in the portable passes of 3
    from its larger scratch: the same bytes as TFLM for the QEMU test's tile mix (flat taps, chunks, a last pass)."""
    from test_kernels_qemu import conv8_tile_mix
    differ, total, compiled = mismatches(keras_tflite(conv8_tile_mix, (5, 5, 16), seed=14), 20, seed=1)
    assert "tk_conv2d_fast8_tiles_s8(" in compiled.source and total > 0
    assert differ == 0, f"{differ} of {total} output elements differ from TFLM"
