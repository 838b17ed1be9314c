"""`tinykd inspect`: what is inside a .tflite file, as a dict (for --json) or a text table.

Ops with their shapes, parameters and multiply-accumulates, every tensor with its type and quantization, totals,
the smallest TFLite Micro arena, and for a run's model (run.json beside it) that run's latency estimate. Read
through the flatbuffer schema bindings (pipeline/tflite_file.py).
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from pipeline import tflm
from pipeline.errors import PipelineError
from pipeline.latency import recorded as recorded_latency, rows as latency_rows
from pipeline.tflite_file import op_name, quantization, read_model, tensor_name, type_name

WEIGHTED_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV")


def inspect_model(path: str | Path, *, arena: bool = True, optimize: str | None = None) -> dict:
    """Describe the model at `path`; `arena` measures the minimum TFLM arena (runs TFLM, ~2 s); `optimize` (a
    policy of pipeline/compiler/policy.py) adds what the AOT compiler makes of each layer with weights."""
    path = Path(path)
    model = read_model(path)
    data = path.read_bytes()
    sha256 = hashlib.sha256(data).hexdigest()
    subgraph = model.subgraphs[0]
    tensors = subgraph.tensors or []
    constant = [model.buffers[t.buffer].data is not None and len(model.buffers[t.buffer].data) > 0 for t in tensors]
    layers = []
    for index, op in enumerate(subgraph.operators or []):
        name = op_name(model, op.opcodeIndex)
        inputs = [i for i in op.inputs if i >= 0]  # -1 marks an omitted optional input (e.g. no bias)
        layers.append({"index": index, "op": name,
                       "inputs": [_shape(tensors[i]) for i in inputs if not constant[i]],
                       "outputs": [_shape(tensors[i]) for i in op.outputs],
                       "params": sum(int(np.prod(tensors[i].shape)) for n, i in enumerate(op.inputs)
                                     if i >= 0 and constant[i] and _is_parameter(name, n, tensors[i])),
                       "macs": _macs(name, [tensors[i] for i in inputs], tensors[op.outputs[0]])})
    info = {"file": str(path), "bytes": len(data), "sha256": sha256,
            "inputs": [_tensor(tensors[i], i, constant[i]) for i in subgraph.inputs],
            "outputs": [_tensor(tensors[i], i, constant[i]) for i in subgraph.outputs],
            "ops": sorted({layer["op"] for layer in layers}), "layers": layers,
            "tensors": [_tensor(t, i, constant[i]) for i, t in enumerate(tensors)],
            "params": sum(layer["params"] for layer in layers), "macs": sum(layer["macs"] for layer in layers),
            "subgraphs": len(model.subgraphs), "arena": None,
            "latency": recorded_latency(path, sha256)}  # the run's estimate when `path` is a run's model
    if optimize is not None:
        info["aot"] = aot_layout(data, optimize)
    if arena:
        try:
            info["arena"] = tflm.minimum_arena(data)
        except PipelineError as e:
            info["arena"] = {"error": str(e)}
    return info


def _is_parameter(op: str, position: int, tensor) -> bool:
    """Weights and biases count as parameters; constant int32 shapes and axes (RESHAPE, MEAN, ...) do not."""
    return type_name(tensor.type) not in ("INT32", "INT64") or (position == 2 and op in WEIGHTED_OPS)


def _shape(tensor) -> list[int]:
    return [int(s) for s in tensor.shape] if tensor.shape is not None else []


def _tensor(tensor, index: int, constant: bool) -> dict:
    return {"index": int(index), "name": tensor_name(tensor), "type": type_name(tensor.type).lower(),
            "shape": _shape(tensor), "constant": constant, "quantization": quantization(tensor)}


def _macs(op: str, inputs: list, output) -> int:
    """Multiply-accumulates of one op: convolutions and fully-connected layers (the rest do no MACs)."""
    out = _shape(output)
    if op == "CONV_2D":  # filter (out_c, kh, kw, in_c)
        return int(np.prod(out)) * int(np.prod(_shape(inputs[1])[1:]))
    if op == "DEPTHWISE_CONV_2D":  # filter (1, kh, kw, out_c)
        kh, kw = _shape(inputs[1])[1:3]
        return int(np.prod(out)) * kh * kw
    if op == "FULLY_CONNECTED":  # weights (out, in)
        return int(np.prod(out)) * _shape(inputs[1])[1]
    return 0


def _quant_text(q: dict | None) -> str:
    if q is None:
        return "-"
    if len(q["scale"]) > 1:
        return f"per-channel x{len(q['scale'])} (axis {q['axis']})"
    return f"s={q['scale'][0]:.6g} zp={q['zero_point'][0]}"


def format_report(info: dict) -> str:
    """The text table `tinykd inspect` prints."""
    dims = lambda shape: "x".join(map(str, shape)) or "scalar"
    lines = [f"{info['file']}: {info['bytes']:,} bytes, sha256 {info['sha256'][:16]}…, "
             f"{len(info['layers'])} ops in {info['subgraphs']} subgraph(s)"]
    for role in ("inputs", "outputs"):
        for t in info[role]:
            lines.append(f"{role[:-1]:<7} {t['name']}: {t['type']} {dims(t['shape'])} {_quant_text(t['quantization'])}")
    lines += ["", f"{'#':>3}  {'op':<20}{'input':<16}{'output':<16}{'params':>9}{'MACs':>11}"]
    for layer in info["layers"]:
        first = dims(layer["inputs"][0]) if layer["inputs"] else "-"
        lines.append(f"{layer['index']:>3}  {layer['op']:<20}{first:<16}{dims(layer['outputs'][0]):<16}"
                     f"{layer['params']:>9,}{layer['macs']:>11,}")
    lines.append(f"{'':>3}  {'total':<52}{info['params']:>9,}{info['macs']:>11,}")
    lines += ["", f"{'#':>3}  {'tensor':<44}{'type':<9}{'shape':<14}quantization"]
    for t in info["tensors"]:
        kind = f"{t['type']}{'*' if t['constant'] else ''}"
        lines.append(f"{t['index']:>3}  {t['name'][:43]:<44}{kind:<9}{dims(t['shape']):<14}"
                     f"{_quant_text(t['quantization'])}")
    lines.append("(* constant: weights or biases in flash)")
    arena = info["arena"]
    if arena is None:
        lines.append("arena: not measured")
    elif "error" in arena:
        lines.append(f"arena: TFLite Micro cannot run the model ({arena['error']})")
    else:
        lines.append(f"arena: {arena['minimum']:,} bytes minimum on TFLite Micro (host, by bisection); "
                     f"allocator report {arena.get('total', 0):,} bytes")
    lines += [f"{what}: {value} ({how})" for what, value, how in latency_rows(info.get("latency") or {})]
    return "\n".join(lines + aot_lines(info.get("aot")))


def aot_layout(data: bytes, optimize: str) -> dict:
    """The AOT compiler's choice per layer with weights under `optimize`: {"optimize", "weight_bytes", "layers":
    [{index, op, output, layout, weight_bytes}]}, or {"optimize", "error"} when it cannot compile the model."""
    from pipeline.compiler import compile_model
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
