"""Whole models through the AOT compiler against the TFLite Micro runtime (bit for bit, >= 200 inputs each),
the memory plan against TFLM's arena, and the generated C under strict host and Cortex-M4 compilers."""
import shutil
import subprocess

import pytest

from aot_models import keras_tflite, mismatches, mlperf, student
from pipeline.compiler import compile_model
from pipeline.compiler.codegen import KERNELS_DIR
from pipeline.compiler.hostbuild import kernel_sources
from pipeline.compiler.oracle import tflm_arena_bytes
from pipeline.compiler.planner import plan_memory
from pipeline.compiler.graph import build_graph
from pipeline.errors import PipelineError
from pipeline.tflite_file import read_model

SAMPLES = 200
MODELS = {
    "student_dsconv": lambda: student("dsconv"),
    "student_conv": lambda: student("conv"),
    "student_dense_fashion": lambda: student("dense", (28, 28, 1), 10),
    "resnet8": lambda: mlperf("resnet8"),
    "ds_cnn": lambda: mlperf("ds_cnn"),
    "fc_autoencoder": lambda: mlperf("fc_autoencoder"),
    "mobilenet_v1_025": lambda: mlperf("mobilenet_v1_025"),
}
SLOW = {"mobilenet_v1_025"}


def _params(names):
    return [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in names]


@pytest.mark.parametrize("name", _params(MODELS))
def test_whole_model_bit_exact_and_smaller_arena(name):
    model = MODELS[name]()
    differ, total, compiled = mismatches(model, SAMPLES, seed=7)
    assert total >= SAMPLES
    assert differ == 0, f"{name}: {differ} of {total} output elements differ from TFLM"
    tflm = tflm_arena_bytes(model)
    assert 0 < compiled.arena_bytes <= tflm, f"{name}: AOT arena {compiled.arena_bytes} > TFLM arena {tflm}"


def test_memory_plan_never_overlaps_live_tensors():
    graph = build_graph(read_model(mlperf("resnet8")))
    plan = plan_memory(graph)
    buffers = plan.buffers
    for i, a in enumerate(buffers):
        assert a.offset >= 0 and a.offset + a.size <= plan.arena_bytes
        for b in buffers[i + 1:]:
            live_together = a.first <= b.last and b.first <= a.last
            apart = a.offset + a.size <= b.offset or b.offset + b.size <= a.offset
            assert not live_together or apart, (a, b)
    assert plan.arena_bytes < sum(b.size for b in buffers)  # reuse happened


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
    assert "int tk_model_invoke(const int8_t *input, int8_t *output);" in h
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


def test_generated_c_is_warning_free_c99(tmp_path):
    _compile_objects(tmp_path, "gcc", ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O2"])


@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="arm-none-eabi-gcc not installed")
def test_generated_c_builds_for_cortex_m4(tmp_path):
    _compile_objects(tmp_path, "arm-none-eabi-gcc", ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard",
                                                     "-mfpu=fpv4-sp-d16", "-Os", "-Wall", "-Wextra", "-Werror",
                                                     "-std=c99"])


def test_unsupported_op_is_named_with_the_alternatives():
    from pipeline.keras import keras
    model = keras_tflite(lambda x: keras.layers.Activation("tanh")(keras.layers.Dense(4)(x)), (6,))
    with pytest.raises(PipelineError) as e:
        compile_model(model)
    message = str(e.value)
    assert "'TANH'" in message and "CONV_2D" in message and "FULLY_CONNECTED" in message
    assert "--engine tflm" in message
