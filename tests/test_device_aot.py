"""The AOT compiler's output in the firmware: a digits-shaped student, compiled to C, validated in QEMU and on
the host port against the TFLite Micro runtime, bit for bit. (Random weights: this checks exactness, not
accuracy.)"""
import shutil

import numpy as np
import pytest

import aot_models
from device_helpers import validate_in

pytestmark = pytest.mark.slow


@pytest.mark.skipif(shutil.which("qemu-system-arm") is None, reason="needs qemu-system-arm (make install)")
def test_compiled_student_is_bit_exact_with_tflm_in_qemu_and_on_the_host(tmp_path):
    from sklearn.datasets import load_digits

    model = aot_models.student("dsconv")  # int8 .tflite, input (1, 8, 8, 1), 10 classes
    run = tmp_path / "run"
    digits = load_digits()
    x = np.clip(np.round(digits.images[:100] / 16 * 255) - 128, -128, 127).astype(np.int8)[..., None]  # (100,8,8,1)
    compiled = aot_models.aot_run(run, model, x, labels=digits.target[:100])
    for emulator in ("qemu", "host"):
        report = validate_in(emulator, run, tmp_path / emulator)
        assert report["samples"] == 100 and report["mismatched_outputs"] == 0, emulator
    assert report["device"]["model_sha256_prefix"] == compiled.sha256[:16]


def test_a_model_whose_input_exceeds_the_default_frame_builds_and_validates(tmp_path):
    """pipeline/device/build.py sizes the protocol's frame buffer from model.h: a 2,304-byte input (48x48x1, above the
    2 KB default that engine_aot.c would refuse at compile time) goes through `tinykd`'s own build and harness."""
    from pipeline.kd.keras import keras
    model = aot_models.keras_tflite(lambda x: keras.layers.Dense(4)(keras.layers.Flatten()(x)), (48, 48, 1))
    run = tmp_path / "run"
    aot_models.aot_run(run, model, 5)
    report = validate_in("host", run, tmp_path / "host")
    assert report["samples"] == 5 and report["mismatched_outputs"] == 0


def test_validate_on_an_emulator_compiles_a_run_that_was_quantized_but_never_compiled(tiny_int8, tmp_path):
    """Stages run one by one (distill, quantize, export) leave no aot/: `validate --emulator` compiles it the way
    `tinykd run` would instead of asking for a --model-dir."""
    run = tmp_path / "tiny"
    shutil.copytree(tiny_int8.path, run)
    assert not (run / "aot").exists()
    report = validate_in("host", run, tmp_path / "host", limit=5)
    assert report["samples"] == 5 and report["mismatched_outputs"] == 0 and (run / "aot" / "model.c").is_file()
