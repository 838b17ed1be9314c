"""Constant folding of shape arithmetic: a model converted with a dynamic batch (or a Keras Reshape of one) computes
the new shape at run time (SHAPE -> STRIDED_SLICE -> PACK -> RESHAPE). Every shape is static here, so those
int32 operators are evaluated once with numpy and their outputs become constant tensors; they cost nothing on
the device. The same slicing rules serve the int8 STRIDED_SLICE / SLICE kernels (`strided_slice`)."""
from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np

from pipeline.errors import PipelineError

if TYPE_CHECKING:  # graph.build_graph calls fold: at run time this module needs only the ops' own fields
    from pipeline.compiler.graph import Graph

# Types of the tensors shape arithmetic produces (the int8 data path is never folded).
SHAPE_TYPES = {"INT32", "INT64"}


def strided_slice(array: np.ndarray, begin, end, strides, options) -> np.ndarray:
    """TFLite's STRIDED_SLICE of `array` (numpy's slicing rules: negative indices count from the end, ends are
    clamped): begin/end masks take the whole range, shrink-axis picks one index and drops the dimension, and the
    `offset` option makes `end` relative to `begin`."""
    begin, end, strides = (np.asarray(v, np.int64).reshape(-1) for v in (begin, end, strides))
    if getattr(options, "ellipsisMask", 0) or getattr(options, "newAxisMask", 0):
        raise ValueError("ellipsis and new-axis masks are not supported")
    index = []
    for d in range(len(begin)):
        bit = 1 << d
        b, e, s = int(begin[d]), int(end[d]), int(strides[d])
        if getattr(options, "offset", False):
            e = b + e
        if getattr(options, "shrinkAxisMask", 0) & bit:
            if getattr(options, "beginMask", 0) & bit:  # the mask applies first: the first (or, backwards, last)
                b = 0 if s > 0 else -1
            index.append(b)
            continue
        if s == 0:
            raise ValueError("a stride of 0")
        index.append(slice(None if getattr(options, "beginMask", 0) & bit else b,
                           None if getattr(options, "endMask", 0) & bit else e, s))
    return array[tuple(index)]


def _shape(op, values, graph):
    return np.asarray(graph.tensors[op.inputs[0]].shape, np.int64)


def _strided_slice(op, values, graph):
    return strided_slice(values[0], values[1], values[2], values[3], op.options)


def sliced(array: np.ndarray, begin, size) -> np.ndarray:
    """TFLite's SLICE of `array`: `size` elements from `begin` along each dimension (-1: to the end)."""
    begin, size = np.asarray(begin).reshape(-1), np.asarray(size).reshape(-1)
    return array[tuple(slice(int(b), None if s == -1 else int(b) + int(s)) for b, s in zip(begin, size))]


def _slice(op, values, graph):
    return sliced(values[0], values[1], values[2])


def _pack(op, values, graph):
    return np.stack(values, axis=op.options.axis)


def _concatenation(op, values, graph):
    return np.concatenate(values, axis=op.options.axis)


def _reshape(op, values, graph):
    return values[0].reshape(graph.tensors[op.outputs[0]].shape)


def _gather(op, values, graph):
    return np.take(values[0], values[1], axis=op.options.axis)


def _arithmetic(function):
    return lambda op, values, graph: function(values[0], values[1])


FOLDERS = {"SHAPE": _shape, "STRIDED_SLICE": _strided_slice, "SLICE": _slice, "PACK": _pack,
           "CONCATENATION": _concatenation, "RESHAPE": _reshape, "EXPAND_DIMS": _reshape, "SQUEEZE": _reshape,
           "GATHER": _gather, "MUL": _arithmetic(np.multiply), "ADD": _arithmetic(np.add),
           "SUB": _arithmetic(np.subtract)}


def fold(graph: Graph) -> Graph:
    """`graph` with every foldable operator evaluated: its outputs get constant data, it leaves graph.ops, and
    the remaining operators are renumbered in order."""
    kept = []
    for op in graph.ops:
        if not all(-1 <= i < len(graph.tensors) for i in [*op.inputs, *op.outputs]) or -1 in op.outputs:
            kept.append(op)  # malformed: the type checks name it
            continue
        outs = [graph.tensors[i] for i in op.outputs]
        ins = [graph.tensors[i] for i in op.inputs if i >= 0]
        constant = op.name == "SHAPE" or all(t.data is not None for t in ins)
        if op.name in FOLDERS and constant and outs and all(t.dtype in SHAPE_TYPES for t in outs):
            try:
                value = FOLDERS[op.name](op, [t.data for t in ins], graph)
            except (ValueError, IndexError, TypeError, AttributeError) as e:
                raise PipelineError(f"{graph.name}: op {op.index} ({op.name}) on constant shapes could not be "
                                    f"evaluated ({e}).", "Convert the model with a fixed batch size of 1.") from None
            out = outs[0]
            out.data = np.asarray(value).astype(np.int32 if out.dtype == "INT32" else np.int64).reshape(out.shape)
            continue
        if op.name == "RESHAPE" and len(ins) > 1 and ins[1].data is not None:
            _resolve_reshape(ins[0], ins[1].data, outs[0])
        elif any(t.dynamic_batch for t in outs) and ins:
            _resolve_batch(op, ins, outs)
        kept.append(op)
    graph.ops = [dataclasses.replace(op, index=i) for i, op in enumerate(kept)]
    return graph


def _resolve_reshape(x, new_shape: np.ndarray, out) -> None:
    """A RESHAPE of a model converted with a dynamic batch declares a placeholder output shape; the new-shape
    tensor (now constant) gives the real one, -1 inferred from the input's size."""
    shape = [int(d) for d in np.asarray(new_shape).reshape(-1)]
    if shape.count(-1) == 1:
        known = int(np.prod([d for d in shape if d != -1], dtype=np.int64))
        if known > 0 and x.size % known == 0:
            shape[shape.index(-1)] = x.size // known
    if -1 not in shape and int(np.prod(shape, dtype=np.int64)) == x.size and out.size != x.size:
        out.shape = tuple(shape)


def _resolve_batch(op, ins, outs) -> None:
    """Outputs of a model converted with a dynamic batch declare batch 1 where the runtime computes it: the
    batch <-> space moves of a dilated Conv1D change it (TFLM recomputes their shapes at Prepare); every other op
    keeps its first input's batch."""
    x, out = (ins[2] if op.name == "TRANSPOSE_CONV" and len(ins) > 2 else ins[0]), outs[0]  # the data input
    if not x.shape or not out.shape:
        return
    if op.name in ("SPACE_TO_BATCH_ND", "BATCH_TO_SPACE_ND") and all(t is not None and t.data is not None
                                                                     for t in ins[1:3]):
        block = [int(b) for b in ins[1].data.reshape(-1)]
        pairs = ins[2].data.reshape(-1, 2).astype(int).tolist()
        spatial = list(x.shape[1:1 + len(block)])
        if op.name == "SPACE_TO_BATCH_ND":
            sizes = [(s + a + b) // k for s, (a, b), k in zip(spatial, pairs, block)]
            batch = x.shape[0] * int(np.prod(block))
        else:
            sizes = [s * k - a - b for s, (a, b), k in zip(spatial, pairs, block)]
            batch = x.shape[0] // int(np.prod(block))
        out.shape = (batch, *sizes, *x.shape[1 + len(block):])
    elif op.name == "FULLY_CONNECTED" and len(out.shape) == 2:
        depth = ins[1].shape[-1]
        out.shape = (x.size // depth, out.shape[1])
    elif out.shape[0] == 1 and x.shape[0] != 1:
        out.shape = (x.shape[0], *out.shape[1:])
