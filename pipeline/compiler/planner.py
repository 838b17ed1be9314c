"""Static memory plan: every intermediate tensor gets a fixed offset in one arena.

Tensors live from the op that writes them to the last op that reads them. An element-wise op (ADD, SOFTMAX,
LOGISTIC, QUANTIZE) writes over an input that dies with it, and a RESHAPE reuses its input's bytes: the kernels
read each element before they write it, so sharing is exact. Buffers are then placed largest first at the lowest
offset free during their whole lifetime (the greedy-by-size strategy of TFLM's GreedyMemoryPlanner). The model's
input and output stay in the caller's buffers and take no arena space.
"""
from __future__ import annotations

from dataclasses import dataclass

from pipeline.compiler.graph import Graph

# Ops whose output may share its input's memory (each output element depends only on elements already read).
IN_PLACE_OPS = {"ADD", "SOFTMAX", "LOGISTIC", "QUANTIZE", "RESHAPE"}
# Offsets are multiples of this many bytes.
ALIGNMENT = 4


@dataclass
class Buffer:
    tensors: list[int]   # tensors sharing these bytes (an in-place chain)
    size: int            # bytes
    first: int           # index of the op that writes it first
    last: int            # index of the op that reads it last
    offset: int = -1


@dataclass
class MemoryPlan:
    offsets: dict[int, int]   # arena tensor index -> byte offset
    arena_bytes: int
    buffers: list[Buffer]

    def pointer(self, graph: Graph, index: int) -> str:
        """C expression for a tensor's data inside tk_model_invoke."""
        if index == graph.input:
            return "input"
        if index == graph.output:
            return "output"
        return f"(tk_arena + {self.offsets[index]})"


def plan_memory(graph: Graph) -> MemoryPlan:
    external = {graph.input, graph.output}
    last_use = {}
    for op in graph.ops:
        for t in op.inputs:
            if t >= 0:
                last_use[t] = op.index
    buffer_of: dict[int, Buffer] = {}
    buffers: list[Buffer] = []
    for op in graph.ops:
        out = op.outputs[0]
        if out in external:
            continue
        size = graph.tensors[out].size
        shared = _in_place_input(graph, op, last_use, external, buffer_of)
        if shared is not None:
            buffer = buffer_of[shared]
            buffer.tensors.append(out)
        else:
            buffer = Buffer([out], size, op.index, op.index)
            buffers.append(buffer)
        buffer_of[out] = buffer
        buffer.last = max(buffer.last, last_use.get(out, op.index))
    _place(buffers)
    offsets = {t: b.offset for b in buffers for t in b.tensors}
    arena = max((_align(b.offset + b.size) for b in buffers), default=0)
    return MemoryPlan(offsets, arena, buffers)


def _in_place_input(graph, op, last_use, external, buffer_of):
    """The input whose buffer the op's output can take over, or None."""
    if op.name not in IN_PLACE_OPS:
        return None
    out = graph.tensors[op.outputs[0]]
    candidates = op.inputs[:2] if op.name == "ADD" else op.inputs[:1]
    for t in candidates:
        if t in external or t not in buffer_of or last_use.get(t) != op.index:
            continue
        if op.name == "ADD" and candidates.count(t) > 1:
            continue
        if graph.tensors[t].size == out.size:
            return t
    return None


def _align(n: int) -> int:
    return (n + ALIGNMENT - 1) // ALIGNMENT * ALIGNMENT


def _place(buffers: list[Buffer]) -> None:
    placed: list[Buffer] = []
    for buffer in sorted(buffers, key=lambda b: (-b.size, b.first)):
        live = sorted((p for p in placed if p.first <= buffer.last and buffer.first <= p.last),
                      key=lambda p: p.offset)
        offset = 0
        for other in live:
            if offset + buffer.size <= other.offset:
                break
            offset = max(offset, _align(other.offset + other.size))
        buffer.offset = offset
        placed.append(buffer)
