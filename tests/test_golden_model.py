"""The AOT compiler's generated C for one small model, checked in (tests/fixtures/golden_model): the compiler must
write it again to the byte, so every change to what it emits is a reviewed diff. Bit-exactness itself is checked
against TFLM elsewhere (test_compiler.py, test_kernels_qemu.py); this pins the text."""
import difflib
import os
from pathlib import Path

import pytest

from pipeline.compiler import compile_model

REPO = Path(__file__).resolve().parents[1]
GOLDEN = Path("tests") / "fixtures" / "golden_model"  # relative to REPO: the banner names the model by this path
MODEL = GOLDEN / "student_dsconv.tflite"
REGENERATE = f"tinykd compile {MODEL} --out {GOLDEN}"


@pytest.fixture(scope="module")
def compiled():
    cwd = Path.cwd()
    try:
        os.chdir(REPO)
        return compile_model(str(MODEL))
    finally:
        os.chdir(cwd)


@pytest.mark.parametrize("name, text", [("model.c", lambda c: c.source), ("model.h", lambda c: c.header)])
def test_generated_c_is_the_checked_in_golden_file(compiled, name, text):
    golden = (REPO / GOLDEN / name).read_text()
    ours = text(compiled)
    if ours != golden:
        diff = "".join(list(difflib.unified_diff(golden.splitlines(True), ours.splitlines(True),
                                                 f"{GOLDEN / name} (checked in)", f"{name} (compiled now)"))[:60])
        pytest.fail(f"The AOT compiler's {name} for {MODEL} changed. If the change is intended, regenerate the golden "
                    f"files from the repository root with `{REGENERATE}` and commit them; otherwise fix the "
                    f"compiler.\n{diff}", pytrace=False)


def test_the_golden_model_is_the_one_its_readme_names(compiled):
    assert compiled.sha256 in (REPO / GOLDEN / "model.c").read_text()
    assert {"CONV_2D", "DEPTHWISE_CONV_2D", "MAX_POOL_2D", "MEAN", "FULLY_CONNECTED"} <= set(compiled.ops)
    assert REGENERATE in (REPO / GOLDEN / "README.md").read_text()
