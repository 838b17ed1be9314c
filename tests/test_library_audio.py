"""`tinykd export --library` of a run on front-end features: the library carries the front end, NAME_features(pcm,
input) turns raw int16 clips into the model's input bit-exactly with the host (golden inputs), and NAME_invoke gives
TFLM's outputs; microphone -> class in three calls. The run: a small synthetic keyword set (espeak-ng), its
features, a short distill and PTQ."""
from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

from conftest import _root_config, invoke
from test_library import _cmake_build

pytestmark = pytest.mark.slow

MAIN = """#include <stdio.h>
#include "kws_model.h"
int main(int argc, char **argv) {
  static int16_t pcm[KWS_MODEL_CLIP_SAMPLES];
  int8_t input[KWS_MODEL_INPUT_BYTES], output[KWS_MODEL_OUTPUT_BYTES];
  FILE *in = argc == 3 ? fopen(argv[1], "rb") : 0, *out = argc == 3 ? fopen(argv[2], "wb") : 0;
  int n = 0;
  if (argc != 3 || !in || !out) return 2;
  while (fread(pcm, sizeof pcm, 1, in) == 1) {
    if (kws_model_features(pcm, input) != 0 || kws_model_invoke(input, output) != 0) return 3;
    fwrite(input, 1, sizeof input, out);
    fwrite(output, 1, sizeof output, out);
    ++n;
  }
  fclose(out);
  fprintf(stderr, "%d clips, first: %s\\n", n, kws_model_class_names[kws_model_argmax(output)]);
  return 0;
}
"""


@pytest.fixture(scope="module")
def kws_run(tmp_path_factory):
    """(config, run folder): 12 classes, 10 training / 3 test clips per class, features, distill, PTQ."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("needs espeak-ng (make install)")
    root = tmp_path_factory.mktemp("kwslib")
    config = _root_config(root)
    for command in (["data", "kws", "--out", root / "raw.npz", "--train-per-class", "10", "--test-per-class", "3"],
                    ["data", "features", root / "raw.npz", "--out", root / "features.npz"],
                    ["distill", "--config", config, "--run", "kws", "--dataset", root / "features.npz",
                     "--teacher-epochs", "1", "--epochs", "1", "--width", "4", "--depth", "1"],
                    ["quantize", "--config", config, "--run", "kws", "--dataset", root / "features.npz",
                     "--mode", "ptq"]):
        result = invoke(*command)
        assert result.exit_code == 0, result.output
    return config, root / "kws"


def test_the_library_goes_from_raw_clips_to_classes_bit_exactly(kws_run, tmp_path):
    config, run = kws_run
    result = invoke("export", "--config", config, "--run", "kws", "--library", "--name", "kws_model",
                    "--format", "cmake", "--out", tmp_path / "kws_model")
    assert result.exit_code == 0, result.output
    assert "kws_model_features" in (tmp_path / "kws_model" / "include" / "kws_model.h").read_text()
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "main.c").write_text(MAIN)
    (tmp_path / "app" / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.13)\nproject(mic C)\nadd_subdirectory(../kws_model kws_model)\n"
        "add_executable(mic main.c)\ntarget_link_libraries(mic PRIVATE kws_model)\n")
    _cmake_build(tmp_path / "app", tmp_path / "build")
    with np.load(run / "golden.npz") as golden:
        pcm, inputs, outputs = golden["pcm"], golden["inputs"], golden["outputs"]
    (tmp_path / "pcm.bin").write_bytes(pcm.astype("<i2").tobytes())
    done = subprocess.run([str(tmp_path / "build" / "mic"), str(tmp_path / "pcm.bin"), str(tmp_path / "out.bin")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and f"{len(pcm)} clips" in done.stderr, done.stderr
    per_clip = inputs[0].size + outputs[0].size
    got = np.frombuffer((tmp_path / "out.bin").read_bytes(), np.int8).reshape(len(pcm), per_clip)
    np.testing.assert_array_equal(got[:, :inputs[0].size], inputs.reshape(len(pcm), -1))  # front end + table
    np.testing.assert_array_equal(got[:, inputs[0].size:], outputs.reshape(len(pcm), -1))  # the model


def test_the_arduino_library_carries_the_front_end_under_its_own_names(kws_run, tmp_path):
    config, _ = kws_run
    assert invoke("export", "--config", config, "--run", "kws", "--library", "--name", "kws_model",
                  "--format", "platformio", "--out", tmp_path / "lib").exit_code == 0
    header = (tmp_path / "lib" / "src" / "tk_frontend.h").read_text()
    assert "#define tk_frontend_clip_s16 kws_model_tk_frontend_clip_s16" in header
    sources = [str(p) for p in (tmp_path / "lib" / "src").glob("*.c")]
    done = subprocess.run(["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-c", *sources], cwd=tmp_path,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
