"""Lowers each operator to kernel calls: the parameter structs (designated initialisers), the constant arrays
(weights, biases, per-channel multipliers) and the calls themselves, as C text. All arithmetic happens in Python;
the templates only loop. What each operator becomes is its registry entry's lowering function
(pipeline/compiler/ops/); this module holds what they share."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pipeline.compiler import pack, policy, quant, registry
from pipeline.compiler.graph import ACTIVATIONS, Graph, Op, Tensor
from pipeline.compiler.kernels import Kernel
from pipeline.errors import PipelineError

PADDING_SAME, PADDING_VALID = 0, 1
# Most dimensions a tensor (or a strided copy's index space) may have.
MAX_DIMS = 6


@dataclass
class ConstArray:
    name: str
    ctype: str                      # int8_t, int16_t or int32_t
    values: np.ndarray              # flat

    @property
    def nbytes(self) -> int:
        return int(self.values.size * np.dtype(self.values.dtype).itemsize)


@dataclass
class Call:
    op: Op
    summary: str                    # a comment: op, shapes, the layer it came from
    decls: list[tuple[str, str, str]] = field(default_factory=list)   # static const (ctype, name, initializer)
    locals: list[tuple[str, str, str]] = field(default_factory=list)  # declared in the invoke function
    statements: list[tuple[str, list[str]]] = field(default_factory=list)  # (kernel function, C arguments)


def tensor_ref(index: int) -> str:
    """Placeholder for a tensor's data in the arena, not known while lowering (codegen.resolve replaces it)."""
    return f"@t{index}@"


def scratch_ref(op_index: int) -> str:
    """Placeholder for an op's scratch buffer in the arena."""
    return f"@s{op_index}@"


def c_init(value) -> str:
    """A C initialiser: dicts become designated initialisers ({.stride_h = 2, ...}), lists and tuples braces."""
    if isinstance(value, dict):
        return "{" + ", ".join(f".{k} = {c_init(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "{" + ", ".join(c_init(v) for v in value) + "}"
    if isinstance(value, (bool, np.bool_)):
        return str(int(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return str(value)


def c_float(value: float) -> str:
    """A float32 as a C literal that reads back to the same bits."""
    return np.format_float_scientific(np.float32(value), unique=True) + "f"


def quant_pair(multiplier: int, shift: int) -> dict:
    """A tk_quant initialiser."""
    return {"multiplier": multiplier, "shift": shift}


def c_comment(text: str) -> str:
    """Text safe inside a C block comment (no comment delimiters, printable ASCII)."""
    text = "".join(ch if ch.isascii() and ch.isprintable() else "_" for ch in text)
    return text.replace("*/", "*_").replace("/*", "_*")


def c_struct(fields: dict, width: int = 100) -> str:
    """A designated initialiser on one line, or one field per line when it is longer than `width`."""
    one_line = c_init(fields)
    if len(one_line) <= width:
        return one_line
    return "{\n" + "".join(f"    .{k} = {c_init(v)},\n" for k, v in fields.items()) + "}"


class Lowering:
    """Turns ops into Calls. Tensor data and scratch memory appear in the C text as placeholders (tensor_ref,
    scratch_ref) until the memory plan exists; `scratch_bytes` records the scratch each call needs and
    `in_place` the ops whose kernel writes exactly over its input (the memory planner's inputs)."""

    def __init__(self, graph: Graph, optimize: str = policy.DEFAULT, exclude: frozenset[str] = frozenset()):
        self.graph = graph
        self.optimize = optimize  # policy.POLICIES: how layers with several exact kernels choose
        self.exclude = exclude  # layouts the policy found not worth their kernel code (policy.unprofitable)
        self.scratch_bytes: dict[int, int] = {}
        self.in_place: set[int] = set()
        self.arrays: dict[str, ConstArray] = {}
        self.layers: dict[int, dict] = {}  # op index -> the layout it runs, its weight bytes, the candidates

    def lower(self, op: Op) -> Call:
        spec = registry.spec(op.name)
        ins = [self.graph.tensors[i] if i >= 0 else None for i in op.inputs]
        outs = [self.graph.tensors[i] for i in op.outputs]
        shapes = " ".join(str(t.shape) for t in ins if t is not None and t.data is None) or "constants"
        layer = c_comment(outs[0].name.split(";")[0]) if outs and outs[0].name else "unnamed"
        call = Call(op, f"op {op.index}: {op.name} {shapes} -> {' '.join(str(t.shape) for t in outs)} ({layer})")
        spec.lower(self, call, op, ins, outs)
        return call

    # -- what lowering functions use ------------------------------------------------------------------------
    def fail(self, op: Op, what: str):
        raise PipelineError(f"Op {op.index} ({op.name}) of {self.graph.name}: {what}.",
                            "Change the layer (see README, 'AOT engine'), or run the model with TFLite Micro on a "
                            "board (`tinykd run --engine tflm --port ...`).")

    @staticmethod
    def pointer(t: Tensor) -> str:
        return tensor_ref(t.index)

    def const(self, name: str, values, ctype: str) -> str:
        dtype = {"int8_t": np.int8, "int16_t": np.int16, "int32_t": np.int32}[ctype]
        self.arrays.setdefault(name, ConstArray(name, ctype, np.asarray(values, dtype=dtype).reshape(-1)))
        return name

    def weights(self, op: Op, t: Tensor | None, ctype: str) -> str:
        if t is None:
            return "NULL"
        if t.data is None:
            self.fail(op, f"tensor {t.name!r} must be constant")
        return self.const(f"tensor{t.index}", t.data, ctype)

    def operand(self, t: Tensor) -> str:
        """An int8 input: its constant array, or its place in the arena."""
        return self.const(f"tensor{t.index}", t.data, "int8_t") if t.data is not None else self.pointer(t)

    def struct(self, call: Call, ctype: str, suffix: str, fields: dict) -> str:
        """A static const parameter struct (designated initialiser); returns its address."""
        name = f"op{call.op.index}_{suffix}"
        call.decls.append((ctype, name, c_struct(fields)))
        return "&" + name

    def dims(self, call: Call, suffix: str, shape) -> str:
        n, h, w, c = to4d(shape)
        return self.struct(call, "tk_dims", suffix, {"n": n, "h": h, "w": w, "c": c})

    def activation(self, op: Op, out: Tensor) -> dict:
        """The output clamp of the op's fused activation."""
        code = getattr(op.options, "fusedActivationFunction", 0)
        if code not in ACTIVATIONS:
            self.fail(op, f"fused activation {code} is not one of {sorted(ACTIVATIONS.values())}")
        low, high = quant.activation_range(ACTIVATIONS[code], out.scale, out.zero_point)
        return {"min": low, "max": high}

    def channel_quant(self, call: Call, multipliers, shifts) -> str:
        i = call.op.index
        m = self.const(f"op{i}_multiplier", multipliers, "int32_t")
        s = self.const(f"op{i}_shift", shifts, "int32_t")
        return self.struct(call, "tk_channel_quant", "quant",
                           {"multiplier": m, "shift": s, "per_channel": int(len(multipliers) > 1)})

    def pack_arrays(self, op: Op, matrix: np.ndarray, b: Tensor | None, mults, shifts, out: Tensor, layout: str,
                    kernel_h: int = 1, input_offset: int = 0) -> dict | None:
        """pack.packed_arrays for a layer whose bias, if any, must be constant."""
        if b is not None and b.data is None:
            self.fail(op, f"tensor {b.name!r} must be constant")
        return pack.packed_arrays(matrix, None if b is None else b.data, mults, shifts, out.zero_point, layout,
                                  kernel_h, input_offset)

    def filter_struct(self, call: Call, arrays: dict) -> str:
        """The tk_packed_filter of pack_arrays' arrays (NULL for one a layout does not have)."""
        i = call.op.index
        return self.struct(call, "tk_packed_filter", "filter", {
            field: self.const(f"op{i}_packed_{field}", arrays[field], ctype) if field in arrays else "NULL"
            for field, ctype in (("weights", "int16_t"), ("bias", "int32_t"), ("quant", "int32_t"))})

    def record(self, call: Call, layout: str, weight_bytes: int, candidates: list | None = None) -> None:
        """What a weight layer runs: its layout, its constant bytes, and the candidates the policy weighed."""
        out = self.graph.tensors[call.op.outputs[0]]
        entry = {"op": call.op.name, "output": out.name, "layout": layout, "weight_bytes": int(weight_bytes),
                 "optimize": self.optimize}
        if candidates:
            entry["candidates"] = {c.layout: {"weight_bytes": c.weight_bytes, "instructions": c.instructions}
                                   for c in candidates}
        self.layers[call.op.index] = entry

    def emit(self, call: Call, kernel: Kernel, *args: str, scratch: tuple = ()) -> None:
        """A call of `kernel`; `scratch`: the arguments of its scratch-size function (the buffer is appended to
        the call's arguments). A kernel that writes exactly over its input marks the op for the planner."""
        args = list(args)
        if kernel.scratch is not None:
            args.append(self.scratch(call, kernel.scratch(*scratch)))
        if kernel.in_place:
            self.in_place.add(call.op.index)
        call.statements.append((kernel.name, args))

    def scratch(self, call: Call, nbytes: int) -> str:
        """The op's scratch buffer in the arena, at least `nbytes` (one per op: its calls run one by one)."""
        index = call.op.index
        self.scratch_bytes[index] = max(self.scratch_bytes.get(index, 0), int(nbytes))
        return scratch_ref(index)

    def same_quant(self, op: Op, a: Tensor, b: Tensor) -> None:
        if a.zero_point != b.zero_point or quant.f32(a.scale) != quant.f32(b.scale):
            self.fail(op, f"input and output quantization differ ({a.scale}, {a.zero_point} vs {b.scale}, "
                          f"{b.zero_point})")

    def fixed_output(self, op: Op, out: Tensor) -> None:
        """SOFTMAX and LOGISTIC write scale 1/256, zero point -128 whatever the output tensor says."""
        if out.zero_point != -128 or quant.f32(out.scale) != 1.0 / 256:
            self.fail(op, f"int8 output must have scale 1/256 and zero point -128 (has {out.scale}, "
                          f"{out.zero_point})")

    def constant(self, op: Op, t: Tensor | None, what: str) -> np.ndarray:
        if t is None or t.data is None:
            self.fail(op, f"the {what} must be constant")
        return t.data


def array_bytes(arrays: dict) -> int:
    """Bytes of a dict of numpy arrays (a layer's constant data)."""
    return sum(int(a.nbytes) for a in arrays.values())


def walk(dims, strides) -> dict:
    """A tk_walk initialiser."""
    if len(dims) > MAX_DIMS:
        raise ValueError(f"{len(dims)} dimensions (at most {MAX_DIMS} after merging)")
    pad = [0] * (MAX_DIMS - len(dims))
    return {"rank": len(dims), "dims": [int(d) for d in dims] + pad, "strides": [int(s) for s in strides] + pad}


def joint_walks(out_shape, *strides_per_input) -> list[dict]:
    """tk_walks of several inputs over the output's dimensions (strides per input and dimension, 0 where it is
    broadcast), with size-1 dimensions dropped and neighbours merged where every input allows it."""
    keep = [d for d, size in enumerate(out_shape) if size != 1]
    dims = [int(out_shape[d]) for d in keep]
    strides = [[int(s[d]) for d in keep] for s in strides_per_input]
    d = len(dims) - 2
    while d >= 0:
        if all(s[d] == s[d + 1] * dims[d + 1] for s in strides):
            dims[d:d + 2] = [dims[d] * dims[d + 1]]
            for s in strides:
                s[d:d + 2] = [s[d + 1]]
        d -= 1
    if not dims:
        dims, strides = [1], [[0] for _ in strides]
    return [walk(dims, s) for s in strides]


def natural_strides(shape) -> list[int]:
    strides, step = [], 1
    for size in reversed(tuple(shape)):
        strides.insert(0, step)
        step *= size
    return strides


def broadcast_strides(out_shape, in_shape) -> list[int]:
    """Strides of `in_shape` (numpy broadcasting: aligned right) over the dimensions of `out_shape`."""
    shape = (1,) * (len(out_shape) - len(in_shape)) + tuple(in_shape)
    return [0 if size == 1 else stride for size, stride in zip(shape, natural_strides(shape))]


def index_walk(index: np.ndarray) -> tuple[dict, int] | None:
    """(tk_walk, offset) reading the input elements `index` (an array shaped like the output: the input element
    of each output element), or None when they are not a strided view of the input."""
    if index.size == 0:
        return None
    offset = int(index.flat[0])
    strides = []
    for d, size in enumerate(index.shape):  # the step from element 0 to element 1 along each dimension
        unit = tuple(int(d == e and size > 1) for e in range(index.ndim))
        strides.append(int(index[unit]) - offset)
    grid = np.indices(index.shape).reshape(index.ndim, -1) if index.ndim else np.zeros((0, 1), np.int64)
    if not np.array_equal(offset + np.asarray(strides, np.int64) @ grid, index.reshape(-1)):
        return None
    return joint_walks(index.shape, strides)[0], offset


def to4d(shape) -> tuple[int, int, int, int]:
    shape = tuple(shape)
    if len(shape) > 4:
        raise PipelineError(f"Tensor shape {shape} has more than 4 dimensions.",
                            "Reshape to at most 4 dimensions, or run the model with TFLite Micro on a board.")
    return (1,) * (4 - len(shape)) + shape


def padding(mode: int, size: int, kernel: int, stride: int, dilation: int, out_size: int) -> int:
    """Rows (or columns) of padding before the data, as TFLM's ComputePadding (0 for VALID)."""
    effective = (kernel - 1) * dilation + 1
    pad = ((out_size - 1) * stride + effective - size) // 2
    return max(pad, 0) if mode == PADDING_SAME else 0
