"""What the AOT compiler makes of each layer with weights under an --optimize policy (pipeline/compiler/policy.py):
the kernel's weight layout and constant bytes per layer, for `tinykd inspect --optimize`."""
from __future__ import annotations

from pipeline.compiler.codegen import compile_model
from pipeline.errors import PipelineError


def aot_layout(data: bytes, optimize: str) -> dict:
    """The AOT compiler's choice per layer with weights under `optimize`: {"optimize", "weight_bytes", "layers":
    [{index, op, output, layout, weight_bytes}]}, or {"optimize", "error"} when it cannot compile the model."""
    try:
        compiled = compile_model(data, optimize=optimize)
    except PipelineError as e:
        return {"optimize": optimize, "error": str(e)}
    layers = [{"index": i, **{k: v for k, v in entry.items() if k in ("op", "output", "layout", "weight_bytes")}}
              for i, entry in sorted((compiled.layers or {}).items())]
    return {"optimize": optimize, "weight_bytes": compiled.weight_bytes, "layers": layers}


def aot_lines(aot: dict | None) -> list[str]:
    """format_report's lines for aot_layout's result."""
    if not aot:
        return []
    if "error" in aot:
        return ["", f"AOT (--optimize {aot['optimize']}): cannot compile ({aot['error']})"]
    lines = ["", f"AOT (--optimize {aot['optimize']}): constant data {aot['weight_bytes']:,} bytes",
             f"{'#':>3}  {'op':<20}{'layout':<12}{'bytes':>9}  output"]
    for layer in aot["layers"]:
        lines.append(f"{layer['index']:>3}  {layer['op']:<20}{layer['layout']:<12}{layer['weight_bytes']:>9,}  "
                     f"{layer['output'][:40]}")
    return lines
