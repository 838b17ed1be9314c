"""The structs the kernels' assembly reads at fixed byte offsets are checked at compile time (TK_ASM_OFFSET in
tk_arch.h, beside each struct): a copy of the kernels with a field inserted, or two fields swapped, must fail to
compile for the Cortex-M4 with a message naming the field that moved; the unchanged copy compiles (C99,
-pedantic -Werror: the checks themselves are clean C99 for GCC)."""
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from pipeline.compiler.codegen import KERNELS_DIR
from test_board_builds import ARM_GCC, MBED_FLAGS, WARNINGS

pytestmark = pytest.mark.skipif(ARM_GCC is None, reason="needs gcc-arm-none-eabi (make install)")

# struct the assembly reads: (the file that defines it, a kernel source whose assembly reads it)
STRUCTS = {"tk_pair_job": ("tk_fast.h", "tk_conv_fast.c"), "tk_dw_job": ("tk_fast.h", "tk_depthwise_fast.c"),
           "tk_dw3_job": ("tk_depthwise_3x3.c", "tk_depthwise_3x3.c"),
           "tk_dw3_fill": ("tk_depthwise_3x3.c", "tk_depthwise_3x3.c"),
           "tk_fc8_job": ("tk_fully_connected_fast.c", "tk_fully_connected_fast.c")}
FIELD = re.compile(r"^\s+[\w\s*]*?\**(\w+)(\[\d+\])?;")


def _kernels(tmp_path: Path) -> Path:
    copy = tmp_path / "tinykd_kernels"
    shutil.copytree(KERNELS_DIR, copy)
    return copy


def _fields(text: str, struct: str) -> tuple[int, int, list[int]]:
    """Where the struct's body starts and ends in `text`, and the indices of its field lines."""
    end = text.index(f"\n}} {struct};")
    start = text.rindex("typedef struct {\n", 0, end) + len("typedef struct {\n")
    lines = text[start:end].split("\n")
    return start, end, [i for i, line in enumerate(lines) if FIELD.match(line)]


def _mutate(text: str, struct: str, how: str) -> tuple[str, str]:
    """`text` with the struct's first field preceded by a new one, or its last two fields swapped; and the name
    of a field that moves."""
    start, end, fields = _fields(text, struct)
    lines = text[start:end].split("\n")
    if how == "insert":
        moved = FIELD.match(lines[fields[0]]).group(1)
        lines.insert(fields[0], "    int32_t inserted;")
    else:
        a, b = fields[-2], fields[-1]
        moved = FIELD.match(lines[a]).group(1)
        lines[a], lines[b] = lines[b], lines[a]
    return text[:start] + "\n".join(lines) + text[end:], moved


def _compile(kernels: Path, source: str) -> subprocess.CompletedProcess:
    return subprocess.run([ARM_GCC, *MBED_FLAGS, "-std=c99", "-pedantic", *WARNINGS, f"-I{kernels / 'include'}",
                           "-fsyntax-only", str(kernels / "src" / source)], capture_output=True, text=True)


def test_every_struct_is_checked_field_by_field():
    """Each field of each struct has its TK_ASM_OFFSET (the guard covers the whole layout, not a sample)."""
    for struct, (defined_in, _) in STRUCTS.items():
        text = (KERNELS_DIR / "src" / defined_in).read_text()
        start, end, fields = _fields(text, struct)
        lines = text[start:end].split("\n")
        names = [FIELD.match(lines[i]).group(1) for i in fields]
        checked = re.findall(rf"TK_ASM_OFFSET\({struct}, (\w+), \d+\);", text)
        assert checked == names, f"{struct}: fields {names}, checked {checked}"


@pytest.mark.parametrize("source", sorted({source for _, source in STRUCTS.values()}))
def test_the_unchanged_kernels_compile(source, tmp_path):
    result = _compile(_kernels(tmp_path), source)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("how", ["insert", "swap"])
@pytest.mark.parametrize("struct", sorted(STRUCTS))
def test_a_moved_field_fails_the_build(struct, how, tmp_path):
    defined_in, source = STRUCTS[struct]
    kernels = _kernels(tmp_path)
    path = kernels / "src" / defined_in
    text, moved = _mutate(path.read_text(), struct, how)
    path.write_text(text)
    result = _compile(kernels, source)
    assert result.returncode != 0, f"{struct} still compiles with a field moved ({how})"
    assert f"{struct}.{moved} moved: the assembly reads it at byte" in result.stderr, result.stderr
