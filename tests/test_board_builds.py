"""The board firmware builds with the toolchains PlatformIO pins, as far as this machine can check without `pio`:
the Nano 33 BLE env's sources (app, Arduino port, kernels, a real model) compiled with arm-none-eabi-gcc and the
mbed core's flags against headers shaped like GCC 7.2's (no ACLE DSP intrinsics, no __has_builtin /
__has_attribute: the kernels fall back to inline assembly) and linked with the Arduino symbols stubbed; and the
assembly fallback computes the same bits as the intrinsics, in QEMU."""
import shutil
import subprocess
from pathlib import Path

import pytest

from aot_models import aot_run, keras_tflite, student
from pipeline.device import emulator, session
from pipeline.device.build import build
from pipeline.compiler.codegen import KERNELS_DIR

ROOT = Path(__file__).resolve().parents[1]
STUBS = Path(__file__).parent / "fixtures" / "arduino_stub"
ARM_GCC = shutil.which("arm-none-eabi-gcc")
# What PlatformIO's nordicnrf52 platform passes for the nano33ble board (mbed core): -mfloat-abi=soft comes last.
MBED_FLAGS = ["-Os", "-mcpu=cortex-m4", "-mthumb", "-ffunction-sections", "-fdata-sections", "-mfloat-abi=soft"]
# GCC 7.2 has neither __has_builtin nor the noipa attribute: undefining the feature-test macros takes the kernels
# down the same paths (asm wrappers, optimize("no-ipa-ra")).
GCC7_LIKE = ["-include", str(STUBS / "gcc7_like.h")]
WARNINGS = ["-Wall", "-Wextra", "-Werror"]

pytestmark = pytest.mark.skipif(ARM_GCC is None, reason="needs gcc-arm-none-eabi (make install)")


def _compile(source: Path, out: Path, includes: list[Path], extra: list[str], like_gcc7: bool = True) -> Path:
    """Compile `source` under the mbed core's flags; `like_gcc7=False`: as this GCC sees it (ACLE intrinsics)."""
    cpp = source.suffix == ".cpp"
    command = ["arm-none-eabi-g++" if cpp else ARM_GCC, *MBED_FLAGS[:-1],
               *(["-std=gnu++14", "-fno-rtti", "-fno-exceptions"] if cpp else ["-std=gnu11"]),
               *(GCC7_LIKE if like_gcc7 else []),
               *extra, *[f"-I{i}" for i in includes], MBED_FLAGS[-1], "-c", str(source), "-o", str(out)]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, f"{source.name}:\n{result.stderr}"
    return out


@pytest.mark.slow
def test_nano33ble_firmware_compiles_and_links_like_gcc_7(tmp_path):
    model_dir = tmp_path / "aot"
    aot_run(tmp_path / "run", student("dsconv"), 4)  # a real model through the compiler
    shutil.copytree(tmp_path / "run" / "aot", model_dir)
    includes = [STUBS, ROOT / "firmware" / "src", KERNELS_DIR / "include", model_dir]
    ours = [*sorted((ROOT / "firmware" / "src").glob("*.c")), ROOT / "firmware" / "ports" / "arduino" /
            "platform_arduino.cpp", *sorted((KERNELS_DIR / "src").glob("*.c")), model_dir / "model.c"]
    ours = [s for s in ours if s.name != "engine_tflm.cpp"]
    objects = [_compile(s, tmp_path / f"{s.parent.name}_{s.stem}.o", includes,
                        WARNINGS + ['-DTK_BOARD_NAME="nano33ble"']) for s in ours]
    objects.append(_compile(STUBS / "arduino_stub.cpp", tmp_path / "stub.o", includes, []))
    elf = tmp_path / "firmware.elf"
    link = subprocess.run([ARM_GCC, *MBED_FLAGS, "--specs=nosys.specs", "-Wl,--gc-sections",
                           *map(str, objects), "-o", str(elf)], capture_output=True, text=True)
    assert "undefined reference" not in link.stderr and link.returncode == 0, link.stderr
    disassembly = subprocess.run(["arm-none-eabi-objdump", "-d", str(elf)], capture_output=True, text=True,
                                 check=True).stdout
    assert "smlad" in disassembly and "sxtab16" in disassembly  # the DSP loops, from the asm wrappers


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("qemu-system-arm") is None, reason="needs qemu-system-arm (make install)")
def test_dsp_asm_wrappers_give_the_intrinsics_bits_in_qemu(tmp_path):
    """-DTK_DSP_ASM (what GCC 7 gets) on the model whose layers reach every DSP loop: bit-exact with TFLM."""
    from test_kernels_qemu import kernel_mix
    run = tmp_path / "run"
    aot_run(run, keras_tflite(kernel_mix, (9, 10, 3), seed=3), 40, seed=5)
    firmware = build("qemu-cm4", run / "aot", out_dir=tmp_path / "build", defines={"TK_DSP_ASM": "1"})
    report = session.validate_emulated(emulator.qemu(firmware.elf), run, progress=False)
    assert report["samples"] == 40 and report["mismatched_outputs"] == 0, report["first_mismatches"]


def test_renode_output_goes_to_the_run_log_not_a_pipe(tmp_path, monkeypatch):
    """A stand-in `renode` (prints, then serves the UART port on 127.0.0.1): tinykd passes it the elf, the port and
    the log, reaches the port, and Renode's output lands in the log file instead of a pipe nobody reads."""
    import sys
    fake = tmp_path / "bin" / "renode"
    fake.parent.mkdir()
    fake.write_text(f"""#!{sys.executable}
import socket, sys, time
args = dict(a.split("=", 1) for a in sys.argv[1:] if a.startswith("$"))
print("renode stand-in: elf " + args["$elf"] + "\\n" + "x" * 200000, flush=True)  # more than a pipe buffer
server = socket.create_server(("127.0.0.1", int(args["$port"])))
time.sleep(30)
""")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:{Path(sys.executable).parent}:/usr/bin:/bin")
    elf, log = tmp_path / "firmware.elf", tmp_path / "run" / "renode.log"
    elf.write_bytes(b"\x7fELF")
    log.parent.mkdir()
    with emulator.renode(elf, start_timeout=20, log=log) as emu:
        assert emu.url.startswith("socket://127.0.0.1:")
    assert f"renode stand-in: elf @{elf.resolve()}" in log.read_text()


TFLM_STUB = Path(__file__).parent / "fixtures" / "tflm_stub"
# (compiler, flags) of the two TFLM envs: the Nano's mbed core (gnu++14) and, for the ESP32's Xtensa GCC 8.4
# (gnu++11), the host's g++ under the same language level (no Xtensa compiler here).
TFLM_ENVS = {"nano33ble_tflm": ("arm-none-eabi-g++", [*MBED_FLAGS[:-1], "-std=gnu++14", MBED_FLAGS[-1]]),
             "esp32dev_tflm": ("g++", ["-Os", "-std=gnu++11", "-DARDUINO_ARCH_ESP32"])}


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A real `tinykd export` folder (model_data.h/.cc, model_ops.h, model_arena.h, model_io.h)."""
    from pipeline.config import Config
    from pipeline.int8.export import export
    work = tmp_path_factory.mktemp("export")
    (work / "student_int8.tflite").write_bytes(student("dsconv"))
    export(Config(), model=work / "student_int8.tflite", out=work / "export", log=lambda message: None)
    return work / "export"


@pytest.mark.slow
@pytest.mark.parametrize("env", sorted(TFLM_ENVS))
def test_tflm_engine_compiles_against_the_export(env, exported, tmp_path):
    """engine_tflm.cpp and `tinykd export` share one contract (g_model, g_model_len, TINYKD_MODEL_SHA256,
    tinykd::RegisterModelOps, TINYKD_ARENA_SIZE): the adapter and the exported C array compile together against
    TFLM's API (stand-in headers), under each TFLM env's compiler flags."""
    compiler, flags = TFLM_ENVS[env]
    if shutil.which(compiler) is None:
        pytest.skip(f"needs {compiler}")
    includes = [TFLM_STUB, ROOT / "firmware" / "src", exported]
    for source in (ROOT / "firmware" / "src" / "engine_tflm.cpp", exported / "model_data.cc"):
        result = subprocess.run([compiler, *flags, "-fno-rtti", "-fno-exceptions", *WARNINGS,
                                 *[f"-I{i}" for i in includes], "-c", str(source), "-o",
                                 str(tmp_path / (source.stem + ".o"))], capture_output=True, text=True)
        assert result.returncode == 0, f"{source.name} ({env}):\n{result.stderr}"
    assert 'TINYKD_MODEL_SHA256 "' in (exported / "model_data.h").read_text()


def test_platformio_tflm_envs_read_the_folder_export_writes():
    from platformio.project.config import ProjectConfig
    config = ProjectConfig(str(ROOT / "platformio.ini"))
    for env in TFLM_ENVS:
        assert config.get(f"env:{env}", "custom_model_dir") == "models/digits/export"


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("qemu-system-arm") is None, reason="needs qemu-system-arm (make install)")
def test_a_cpp_engine_with_static_constructors_validates_in_qemu(tmp_path):
    """The QEMU port runs C++ (constructors from .init_array, __dso_handle): a C++ engine double whose state comes
    from a static object's constructor answers bit-exactly through the harness."""
    run = tmp_path / "run"
    aot_run(run, student("dsconv"), 20, seed=2)
    firmware = build("qemu-cm4", run / "aot", out_dir=tmp_path / "build",
                     engine=[Path(__file__).parent / "fixtures" / "cpp_engine" / "engine_cpp.cpp"])
    report = session.validate_emulated(emulator.qemu(firmware.elf), run, progress=False)
    assert report["samples"] == 20 and report["mismatched_outputs"] == 0  # (without constructors: every INFER fails)
