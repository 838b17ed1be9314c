"""`tinykd run`: every stage in order, then the report.

    data -> teacher -> distill -> quantize -> export -> compile -> build -> validate -> cycles -> report

Default (no port): the AOT engine's firmware for QEMU's Cortex-M4, linked against the board's budget, validated
over the whole test set in the emulator. With cfg.device.port the board on that port is validated instead
(flashed first with cfg.device.flash). The TFLite Micro engine is built by PlatformIO for real boards only, so
`--engine tflm` without a port stops before any work with a PipelineError that says so.
"""
from __future__ import annotations

import dataclasses

import time
from typing import Callable

from pipeline.config import Config
from pipeline.errors import PipelineError
from pipeline.targets import EMULATOR


def check_plan(cfg: Config) -> None:
    """Refuse impossible combinations before any training starts."""
    dev = cfg.device
    if dev.engine == "tflm" and not dev.port:
        raise PipelineError("--engine tflm needs a real board: the TFLite Micro firmware is built by PlatformIO "
                            "(TFLM arrives through its registry), which the emulator path does not use.",
                            "Use --engine aot for QEMU, or --engine tflm --port /dev/ttyACM0 --flash with a board.")
    if dev.port and cfg.export.board == EMULATOR:
        raise PipelineError(f"--port {dev.port} validates a real board, but --board is qemu-cm4 (the emulator).",
                            "Use --board nano33ble or --board esp32 with --port.")


def run_all(cfg: Config, *, force: bool = False, log: Callable[[str], None] = print,
            progress: bool = True) -> dict:
    """Run every stage (each skipped when unchanged), write the report; returns {stage: metrics, report paths}."""
    from pipeline.device.stages import build_stage, compile_stage, flash_stage, validate_stage
    from pipeline.kd.distill import distill
    from pipeline.int8.export import export
    from pipeline.int8.quantize import quantize
    from pipeline.report.render import write_report

    check_plan(cfg)
    if cfg.device.port:
        from pipeline.device.session import probe
        log(f"device    checking {cfg.device.port} before training")
        probe(cfg.device.port, cfg.device.flash, cfg.device.timeout)
    started = time.time()
    results = {"distill": distill(cfg, force=force, log=log)}
    results["quantize"] = quantize(cfg, force=force, log=log)
    results["export"] = export(cfg, force=force, log=log)
    dev = cfg.device
    if dev.engine == "aot":
        results["compile"] = compile_stage(cfg, force=force, log=log)
    if not dev.port:
        results["build"] = build_stage(cfg, force=force, log=log)
    elif dev.flash:
        flashed = flash_stage(cfg, log=log)
        if flashed.port != dev.port:  # re-enumerated under another name: validate it there
            cfg = dataclasses.replace(cfg, device=dataclasses.replace(dev, port=flashed.port))
    else:
        log(f"flash     skipped: validating the board already on {dev.port} (it must run this run's model; "
            "--flash uploads it first)")
    results["validate"] = validate_stage(cfg, force=force, log=log, progress=progress)
    if not dev.port:  # the board's latency estimate, from the QEMU firmware (pipeline/device/latency.py)
        from pipeline.device.latency import cycles_stage
        results["cycles"] = cycles_stage(cfg, force=force, log=log)
    results["report"] = [str(p) for p in write_report(cfg.run_dir)]
    log(f"report    {', '.join(results['report'])}  ({time.time() - started:.0f} s)")
    return results
