"""Reading `.tflite` files through the flatbuffer schema bindings the tflite-micro wheel ships (object API).

`read_model` returns the schema's `ModelT` (subgraphs, tensors, operators, buffers as plain Python objects) and
turns every way a file can be wrong (not a flatbuffer, another flatbuffer, truncated, offsets out of range,
buffers of the wrong size) into one PipelineError. The flatbuffers Python runtime has no verifier, so reading
every table once (`InitFromObj`) and checking each reference and each constant buffer's size stands in for one.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema_fb

from pipeline.errors import PipelineError

FILE_IDENTIFIER = b"TFL3"  # file_identifier of tensorflow/lite/schema/schema.fbs, at offset 4
OP_NAMES = {code: name for name, code in vars(schema_fb.BuiltinOperator).items() if not name.startswith("_")}
TYPE_NAMES = {code: name for name, code in vars(schema_fb.TensorType).items() if not name.startswith("_")}
TYPE_BYTES = {"FLOAT32": 4, "FLOAT16": 2, "INT32": 4, "UINT8": 1, "INT64": 8, "BOOL": 1, "INT16": 2, "INT8": 1,
              "FLOAT64": 8, "UINT64": 8, "UINT32": 4, "UINT16": 2}


def model_bytes(source: str | Path | bytes) -> tuple[bytes, str]:
    """The raw bytes of a .tflite given as a path or as bytes, and a name for messages."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source), "the model"
    path = Path(source)
    if not path.is_file():
        raise PipelineError(f"Model file '{path}' does not exist.", "Give the path of an int8 .tflite file.")
    return path.read_bytes(), str(path)


def read_model(source: str | Path | bytes, name: str | None = None) -> schema_fb.ModelT:
    """Parse a .tflite (path or bytes) into the schema object tree; PipelineError naming it if it is malformed."""
    data, default_name = model_bytes(source)
    name = name or default_name
    if len(data) < 8 or data[4:8] != FILE_IDENTIFIER:
        found = data[4:8] if len(data) >= 8 else f"{len(data)} bytes"
        raise PipelineError(f"'{name}' is not a TFLite flatbuffer (identifier {found!r}, expected "
                            f"{FILE_IDENTIFIER!r}).", "Give a .tflite file made by the TFLite converter "
                            "(tinykd quantize writes one).")
    try:
        model = schema_fb.ModelT.InitFromObj(schema_fb.Model.GetRootAs(data, 0))
        problem = _structure_problem(model)
    except Exception as e:  # noqa: BLE001 - the generated bindings raise struct.error, IndexError, ValueError...
        problem = f"{type(e).__name__} while reading its tables"
    if problem:
        raise PipelineError(f"'{name}' is a truncated or corrupt TFLite file ({len(data)} bytes): {problem}.",
                            "Write the model again (tinykd quantize --force).")
    return model


def _structure_problem(model: schema_fb.ModelT) -> str:
    """The first reference that points outside its table, or constant buffer of the wrong size ('' if none)."""
    if not model.subgraphs:
        return "it has no subgraph"
    buffers, codes = model.buffers or [], model.operatorCodes or []
    for g, graph in enumerate(model.subgraphs):
        tensors = graph.tensors or []
        for t, tensor in enumerate(tensors):
            if not 0 <= tensor.buffer < len(buffers):
                return f"tensor {t} of subgraph {g} refers to buffer {tensor.buffer} of {len(buffers)}"
            data, size = buffers[tensor.buffer].data, TYPE_BYTES.get(type_name(tensor.type))
            if data is not None and len(data) and size and tensor.shape is not None:
                if len(data) != size * int(np.prod(tensor.shape, dtype=np.int64)):
                    return f"tensor {tensor_name(tensor)!r} holds {len(data)} bytes, its shape needs more"
        for io, indices in (("input", graph.inputs), ("output", graph.outputs)):
            for i in as_ints(indices):
                if not 0 <= i < len(tensors):
                    return f"subgraph {g} {io} {i} is not one of its {len(tensors)} tensors"
        for o, op in enumerate(graph.operators or []):
            if not 0 <= op.opcodeIndex < len(codes):
                return f"operator {o} uses opcode {op.opcodeIndex} of {len(codes)}"
            for i in as_ints(op.inputs) + as_ints(op.outputs):
                if not -1 <= i < len(tensors):
                    return f"operator {o} refers to tensor {i} of {len(tensors)}"
    return ""


def as_ints(values) -> list[int]:
    return [] if values is None else [int(v) for v in values]


def type_name(code: int) -> str:
    return TYPE_NAMES.get(code, f"TYPE_{code}")


def op_name(model: schema_fb.ModelT, opcode_index: int) -> str:
    """The builtin name of an operator code (e.g. 'CONV_2D'), or 'CUSTOM:<name>'."""
    code = model.operatorCodes[opcode_index]
    builtin = max(code.builtinCode, code.deprecatedBuiltinCode)  # old files keep the code in the deprecated field
    if builtin == schema_fb.BuiltinOperator.CUSTOM:
        custom = code.customCode.decode(errors="replace") if isinstance(code.customCode, bytes) else code.customCode
        return f"CUSTOM:{custom}"
    return OP_NAMES.get(builtin, f"OPCODE_{builtin}")


def used_ops(model: schema_fb.ModelT) -> list[str]:
    """The distinct ops the operators of every subgraph use, in order of first use."""
    names: dict[str, None] = {}
    for subgraph in model.subgraphs:
        for op in subgraph.operators or []:
            names[op_name(model, op.opcodeIndex)] = None
    return list(names)


def tensor_name(tensor) -> str:
    name = tensor.name
    return name.decode(errors="replace") if isinstance(name, bytes) else str(name or "")


def quantization(tensor) -> dict | None:
    """{"scale": [...], "zero_point": [...], "axis": d} of a quantized tensor, None for a float one."""
    q = tensor.quantization
    if q is None or q.scale is None or len(q.scale) == 0:
        return None
    return {"scale": [float(s) for s in q.scale], "zero_point": [int(z) for z in q.zeroPoint],
            "axis": int(q.quantizedDimension)}


def io_tensors(model: schema_fb.ModelT, which: str) -> list:
    """The input or output tensors ("inputs" / "outputs") of the main subgraph."""
    subgraph = model.subgraphs[0]
    return [subgraph.tensors[i] for i in getattr(subgraph, which)]


def require_int8_io(model: schema_fb.ModelT, name: str) -> None:
    """Raise PipelineError unless every input and output of the model is int8 (what the firmware exchanges)."""
    for which in ("inputs", "outputs"):
        for tensor in io_tensors(model, which):
            kind = type_name(tensor.type)
            if kind != "INT8":
                raise PipelineError(
                    f"'{name}' has {which[:-1]} tensor '{tensor_name(tensor)}' of type {kind}; int8 is required.",
                    "Quantize the model fully to int8 first (tinykd quantize).")
