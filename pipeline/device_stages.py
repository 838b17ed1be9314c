"""The device half of `tinykd run` as recorded stages: compile (AOT C model), build (firmware), validate (device).

Each is one public function taking the Config, like distill/quantize/export: it reads the run folder, skips
itself when its fingerprint (settings + input hashes + the sources it compiles) is unchanged, and records its
figures in run.json, where the report reads them.

- compile:  student_int8.tflite -> aot/model.{h,c}; arena/weight bytes, per-layer MACs, the memory plan.
- build:    aot/ -> firmware/firmware.elf for QEMU's Cortex-M4, linked against the board's flash/RAM budget.
- validate: the whole int8 test set through the device (QEMU, or a board on --port), compared with TFLM's outputs.
"""
from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Callable

from pipeline import __version__
from pipeline.config import Config
from pipeline.errors import PipelineError, stage
from pipeline.runs import Run, fingerprint

ROOT = Path(__file__).resolve().parent
MODEL = "student_int8.tflite"
AOT = "aot"  # folder artifact of the compile stage: model.h, model.c
FIRMWARE = "firmware"  # folder artifact of the build stage: firmware.elf, firmware.map, the link script
SOURCE_SUFFIXES = (".py", ".j2", ".c", ".h", ".ld", ".S")


def sources_hash(*folders: Path) -> str:
    """SHA-256 over the source files under `folders` (names + contents; caches and build output ignored), so a
    change to the compiler or the firmware reruns the stages built from them."""
    digest = hashlib.sha256()
    for folder in folders:
        for path in sorted(p for p in Path(folder).rglob("*") if p.is_file() and p.suffix in SOURCE_SUFFIXES
                           and "__pycache__" not in p.parts and ".pio" not in p.parts):
            digest.update(str(path.relative_to(folder.parent)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def budget_board(cfg: Config) -> str:
    """The board whose flash/RAM the firmware must fit: export.board, or the board qemu-cm4 stands in for."""
    return cfg.export.stand_in if cfg.export.board == "qemu-cm4" else cfg.export.board


def _needs(run: Run, name: str, command: str) -> None:
    if not run.intact(name):
        raise PipelineError(f"Run folder '{run.path}' has no intact {name}.",
                            f"Run `tinykd {command}` first, with the same --run and --dataset.")


@stage("compile")
def compile_stage(cfg: Config, *, force: bool = False, log: Callable[[str], None] = print) -> dict:
    """AOT-compile the run's int8 model into aot/model.{h,c}; record arena, weights, layers and memory plan."""
    from pipeline.compiler import compile_model
    from pipeline.inspect_tflite import inspect_model

    run = Run(cfg.run_dir)
    _needs(run, MODEL, "quantize")
    fp = fingerprint("compile", __version__, run.sha(MODEL), sources_hash(ROOT / "compiler"))
    if not force and run.is_fresh("compile", fp):
        log("compile   unchanged, skipped (--force reruns)")
        return run.metrics("compile")
    started = time.time()
    compiled = compile_model(run.file(MODEL))
    run.write(AOT, compiled.write)
    info = inspect_model(run.file(MODEL), arena=False)
    graph, plan = compiled.graph, compiled.plan
    metrics = {
        "arena_bytes": compiled.arena_bytes, "weight_bytes": compiled.weight_bytes, "ops": compiled.ops,
        "model_sha256": compiled.sha256, "macs": info["macs"], "params": info["params"],
        "layers": [{"index": layer["index"], "op": layer["op"], "output": layer["outputs"][0],
                    "params": layer["params"], "macs": layer["macs"]} for layer in info["layers"]],
        # One entry per arena buffer: the bytes [offset, offset+size) are live from op `first` to op `last`.
        "memory_plan": [{"offset": b.offset, "size": b.size, "first": b.first, "last": b.last,
                         "tensors": [graph.tensors[t].name for t in b.tensors]} for b in plan.buffers],
        "io_bytes": {"input": graph.tensors[graph.input].size, "output": graph.tensors[graph.output].size},
    }
    run.record("compile", fp, [AOT], metrics, time.time() - started)
    log(f"compile   {len(compiled.ops)} ops -> {run.file(AOT)}/model.{{h,c}}: arena {compiled.arena_bytes:,} B, "
        f"constant data {compiled.weight_bytes:,} B, {info['macs']:,} MACs")
    return metrics


@stage("build")
def build_stage(cfg: Config, *, force: bool = False, log: Callable[[str], None] = print) -> dict:
    """Firmware for QEMU's Cortex-M4 around aot/, linked against the board's budget; record its section sizes."""
    from pipeline.build import FIRMWARE as FIRMWARE_SOURCES, build

    run = Run(cfg.run_dir)
    _needs(run, AOT, "compile")
    budget = budget_board(cfg)
    fp = fingerprint("build", "qemu-cm4", budget, run.sha(AOT), sources_hash(FIRMWARE_SOURCES))
    if not force and run.is_fresh("build", fp):
        log("build     unchanged, skipped (--force reruns)")
        return run.metrics("build")
    started = time.time()
    built = {}
    run.write(FIRMWARE, lambda folder: built.update(result=build("qemu-cm4", run.file(AOT), budget=budget,
                                                                 out_dir=folder)))
    result = built["result"]
    metrics = {"target": result.target, "budget": result.budget, "elf": f"{FIRMWARE}/{result.elf.name}",
               **result.sizes, "warnings": len(result.warnings.splitlines()) if result.warnings else 0}
    run.record("build", fp, [FIRMWARE], metrics, time.time() - started)
    s = result.sizes
    log(f"build     qemu-cm4 firmware on the {budget} budget: flash {s['flash_bytes']:,} of "
        f"{s['flash_budget']:,} B, RAM {s['ram_bytes']:,} of {s['ram_budget']:,} B (stack {s['stack']:,})")
    return metrics


@stage("validate")
def validate_stage(cfg: Config, *, force: bool = False, log: Callable[[str], None] = print,
                   progress: bool = True) -> dict:
    """Stream the int8 test set through the device and compare each output with TFLM's; record the results.

    Without a port: the firmware of the build stage runs in QEMU (skipped when firmware and golden data are
    unchanged). With cfg.device.port: the board on that port, always validated (it may have been reflashed)."""
    from pipeline import emulator as emulators
    from pipeline import harness

    run = Run(cfg.run_dir)
    _needs(run, "golden.npz", "quantize")
    dev = cfg.device
    if dev.port:
        log(f"validate  {run.file('golden.npz')} against the device on {dev.port}")
        report = harness.validate(dev.port, run.path, limit=dev.limit, timeout=dev.timeout, progress=progress,
                                  log=log)
        recorded = harness.record(run.path, report, dev.port)
    else:
        _needs(run, FIRMWARE, "run")
        fp = fingerprint("validate", "qemu", run.sha(FIRMWARE), run.sha("golden.npz"), dev.limit)
        if not force and run.is_fresh("validate", fp):
            log("validate  unchanged, skipped (--force reruns)")
            return run.metrics("validate")
        log("validate  the test set through the firmware in QEMU (mps2-an386, Cortex-M4, -icount)")
        report = harness.validate_emulated(emulators.qemu(run.file(FIRMWARE) / "firmware.elf"), run.path,
                                           limit=dev.limit, timeout=dev.timeout, progress=progress, log=log)
        report["firmware"] = {k: v for k, v in run.metrics("build").items() if isinstance(v, int)}
        recorded = harness.record(run.path, report, "qemu", fp=fp)
    log("validate  " + harness.format_report(report).replace("\n", "\n          "))
    harness.check_bit_exact(report, recorded=True)
    return Run(cfg.run_dir).metrics(recorded)
