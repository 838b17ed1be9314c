"""Export stage: everything the firmware needs to run the int8 model under TFLite Micro, checked against the
board's budget before a single file is written.

models/<run>/export/ gets model_data.h/.cc (the C array), model_ops.h (a MicroMutableOpResolver with exactly the
model's ops), model_io.h (shapes, scales, zero points) and model_arena.h (measured arena + stated margin). The
folder is written whole or not at all.
"""
from __future__ import annotations

import hashlib
import math
import time
from pathlib import Path
from typing import Callable

import numpy as np

from pipeline.int8 import tflm
from pipeline.int8.carray import banner, guard, model_data_files, render
from pipeline.artifacts import EXPORT, MODEL_INT8
from pipeline.config import Config
from pipeline.errors import PipelineError, stage
from pipeline.paths import INT8, TEMPLATES
from pipeline.runs import Run, atomic_path, fingerprint, sources_hash
from pipeline.targets import board_profile, check_budget
from pipeline.int8.tflite_file import (OP_NAMES, TYPE_BYTES, io_tensors, model_bytes, quantization, read_model,
                                  require_int8_io, tensor_name, type_name, used_ops)

MODEL = MODEL_INT8  # the quantize stage's int8 model, exported
FOLDER = EXPORT  # the folder artifact this stage writes
MIN_MARGIN = 256  # bytes: covers start alignment and small scratch buffers even for the tiniest arena
# Builtin ops whose MicroMutableOpResolver method is not the CamelCase of the op name.
BUILTIN_OPS = set(OP_NAMES.values())
RESOLVER_NAMES = {"BATCH_MATMUL": "AddBatchMatMul", "LOG_SOFTMAX": "AddLogSoftmax"}


@stage("export")
def export(cfg: Config, *, model: str | Path | None = None, out: str | Path | None = None, force: bool = False,
           log: Callable[[str], None] = print) -> dict:
    """Export the run's int8 model (or `model`, a .tflite file) into the run's export/ folder (or `out`). Only
    an export into the run's own folder is recorded in its manifest (and skipped when unchanged)."""
    board = board_profile(cfg.export.board, cfg.export.stand_in)
    run = None
    if model is None:
        run = Run(cfg.run_dir)
        if not run.intact(MODEL):
            raise PipelineError(f"Run folder '{run.path}' has no intact {MODEL}.",
                                "Run `tinykd quantize` first, with the same --run and --dataset.")
        model = run.file(MODEL)
    model = Path(model)
    into_run = run is not None and out is None
    out = run.file(FOLDER) if into_run else Path(out) if out is not None else model.with_name(model.stem + "_export")
    data, _ = model_bytes(model)
    flatbuffer = read_model(data, model.name)
    require_int8_io(flatbuffer, model.name)
    ops = resolver_ops(flatbuffer, model.name)
    fp = fingerprint("export", cfg.export, hashlib.sha256(data).hexdigest(), sources_hash(INT8, TEMPLATES))
    if into_run and not force and run.is_fresh("export", fp):
        log("export    unchanged, skipped (--force reruns)")
        return run.metrics("export")

    started = time.time()
    # the run's quantize stage measured this same (intact) file's arena; another file is measured here
    measured = (run.metrics("quantize") or {}).get("arena_minimum") if run else None
    measured = measured or tflm.minimum_arena(data)["minimum"]
    margin = max(MIN_MARGIN, math.ceil(cfg.export.arena_margin * measured))
    arena = -(-(measured + margin) // 16) * 16
    budget = check_budget(board, model_bytes=len(data), arena_bytes=arena, op_count=len(ops))  # before writing

    context = banner(data, model.name)
    files = model_data_files(data, source=model.name)
    files["model_ops.h"] = render("model_ops.h.j2", guard=guard("model_ops.h"), ops=ops, **context)
    tensors = io_view(flatbuffer)
    files["model_io.h"] = render("model_io.h.j2", guard=guard("model_io.h"), tensors=tensors,
                                 num_classes=int(np.prod(tensors[1]["shape"])), **context)
    files["model_arena.h"] = render("model_arena.h.j2", guard=guard("model_arena.h"), measured=measured,
                                    failing=measured - 1, margin=margin, size=arena,
                                    margin_text=f"{cfg.export.arena_margin:.0%} of it, at least {MIN_MARGIN}",
                                    **context)
    writer = lambda folder: _write_folder(folder, files)
    if into_run:
        run.write(FOLDER, writer)
    else:
        with atomic_path(out) as tmp:
            writer(tmp)
    metrics = {**budget, "arena_measured": measured, "arena_margin": margin, "arena_size": arena,
               "ops": [op["name"] for op in ops], "folder": str(out), "files": sorted(files)}
    if into_run:
        run.record("export", fp, [FOLDER], metrics, time.time() - started)
    log(f"export    {len(files)} files in {out}: model {len(data):,} B, arena {arena:,} B, {len(ops)} ops; "
        f"fits the {board.name} (flash {budget['flash_needed']:,}/{board.flash_bytes:,} B, "
        f"RAM {budget['ram_needed']:,}/{board.ram_bytes:,} B)")
    return metrics


def resolver_ops(model, name: str) -> list[dict]:
    """[{"name": "CONV_2D", "method": "AddConv2D"}, ...]: one entry per distinct op the model uses."""
    ops = []
    for op in used_ops(model):
        if op not in BUILTIN_OPS:
            raise PipelineError(f"'{name}' uses the custom op '{op}', which TFLite Micro cannot register by name.",
                                "Use a model made of builtin ops.")
        method = RESOLVER_NAMES.get(op) or "Add" + "".join(part.capitalize() for part in op.split("_"))
        ops.append({"name": op, "method": method.replace("2d", "2D").replace("3d", "3D")})
    return ops


def io_view(model) -> list[dict]:
    """What model_io.h prints for input 0 and output 0: shapes, bytes, scale, zero point."""
    view = []
    for role, which in (("input", "inputs"), ("output", "outputs")):
        tensor = io_tensors(model, which)[0]
        q = quantization(tensor) or {"scale": [0.0], "zero_point": [0]}
        shape = [int(s) for s in tensor.shape]
        view.append({"role": role, "name": tensor_name(tensor), "dtype": type_name(tensor.type).lower(),
                     "shape": shape, "shape_text": "x".join(map(str, shape)), "prefix": f"TINYKD_{role.upper()}",
                     "array": f"kTinykd{role.capitalize()}Shape", "scale": f"{q['scale'][0]:.9g}",
                     "zero_point": q["zero_point"][0],
                     "bytes": int(np.prod(shape)) * TYPE_BYTES[type_name(tensor.type)]})
    return view


def _write_folder(folder: Path, files: dict[str, str]) -> None:
    folder.mkdir(parents=True)
    for name, text in files.items():
        (folder / name).write_text(text)
