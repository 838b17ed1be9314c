"""The model as the compiler sees it: tensors with shapes, quantization and constant data, and operators in
execution order. Built from the flatbuffer object tree; everything the AOT engine cannot run is refused here
with a PipelineError that names it."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.compiler import registry
from pipeline.compiler.fold import fold
from pipeline.errors import PipelineError
from pipeline.int8.tflite_file import as_ints, op_name, tensor_name, type_name

# Fused activation codes of the schema's ActivationFunctionType that the kernels clamp for.
ACTIVATIONS = {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6"}
_NUMPY_TYPES = {"INT8": np.int8, "INT32": np.int32, "INT64": np.int64, "UINT8": np.uint8, "INT16": np.int16,
                "FLOAT32": np.float32}


@dataclass
class Tensor:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str                      # schema type name: INT8, INT32, ...
    scales: list[float]             # one per tensor, or one per channel along quantized_dimension
    zero_points: list[int]
    data: np.ndarray | None = None  # constant tensors: their values, shaped
    dynamic_batch: bool = False     # converted with batch -1: the shape holds a placeholder batch (fold.py)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) if self.shape else 1

    @property
    def scale(self) -> float:
        return self.scales[0]

    @property
    def zero_point(self) -> int:
        return self.zero_points[0]


@dataclass
class Op:
    index: int
    name: str                       # builtin name, e.g. CONV_2D
    inputs: list[int]               # tensor indices; -1 = optional input left out
    outputs: list[int]
    options: object                 # the schema's *OptionsT object (or None)


@dataclass
class Graph:
    name: str
    tensors: list[Tensor]
    ops: list[Op]
    input: int                      # index of the one input tensor
    output: int                     # index of the one output tensor


def build_graph(model, name: str = "the model") -> Graph:
    """The compiler's graph of subgraph 0 of a parsed model; PipelineError for anything unsupported."""
    if len(model.subgraphs) != 1:
        raise PipelineError(f"{name} has {len(model.subgraphs)} subgraphs; the AOT engine compiles exactly one.",
                            "Run models with control flow with TFLite Micro on a board "
                            "(`tinykd run --engine tflm --port ...`).")
    sub = model.subgraphs[0]
    tensors = [_tensor(model, i, t, name) for i, t in enumerate(sub.tensors or [])]
    ops = [Op(i, op_name(model, op.opcodeIndex), as_ints(op.inputs), as_ints(op.outputs), op.builtinOptions)
           for i, op in enumerate(sub.operators or [])]
    inputs, outputs = as_ints(sub.inputs), as_ints(sub.outputs)
    if len(inputs) != 1 or len(outputs) != 1:
        raise PipelineError(f"{name} has {len(inputs)} inputs and {len(outputs)} outputs; the AOT engine "
                            "compiles models with one of each.",
                            "Export one input and one output, or run the model with TFLite Micro on a board "
                            "(`tinykd run --engine tflm --port ...`).")
    if inputs == outputs:
        raise PipelineError(f"{name} has no operator between its input and output.", "Check the export.")
    graph = fold(Graph(name, tensors, ops, inputs[0], outputs[0]))  # shape arithmetic, placeholder batches
    _check_batch(tensors, inputs[0], outputs[0], name)
    registry.check_supported(graph.ops, tensors, name)
    _check_types(graph)
    return graph


def _tensor(model, index: int, t, name: str) -> Tensor:
    dtype = type_name(t.type)
    shape = tuple(int(d) for d in (t.shape if t.shape is not None else []))
    if any(d < 0 for d in shape):
        raise PipelineError(f"Tensor {index} of {name} has a dynamic shape {shape}.",
                            "Convert with a fixed batch size of 1.")
    q = t.quantization
    scales = [float(s) for s in (q.scale if q is not None and q.scale is not None else [])] or [0.0]
    zero_points = [int(z) for z in (q.zeroPoint if q is not None and q.zeroPoint is not None else [])] or [0]
    signature = list(t.shapeSignature) if t.shapeSignature is not None else []
    tensor = Tensor(index, tensor_name(t), shape, dtype, scales, zero_points,
                    dynamic_batch=bool(signature) and signature[0] == -1)
    buffer = model.buffers[t.buffer]
    raw = buffer.data
    if raw is not None and len(raw) > 0:
        if dtype not in _NUMPY_TYPES:
            raise PipelineError(f"Tensor {index} ({tensor.name!r}) of {name} has type {dtype}.",
                                "The AOT engine compiles full-int8 models: convert with int8 input and output.")
        raw = np.asarray(raw, dtype=np.uint8).tobytes()
        itemsize = np.dtype(_NUMPY_TYPES[dtype]).itemsize
        if len(raw) != tensor.size * itemsize:
            raise PipelineError(f"{name} is malformed: buffer {t.buffer} of tensor {index} holds {len(raw)} bytes, "
                                f"its shape {shape} needs {tensor.size * itemsize}.",
                                "Re-export the model.")
        tensor.data = np.frombuffer(raw, dtype=_NUMPY_TYPES[dtype]).reshape(shape)
    elif buffer.offset:
        raise PipelineError(f"Tensor {index} of {name} keeps its data outside the flatbuffer (buffer offset).",
                            "Convert without external buffers.")
    return tensor


def _check_batch(tensors, input_index: int, output_index: int, name: str) -> None:
    for role, index in (("input", input_index), ("output", output_index)):
        shape = tensors[index].shape if 0 <= index < len(tensors) else ()
        if shape and shape[0] != 1:
            raise PipelineError(f"The {role} of {name} has shape {shape}: one sample (batch 1) in and out is "
                                "what the AOT engine runs.", "Convert with a batch size of 1.")


def _check_types(graph: Graph) -> None:
    """Activations are int8 with one scale; the compiler relies on it everywhere. The one exception: a final
    DEQUANTIZE may give the model a float32 output."""
    needed = {graph.input, graph.output}
    for op in graph.ops:
        if not op.outputs:
            raise PipelineError(f"Op {op.index} ({op.name}) of {graph.name} has no output.", "Re-export the model.")
        needed.update(op.outputs)  # and every non-constant input (an index out of range is reported below)
        needed.update(i for i in op.inputs
                      if i != -1 and (not 0 <= i < len(graph.tensors) or graph.tensors[i].data is None))
    for index in sorted(needed):
        if not 0 <= index < len(graph.tensors):
            raise PipelineError(f"{graph.name} is malformed: tensor {index} does not exist.", "Re-export the model.")
        t = graph.tensors[index]
        if t.dtype == "FLOAT32" and index == graph.output and _producer(graph, index) == "DEQUANTIZE":
            continue
        if t.dtype != "INT8":
            raise PipelineError(f"Tensor {index} ({t.name!r}) of {graph.name} has type {t.dtype}; the AOT engine "
                                "runs full-int8 models.", "Convert with int8 input (and int8 or float32 output).")
        if len(t.scales) != 1 or not t.scale > 0:
            raise PipelineError(f"Tensor {index} ({t.name!r}) of {graph.name} has no valid per-tensor scale "
                                f"({t.scales}).", "Re-export the model with full-int8 quantization.")


def _producer(graph: Graph, index: int) -> str | None:
    return next((op.name for op in graph.ops if index in op.outputs), None)
