"""The AOT compiler's output in the firmware: a digits-shaped student, compiled to C, validated in QEMU and on
the host port against the TFLite Micro runtime, bit for bit. (Random weights: this checks exactness, not accuracy.)
Skipped until the AOT compiler (pipeline.compiler) is in the tree."""
import shutil

import numpy as np
import pytest

compiler = pytest.importorskip("pipeline.compiler")
aot_models = pytest.importorskip("aot_models")

from pipeline import harness  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.mark.skipif(shutil.which("qemu-system-arm") is None, reason="needs qemu-system-arm (make install)")
def test_compiled_student_is_bit_exact_with_tflm_in_qemu_and_on_the_host(tmp_path):
    from sklearn.datasets import load_digits

    from pipeline.tflm import run as tflm_run
    model = aot_models.student("dsconv")  # int8 .tflite, input (1, 8, 8, 1), 10 classes
    run = tmp_path / "run"
    run.mkdir()
    (run / "student_int8.tflite").write_bytes(model)
    compiler.compile_model(str(run / "student_int8.tflite")).write(run / "aot")
    digits = load_digits()
    x = np.clip(np.round(digits.images[:100] / 16 * 255) - 128, -128, 127).astype(np.int8)[..., None]  # (100,8,8,1)
    np.savez(run / "golden.npz", inputs=x, outputs=tflm_run(model, x), labels=digits.target[:100])
    for emulator in ("qemu", "host"):
        report = harness.validate_on_emulator(emulator, run, run / "aot", progress=False,
                                              build_dir=tmp_path / emulator)
        assert report["samples"] == 100 and report["mismatched_outputs"] == 0, emulator
    assert report["device"]["model_sha256_prefix"] == compiler.compile_model(model).sha256[:16]
