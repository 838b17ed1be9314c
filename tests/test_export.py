"""Export: the C array round trip (g++), the op resolver against the flatbuffer, the arena, the I/O header,
the board budget, and bad input (each one line, exit 2, nothing written)."""
from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pytest

from conftest import invoke, snapshot
from pipeline.int8 import tflm
from pipeline.errors import PipelineError
from pipeline.targets import FLASH_PER_OP, TFLM_CORE_FLASH, board_profile, check_budget
from pipeline.int8.tflite_file import io_tensors, quantization, read_model, used_ops

needs_gcc = pytest.mark.skipif(shutil.which("g++") is None, reason="g++ is not installed (make apt installs it)")

DUMP_MAIN = r"""
#include <cstdint>
#include <cstdio>
#include "model_data.h"
int main() {
  std::printf("%u %u\n", g_model_len, static_cast<unsigned>(reinterpret_cast<std::uintptr_t>(g_model) % 16));
  std::fwrite(g_model, 1, g_model_len, stdout);
  return 0;
}
"""

HEADERS_MAIN = r"""
#include <stdio.h>
#include "model_data.h"
#include "model_io.h"
#include "model_arena.h"
int main(void) {
  printf("%u %d %d %.9g %d %.9g %d %u %u %d\n", G_MODEL_LEN, TINYKD_INPUT_RANK, kTinykdInputShape[1],
         (double)TINYKD_INPUT_SCALE, TINYKD_INPUT_ZERO_POINT, (double)TINYKD_OUTPUT_SCALE, TINYKD_OUTPUT_ZERO_POINT,
         TINYKD_INPUT_BYTES, TINYKD_ARENA_SIZE, TINYKD_NUM_CLASSES);
  return 0;
}
"""

# A stand-in for TFLM's resolver: records what is registered and refuses more than N registrations.
RESOLVER_MOCK = r"""
#include <cstdio>
typedef enum { kTfLiteOk = 0, kTfLiteError = 1 } TfLiteStatus;
namespace tflite {
template <unsigned N> class MicroMutableOpResolver {
 public:
  unsigned count = 0;
  const char* names[N > 0 ? N : 1];
  TfLiteStatus Register(const char* name) {
    if (count >= N) return kTfLiteError;
    names[count++] = name;
    return kTfLiteOk;
  }
%METHODS%
};
}  // namespace tflite
"""

RESOLVER_MAIN = r"""
#include <cstdio>
#include "model_ops.h"
int main() {
  tinykd::ModelOpResolver resolver;
  if (tinykd::RegisterModelOps(resolver) != kTfLiteOk) return 1;
  std::printf("%d\n", tinykd::kModelOpCount);
  for (unsigned i = 0; i < resolver.count; ++i) std::printf("%s\n", resolver.names[i]);
  return 0;
}
"""


def _compile_and_run(folder, sources: dict[str, str], compiler: str, flags: list[str]) -> bytes:
    for name, text in sources.items():
        (folder / name).write_text(text)
    binary = folder / "prog"
    main = [folder / name for name in sources if name.endswith((".c", ".cc"))]
    command = [compiler, *flags, "-Wall", "-Wextra", "-Werror", "-I", str(folder), *map(str, main), "-o", str(binary)]
    subprocess.run(command, check=True, capture_output=True)
    return subprocess.run([str(binary)], check=True, capture_output=True).stdout


@needs_gcc
def test_c_array_round_trip_is_byte_exact_and_aligned(tiny_int8, tmp_path):
    shutil.copytree(tiny_int8.export_dir, tmp_path / "src")
    out = _compile_and_run(tmp_path / "src", {"dump.cc": DUMP_MAIN, "model_data.cc":
                                              (tmp_path / "src" / "model_data.cc").read_text()},
                           "g++", ["-std=c++17", "-O0"])
    header, data = out.split(b"\n", 1)
    length, misalignment = map(int, header.split())
    model = tiny_int8.model.read_bytes()
    assert length == len(model) and misalignment == 0
    assert data == model


def test_generated_files_carry_the_banner_and_fixed_line_width(tiny_int8):
    sha = tiny_int8.quantize and __import__("hashlib").sha256(tiny_int8.model.read_bytes()).hexdigest()
    for file in tiny_int8.export_dir.iterdir():
        text = file.read_text()
        assert sha in text and "Do not edit" in text and "tinykd 0.1.0" in text, file.name
        if file.suffix == ".h":
            guard = re.search(r"#ifndef (\w+)\n#define \1\n", text)
            assert guard and text.rstrip().endswith(f"#endif  // {guard.group(1)}"), file.name
    rows = [line for line in (tiny_int8.export_dir / "model_data.cc").read_text().splitlines()
            if line.startswith("    0x")]
    assert all(row.count("0x") == 12 for row in rows[:-1]) and 1 <= rows[-1].count("0x") <= 12
    assert "alignas(16) const unsigned char g_model" in (tiny_int8.export_dir / "model_data.cc").read_text()


@needs_gcc
def test_resolver_registers_exactly_the_models_ops(tiny_int8, tmp_path):
    text = (tiny_int8.export_dir / "model_ops.h").read_text()
    methods = re.findall(r"resolver\.(Add\w+)\(\)", text)
    mock = RESOLVER_MOCK.replace("%METHODS%", "\n".join(
        f'  TfLiteStatus {m}() {{ return Register("{m}"); }}' for m in sorted(set(methods))))
    src = tmp_path / "src"
    shutil.copytree(tiny_int8.export_dir, src)
    (src / "tensorflow" / "lite" / "micro").mkdir(parents=True)
    (src / "tensorflow" / "lite" / "micro" / "micro_mutable_op_resolver.h").write_text(mock)
    out = _compile_and_run(src, {"resolve.cc": RESOLVER_MAIN}, "g++", ["-std=c++17"]).decode().split()
    count, registered = int(out[0]), out[1:]
    ops = used_ops(read_model(tiny_int8.model))  # the oracle: every operator of the flatbuffer
    normalize = lambda name: name.replace("_", "").lower()
    assert count == len(ops) == len(registered) == len(set(registered))
    assert sorted(normalize(m[3:]) for m in registered) == sorted(normalize(op) for op in ops)


@needs_gcc
def test_io_and_arena_headers_match_the_flatbuffer_in_c(tiny_int8, tmp_path):
    shutil.copytree(tiny_int8.export_dir, tmp_path / "src")
    out = _compile_and_run(tmp_path / "src", {"io.c": HEADERS_MAIN}, "gcc", ["-std=c99"]).decode().split()
    model = read_model(tiny_int8.model)
    q_in = quantization(io_tensors(model, "inputs")[0])
    q_out = quantization(io_tensors(model, "outputs")[0])
    assert int(out[0]) == tiny_int8.model.stat().st_size
    assert int(out[1]) == 4 and int(out[2]) == 8
    assert float(out[3]) == pytest.approx(q_in["scale"][0], rel=1e-7) and int(out[4]) == q_in["zero_point"][0]
    assert float(out[5]) == pytest.approx(q_out["scale"][0], rel=1e-7) and int(out[6]) == q_out["zero_point"][0]
    assert int(out[7]) == 64 and int(out[8]) == tiny_int8.export["arena_size"] and int(out[9]) == 10


def test_recorded_arena_is_the_real_minimum(tiny_int8):
    measured = tiny_int8.export["arena_measured"]
    assert tflm.arena_works(tiny_int8.model, measured)[0]
    assert not tflm.arena_works(tiny_int8.model, int(measured * 0.95))[0]
    assert not tflm.arena_works(tiny_int8.model, measured - 1)[0]
    assert tiny_int8.export["arena_size"] >= measured + 256 and tiny_int8.export["arena_size"] % 16 == 0
    assert "32-bit target" in (tiny_int8.export_dir / "model_arena.h").read_text()


def test_budget_fails_with_numbers_and_shortfall():
    board = board_profile("nano33ble")
    code = TFLM_CORE_FLASH + 2 * FLASH_PER_OP + board.platform_flash
    with pytest.raises(PipelineError, match=f"short by {(1 << 20) + code:,} B") as error:
        check_budget(board, model_bytes=board.flash_bytes + (1 << 20), arena_bytes=1000, op_count=2)
    assert "nano33ble" in str(error.value) and f"{board.flash_bytes:,}" in str(error.value)
    assert check_budget(board_profile("qemu-cm4", "esp32"), model_bytes=500_000, arena_bytes=100_000,
                        op_count=5)["flash_budget"] == board_profile("esp32").flash_bytes


def _keras_tflite(tmp_path, name, build, int8: bool):
    from pipeline.kd.keras import keras, tf
    model = build(keras)
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if int8:
        shape = model.input_shape[1:]
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([np.random.default_rng(i).random((1, *shape), np.float32)]
                                                     for i in range(4))
        converter.inference_input_type = converter.inference_output_type = tf.int8
    path = tmp_path / name
    path.write_bytes(converter.convert())
    return path


def _bad_export(tmp_path, tiny_int8, model, *extra):
    """Export `model` into a folder inside the run; assert one-line error, exit 2, nothing written anywhere."""
    before, before_run = snapshot(tmp_path), snapshot(tiny_int8.path)
    result = invoke("export", "--config", tiny_int8.config_file, "--model", model,
                    "--out", tiny_int8.path / "export-bad", *extra)
    assert result.exit_code == 2, result.output
    assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith("error: ")
    assert snapshot(tmp_path) == before and snapshot(tiny_int8.path) == before_run
    return result.stderr


def test_model_too_big_for_the_board(tiny_int8, tmp_path):
    # One conv over a 128x128 image: a 256 KB int8 activation, more than the Nano 33 BLE's RAM.
    big = _keras_tflite(tmp_path, "big.tflite", lambda k: k.Sequential(
        [k.Input((128, 128, 1)), k.layers.Conv2D(16, 3, padding="same")]), int8=True)
    message = _bad_export(tmp_path, tiny_int8, big, "--board", "nano33ble")
    assert "nano33ble" in message and "short by" in message and "262,144" in message


def test_float_model_where_int8_is_required(tiny_int8, tmp_path):
    float_model = _keras_tflite(tmp_path, "float.tflite", lambda k: k.Sequential(
        [k.Input((4,)), k.layers.Dense(3)]), int8=False)
    message = _bad_export(tmp_path, tiny_int8, float_model)
    assert "float.tflite" in message and "FLOAT32" in message and "int8" in message


def test_not_a_flatbuffer_and_truncated(tiny_int8, tmp_path):
    text = tmp_path / "notes.tflite"
    text.write_text("this is a text file, not a model\n")
    assert "notes.tflite" in _bad_export(tmp_path, tiny_int8, text)
    cut = tmp_path / "cut.tflite"
    cut.write_bytes(tiny_int8.model.read_bytes()[:3000])
    message = _bad_export(tmp_path, tiny_int8, cut)
    assert "cut.tflite" in message and "truncated" in message and "3000 bytes" in message


def test_export_of_a_run_without_int8_model_says_quantize_first(tmp_path):
    result = invoke("export", "--run", "no-such-run")
    assert result.exit_code == 2 and "no-such-run" in result.stderr and "tinykd quantize" in result.stderr


@pytest.mark.parametrize("spelling", [["--target", "qemu-cm4", "--board", "esp32"],
                                      ["--board", "qemu-cm4", "--stand-in", "esp32"]])  # the old one still works
def test_emulator_takes_the_budget_of_the_board_it_stands_in_for(tiny_int8, tmp_path, spelling):
    result = invoke("export", "--config", tiny_int8.config_file, "--model", tiny_int8.model, "--out", tmp_path / "out",
                    *spelling)
    assert result.exit_code == 0, result.output
    assert "qemu-cm4" in result.stdout and f"/{board_profile('esp32').flash_bytes:,} B" in result.stdout
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(tiny_int8.export["files"])
    assert (tmp_path / "out" / "model_data.cc").read_text() == (tiny_int8.export_dir / "model_data.cc").read_text()


def test_export_of_a_run_to_out_writes_there_and_leaves_the_run_alone(tiny_int8, tmp_path):
    """--out with a run's own model: the files go to --out; the run's export/ and manifest stay as they were."""
    before = snapshot(tiny_int8.path)
    result = invoke("export", "--config", tiny_int8.config_file, "--out", tmp_path / "elsewhere", "--force")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "elsewhere").iterdir()) == sorted(tiny_int8.export["files"])
    arena_header = (tiny_int8.export_dir / "model_arena.h").read_text()
    assert (tmp_path / "elsewhere" / "model_arena.h").read_text() == arena_header
    assert snapshot(tiny_int8.path) == before


def test_a_model_file_name_with_a_newline_keeps_the_banner_one_comment_line(tmp_path):
    """The banner's // comment names the model file: as a C string (pipeline/int8/carray.c_string), so a newline or
    a trailing backslash in the name cannot end the comment or splice the next line into it."""
    from pipeline.int8.carray import model_data_files
    files = model_data_files(b"\x00" * 20, source="evil\nint x = 1; \\")
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    assert files["model_data.h"].splitlines()[0] == '// Generated by tinykd 0.1.0 from "evil\\012int x = 1; \\\\".'
    done = subprocess.run(["g++", "-std=c++17", "-fsyntax-only", "-Wall", "-Wextra", "-Werror",
                           str(tmp_path / "model_data.cc")], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
