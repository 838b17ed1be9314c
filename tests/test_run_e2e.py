"""`tinykd run` end to end on a tiny config through QEMU, and its refusals."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from conftest import invoke


def _copy_run(e2e_run, tmp_path):
    run_dir, _, config = e2e_run
    shutil.copytree(run_dir, tmp_path / "tiny")
    config_copy = tmp_path / "tiny.toml"
    config_copy.write_text(config.read_text().replace(str(run_dir.parent), str(tmp_path)))
    return tmp_path / "tiny", config_copy


@pytest.mark.slow
def test_run_end_to_end_through_qemu(e2e_run):
    run_dir, result, _ = e2e_run
    manifest = json.loads((run_dir / "run.json").read_text())
    stages = manifest["stages"]
    assert {"teacher", "distill", "quantize", "export", "compile", "build", "validate"} <= set(stages)
    validate, quantize, compiled = (stages[s]["metrics"] for s in ("validate", "quantize", "compile"))
    golden = np.load(run_dir / "golden.npz")
    # The whole test set went through the emulated Cortex-M4 and every output equals TFLM's on the host.
    assert validate["samples"] == len(golden["labels"])
    assert validate["mismatched_outputs"] == 0
    assert validate["accuracy"] == pytest.approx(quantize["int8_accuracy"], abs=1e-5)
    assert np.trace(validate["confusion"]) == round(validate["accuracy"] * validate["samples"])
    assert validate["instructions_median"] > compiled["macs"]  # at least one instruction per MAC
    build = stages["build"]["metrics"]
    assert build["budget"] == "nano33ble" and build["flash_budget"] == 960 * 1024
    assert 0 < build["flash_bytes"] < build["flash_budget"] and 0 < build["ram_bytes"] < build["ram_budget"]
    assert build["bss"] >= compiled["arena_bytes"]  # the static arena lives in .bss
    assert (run_dir / "aot" / "model.c").is_file() and (run_dir / "firmware" / "firmware.elf").is_file()
    # The memory plan recorded for the report is the compiler's: every buffer inside the arena.
    plan = compiled["memory_plan"]
    assert max(b["offset"] + b["size"] for b in plan) <= compiled["arena_bytes"]
    assert sum(layer["macs"] for layer in compiled["layers"]) == compiled["macs"]
    # The final table ends the output, with the device's figures from the manifest.
    out = result.output
    assert f"{100 * validate['accuracy']:.2f}%" in out.split("tinykd run 'tiny'")[-1]
    assert f"flash: {build['flash_bytes']:,} of {build['flash_budget']:,} B" in out
    assert "bit-identical" in out and (run_dir / "report.html").is_file() and (run_dir / "report.md").is_file()
    # The Nano 33 BLE's latency, estimated from one traced inference of the same firmware (pipeline/device/latency.py).
    cycles = stages["cycles"]["metrics"]
    assert cycles["board"] == "nano33ble" and cycles["estimated"] and cycles["clock_hz"] == 64_000_000
    assert cycles["instructions"] == pytest.approx(validate["instructions_median"], rel=0.01)
    assert cycles["instructions"] < cycles["cycles_low"] <= cycles["cycles"] <= cycles["cycles_high"]
    row = f"estimated latency on the Arduino Nano 33 BLE: {cycles['ms']:,.1f} ms"
    assert row in out.split("tinykd run 'tiny'")[-1]
    markdown = (run_dir / "report.md").read_text()
    assert f"| estimated latency on the Arduino Nano 33 BLE | {cycles['ms']:,.1f} ms" in markdown
    inspected = invoke("inspect", run_dir / "student_int8.tflite", "--no-arena")
    assert inspected.exit_code == 0 and row in inspected.output


@pytest.mark.slow
def test_run_again_skips_every_stage(e2e_run, tmp_path):
    copy, config_copy = _copy_run(e2e_run, tmp_path)
    before = json.loads((copy / "run.json").read_text())["stages"]
    result = invoke("run", "--config", config_copy)
    assert result.exit_code == 0, result.output
    for stage in ("quantize", "export", "compile", "build", "validate", "cycles"):
        assert f"{stage:<9} unchanged, skipped" in result.output
    after = json.loads((copy / "run.json").read_text())["stages"]
    assert after["validate"]["finished"] == before["validate"]["finished"]


def test_tflm_engine_needs_a_board(models_root):
    root, config = models_root
    result = invoke("run", "--config", config, "--engine", "tflm")
    assert result.exit_code == 2
    assert "--engine tflm needs a real board" in result.stderr and "--port" in result.stderr
    assert not any(root.rglob("run.json"))  # refused before any work


def test_flash_needs_a_port(models_root):
    _, config = models_root
    result = invoke("run", "--config", config, "--flash")
    assert result.exit_code == 2 and "device.flash=True" in result.stderr


def test_bad_validate_limit(models_root):
    _, config = models_root
    result = invoke("run", "--config", config, "--validate-limit", "-3")
    assert result.exit_code == 2 and "device.limit=-3" in result.stderr


@pytest.mark.slow
def test_run_with_port_validates_that_device(e2e_run, tmp_path):
    """--port: the same command validates whatever answers on the port (here the host build of the firmware on
    a pty, standing in for a board); no QEMU build. The x86 build is no device: its figures land beside the QEMU
    validation (validate_host), labelled as such, and never replace it."""
    from pipeline.device import emulator as emulators
    from pipeline.device.build import build
    run_dir, config = _copy_run(e2e_run, tmp_path)
    qemu = json.loads((run_dir / "run.json").read_text())["stages"]["validate"]
    exe = build("host", run_dir / "aot", out_dir=tmp_path / "host").elf
    with emulators.host(exe) as device:
        result = invoke("run", "--config", config, "--port", device.url)
    assert result.exit_code == 0, result.output
    assert "flash     skipped: validating the board already on" in result.output
    stages = json.loads((run_dir / "run.json").read_text())["stages"]
    stage = stages["validate_host"]
    assert stage["port"] == device.url and stage["metrics"]["mismatched_outputs"] == 0
    assert stage["metrics"]["board"] == "host-pty" and "instructions_median" not in stage["metrics"]
    assert stages["validate"] == qemu
    assert "also validated: the x86 host build on a pty (not a device)" in result.output
