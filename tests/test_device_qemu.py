"""The Cortex-M4 firmware in QEMU mps2-an386: build, validate bit for bit, exit by itself, budgets, icount."""
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from device_helpers import FIXTURE_MODEL, make_run

from pipeline.device import emulator, session
from pipeline.device import protocol as P
from pipeline.device.build import ARM_FLAGS, FIRMWARE, KERNELS, build
from pipeline.cli.main import cli
from pipeline.errors import PipelineError
from pipeline.device.link import DeviceReset, Link

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None,
                                 reason="needs qemu-system-arm and gcc-arm-none-eabi (make install)")]


@pytest.fixture(scope="module")
def firmware(tmp_path_factory):
    return build("qemu-cm4", FIXTURE_MODEL, budget="nano33ble", out_dir=tmp_path_factory.mktemp("qemu"))


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_qemu_validates_the_fixture_bit_exact_and_exits_by_itself(firmware, tmp_path):
    assert firmware.warnings == ""
    make_run(tmp_path, samples=100)
    with emulator.qemu(firmware.elf) as emu:
        report = session.validate(emu.url, tmp_path, progress=False, bye=True, icount_shift=emu.icount_shift)
        assert emu.finish(timeout=10) == 0  # semihosting exit after BYE
        pid = emu.process.pid
    assert gone(pid)
    golden = np.load(tmp_path / "golden.npz")
    assert report["samples"] == 100 and report["mismatched_outputs"] == 0
    assert report["accuracy"] == pytest.approx(np.mean(np.argmax(golden["outputs"], 1) == golden["labels"]))
    assert report["device"]["board"] == "qemu-mps2-an386/nano33ble"
    # The device reports the linker's figures; they agree with arm-none-eabi-size (plus alignment padding).
    assert 0 <= report["device"]["flash_bytes"] - firmware.sizes["flash_bytes"] < 64
    assert report["device"]["ram_bytes"] == firmware.sizes["ram_bytes"]
    assert 0 < report["device"]["stack_used"] < report["device"]["stack_bytes"]
    # Deterministic under -icount: 640 MACs at a handful of instructions each.
    assert 640 * 3 < report["instructions_median"] < 640 * 12


def test_qemu_validate_cli_builds_runs_and_reports(tmp_path):
    make_run(tmp_path / "run", samples=30)
    result = CliRunner().invoke(cli, ["validate", "--emulator", "qemu", "--run", str(tmp_path / "run"),
                                      "--model-dir", str(FIXTURE_MODEL), "--limit", "20"])
    assert result.exit_code == 0, result.output
    assert "samples: 20" in result.output and "bit-identical" in result.output and "instructions" in result.output
    manifest = json.loads((tmp_path / "run" / "run.json").read_text())["stages"]["validate"]
    assert manifest["metrics"]["mismatched_outputs"] == 0 and manifest["metrics"]["samples"] == 20
    assert manifest["metrics"]["firmware"]["flash_budget"] == 983_040 and manifest["port"] == "qemu"


def test_reset_request_reboots_with_a_new_boot_id(firmware):
    with emulator.qemu(firmware.elf) as emu:
        port = session.open_port(emu.url)
        link = Link(port, emu.url, timeout=1.0)
        link.resync()
        first = link.hello().boot_id
        link.request(P.RESET)
        with pytest.raises(DeviceReset):
            link.request(P.PING, b"x")
        assert link.hello().boot_id == first + 1
        link.bye()
        port.close()
        assert emu.finish() == 0


def test_icount_gives_3_2_ticks_per_instruction(tmp_path, firmware):
    """A calibration image times loops of 2 instructions per iteration: instructions = ticks / 3.2, exactly."""
    port = FIRMWARE / "ports" / "qemu_mps2"
    elf = tmp_path / "calibrate.elf"
    subprocess.run(["arm-none-eabi-gcc", *ARM_FLAGS, "-O2", f"-I{port}", f"-I{KERNELS / 'include'}",  # tk_arch.h
                    str(FIXTURE_MODEL.parent / "icount_calibrate.c"), str(port / "startup.c"),
                    "--specs=nano.specs", "--specs=nosys.specs",
                    "-nostartfiles", "-T", str(firmware.elf.parent / "link-nano33ble.ld"), "-o", str(elf)],
                   check=True)
    command = emulator.qemu_command(elf, 0)
    command = command[:command.index("-serial")] + ["-serial", "null"] + command[command.index("-kernel"):]
    out = subprocess.run(command, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0
    ticks = {int(n): int(t) for n, t in re.findall(r"ticks (\d+) (\d+)", out.stdout + out.stderr)}
    assert len(ticks) == 3
    (n0, t0), (n1, t1), (n2, t2) = sorted(ticks.items())
    assert (t1 - t0) / (2 * (n1 - n0)) == 3.2 and (t2 - t1) / (2 * (n2 - n1)) == 3.2


def big_model(path: Path, rodata: int, bss: int) -> Path:
    """The fixture plus `rodata` bytes of constants and `bss` bytes of scratch, both used (so not discarded)."""
    path.mkdir()
    shutil.copy(FIXTURE_MODEL / "model.h", path)
    source = (FIXTURE_MODEL / "model.c").read_text().replace("int tk_model_invoke(", "static int fixture_invoke(")
    source += (f"static const int8_t big_weights[{rodata}] = {{1}};\nstatic int8_t big_arena[{bss}];\n"
               "int tk_model_invoke(const int8_t *input, int8_t *output) {\n"
               f"    big_arena[input[0] & 7] = big_weights[(uint8_t)input[1] * {rodata // 256}];\n"
               "    return fixture_invoke(input, output) + big_arena[1];\n}\n")
    (path / "model.c").write_text(source)
    return path


def test_a_model_too_big_for_the_board_fails_at_link_time_with_figures(tmp_path):
    model = big_model(tmp_path / "big", rodata=1_200_000, bss=300_000)
    result = CliRunner().invoke(cli, ["build", "--model-dir", str(model), "--board", "nano33ble",
                                      "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    message = result.output
    assert "does not fit the nano33ble budget" in message
    assert re.search(r"FLASH overflowed by [\d,]+ bytes", message) and re.search(r"RAM overflowed by [\d,]+", message)
    need_flash = int(re.search(r"flash needs ([\d,]+) of 983,040", message).group(1).replace(",", ""))
    need_ram = int(re.search(r"RAM needs ([\d,]+) of 262,144", message).group(1).replace(",", ""))
    assert 1_200_000 < need_flash < 1_220_000 and 300_000 + 8192 < need_ram < 320_000
    assert not (tmp_path / "out" / "firmware.elf").exists()
    # The same firmware fits the ESP32's bigger budget.
    fits = build("qemu-cm4", model, budget="esp32", out_dir=tmp_path / "esp32")
    assert abs(fits.sizes["flash_bytes"] - need_flash) < 16 and fits.sizes["ram_bytes"] == need_ram


def test_stack_overflow_is_caught_by_the_mpu_guard(tmp_path):
    """A model that recurses past the 8 KiB stack faults on the guard region: QEMU exits with status 3 and the
    firmware's message reaches QEMU's stdout."""
    model = tmp_path / "deep"
    model.mkdir()
    shutil.copy(FIXTURE_MODEL / "model.h", model)
    (model / "model.c").write_text(
        '#include "model.h"\n'
        "__attribute__((noinline)) static int deep(volatile const int8_t *p, int n) {\n"
        "    volatile int8_t frame[512];\n    frame[n & 511] = p[0];\n"
        "    return n == 0 ? frame[0] : deep(frame, n - 1) + frame[7];\n}\n"
        "int tk_model_invoke(const int8_t *input, int8_t *output) {\n"
        "    output[0] = (int8_t)deep(input, 40);\n    return 0;\n}\n")
    elf = build("qemu-cm4", model, out_dir=tmp_path / "out").elf
    make_run(tmp_path / "run", samples=3)
    with emulator.qemu(elf) as emu:
        with pytest.raises(PipelineError, match="disconnected"):
            session.validate(emu.url, tmp_path / "run", progress=False, timeout=1.0, reconnect_s=0)
        with pytest.raises(PipelineError, match=r"status 3 \(stack overflow \(MPU guard\)\)") as error:
            emu.finish()
    assert "tinykd: stack overflow" in str(error.value)  # the firmware's own message, through semihosting


def test_qemu_dies_with_tinykd_even_on_sigkill(firmware):
    """No orphan emulator: the QEMU child is killed by the kernel when the process that started it dies."""
    script = ("import sys, time\nfrom pipeline.device import emulator\n"
              f"with emulator.qemu({str(firmware.elf)!r}) as emu:\n"
              "    print(emu.process.pid, flush=True)\n    time.sleep(60)\n")
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(FIRMWARE.parent)})
    qemu_pid = int(parent.stdout.readline())
    assert not gone(qemu_pid)
    parent.kill()
    parent.wait()
    parent.stdout.close()
    deadline = time.monotonic() + 5
    while not gone(qemu_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert gone(qemu_pid)
