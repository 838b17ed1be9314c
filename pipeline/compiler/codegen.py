"""`compile_model`: .tflite -> model.h + model.c (plain C99 calling firmware/lib/tinykd_kernels).

Python computes every number (the graph, multipliers, memory plan) into a view-model; the Jinja2 templates in
templates/ only loop over it (StrictUndefined: a missing value is an error, never an empty string).
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import jinja2
import numpy as np

from pipeline import __version__
from pipeline.compiler import policy
from pipeline.compiler.graph import Graph, build_graph
from pipeline.compiler.lower import Lowering, c_float
from pipeline.compiler.planner import MemoryPlan, plan_memory
from pipeline.errors import PipelineError
from pipeline.paths import COMPILER, KERNELS
from pipeline.int8.tflite_file import model_bytes, read_model

# Values per line in the constant arrays of model.c.
VALUES_PER_LINE = 16
TEMPLATES = COMPILER / "templates"
# The kernel library the generated code calls (repository checkout).
KERNELS_DIR = KERNELS
PLACEHOLDER = re.compile(r"@([ts])(\d+)@")  # lower.tensor_ref / scratch_ref
_TEMPLATES = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), undefined=jinja2.StrictUndefined,
                                trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)


@dataclass
class CompiledModel:
    sha256: str
    header: str            # model.h text
    source: str            # model.c text
    arena_bytes: int       # static activation arena
    weight_bytes: int      # constant arrays (weights, biases, multipliers, shifts)
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    ops: list[str]
    input_quant: tuple[float, int]    # (scale, zero point) of the input
    output_quant: tuple[float, int]   # (scale, zero point) of the output
    graph: Graph | None = None        # the graph it was compiled from (tensor names and shapes)
    plan: MemoryPlan | None = None    # the static memory plan (offsets and lifetimes of the arena buffers)
    output_dtype: str = "int8"        # numpy dtype of the output: int8, or float32 after a final DEQUANTIZE
    optimize: str = "balanced"        # the policy the layers were chosen by (pipeline/compiler/policy.py)
    layers: dict | None = None        # op index -> layout, weight bytes and candidates of each weight layer

    def write(self, out_dir: str | Path) -> list[Path]:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = [out / "model.h", out / "model.c"]
        paths[0].write_text(self.header)
        paths[1].write_text(self.source)
        return paths


def compile_model(source: str | Path | bytes, prefix: str = "tk_model",
                  optimize: str = policy.DEFAULT) -> CompiledModel:
    """Compiles an int8 .tflite (path or bytes); PipelineError for a malformed or unsupported model. Layers the
    fast kernels run exactly use them (packed weights, scratch in the arena); the others the reference kernels.
    `prefix` names the C API: `{prefix}_invoke`; macros `TK_MODEL_INPUT_BYTES`... and header `model.h` for the
    default (`tk_model`), `{PREFIX}_MODEL_INPUT_BYTES`... and `{prefix}_model.h` otherwise (a library: several
    models in one firmware). `optimize`: how each layer chooses between exact kernels (policy.POLICIES)."""
    if optimize not in policy.POLICIES:
        raise PipelineError(f"Unknown optimize policy {optimize!r}.", f"Use one of: {', '.join(policy.POLICIES)}.")
    data, name = model_bytes(source)
    sha = hashlib.sha256(data).hexdigest()
    graph = build_graph(read_model(data, name), name)
    lowering, calls = _lower(graph, name, optimize, frozenset())
    exclude = policy.unprofitable(optimize, lowering.layers)
    if exclude:  # int8 layouts not worth their kernel code: compile again without them
        graph = build_graph(read_model(data, name), name)
        lowering, calls = _lower(graph, name, optimize, exclude)
    plan = plan_memory(graph, lowering.scratch_bytes, lowering.in_place)
    for call in calls:  # the arena places, now that the plan has them
        call.statements = [(function, [resolve(arg, graph, plan) for arg in args])
                           for function, args in call.statements]
        call.locals = [(ctype, local, resolve(init, graph, plan)) for ctype, local, init in call.locals]
    arrays = list(lowering.arrays.values())
    weight_bytes = sum(a.nbytes for a in arrays)
    view = _view_model(graph, plan, calls, arrays, sha, name, weight_bytes)
    default = prefix == "tk_model"
    macro = "TK_MODEL" if default else f"{prefix.upper()}_MODEL"
    view.update(api={"invoke": f"{prefix}_invoke", "macro": macro, "header": "model.h" if default else
                     f"{prefix}_model.h"}, guard=f"{macro}_H")
    x, y = graph.tensors[graph.input], graph.tensors[graph.output]
    return CompiledModel(sha, _TEMPLATES.get_template("model.h.j2").render(**view),
                         _TEMPLATES.get_template("model.c.j2").render(**view), plan.arena_bytes, weight_bytes,
                         x.shape, y.shape, [op.name for op in graph.ops], (x.scale, x.zero_point),
                         (y.scale, y.zero_point), graph, plan, "float32" if y.dtype == "FLOAT32" else "int8",
                         optimize, lowering.layers)


def _lower(graph: Graph, name: str, optimize: str, exclude: frozenset[str]) -> tuple[Lowering, list]:
    lowering = Lowering(graph, optimize, exclude)
    try:
        return lowering, [lowering.lower(op) for op in graph.ops]
    except PipelineError:
        raise
    except (AttributeError, IndexError, KeyError, TypeError, ValueError, ZeroDivisionError) as e:
        # inconsistent options or shapes in a flatbuffer that parsed: still the user's file, not our bug
        raise PipelineError(f"{name} is malformed: its operators are inconsistent ({type(e).__name__}: {e}).",
                            "Re-export the model.") from None


def resolve(text: str, graph: Graph, plan: MemoryPlan) -> str:
    """C text with lower.tensor_ref / scratch_ref placeholders replaced by the planned arena expressions."""
    return PLACEHOLDER.sub(lambda m: plan.pointer(graph, int(m[2])) if m[1] == "t" else plan.scratch_pointer(int(m[2])),
                           text)


def _view_model(graph: Graph, plan: MemoryPlan, calls, arrays, sha: str, name: str, weight_bytes: int) -> dict:
    io = []
    for role, index in (("INPUT", graph.input), ("OUTPUT", graph.output)):
        t = graph.tensors[index]
        ctype = "float" if t.dtype == "FLOAT32" else "int8_t"
        io.append({"role": role, "dims": list(t.shape), "bytes": t.size * (4 if ctype == "float" else 1),
                   "ctype": ctype, "zero_point": t.zero_point,
                   "scale": c_float(t.scale)})
    return {
        "banner": {"title": f"tinykd AOT model: {len(graph.ops)} ops, int8", "version": __version__,
                   "source": _c_comment(name), "sha256": sha},
        "io_tensors": io,
        "output_ctype": io[1]["ctype"],
        "arena_bytes": plan.arena_bytes,
        "weight_bytes": weight_bytes,
        "arrays": [{"name": a.name, "ctype": a.ctype, "length": max(a.values.size, 1), "lines": _lines(a.values)}
                   for a in arrays],
        "calls": calls,
    }


def _lines(values: np.ndarray) -> list[str]:
    items = [str(int(v)) for v in values] or ["0"]
    return [", ".join(items[i:i + VALUES_PER_LINE]) + "," for i in range(0, len(items), VALUES_PER_LINE)]


def _c_comment(text: str) -> str:
    """A file name safe inside a C block comment."""
    return re.sub(r"[^A-Za-z0-9._ -]", "_", text)
