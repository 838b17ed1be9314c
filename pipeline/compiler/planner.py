"""Static memory plan: every intermediate tensor gets a fixed offset in one arena.

Tensors live from the op that writes them to the last op that reads them. An element-wise op (in-place rule
ELEMENTWISE in its registry entry: ADD, SOFTMAX, ...) writes over an input that dies with it, and a VIEW (RESHAPE,
EXPAND_DIMS, SQUEEZE) reuses its input's bytes: the kernels read each element before they write it, so sharing
is exact. Buffers are then placed largest first at the lowest offset free during their whole lifetime (the
greedy-by-size strategy of TFLM's GreedyMemoryPlanner). The model's input and output stay in the caller's buffers
and take no arena space.

A ROWS op (CONV_2D, DEPTHWISE_CONV_2D) whose input dies with it may also write over that input, its output starting
`overlap_shift` bytes lower: the kernels write output rows in order, and once output row y is being written only
input rows >= y * stride - pad are still read, so the shift keeps every write below every byte still to be read.
Each such overlap is kept only if it makes the arena smaller (the merged region lives as long as the output).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from pipeline.compiler import registry
from pipeline.compiler.graph import Graph, Op
# Offsets are multiples of this many bytes.
ALIGNMENT = 4


@dataclass
class Buffer:
    tensors: list[int]   # tensors sharing these bytes (an in-place chain)
    size: int            # bytes
    first: int           # index of the op that writes it first
    last: int            # index of the op that reads it last
    offset: int = -1
    inner: dict[int, int] = field(default_factory=dict)  # tensor -> its byte offset within the buffer


@dataclass
class MemoryPlan:
    offsets: dict[int, int]   # arena tensor index -> byte offset
    arena_bytes: int
    buffers: list[Buffer]
    overlaps: set[int] = field(default_factory=set)  # ops whose output overlaps their input (overlap_shift)
    scratch: dict[int, int] = field(default_factory=dict)  # op index -> byte offset of its scratch buffer

    def pointer(self, graph: Graph, index: int) -> str:
        """C expression for a tensor's data inside tk_model_invoke."""
        if index == graph.input:
            return "input"
        if index == graph.output:
            return "output"
        return f"(tk_arena + {self.offsets[index]})"

    def scratch_pointer(self, op_index: int) -> str:
        return f"(tk_arena + {self.scratch[op_index]})"

def plan_memory(graph: Graph, scratch: dict[int, int] | None = None, in_place: set[int] | None = None) -> MemoryPlan:
    """`scratch`: op index -> bytes of scratch memory the op's kernel needs while it runs (fast kernels);
    `in_place`: ops beyond the element-wise ones whose kernel may write its output exactly over its input (the
    planar 3x3 depthwise).

    The smallest of two greedy searches over the possible conv overlaps: adding each one that shrinks the arena
    (from none), and dropping each one whose removal does not grow it (from all). Both are cheap; neither wins
    everywhere (a long overlapped chain is one region as large as its largest member)."""
    in_place = in_place or set()  # their kernels write exactly over the input, never shifted against it
    candidates = [op.index for op in graph.ops if op.index not in in_place and overlap_shift(graph, op) is not None]
    plans = [_greedy(graph, candidates, set(), scratch, in_place, add=True),
             _greedy(graph, candidates, set(candidates), scratch, in_place, add=False)]
    return min(plans, key=lambda plan: plan.arena_bytes)


def _greedy(graph: Graph, candidates: list[int], chosen: set[int], scratch, in_place, add: bool) -> MemoryPlan:
    best = _plan(graph, chosen, scratch, in_place)
    for i in candidates:
        trial_set = chosen | {i} if add else chosen - {i}
        trial = _plan(graph, trial_set, scratch, in_place)
        if trial.arena_bytes < best.arena_bytes or (not add and trial.arena_bytes == best.arena_bytes):
            chosen, best = trial_set, trial
    return best


def overlap_shift(graph: Graph, op: Op) -> int | None:
    """Bytes by which a row-order op's output must start below its input to overlap it exactly; None if the op
    cannot overlap. Output row y (bytes [(y+1) * out_row) from the output start) is written while input rows from
    max(0, y * stride - pad) on are still to be read; it must end at or before the first of them."""
    if registry.spec(op.name).in_place != registry.ROWS:
        return None
    x, y = graph.tensors[op.inputs[0]], graph.tensors[op.outputs[0]]
    if len(x.shape) != 4 or len(y.shape) != 4 or x.shape[0] != 1 or y.shape[0] != 1:
        return None
    from pipeline.compiler.lower import padding  # the kernels' padding, as lowered
    o = op.options
    kernel_h = graph.tensors[op.inputs[1]].shape[1]   # (out_c, kh, kw, in_c) or (1, kh, kw, out_c)
    pad = padding(o.padding, x.shape[1], kernel_h, o.strideH, o.dilationHFactor, y.shape[1])
    in_row, out_row, stride = x.shape[2] * x.shape[3], y.shape[2] * y.shape[3], o.strideH
    if stride < 1:
        return None

    def needed(out_y):  # bytes output row out_y must stay below the input
        return (out_y + 1) * out_row - min(x.shape[1], max(0, out_y * stride - pad)) * in_row

    # linear between the rows where the clamps start and stop acting: its maximum is at one of them
    first_read = -(-pad // stride)                  # first out_y with out_y * stride - pad >= 0
    past_end = -(-(x.shape[1] + pad) // stride)     # first out_y reading past the last input row
    rows = {0, y.shape[1] - 1, first_read - 1, first_read, past_end - 1, past_end}
    shift = max(needed(r) for r in rows if 0 <= r < y.shape[1])
    return _align(max(shift, 0))


def _plan(graph: Graph, overlaps: set[int], scratch: dict[int, int] | None, in_place: set[int]) -> MemoryPlan:
    external = {graph.input, graph.output}
    last_use = {}
    for op in graph.ops:
        for t in op.inputs:
            if t >= 0:
                last_use[t] = op.index
    buffer_of: dict[int, Buffer] = {}
    buffers: list[Buffer] = []
    applied = set()
    for op in graph.ops:
        for out in op.outputs[1:]:  # several outputs (SPLIT, UNPACK): each its own buffer
            if out not in external:
                buffer = Buffer([out], graph.tensors[out].size, op.index, max(op.index, last_use.get(out, 0)),
                                inner={out: 0})
                buffers.append(buffer)
                buffer_of[out] = buffer
        out = op.outputs[0]
        if out in external:
            continue
        size = _bytes(graph, out)
        shared = (_in_place_input(graph, op, last_use, external, buffer_of, op.index in in_place)
                  if len(op.outputs) == 1 else None)
        x = op.inputs[0]
        if shared is not None:
            buffer = buffer_of[shared]
            buffer.inner[out] = buffer.inner[shared]
        elif op.index in overlaps and x in buffer_of and x not in external and last_use.get(x) == op.index:
            buffer = buffer_of[x]
            applied.add(op.index)
            start = buffer.inner[x] - overlap_shift(graph, op)
            if start < 0:  # make room below: move the whole (not yet placed) buffer up
                buffer.inner = {t: inner - start for t, inner in buffer.inner.items()}
                buffer.size -= start
                start = 0
            buffer.inner[out] = start
            buffer.size = max(buffer.size, start + size)
        else:
            buffer = Buffer([], size, op.index, op.index, inner={out: 0})
            buffers.append(buffer)
        buffer.tensors.append(out)
        buffer_of[out] = buffer
        buffer.last = max(buffer.last, last_use.get(out, op.index))
    scratch_buffers = {index: Buffer([], size, index, index) for index, size in (scratch or {}).items() if size}
    buffers += scratch_buffers.values()  # live during their op only: never over its input or output
    _place(buffers)
    offsets = {t: b.offset + b.inner[t] for b in buffers for t in b.tensors}
    arena = max((_align(b.offset + b.size) for b in buffers), default=0)
    return MemoryPlan(offsets, arena, buffers, applied, {index: b.offset for index, b in scratch_buffers.items()})


def _in_place_input(graph, op, last_use, external, buffer_of, kernel_in_place=False):
    """The input whose buffer the op's output can take over, or None."""
    rule = registry.spec(op.name).in_place
    if rule not in (registry.ELEMENTWISE, registry.VIEW) and not kernel_in_place:
        return None
    out = graph.tensors[op.outputs[0]]
    candidates = [t for t in op.inputs if t >= 0] if rule == registry.ELEMENTWISE else op.inputs[:1]
    for t in candidates:
        if t in external or t not in buffer_of or last_use.get(t) != op.index:
            continue
        if candidates.count(t) > 1:
            continue
        if graph.tensors[t].size == out.size:
            return t
    return None


def _bytes(graph: Graph, index: int) -> int:
    t = graph.tensors[index]
    return t.size * (4 if t.dtype in ("FLOAT32", "INT32") else 1)


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
