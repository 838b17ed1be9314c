"""Raw audio to class on QEMU's Cortex-M4: the C front end, the feature -> model-input table and an AOT-compiled
DS-CNN-style student (random weights, 49 x 40 input, 12 classes) in one firmware give, for every clip, the host's
features (ctypes) and TFLite Micro's outputs on the host's model inputs, bit for bit."""
import importlib.util
import shutil
from pathlib import Path

import numpy as np
import pytest

from pipeline.audio.frontend import features
from pipeline.device.audio_input import apply, input_table
from pipeline.int8.tflm import quantize_input

NORMALIZATION = {"shift": -128.0, "scale": 228.0, "per_channel": False}  # as data.py records int8 features


def test_table_is_the_pipelines_own_normalize_then_quantize():
    f = np.arange(-128, 128)
    table = input_table(NORMALIZATION, (0.0039, -128))
    x = ((f.astype(np.float32) - np.float32(-128.0)) / np.float32(228.0)).astype(np.float32)
    np.testing.assert_array_equal(table, quantize_input(x, 0.0039, -128))
    assert np.all(np.diff(table.astype(int)) >= 0)
    np.testing.assert_array_equal(apply(table, np.array([[-128, 5]], np.int8)), table[[[0, 133]]])


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None,
                    reason="needs qemu-system-arm and gcc-arm-none-eabi (make install)")
def test_raw_audio_to_class_in_qemu_is_bit_exact(tmp_path):
    from aot_models import student
    from pipeline.compiler import compile_model
    from pipeline.int8.tflm import run as tflm_run
    from test_frontend import clips
    spec = importlib.util.spec_from_file_location("bench_frontend", Path(__file__).parents[1] / "bench" / "frontend.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)

    model = student("dsconv", (49, 40, 1), 12)
    compiled = compile_model(model)
    compiled.write(tmp_path / "aot")
    table = input_table(NORMALIZATION, compiled.input_quant)
    pcm = np.stack(list(clips(seed=5).values()))
    elf = bench.build_firmware(tmp_path, tmp_path / "aot", table)
    device = bench.run_in_qemu(elf, pcm, tmp_path, output_bytes=12)
    host_features = features(pcm)
    np.testing.assert_array_equal(device["features"], host_features)
    np.testing.assert_array_equal(device["outputs"], tflm_run(model, apply(table, host_features)[..., None]))
    assert np.all(device["model_ticks"] > 0)
