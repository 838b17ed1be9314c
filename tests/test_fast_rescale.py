"""The fast kernels' 4-instruction rescale (tk_fast_rescaled: SMMLAR with the accumulator's sign folded into the
nudge) equals TFLM's MultiplyByQuantizedMultiplier + zero point for every accumulator, including the ties and the
small negative accumulators whose product rounds to 0 (where the sign is taken from the accumulator, not the
product). Compiled on the host from the kernels' own headers (the portable SMMULR / SMMLAR)."""
import shutil
import subprocess

import pytest

from pipeline.compiler.codegen import KERNELS_DIR

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")

PROGRAM = r"""
#include <stdio.h>
#include "tk_fast.h"
#include "tk_fixedpoint.h"

int main(void)
{
    static const int32_t multipliers[] = {1073741824, 1073741825, 1518500250, 2147483647, 1234567891};
    long checked = 0, wrong = 0;
    int32_t mi, rs, zp, x;
    for (mi = 0; mi < 5; ++mi) {
        for (rs = 1; rs <= 24; ++rs) {
            for (zp = -128; zp <= 127; zp += 51) {
                const int32_t m = multipliers[mi];
                const int32_t quant[3] = {m, rs, (1 << (rs - 1)) + zp * (1 << rs)};
                for (x = -70000; x <= 70000; x += (x > -300 && x < 300) ? 1 : 37) {
                    const int32_t want = tk_requantize(x, m, -rs) + zp;
                    const int32_t got = tk_fast_rescaled(2 * x, quant);
                    checked += 1;
                    wrong += got != want;
                }
            }
        }
    }
    printf("%ld %ld\n", checked, wrong);
    return 0;
}
"""


def test_fast_rescale_equals_tflm(tmp_path):
    source, binary = tmp_path / "rescale.c", tmp_path / "rescale"
    source.write_text(PROGRAM)
    subprocess.run(["gcc", "-std=c99", "-O2", "-Wall", "-Werror", f"-I{KERNELS_DIR / 'include'}",
                    f"-I{KERNELS_DIR / 'src'}", str(source), str(KERNELS_DIR / "src" / "tk_fixedpoint.c"),
                    "-o", str(binary)], check=True)
    checked, wrong = map(int, subprocess.run([str(binary)], capture_output=True, text=True,
                                             check=True).stdout.split())
    assert checked > 1_000_000 and wrong == 0
