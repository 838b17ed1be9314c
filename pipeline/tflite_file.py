"""Reads a .tflite flatbuffer through the schema bindings that ship with the tflite-micro wheel.

`read_model` returns the flatbuffers object-API tree (`schema_fb.ModelT`) and turns every way a file can be
malformed (not a flatbuffer, truncated, offsets out of range, buffers missing) into one PipelineError.
"""
from __future__ import annotations

from pathlib import Path

from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema_fb

from pipeline.errors import PipelineError

# The four-byte file identifier every TFLite flatbuffer carries at offset 4.
FILE_IDENTIFIER = b"TFL3"
# Builtin operator code -> name, e.g. 3 -> "CONV_2D".
OP_NAMES = {code: name for name, code in vars(schema_fb.BuiltinOperator).items() if not name.startswith("_")}
# Tensor type code -> name, e.g. 9 -> "INT8".
TYPE_NAMES = {code: name for name, code in vars(schema_fb.TensorType).items() if not name.startswith("_")}


def model_bytes(source: str | Path | bytes) -> tuple[bytes, str]:
    """The raw bytes of a .tflite given as a path or as bytes, and a name for messages."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source), "the model"
    path = Path(source)
    if not path.is_file():
        raise PipelineError(f"Model file {str(path)!r} does not exist.", "Give the path of an int8 .tflite file.")
    return path.read_bytes(), path.name


def read_model(source: str | Path | bytes, name: str | None = None) -> schema_fb.ModelT:
    """Parses a .tflite (path or bytes) into the schema object tree; PipelineError if it is malformed.
    `name` names the model in messages (default: the file name)."""
    data, default_name = model_bytes(source)
    name = name or default_name
    hint = "Re-export it with `tinykd quantize` (or TFLiteConverter)."
    if len(data) < 8 or data[4:8] != FILE_IDENTIFIER:
        raise PipelineError(f"{name} is not a TFLite flatbuffer (no {FILE_IDENTIFIER.decode()} identifier).", hint)
    try:
        model = schema_fb.ModelT.InitFromObj(schema_fb.Model.GetRootAs(data, 0))
    except Exception as e:  # the generated bindings raise struct.error, IndexError, ValueError... on bad offsets
        raise PipelineError(f"{name} is a malformed flatbuffer ({type(e).__name__}: {e}).", hint) from None
    _check_structure(model, name, hint)
    return model


def _check_structure(model: schema_fb.ModelT, name: str, hint: str) -> None:
    """The references the compiler follows must point inside their tables."""
    def bad(what):
        raise PipelineError(f"{name} is malformed: {what}.", hint)

    if not model.subgraphs:
        bad("it has no subgraph")
    buffers = model.buffers or []
    codes = model.operatorCodes or []
    for g, graph in enumerate(model.subgraphs):
        tensors = graph.tensors or []
        for t, tensor in enumerate(tensors):
            if not 0 <= tensor.buffer < len(buffers):
                bad(f"tensor {t} of subgraph {g} refers to buffer {tensor.buffer} of {len(buffers)}")
        for io, indices in (("input", graph.inputs), ("output", graph.outputs)):
            for i in _as_list(indices):
                if not 0 <= i < len(tensors):
                    bad(f"subgraph {g} {io} {i} is not one of its {len(tensors)} tensors")
        for o, op in enumerate(graph.operators or []):
            if not 0 <= op.opcodeIndex < len(codes):
                bad(f"operator {o} uses opcode {op.opcodeIndex} of {len(codes)}")
            for i in _as_list(op.inputs) + _as_list(op.outputs):
                if not -1 <= i < len(tensors):
                    bad(f"operator {o} refers to tensor {i} of {len(tensors)}")


def _as_list(values) -> list[int]:
    return [] if values is None else [int(v) for v in values]


def op_name(model: schema_fb.ModelT, opcode_index: int) -> str:
    """The builtin name of an operator code (e.g. 'CONV_2D'), or 'CUSTOM:<name>'."""
    code = model.operatorCodes[opcode_index]
    builtin = max(code.builtinCode, code.deprecatedBuiltinCode)
    if builtin == schema_fb.BuiltinOperator.CUSTOM:
        custom = code.customCode.decode(errors="replace") if isinstance(code.customCode, bytes) else code.customCode
        return f"CUSTOM:{custom}"
    return OP_NAMES.get(builtin, f"OPCODE_{builtin}")
