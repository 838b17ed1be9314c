"""The fast kernels' Cortex-M4 DSP path (SMLAD, SXTAB16, SMMULR), which the host tests never run: whole models
compiled, built for qemu-cm4 and validated in QEMU against the TFLite Micro runtime, bit for bit."""
import shutil
import subprocess

import numpy as np
import pytest

from aot_models import mlperf, student
from pipeline import harness
from pipeline.compiler import compile_model
from pipeline.tflm import run as tflm_run

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None,
                                 reason="needs qemu-system-arm and gcc-arm-none-eabi (make install)")]

MODELS = {"digits_student": (lambda: student("dsconv"), 100), "ds_cnn": (lambda: mlperf("ds_cnn"), 50)}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_dsp_kernels_are_bit_exact_with_tflm_in_qemu(name, tmp_path):
    make, samples = MODELS[name]
    model = make()
    run = tmp_path / "run"
    run.mkdir()
    (run / harness.MODEL_FILE).write_bytes(model)
    compiled = compile_model(model)
    compiled.write(run / "aot")
    assert "_fast_s8(" in compiled.source  # the fast kernels are what runs
    x = np.random.default_rng(5).integers(-128, 128, (samples, *compiled.input_shape[1:]), dtype=np.int8)
    y = tflm_run(model, x)  # (samples, *output) int8
    np.savez(run / harness.GOLDEN_FILE, inputs=x, outputs=y, labels=np.argmax(y.reshape(samples, -1), axis=1))
    report = harness.validate_on_emulator("qemu", run, run / "aot", progress=False, build_dir=tmp_path / "build")
    assert report["samples"] == samples and report["mismatched_outputs"] == 0, report["first_mismatches"]
    # the image really holds the DSP inner loops (not the portable ones)
    disassembly = subprocess.run(["arm-none-eabi-objdump", "-d", str(tmp_path / "build" / "firmware.elf")],
                                 capture_output=True, text=True, check=True).stdout
    assert "smlad" in disassembly and "smmulr" in disassembly and "sxtab16" in disassembly
