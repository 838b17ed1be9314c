"""`tinykd export --library`: the run's model as a CMake C library. Built on the host with the system compiler and
run over the real test set (raw sensor values, sktime's BasicMotions): preprocessing bit-exact with the host path,
outputs bit-exact with TFLM; two models link into one program; bad names and folders are one line."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import sensor_sets
from conftest import _root_config, invoke, snapshot
from pipeline.int8 import tflm
from pipeline.config import load_config
from pipeline.kd.data import load_dataset
from test_hostile_inputs import one_line_error



def setup_module():
    assert shutil.which("cmake"), "cmake is missing: `make install` installs it (APT_PACKAGES)"


@pytest.fixture(scope="module")
def imu_run(tmp_path_factory):
    """(config, run folder, raw npz): a short PTQ run on BasicMotions (4 classes, 100 x 6 accelerometer+gyro)."""
    root = tmp_path_factory.mktemp("lib")
    data = sensor_sets.write_npz("BasicMotions", root / "imu.npz")
    config = _root_config(root)
    for command in (["distill", "--teacher-epochs", "10", "--epochs", "20"], ["quantize", "--mode", "ptq"]):
        result = invoke(*command, "--config", config, "--run", "imu", "--dataset", data, "--layout", "series")
        assert result.exit_code == 0, result.output
    return config, root / "imu", data


def _cmake_build(source: Path, build: Path, *options: str) -> None:
    for command in (["cmake", "-S", str(source), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release",
                     "-DCMAKE_C_FLAGS=-Wall -Wextra -Werror", *options],
                    ["cmake", "--build", str(build), "-j", "2"]):
        done = subprocess.run(command, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def test_the_cmake_library_preprocesses_and_infers_bit_exactly_on_the_real_test_set(imu_run, tmp_path):
    config, run, data = imu_run
    result = invoke("export", "--config", config, "--run", "imu", "--library", "--name", "imu_model")
    assert result.exit_code == 0, result.output
    library = run / "library" / "cmake" / "imu_model"
    _cmake_build(library, tmp_path / "build", "-DIMU_MODEL_EXAMPLE=ON")

    with np.load(data) as f:
        raw = f["x_test"].astype(np.float32)  # (40, 100, 6) raw sensor values, as the device reads them
    (tmp_path / "raw.bin").write_bytes(raw.tobytes())
    done = subprocess.run([str(tmp_path / "build" / "imu_model_example"), str(tmp_path / "raw.bin"),
                           str(tmp_path / "out.bin")], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and f"{len(raw)} samples" in done.stderr, done.stderr
    per_sample = raw[0].size + 4  # int8 input, then 4 int8 scores
    got = np.frombuffer((tmp_path / "out.bin").read_bytes(), np.int8).reshape(len(raw), per_sample)

    cfg = load_config(config, {"run": {"name": "imu"}, "data": {"dataset": str(data), "layout": "series"}})
    model = (run / "student_int8.tflite").read_bytes()
    io = tflm.io_details(model)
    host_inputs = tflm.quantize_input(load_dataset(cfg.data, cfg.run.seed).x_test, io["input"]["scale"],
                                      io["input"]["zero_point"])
    np.testing.assert_array_equal(got[:, :raw[0].size], host_inputs.reshape(len(raw), -1))  # preprocessing
    np.testing.assert_array_equal(got[:, raw[0].size:], tflm.run(model, host_inputs).reshape(len(raw), -1))


def test_two_models_link_into_one_program(imu_run, tmp_path):
    config, run, _ = imu_run
    for name in ("left", "right"):
        assert invoke("export", "--config", config, "--run", "imu", "--library", "--name", name,
                      "--format", "cmake", "--out", tmp_path / name).exit_code == 0
    (tmp_path / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.13)\nproject(two C)\nadd_subdirectory(left)\nadd_subdirectory(right)\n"
        "add_executable(two main.c)\ntarget_link_libraries(two PRIVATE left right)\n")
    (tmp_path / "main.c").write_text(
        '#include <stdio.h>\n#include "left.h"\n#include "right.h"\n'
        "int main(void) {\n  float raw[LEFT_RAW_VALUES] = {0};\n  int8_t a[LEFT_INPUT_BYTES], b[RIGHT_INPUT_BYTES];\n"
        "  int8_t ya[LEFT_OUTPUT_BYTES], yb[RIGHT_OUTPUT_BYTES];\n"
        "  left_preprocess(raw, a); right_preprocess(raw, b);\n"
        "  if (left_invoke(a, ya) || right_invoke(b, yb)) return 1;\n"
        '  printf("%s %s\\n", left_class_names[left_argmax(ya)], right_class_names[right_argmax(yb)]);\n'
        "  return left_argmax(ya) != right_argmax(yb);\n}\n")
    _cmake_build(tmp_path, tmp_path / "build")
    done = subprocess.run([str(tmp_path / "build" / "two")], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("name", ["int", "9lives", "tk_model", "Upper", "has-dash", "x" * 32])
def test_a_name_that_is_not_a_c_identifier_is_one_line(name, imu_run, tmp_path):
    config, _, _ = imu_run
    one_line_error(invoke("export", "--config", config, "--run", "imu", "--library", "--name", name,
                          "--out", tmp_path / "lib"), repr(name), "C identifier")
    assert not (tmp_path / "lib").exists()


def test_a_folder_that_is_not_ours_is_never_overwritten(imu_run, tmp_path):
    config, _, _ = imu_run
    theirs = tmp_path / "firmware"
    theirs.mkdir()
    (theirs / "main.c").write_text("int main(void) { return 0; }\n")
    before = snapshot(theirs)
    ours = ["export", "--config", config, "--run", "imu", "--library", "--format", "cmake"]
    one_line_error(invoke(*ours, "--out", theirs), "is not a library tinykd wrote")
    assert snapshot(theirs) == before
    assert invoke(*ours, "--out", tmp_path / "ours").exit_code == 0
    assert invoke(*ours, "--out", tmp_path / "ours").exit_code == 0  # ours: replaced
    one_line_error(invoke("export", "--config", config, "--run", "imu", "--library", "--out", tmp_path / "x"),
                   "--out takes one library format")


def test_a_run_without_an_int8_model_is_one_line(tiny_run, tmp_path):
    shutil.copytree(tiny_run, tmp_path / "float")
    one_line_error(invoke("export", "--config", _root_config(tmp_path), "--run", "float", "--library"),
                   "has no int8 model", "tinykd quantize")


ARDUINO_CATEGORIES = {"Display", "Communication", "Signal Input/Output", "Sensors", "Device Control", "Timing",
                      "Data Storage", "Data Processing", "Other"}  # the Arduino library specification, 1.5 format
ARDUINO_FIELDS = {"name", "version", "author", "maintainer", "sentence", "paragraph", "category", "url",
                  "architectures"}


def test_the_zip_is_an_arduino_library_and_library_json_a_platformio_manifest(imu_run, tmp_path):
    import zipfile

    from platformio.package.manifest.parser import ManifestFileType, ManifestParserFactory
    from platformio.package.manifest.schema import ManifestSchema
    config, _, _ = imu_run
    for fmt in ("arduino", "platformio"):
        assert invoke("export", "--config", config, "--run", "imu", "--library", "--name", "imu", "--format", fmt,
                      "--out", tmp_path / fmt / "imu").exit_code == 0
    names = zipfile.ZipFile(tmp_path / "arduino" / "imu.zip").namelist()
    assert all(n.startswith("imu/") for n in names)  # one top folder, named like the library
    assert {"imu/library.properties", "imu/src/imu.h", "imu/src/imu.c", "imu/src/tinykd_kernels.h",
            "imu/examples/classify/classify.ino"} <= set(names)
    text = zipfile.ZipFile(tmp_path / "arduino" / "imu.zip").read("imu/library.properties").decode()
    props = dict(line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))
    assert ARDUINO_FIELDS <= set(props) and props["name"] == "imu" and props["category"] in ARDUINO_CATEGORIES
    assert re.fullmatch(r"\d+\.\d+\.\d+", props["version"]) and props["includes"] == "imu.h"
    for file, kind in ((tmp_path / "arduino" / "imu" / "library.properties", ManifestFileType.LIBRARY_PROPERTIES),
                       (tmp_path / "platformio" / "imu" / "library.json", ManifestFileType.LIBRARY_JSON)):
        manifest = ManifestSchema().load_manifest(ManifestParserFactory.new(file.read_text(), kind).as_dict())
        assert manifest["name"] == "imu" and manifest["version"] == props["version"]


@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="needs gcc-arm-none-eabi (make install)")
def test_the_arduino_library_and_its_sketch_compile_under_the_nano_33_ble_flags(imu_run, tmp_path):
    """Every source of the zip with arm-none-eabi-gcc under the flags PlatformIO passes for the Nano 33 BLE, -Werror,
    as GCC 7 sees it (PlatformIO's toolchain: inline-asm wrappers) and as a GCC with the ACLE intrinsics sees it
    (newer toolchains: the renamed kernels must not clash with the intrinsic macros); the sketch as C++ against a
    stand-in Arduino.h."""
    import zipfile

    from test_board_builds import STUBS, WARNINGS, _compile
    config, _, _ = imu_run
    assert invoke("export", "--config", config, "--run", "imu", "--library", "--name", "imu", "--format", "arduino",
                  "--out", tmp_path / "imu").exit_code == 0
    zipfile.ZipFile(tmp_path / "imu.zip").extractall(tmp_path / "unzipped")
    src = tmp_path / "unzipped" / "imu" / "src"
    for source in sorted(src.glob("*.c")):
        for like_gcc7 in (True, False):  # STUBS holds GCC 7's empty arm_acle.h
            _compile(source, tmp_path / f"{source.stem}.o", [STUBS, src] if like_gcc7 else [src], WARNINGS,
                     like_gcc7=like_gcc7)
    sketch = tmp_path / "classify.cpp"  # what the Arduino builder makes of an .ino
    sketch.write_text("#include <Arduino.h>\n" + (src.parent / "examples" / "classify" / "classify.ino").read_text())
    _compile(sketch, tmp_path / "classify.o", [STUBS, src], WARNINGS)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None,
                    reason="needs qemu-system-arm and gcc-arm-none-eabi (make install)")
def test_the_library_runs_bit_exact_with_tflm_on_a_cortex_m4_in_qemu(imu_run, tmp_path):
    """The library's own model code (imu_invoke in imu_model.c) linked into the QEMU firmware through the AOT
    engine adapter (a model.h that maps its contract onto the library's names), then the run's test set streamed
    through it: every output equals TFLM's on the host."""
    from pipeline.device import emulator, session
    from pipeline.device.build import build
    config, run, _ = imu_run
    assert invoke("export", "--config", config, "--run", "imu", "--library", "--name", "imu", "--format", "cmake",
                  "--out", tmp_path / "imu").exit_code == 0
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    for file in ("src/imu.c", "include/imu.h", "include/imu_model.h"):
        shutil.copy(tmp_path / "imu" / file, model_dir)
    shutil.copy(tmp_path / "imu" / "src" / "imu_model.c", model_dir / "model.c")  # the build's name for it
    header = (model_dir / "imu_model.h").read_text()
    (model_dir / "model.h").write_text(  # engine_aot.c's contract, the values of the library's header
        '#include "imu_model.h"\n' + "".join(f"#define TK_MODEL_{key} {value}\n" for key, value in
                                             re.findall(r"#define IMU_MODEL_(\w+) (.+)", header))
        + "#define tk_model_invoke imu_invoke\n")
    firmware = build("qemu-cm4", model_dir, out_dir=tmp_path / "build")
    report = session.validate_emulated(emulator.qemu(firmware.elf), run, progress=False)
    assert report["samples"] == 40 and report["mismatched_outputs"] == 0, report["first_mismatches"]


@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="needs gcc-arm-none-eabi (make install)")
def test_two_arduino_libraries_link_into_one_sketch(imu_run, tmp_path):
    """Arduino and PlatformIO compile every library's sources: each library carries the kernels under its own
    names, so two models link into one Cortex-M4 image, and no object defines a bare tk_ symbol."""
    from test_board_builds import ARM_GCC, MBED_FLAGS, STUBS, WARNINGS, _compile
    config, _, _ = imu_run
    objects = []
    for name in ("left", "right"):
        assert invoke("export", "--config", config, "--run", "imu", "--library", "--name", name, "--format",
                      "arduino", "--out", tmp_path / name).exit_code == 0
        src = tmp_path / name / "src"
        objects += [_compile(c, tmp_path / f"{name}_{c.stem}.o", [STUBS, src], WARNINGS)
                    for c in sorted(src.glob("*.c"))]
    main = tmp_path / "main.c"
    main.write_text('#include "left.h"\n#include "right.h"\n'
                    "int main(void) {\n  static float raw[LEFT_RAW_VALUES];\n"
                    "  static int8_t x[LEFT_INPUT_BYTES], y[LEFT_OUTPUT_BYTES];\n  left_preprocess(raw, x);\n"
                    "  return left_invoke(x, y) | right_invoke(x, y);\n}\n")
    includes = [STUBS, tmp_path / "left" / "src", tmp_path / "right" / "src"]
    objects.append(_compile(main, tmp_path / "main.o", includes, WARNINGS))
    link = subprocess.run([ARM_GCC, *MBED_FLAGS, "--specs=nosys.specs", *map(str, objects), "-o",
                           str(tmp_path / "two.elf")], capture_output=True, text=True)
    assert link.returncode == 0, link.stderr[-3000:]
    symbols = subprocess.run(["arm-none-eabi-nm", "-g", "--defined-only", *map(str, objects)], capture_output=True,
                             text=True, check=True).stdout.split()
    assert not [s for s in symbols if s.startswith("tk_")]
    assert "left_tk_conv2d_s8" in symbols and "right_tk_conv2d_s8" in symbols


# Class and run names that broke the generated C when only \ and " were escaped: a newline, a tab, a control
# character before a digit, a trigraph (??= is # in C99), non-ASCII, a comment's end.
HOSTILE_NAMES = ["new\nline", 'say "hi"', "back\\slash", "tab\there", "what??=", "café", "\x011", "?", "a*/b", "ok"]
GOLDEN_TFLITE = Path(__file__).parent / "fixtures" / "golden_model" / "student_dsconv.tflite"  # 10 classes


def _named_run(folder: Path) -> Path:
    """A run folder with the checked-in golden model, one golden sample and HOSTILE_NAMES as its class names."""
    from pipeline.runs import Run
    folder.mkdir(parents=True)
    shutil.copy(GOLDEN_TFLITE, folder / "student_int8.tflite")
    shape = tflm.io_details(GOLDEN_TFLITE.read_bytes())["input"]["shape"][1:]
    np.savez(folder / "golden.npz", inputs=np.zeros((1, *shape), np.int8), labels=np.array([0]))
    run = Run(folder)
    run.manifest["data"] = {"class_names": HOSTILE_NAMES}
    run.save()
    return folder


def _gcc(*args: str, cwd: Path) -> str:
    done = subprocess.run(["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_any_class_or_run_name_gives_valid_c_that_prints_it_back(tmp_path):
    """Every byte outside printable ASCII is an octal escape and ? is \\?: gcc (C99, trigraphs on) compiles the
    library warning-free, and a program printing the class names' bytes gets the names' UTF-8 back exactly."""
    from pipeline.device.library import write_library
    run = _named_run(tmp_path / 'my "run"\né')
    lib = write_library(run, tmp_path / "cmake", "names", "cmake")
    _gcc("-fsyntax-only", "-Iinclude", "-Ikernels/include", "src/names.c", "examples/host/main.c", cwd=lib)
    (tmp_path / "print_names.c").write_text(
        '#include <stdio.h>\n#include "names.h"\nint main(void)\n{\n    int k;\n'
        "    for (k = 0; k < NAMES_CLASSES; ++k) {\n"
        "        const unsigned char *byte = (const unsigned char *)names_class_names[k];\n"
        '        while (*byte) printf("%02x", *byte++);\n        printf("\\n");\n    }\n    return 0;\n}\n')
    sources = [str(p.relative_to(lib)) for p in [*(lib / "src").glob("*.c"), *(lib / "kernels" / "src").glob("*.c")]]
    _gcc("-Iinclude", "-Ikernels/include", *sources, str(tmp_path / "print_names.c"), "-lm", "-o",
         str(tmp_path / "print_names"), cwd=lib)
    printed = subprocess.run([str(tmp_path / "print_names")], capture_output=True, text=True, timeout=10).stdout
    assert printed.split() == [name.encode().hex() for name in HOSTILE_NAMES]


def test_any_class_or_run_name_keeps_the_sketch_and_the_manifests_valid(tmp_path):
    """The sketch's comments name the run and a class on one line each (a newline there would end a // comment),
    library.json stays JSON and library.properties one line per field."""
    from pipeline.device.library import write_library
    from pipeline.int8.carray import c_string
    run = _named_run(tmp_path / 'my "run"\né')
    lib = write_library(run, tmp_path / "pio", "names", "platformio")
    sketch = (lib / "examples" / "classify" / "classify.ino").read_text()
    assert c_string(HOSTILE_NAMES[0]) in sketch and c_string(run.name) in sketch
    (tmp_path / "classify.cpp").write_text("#include <Arduino.h>\n" + sketch)
    stubs = Path(__file__).parent / "fixtures" / "arduino_stub"
    done = subprocess.run(["g++", "-fsyntax-only", "-Wall", "-Wextra", "-Werror", f"-I{stubs}", f"-I{lib / 'src'}",
                           str(tmp_path / "classify.cpp")], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads((lib / "library.json").read_text())["description"].startswith(f"The tinykd model of run "
                                                                                     f'"{run.name}"')
    assert all("=" in line for line in (lib / "library.properties").read_text().splitlines())
