"""The device stages: compile (AOT C model), build (firmware), flash (a board), validate (a device).

These four functions are the device API: `tinykd run` and the device commands (`tinykd compile / build / flash /
validate`) build a Config and call them. Each reads the run folder, skips itself when its fingerprint (settings +
input hashes + the sources it compiles) is unchanged, and records its figures in run.json, where the report reads
them. Given folders of their own (a model file, a model folder), compile and build work outside any run and record
nothing; validate then still records into the run whose golden data it checked against.

- compile:  student_int8.tflite -> aot/model.{h,c}; arena/weight bytes, per-layer MACs, the memory plan.
- build:    aot/ -> firmware/firmware.elf for QEMU's Cortex-M4, linked against the board's flash/RAM budget.
- flash:    aot/ (or export/ for the TFLM engine) -> the board on cfg.device.port, through PlatformIO.
- validate: the whole int8 test set through the device (QEMU, or a board on --port), compared with TFLM's outputs.
"""
from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Callable

from pipeline import __version__
from pipeline.artifacts import AOT, EXPORT, FIRMWARE, FIRMWARE_ELF, GOLDEN, MODEL_INT8, RENODE_LOG
from pipeline.config import Config
from pipeline.errors import PipelineError, stage
from pipeline.device.golden import golden_file
from pipeline.paths import COMPILER
from pipeline.runs import HOST_BUILD, Run, fingerprint, sha256_file, sources_hash
from pipeline.targets import EMULATOR, budget_board

EMULATORS = ("qemu", "host", "renode")  # where `validate_stage(emulator=...)` runs firmware
VALIDATION_KEYS = ("samples", "accuracy", "host_accuracy", "mismatched_outputs", "mismatched_values", "latency_us",
                   "tick_hz", "throughput_samples_per_s", "instructions_median", "confusion",  # recorded in run.json
                   "mismatched_features", "frontend_instructions_median", "seconds_per_clip")  # raw audio only


def _budget_board(cfg: Config) -> str:
    """The board whose flash/RAM the firmware must fit: export.board, or the board qemu-cm4 stands in for."""
    return budget_board(cfg.export.board, cfg.export.stand_in)


def _needs(run: Run, name: str, command: str) -> None:
    if not run.intact(name):
        raise PipelineError(f"Run folder '{run.path}' has no intact {name}.",
                            f"Run `tinykd {command}` first, with the same --run and --dataset.")


@stage("compile")
def compile_stage(cfg: Config, *, model: str | Path | None = None, out: str | Path | None = None,
                  force: bool = False, log: Callable[[str], None] = print) -> dict:
    """AOT-compile the run's int8 model into aot/model.{h,c}; record arena, weights, layers and memory plan. Given
    `model` (a .tflite file), compile that into `out` (default: beside it, MODEL_aot/) and record nothing."""
    from pipeline.compiler import compile_model
    from pipeline.int8.inspect_tflite import inspect_model

    run = Run(cfg.run_dir) if model is None else None
    if run is not None:
        _needs(run, MODEL_INT8, "quantize")
        model = run.file(MODEL_INT8)
        fp = fingerprint("compile", __version__, run.sha(MODEL_INT8), sources_hash(COMPILER), cfg.export.optimize)
        if not force and run.is_fresh("compile", fp):
            log("compile   unchanged, skipped (--force reruns)")
            return run.metrics("compile")
    started = time.time()
    compiled = compile_model(model, optimize=cfg.export.optimize)
    if run is not None:
        folder = run.write(AOT, compiled.write)
    else:
        folder = Path(out) if out is not None else Path(model).with_name(Path(model).stem + "_aot")
        compiled.write(folder)
    info = inspect_model(model, arena=False)
    graph, plan = compiled.graph, compiled.plan
    metrics = {
        "arena_bytes": compiled.arena_bytes, "weight_bytes": compiled.weight_bytes, "ops": compiled.ops,
        "model_sha256": compiled.sha256, "macs": info["macs"], "params": info["params"],
        "layers": [{"index": layer["index"], "op": layer["op"], "output": layer["outputs"][0],
                    "params": layer["params"], "macs": layer["macs"]} for layer in info["layers"]],
        # the layers with weights: the kernel layout the --optimize policy chose and its constant bytes
        "optimize": compiled.optimize, "aot_layers": aot_layers(compiled),
        # One entry per arena buffer: the bytes [offset, offset+size) are live from op `first` to op `last`.
        "memory_plan": [{"offset": b.offset, "size": b.size, "first": b.first, "last": b.last,
                         "tensors": [graph.tensors[t].name for t in b.tensors]} for b in plan.buffers],
        "io_bytes": {"input": graph.tensors[graph.input].size, "output": graph.tensors[graph.output].size},
    }
    if run is not None:
        run.record("compile", fp, [AOT], metrics, time.time() - started)
    log(f"compile   {len(compiled.ops)} ops -> {folder}/model.{{h,c}}: arena {compiled.arena_bytes:,} B, "
        f"constant data {compiled.weight_bytes:,} B, {info['macs']:,} MACs (--optimize {compiled.optimize})")
    return metrics


def aot_layers(compiled) -> list[dict]:
    """Per compiled op with weights (index after folding): op, output tensor, layout, constant bytes and the
    candidates' bytes and estimated instructions."""
    return [{"index": index, **entry} for index, entry in sorted((compiled.layers or {}).items())]


@stage("build")
def build_stage(cfg: Config, *, model_dir: str | Path | None = None, out: str | Path | None = None,
                target: str = EMULATOR, sanitize: bool = False, force: bool = False,
                log: Callable[[str], None] = print, input_table=None) -> dict:
    """Firmware for QEMU's Cortex-M4 around aot/, linked against the board's budget; record its section sizes.
    Given `model_dir` (model.h + model.c), build that for `target` (qemu-cm4 | host, optionally under ASan/UBSan)
    into `out` (default: build/firmware/TARGET-BOARD) and record nothing. Returns the figures and `elf`. A run whose
    golden data carries raw clips (or an `input_table`) gets the audio front end linked in (AUDIO requests)."""
    from pipeline.device.audio_input import run_table
    from pipeline.device.build import build
    from pipeline.paths import FIRMWARE as FIRMWARE_SOURCES

    budget = _budget_board(cfg)
    if model_dir is not None:
        result = build(target, model_dir, budget=budget, out_dir=out, sanitize=sanitize, input_table=input_table)
        metrics = _build_metrics(result, str(result.elf))
        _log_build(log, result, budget)
        return metrics
    run = Run(cfg.run_dir)
    _needs(run, AOT, "compile")
    table = run_table(run)
    audio = [] if table is None else [hashlib.sha256(table.tobytes()).hexdigest()[:16]]
    fp = fingerprint("build", EMULATOR, budget, run.sha(AOT), sources_hash(FIRMWARE_SOURCES), *audio)
    if not force and run.is_fresh("build", fp):
        log("build     unchanged, skipped (--force reruns)")
        return run.metrics("build")
    started = time.time()
    built = {}
    run.write(FIRMWARE, lambda folder: built.update(result=build(EMULATOR, run.file(AOT), budget=budget,
                                                                 out_dir=folder, input_table=table)))
    result = built["result"]
    metrics = _build_metrics(result, f"{FIRMWARE}/{result.elf.name}")
    run.record("build", fp, [FIRMWARE], metrics, time.time() - started)
    _log_build(log, result, budget)
    return metrics


def _build_metrics(result, elf: str) -> dict:
    return {"target": result.target, "budget": result.budget, "elf": elf, **result.sizes,
            "warnings": len(result.warnings.splitlines()) if result.warnings else 0}


def _log_build(log: Callable[[str], None], result, budget: str) -> None:
    s = result.sizes
    if not s:  # the host build: no budget to link against
        log(f"build     {result.target} firmware: {result.elf}")
        return
    log(f"build     {result.target} firmware on the {budget} budget: flash {s['flash_bytes']:,} of "
        f"{s['flash_budget']:,} B, RAM {s['ram_bytes']:,} of {s['ram_budget']:,} B (stack {s['stack']:,})")


def _firmware_figures(build_metrics: dict) -> dict:
    """The figures of a build that a validation keeps beside its own: sizes and budgets in bytes."""
    return {key: value for key, value in build_metrics.items() if isinstance(value, int)}


@stage("flash")
def flash_stage(cfg: Config, *, model_dir: str | Path | None = None, log: Callable[[str], None] = print):
    """Build the firmware of cfg.device.engine with PlatformIO and upload it to the board on cfg.device.port: the
    run's aot/ (AOT engine) or export/ (TFLM engine) folder, or `model_dir`. Returns pipeline.device.flash.Flashed: the
    command and the port the board came back on (it re-enumerates after the upload)."""
    from pipeline.device.flash import flash

    dev, board = cfg.device, _budget_board(cfg)
    folder = model_dir if model_dir is not None else cfg.run_dir / (AOT if dev.engine == "aot" else EXPORT)
    log(f"flash     {dev.engine} firmware for the {board} on {dev.port} (PlatformIO)")
    flashed = flash(board, dev.port, folder, engine=dev.engine)
    if flashed.port != dev.port:
        log(f"flash     the board came back on {flashed.port}")
    return flashed


@stage("validate")
def validate_stage(cfg: Config, *, emulator: str | None = None, model_dir: str | Path | None = None,
                   elf: str | Path | None = None, sanitize: bool = False, build_dir: str | Path | None = None,
                   force: bool = False, log: Callable[[str], None] = print, progress: bool = True) -> dict:
    """Stream the int8 test set through a device, compare each output with TFLM's and record the results; returns
    the device's report (pipeline/device/validation.py), or the recorded metrics when skipped. PipelineError when any
    output differs.

    The device: the board on cfg.device.port (always validated: it may have been reflashed); else, with
    `emulator`, firmware built from `model_dir` (default: the run's aot/) into `build_dir` and run in QEMU or on
    the host (x86, a pty; `sanitize`: ASan/UBSan), or the PlatformIO `elf` in Renode; else the build stage's
    firmware in QEMU, skipped when firmware and golden data are unchanged."""
    from pipeline.device import emulator as emulators
    from pipeline.device import session
    from pipeline.device.validation import check_bit_exact, format_report

    run, dev, fp = Run(cfg.run_dir), cfg.device, None
    if GOLDEN in run.manifest["artifacts"] or not (dev.port or emulator):  # a run's golden data: as quantize wrote it
        _needs(run, GOLDEN, "quantize")
    golden_file(run.path)  # before any firmware is built
    if dev.port:
        log(f"validate  {run.file(GOLDEN)} against the device on {dev.port}")
        report = session.validate(dev.port, run.path, limit=dev.limit, timeout=dev.timeout, progress=progress,
                                  log=log)
        where = dev.port
    elif emulator is not None:
        context, figures, finish = _emulated(cfg, run, emulator, model_dir, elf, sanitize, build_dir, log)
        report = session.validate_emulated(context, run.path, finish=finish, limit=dev.limit, timeout=dev.timeout,
                                           progress=progress, log=log)
        report["firmware"], where = figures, emulator
    else:
        _needs(run, FIRMWARE, "run")
        fp = fingerprint("validate", "qemu", run.sha(FIRMWARE), run.sha(GOLDEN), dev.limit)
        if not force and run.is_fresh("validate", fp):
            log("validate  unchanged, skipped (--force reruns)")
            return run.metrics("validate")
        log("validate  the test set through the firmware in QEMU (mps2-an386, Cortex-M4, -icount)")
        report = session.validate_emulated(emulators.qemu(run.file(FIRMWARE) / FIRMWARE_ELF), run.path,
                                           limit=dev.limit, timeout=dev.timeout, progress=progress, log=log)
        report["firmware"], where = _firmware_figures(run.metrics("build")), "qemu"
    _record(run.path, report, where, fp=fp)
    log("validate  " + format_report(report).replace("\n", "\n          "))
    check_bit_exact(report, recorded=True)
    return report


def _emulated(cfg: Config, run: Run, emulator: str, model_dir, elf, sanitize: bool, build_dir, log):
    """(emulator context, firmware figures, whether it must exit by itself) for `validate_stage(emulator=...)`."""
    from pipeline.device import emulator as emulators
    from pipeline.device.audio_input import run_table

    if emulator not in EMULATORS:
        raise PipelineError(f"Unknown emulator '{emulator}': choose one of {', '.join(EMULATORS)}.",
                            "Use --emulator qemu.")
    if emulator == "renode":
        if elf is None:
            raise PipelineError("--emulator renode needs --elf (the PlatformIO nano33ble_renode firmware).",
                                "Build it with `pio run -e nano33ble_renode`, then pass "
                                "--elf .pio/build/nano33ble_renode/firmware.elf.")
        return emulators.renode(elf, log=run.file(RENODE_LOG)), {}, False
    target = EMULATOR if emulator == "qemu" else "host"
    if model_dir is None and not (run.file(AOT) / "model.c").is_file():  # stages run one by one: compile as run does
        compile_stage(cfg, log=log)
    built = build_stage(cfg, model_dir=model_dir if model_dir is not None else run.file(AOT), out=build_dir,
                        target=target, sanitize=sanitize, log=log, input_table=run_table(run))
    start = emulators.qemu if emulator == "qemu" else emulators.host
    return start(built["elf"]), {k: v for k, v in _firmware_figures(built).items() if k != "warnings"}, True


def _record(run_dir: str | Path, report: dict, url: str, fp: str | None = None) -> str:
    """Add a validation to the run's manifest (run.json) as stage `validate`, or `validate_host` for the x86 host
    build; returns that stage's name (`fp`: the caller's fingerprint, e.g. one that covers the firmware, so an
    unchanged validation can be skipped)."""
    run = Run(run_dir)
    device = report["device"]
    metrics = {key: report[key] for key in VALIDATION_KEYS if key in report}
    metrics.update(board=device["board"], engine=device["engine"], stack_used=device["stack_used"],
                   device_arena_bytes=device["arena_bytes"], firmware=report.get("firmware", {}))
    golden = sha256_file(Path(run_dir) / GOLDEN)
    # The x86 host build checks the engine but is no device: its record never replaces the emulator's or board's.
    name = HOST_BUILD if device["board"].startswith("host") else "validate"
    run.manifest.setdefault("validations", {})[device["board"]] = {**metrics, "port": url}
    run.record(name, fp or fingerprint(url, device["model_sha256_prefix"], golden), [], metrics,
               report.get("seconds", 0.0), port=url)
    return name
