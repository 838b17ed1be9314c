"""Whole models through the AOT compiler against the TFLite Micro runtime (bit for bit, >= 200 inputs each),
the memory plan against TFLM's arena, and the generated C under strict host and Cortex-M4 compilers."""
import shutil
import subprocess

import numpy as np
import pytest

from aot_models import keras_tflite, mismatches, mlperf, student
from pipeline.compiler import compile_model
from pipeline.compiler.codegen import KERNELS_DIR
from pipeline.compiler.hostbuild import kernel_sources
from pipeline.int8.tflm import minimum_arena_bytes
from pipeline.compiler import planner, registry
from pipeline.compiler.planner import plan_memory
from pipeline.compiler.graph import build_graph
from pipeline.errors import PipelineError
from pipeline.int8.tflite_file import read_model

SAMPLES = 200
MODELS = {
    "student_dsconv": lambda: student("dsconv"),
    "student_conv": lambda: student("conv"),
    "student_dense_fashion": lambda: student("dense", (28, 28, 1), 10),
    "resnet8": lambda: mlperf("resnet8"),
    "ds_cnn": lambda: mlperf("ds_cnn"),
    "fc_autoencoder": lambda: mlperf("fc_autoencoder"),
    "mobilenet_v1_025": lambda: mlperf("mobilenet_v1_025"),
    # series (T, C): tinykd's students see them as (T, 1, C) with (k, 1) kernels behind one RESHAPE
    "student_dsconv_series": lambda: student("dsconv", (100, 6), 4),
    "student_conv_series": lambda: student("conv", (29, 12), 9),
    # a user's Keras Conv1D model: EXPAND_DIMS -> CONV_2D -> SQUEEZE per layer, MEAN over time of a 3-D tensor
    "keras_conv1d": lambda: conv1d_model(),
    # a sensor model with dilated Conv1D layers (converted at batch 1: one dilated CONV_2D each)
    "keras_conv1d_dilated": lambda: keras_tflite(conv1d_dilated, (64, 6), seed=4),
    # the op registry's ops in the models users bring (issue: real models hit missing ops)
    "mobilenet_v2_035": lambda: mobilenet_v2(),
    "mobilenet_v3_block": lambda: keras_tflite(mobilenet_v3_block, (32, 32, 3), seed=2),
    "unet_tiny": lambda: keras_tflite(unet_tiny, (32, 32, 1), seed=3),
    "float_output": lambda: float_output_model(),
}
SLOW = {"mobilenet_v1_025", "mobilenet_v2_035"}


def conv1d_model() -> bytes:
    """A Keras Conv1D model converted as users convert theirs (batch left dynamic, so TFLite keeps EXPAND_DIMS and
    SQUEEZE around every convolution; tinykd's own converter fixes the batch at 1 and folds them into RESHAPE)."""
    import mlperf_tiny
    from pipeline.kd.keras import keras, tf
    layers = keras.layers
    keras.utils.set_random_seed(0)
    x = inputs = keras.Input((40, 5))  # (batch, 40, 5)
    x = layers.Conv1D(8, 3, padding="same", activation="relu")(x)
    x = layers.MaxPool1D(2)(layers.Conv1D(12, 5, strides=1, activation="relu")(x))
    model = mlperf_tiny.randomize(keras.Model(inputs, layers.Dense(3)(layers.GlobalAveragePooling1D()(x))), 0)
    rng = np.random.default_rng(0)
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([rng.uniform(-1, 1, (1, 40, 5)).astype(np.float32)]
                                                for _ in range(32))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = converter.inference_output_type = tf.int8
    return converter.convert()


def conv1d_dilated(x):
    """A temporal convolution stack for IMU windows: Conv1D with dilations 1, 2, 4 (causal and same)."""
    from pipeline.kd.keras import keras
    L = keras.layers
    x = L.Conv1D(16, 3, padding="causal", activation="relu")(x)
    x = L.Conv1D(16, 3, padding="causal", dilation_rate=2, activation="relu")(x)
    x = L.Conv1D(24, 3, padding="same", dilation_rate=4, activation="relu")(x)
    return L.Dense(6)(L.GlobalAveragePooling1D()(L.MaxPool1D(2)(x)))


@pytest.mark.slow
def test_dilated_conv1d_becomes_dilated_conv_2d():
    graph = build_graph(read_model(MODELS["keras_conv1d_dilated"]()))
    convs = [op for op in graph.ops if op.name == "CONV_2D"]
    assert sorted(max(op.options.dilationHFactor, op.options.dilationWFactor) for op in convs) == [1, 2, 4]


@pytest.mark.slow
def test_dilated_conv1d_with_a_dynamic_batch_matches_litert():
    """Converted with a dynamic batch, a dilated Conv1D keeps SPACE_TO_BATCH_ND -> CONV_2D -> BATCH_TO_SPACE_ND with
    placeholder batch sizes. The TFLM runtime computes only the first of the two batches there (its odd output
    rows are wrong); the compiler resolves the batch, and matches TensorFlow Lite's own interpreter (within the
    1-step rounding differences of its XNNPACK kernels)."""
    from ai_edge_litert.interpreter import Interpreter
    from op_cases import L, convert, keras_model
    from pipeline.compiler.hostbuild import HostModel
    model = convert(keras_model(lambda x: L.Conv1D(8, 3, padding="same", dilation_rate=2)(x), (40, 5), batch=None),
                    (40, 5))
    compiled = compile_model(model)
    assert {"SPACE_TO_BATCH_ND", "BATCH_TO_SPACE_ND"} <= set(compiled.ops)
    x = np.random.default_rng(1).integers(-128, 128, (5, 40, 5), dtype=np.int8)
    with HostModel(compiled) as host:
        ours = host.run(x)
    interpreter = Interpreter(model_content=model)
    interpreter.allocate_tensors()
    lite = []
    for sample in x:
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], sample[None])
        interpreter.invoke()
        lite.append(interpreter.get_tensor(interpreter.get_output_details()[0]["index"])[0])
    difference = np.abs(ours.astype(np.int16) - np.array(lite))
    assert difference.max() <= 1 and (difference > 0).mean() < 0.05


def mobilenet_v2() -> bytes:
    """keras.applications' MobileNetV2, width 0.35, on 96x96 RGB (RELU6 fused, residual ADDs), random weights."""
    import mlperf_tiny
    from pipeline.kd.keras import keras
    keras.utils.set_random_seed(0)
    model = keras.applications.MobileNetV2(input_shape=(96, 96, 3), alpha=0.35, weights=None, classes=10)
    return mlperf_tiny.int8_tflite(mlperf_tiny.randomize(model, 0), seed=0)


def _hard_swish(x):
    from pipeline.kd.keras import keras
    return keras.layers.Multiply()([x, keras.layers.ReLU(6.0)(x + 3.0) * (1.0 / 6.0)])


def mobilenet_v3_block(x):
    """A MobileNetV3-small stem and inverted residual block: HARD_SWISH, a depthwise conv, squeeze-excite (global
    average, 1x1 convs, hard sigmoid, a broadcast MUL), projection and a residual ADD."""
    from pipeline.kd.keras import keras
    L = keras.layers
    x = _hard_swish(L.Conv2D(16, 3, strides=2, padding="same")(x))
    y = _hard_swish(L.Conv2D(32, 1)(x))
    y = _hard_swish(L.DepthwiseConv2D(3, padding="same")(y))
    s = L.GlobalAveragePooling2D(keepdims=True)(y)
    s = L.Conv2D(8, 1, activation="relu")(s)
    s = L.ReLU(6.0)(L.Conv2D(32, 1)(s) + 3.0) * (1.0 / 6.0)
    y = L.Conv2D(16, 1)(L.Multiply()([y, s]))
    x = L.Add()([x, y])
    return L.Dense(10)(L.GlobalAveragePooling2D()(_hard_swish(L.Conv2D(24, 1)(x))))


def unet_tiny(x):
    """A two-level UNet: strided encoder, TRANSPOSE_CONV decoder, skip CONCATENATIONs, a per-pixel head."""
    from pipeline.kd.keras import keras
    L = keras.layers
    e1 = L.Conv2D(8, 3, padding="same", activation="relu")(x)
    e2 = L.Conv2D(16, 3, strides=2, padding="same", activation="relu")(e1)
    b = L.Conv2D(16, 3, strides=2, padding="same", activation="relu")(e2)
    d2 = L.Conv2DTranspose(16, 3, strides=2, padding="same", activation="relu")(b)
    d2 = L.Conv2D(16, 3, padding="same", activation="relu")(L.Concatenate()([d2, e2]))
    d1 = L.Conv2DTranspose(8, 2, strides=2, padding="same", activation="relu")(d2)
    return L.Conv2D(2, 1)(L.Concatenate()([d1, e1]))


def float_output_model() -> bytes:
    """A conv model converted with int8 input and float32 output: a final DEQUANTIZE."""
    from op_cases import convert, keras_model
    from pipeline.kd.keras import keras, tf
    L = keras.layers
    build = lambda x: L.Softmax()(L.Dense(5)(L.Flatten()(L.Conv2D(6, 3, strides=2, activation="relu")(x))))
    return convert(keras_model(build, (12, 12, 2)), (12, 12, 2), output_type=tf.float32)


def _params(names):
    return [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in names]


@pytest.mark.slow
@pytest.mark.parametrize("name", _params(MODELS))
def test_whole_model_bit_exact_and_smaller_arena(name):
    model = MODELS[name]()
    differ, total, compiled = mismatches(model, SAMPLES, seed=7)
    assert total >= SAMPLES
    assert differ == 0, f"{name}: {differ} of {total} output elements differ from TFLM"
    tflm = minimum_arena_bytes(model)
    assert 0 < compiled.arena_bytes <= tflm, f"{name}: AOT arena {compiled.arena_bytes} > TFLM arena {tflm}"


@pytest.mark.slow
def test_planar_depthwise_writes_over_its_input_exactly_or_not_at_all():
    """tk_depthwise_conv2d_3x3_fast_s8 writes 4 channels of every row at a time: its output may not start below its
    input (the convolutions' overlap), but may take the input's place exactly (a channel group is in the planes
    before its outputs land): DS-CNN's four depthwise layers all run in place, and stay bit-exact."""
    model = mlperf("ds_cnn")
    graph = build_graph(read_model(model))
    depthwise = [op for op in graph.ops if op.name == "DEPTHWISE_CONV_2D"]
    assert len(depthwise) == 4 and all(planner.overlap_shift(graph, op) is not None for op in depthwise)
    assert all(planner.overlap_shift(graph, op) is not None for op in graph.ops if op.name == "CONV_2D")
    compiled = compile_model(model)
    assert not compiled.plan.overlaps & {op.index for op in depthwise}  # a shift exists by shape, never chosen
    offsets = compiled.plan.offsets
    assert all(offsets[op.outputs[0]] == offsets[op.inputs[0]] for op in depthwise)
    differ, total, _ = mismatches(model, 5, seed=2)
    assert total > 0 and differ == 0


@pytest.mark.slow
@pytest.mark.parametrize("name", ["resnet8"])
def test_memory_plan_overlaps_only_a_conv_output_below_its_input(name):
    graph = build_graph(read_model(mlperf(name)))
    plan = plan_memory(graph)
    assert plan.overlaps, "no conv overlap chosen: the test would prove nothing"
    live = {}  # tensor -> (first op, last op)
    for op in graph.ops:
        for t in op.outputs + [t for t in op.inputs if t in plan.offsets]:
            live[t] = (live.get(t, (op.index,))[0], op.index)
    overlapped = {(op.inputs[0], op.outputs[0]): planner.overlap_shift(graph, op)
                  for op in graph.ops if op.index in plan.overlaps}
    # element-wise ops in place: output at its input's offset (each element read before it is written)
    in_place = (registry.ELEMENTWISE, registry.VIEW)
    overlapped.update({(t, op.outputs[0]): 0 for op in graph.ops if registry.spec(op.name).in_place in in_place
                       for t in op.inputs if plan.offsets.get(t, -1) == plan.offsets.get(op.outputs[0])})
    tensors = sorted(plan.offsets)
    for i, a in enumerate(tensors):
        a_start, a_end = plan.offsets[a], plan.offsets[a] + graph.tensors[a].size
        assert 0 <= a_start and a_end <= plan.arena_bytes
        for b in tensors[i + 1:]:
            b_start, b_end = plan.offsets[b], plan.offsets[b] + graph.tensors[b].size
            live_together = live[a][0] <= live[b][1] and live[b][0] <= live[a][1]
            if live_together and a_start < b_end and b_start < a_end:
                pair = (a, b) if (a, b) in overlapped else (b, a)
                assert pair in overlapped, f"tensors {a} and {b} share bytes while both are live"
                assert plan.offsets[pair[0]] - plan.offsets[pair[1]] >= overlapped[pair]
    assert plan.arena_bytes < sum(graph.tensors[t].size for t in tensors)  # reuse happened


def test_overlap_shift_is_the_row_by_row_bound():
    """The closed form equals the definition: max over output rows y of (y+1) * out_row - first input row still
    read * in_row, over random conv geometries (strides, dilations, SAME/VALID)."""
    from types import SimpleNamespace

    from pipeline.compiler.graph import Graph, Op, Tensor
    from pipeline.compiler.lower import padding as _padding
    rng = np.random.default_rng(5)
    checked = 0
    while checked < 500:
        h, w, k, stride, dilation = (int(v) for v in rng.integers(1, [21, 5, 6, 4, 4]))
        c_in, c_out, same = int(rng.integers(1, 5)), int(rng.integers(1, 5)), int(rng.integers(0, 2))
        out_h = -(-h // stride) if same else (h - (k - 1) * dilation - 1) // stride + 1
        out_w = -(-w // stride)
        if out_h < 1:
            continue
        shapes = [(1, h, w, c_in), (c_out, k, k, c_in), (1, out_h, out_w, c_out)]
        tensors = [Tensor(i, "", shape, "INT8", [1.0], [0]) for i, shape in enumerate(shapes)]
        options = SimpleNamespace(padding=0 if same else 1, strideH=stride, strideW=stride,
                                  dilationHFactor=dilation, dilationWFactor=dilation)
        op = Op(0, "CONV_2D", [0, 1], [2], options)
        pad = _padding(options.padding, h, k, stride, dilation, out_h)
        bound = max((y + 1) * out_w * c_out - min(h, max(0, y * stride - pad)) * w * c_in for y in range(out_h))
        assert planner.overlap_shift(Graph("g", tensors, [op], 0, 2), op) == -(-max(bound, 0) // 4) * 4
        checked += 1


@pytest.mark.slow
def test_a_smaller_overlap_shift_breaks_bit_exactness(monkeypatch):
    """The whole-model tests can see a wrong overlap: one input row less of shift corrupts the output."""
    exact = planner.overlap_shift

    def one_row_short(graph, op):
        shift = exact(graph, op)
        x = graph.tensors[op.inputs[0]]
        return None if shift is None else max(0, shift - x.shape[2] * x.shape[3])

    monkeypatch.setattr(planner, "overlap_shift", one_row_short)
    differ, total, compiled = mismatches(mlperf("resnet8"), 10, seed=3)
    assert differ > 0


@pytest.mark.slow
def test_generated_header_follows_the_firmware_contract():
    compiled = compile_model(student("dsconv"))
    h = compiled.header
    assert f'#define TK_MODEL_SHA256 "{compiled.sha256}"' in h and len(compiled.sha256) == 64
    for role, dims in (("INPUT", "{1, 8, 8, 1}"), ("OUTPUT", "{1, 10}")):
        assert f"#define TK_MODEL_{role}_DIMS {dims}" in h
        for field in ("DIMS_COUNT", "BYTES", "SCALE", "ZERO_POINT"):
            assert f"#define TK_MODEL_{role}_{field} " in h
    assert f"#define TK_MODEL_ARENA_BYTES {compiled.arena_bytes}" in h
    assert f"#define TK_MODEL_WEIGHT_BYTES {compiled.weight_bytes}" in h
    assert "#define TK_MODEL_OUTPUT_TYPE int8_t" in h
    assert "int tk_model_invoke(const int8_t *input, TK_MODEL_OUTPUT_TYPE *output);" in h
    assert "DO NOT EDIT" in h and "DO NOT EDIT" in compiled.source and compiled.sha256 in compiled.source


def _compile_objects(tmp_path, cc, flags):
    compiled = compile_model(mlperf("resnet8"))
    compiled.write(tmp_path)
    sources = [tmp_path / "model.c", *kernel_sources()]
    for source in sources:
        result = subprocess.run([cc, *flags, f"-I{KERNELS_DIR / 'include'}", f"-I{tmp_path}", "-c", str(source),
                                 "-o", str(tmp_path / (source.stem + ".o"))], capture_output=True, text=True)
        assert result.returncode == 0, f"{source.name}:\n{result.stderr}"
        assert "warning" not in result.stderr


@pytest.mark.slow
def test_generated_c_is_warning_free_c99(tmp_path):
    _compile_objects(tmp_path, "gcc", ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O2"])


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="arm-none-eabi-gcc not installed")
def test_generated_c_builds_for_cortex_m4(tmp_path):
    _compile_objects(tmp_path, "arm-none-eabi-gcc", ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard",
                                                     "-mfpu=fpv4-sp-d16", "-Os", "-Wall", "-Wextra", "-Werror",
                                                     "-std=c99"])


@pytest.mark.slow
def test_unsupported_op_is_named_with_its_layer_and_the_alternatives():
    from pipeline.kd.keras import keras
    layers = keras.layers
    model = keras_tflite(lambda x: layers.Dense(3)(layers.Activation("elu", name="my_elu")(layers.Dense(4)(x))), (6,))
    with pytest.raises(PipelineError) as e:
        compile_model(model)
    message = str(e.value)
    assert "ELU (from " in message and "my_elu" in message  # the op and the layer that produced it
    assert f"compiles {len(registry.ops())} ops" in message and "CONV_2D" in message and "TANH" in message
    assert "--engine tflm" in message and "\n" not in message


@pytest.mark.slow
@pytest.mark.parametrize("name, ops", [
    ("student_dsconv_series", {"RESHAPE", "CONV_2D", "DEPTHWISE_CONV_2D", "MAX_POOL_2D", "MEAN", "FULLY_CONNECTED"}),
    ("keras_conv1d", {"EXPAND_DIMS", "CONV_2D", "RESHAPE", "MAX_POOL_2D", "MEAN", "FULLY_CONNECTED"}),
])
def test_series_models_use_the_ops_we_expect(name, ops):
    """Series students are (T, 1, C) images to the converter: one RESHAPE, no EXPAND_DIMS before each conv; a
    user's Conv1D model has them (its squeeze comes out as a RESHAPE), and they compile as views of their input."""
    graph = build_graph(read_model(MODELS[name](), name), name)
    assert {op.name for op in graph.ops} == ops


@pytest.mark.slow
def test_generated_c_reads_as_c():
    """Parameter structs are designated initialisers, and each call has a comment naming the op, its shapes and
    the layer it came from."""
    import re
    source = compile_model(mlperf("ds_cnn")).source
    structs = re.findall(r"static const (tk_\w+) (op\d+_\w+) = (\{[^;]*);", source)
    assert structs and all(re.match(r"\{\s*\.", init) for _, _, init in structs), structs[:3]
    assert ".stride_h = 2" in source and ".activation = {.min = " in source
    calls = re.findall(r"/\* op (\d+): (\w+) .* -> .* \((.+)\) \*/\n    status = ", source)
    assert len(calls) == source.count("status = tk_") and all(layer for _, _, layer in calls)
