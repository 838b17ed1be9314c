"""The audio front end built for the Cortex-M4 (arm-none-eabi-gcc, the firmware's flags) and run in QEMU
mps2-an386 gives the host build's features bit for bit (int8 features and Q12 log2 energies) on random audio,
silence, full-scale clipping, DC offset, tones and noise; and its cost per clip is bounded."""
import importlib.util
import shutil
from pathlib import Path

import numpy as np
import pytest

from pipeline.audio.frontend import features

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None,
                                 reason="needs qemu-system-arm and gcc-arm-none-eabi (make install)")]


def bench_module():
    spec = importlib.util.spec_from_file_location("bench_frontend",
                                                  Path(__file__).parents[1] / "bench" / "frontend.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_qemu_features_are_bit_identical_to_the_host(tmp_path):
    from test_frontend import clips
    bench = bench_module()
    named = clips(seed=3)
    rng = np.random.default_rng(11)
    pcm = np.concatenate([np.stack(list(named.values())),  # random int16, silence, clipping, DC, tones, noise
                          rng.integers(-32768, 32768, (2, 16000)).astype(np.int16)])
    device = bench.run_in_qemu(bench.build_firmware(tmp_path), pcm, tmp_path)
    host_q, host_levels = features(pcm, log_mel=True)
    for i, name in enumerate([*named, "random_a", "random_b"]):
        np.testing.assert_array_equal(device["features"][i], host_q[i], err_msg=name)
        np.testing.assert_array_equal(device["levels"][i], host_levels[i], err_msg=name)
    instructions = device["ticks"] / bench.TICKS_PER_INSTRUCTION
    silent = [i for i, name in enumerate(named) if name in ("silence", "dc_only")]
    busy = np.delete(instructions, silent)
    # a clip costs ~4.2 M instructions (bench/results/frontend.json); a constant one skips the FFT
    assert 3e6 < busy.min() <= busy.max() < 8e6 and busy.max() / busy.min() < 1.05, busy
    assert instructions[silent].max() < 0.2 * busy.min()
