"""Reading `.tflite` files through the flatbuffer schema bindings the tflite-micro wheel ships (object API).

`read_model` returns the schema's `ModelT` (subgraphs, tensors, operators, buffers as plain Python objects) and
turns the ways a file can be wrong (not a flatbuffer, another flatbuffer, truncated) into one PipelineError.
The flatbuffers Python runtime has no verifier, so a truncated file is caught by reading every table once
(`InitFromObj` touches every field) and by checking that each constant tensor's buffer holds the bytes its shape
and type need.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

from pipeline.errors import PipelineError

IDENTIFIER = b"TFL3"  # file_identifier of tensorflow/lite/schema/schema.fbs
TYPE_NAMES = {v: k for k, v in vars(schema.TensorType).items() if not k.startswith("_")}
OP_NAMES = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
TYPE_BYTES = {"FLOAT32": 4, "FLOAT16": 2, "INT32": 4, "UINT8": 1, "INT64": 8, "BOOL": 1, "INT16": 2, "INT8": 1,
              "FLOAT64": 8, "UINT64": 8, "UINT32": 4, "UINT16": 2}


def read_model(source: str | Path | bytes, name: str = "") -> "schema.ModelT":
    """Parse a .tflite file (a path or its bytes). Raises PipelineError naming the file when it is not one."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data, name = bytes(source), name or "model"
    else:
        name = name or str(source)
        try:
            data = Path(source).read_bytes()
        except OSError as e:
            raise PipelineError(f"Cannot read model '{name}': {e.strerror}.", "Give the path of a .tflite file.")
    if len(data) < 8 or data[4:8] != IDENTIFIER:
        found = data[4:8] if len(data) >= 8 else f"{len(data)} bytes"
        raise PipelineError(f"'{name}' is not a TFLite flatbuffer (identifier {found!r}, expected {IDENTIFIER!r}).",
                            "Give a .tflite file made by the TFLite converter (tinykd quantize writes one).")
    try:
        model = schema.ModelT.InitFromPackedBuf(bytearray(data), 0)
        _check_complete(model)
    except Exception as e:  # noqa: BLE001 - a damaged buffer fails as struct.error, IndexError, ValueError, ...
        raise PipelineError(f"'{name}' is a truncated or corrupt TFLite file ({len(data)} bytes; its tables "
                            "point past the end or hold the wrong sizes).",
                            "Write the model again (tinykd quantize --force).")
    return model


def _check_complete(model) -> None:
    if not model.subgraphs or model.buffers is None or model.operatorCodes is None:
        raise ValueError("no subgraph, buffer or operator table")
    for subgraph in model.subgraphs:
        for tensor in subgraph.tensors or []:
            if not 0 <= tensor.buffer < len(model.buffers):
                raise IndexError(f"tensor buffer index {tensor.buffer}")
            data = model.buffers[tensor.buffer].data
            size = TYPE_BYTES.get(type_name(tensor.type))
            if data is not None and len(data) and size and tensor.shape is not None:
                if len(data) != size * int(np.prod(tensor.shape, dtype=np.int64)):
                    raise ValueError(f"tensor {tensor.name!r} holds {len(data)} bytes")
        for op in subgraph.operators or []:
            if not 0 <= op.opcodeIndex < len(model.operatorCodes):
                raise IndexError(f"opcode index {op.opcodeIndex}")


def type_name(code: int) -> str:
    return TYPE_NAMES.get(code, f"TYPE_{code}")


def op_name(model, op) -> str:
    """The builtin name of an operator (CONV_2D, ...), or the custom code of a custom op."""
    code = model.operatorCodes[op.opcodeIndex]
    builtin = max(code.builtinCode, code.deprecatedBuiltinCode)  # old files keep the code in the deprecated field
    if builtin == schema.BuiltinOperator.CUSTOM:
        return (code.customCode or b"?").decode(errors="replace")
    return OP_NAMES.get(builtin, f"OP_{builtin}")


def used_ops(model) -> list[str]:
    """The distinct ops the operators of every subgraph use, in order of first use."""
    names: dict[str, None] = {}
    for subgraph in model.subgraphs:
        for op in subgraph.operators or []:
            names[op_name(model, op)] = None
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


def io_tensors(model, which: str) -> list:
    """The input or output tensors ("inputs" / "outputs") of the main subgraph."""
    subgraph = model.subgraphs[0]
    return [subgraph.tensors[i] for i in getattr(subgraph, which)]


def require_int8_io(model, name: str) -> None:
    """Raise PipelineError unless every input and output of the model is int8 (what the firmware exchanges)."""
    for which in ("inputs", "outputs"):
        for tensor in io_tensors(model, which):
            kind = type_name(tensor.type)
            if kind != "INT8":
                raise PipelineError(
                    f"'{name}' has {which[:-1]} tensor '{tensor_name(tensor)}' of type {kind}; int8 is required.",
                    "Quantize the model fully to int8 first (tinykd quantize).")
