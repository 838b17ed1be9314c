"""Lowers each operator to one kernel call: the parameter structs, the constant arrays (weights, biases,
per-channel multipliers) and the call itself, as C text. All arithmetic happens here; the templates only loop."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pipeline.compiler import pack, quant
from pipeline.compiler.graph import ACTIVATIONS, Graph, Op, Tensor
from pipeline.errors import PipelineError

PADDING_SAME, PADDING_VALID = 0, 1


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
    summary: str                    # a comment: op name and shapes
    decls: list[tuple[str, str, str]] = field(default_factory=list)   # static const (ctype, name, initializer)
    locals: list[tuple[str, str, str]] = field(default_factory=list)  # declared in the invoke function
    function: str = ""
    args: list[str] = field(default_factory=list)


def tensor_ref(index: int) -> str:
    """Placeholder for a tensor's data in the arena, not known while lowering (codegen.resolve replaces it)."""
    return f"@t{index}@"


def scratch_ref(op_index: int) -> str:
    """Placeholder for an op's scratch buffer in the arena."""
    return f"@s{op_index}@"


class Lowering:
    """Turns ops into Calls. Tensor data and scratch memory appear in the C text as placeholders (tensor_ref,
    scratch_ref) until the memory plan exists; the ops the
    fast kernels run exactly (pipeline/compiler/pack.py) are lowered to them, and `scratch_bytes` records the
    scratch memory each one needs (the memory planner's input)."""

    def __init__(self, graph: Graph):
        self.graph = graph
        self.scratch_bytes: dict[int, int] = {}
        self.in_place: set[int] = set()  # ops whose kernel may write its output over its input (the planner's)
        self.arrays: dict[str, ConstArray] = {}

    @staticmethod
    def pointer(t: Tensor) -> str:
        return tensor_ref(t.index)

    def lower(self, op: Op) -> Call:
        handler = getattr(self, "_" + op.name.lower())
        ins = [self.graph.tensors[i] if i >= 0 else None for i in op.inputs]
        out = self.graph.tensors[op.outputs[0]]
        call = Call(op, f"op {op.index}: {op.name} {ins[0].shape} -> {out.shape}")
        handler(call, op, ins, out)
        return call

    # -- helpers -------------------------------------------------------------------------------------------
    def _fail(self, op: Op, what: str):
        raise PipelineError(f"Op {op.index} ({op.name}) of {self.graph.name}: {what}.", "Use --engine tflm.")

    def _const(self, name: str, values, ctype: str) -> str:
        dtype = {"int8_t": np.int8, "int16_t": np.int16, "int32_t": np.int32}[ctype]
        self.arrays.setdefault(name, ConstArray(name, ctype, np.asarray(values, dtype=dtype).reshape(-1)))
        return name

    def _weights(self, op: Op, t: Tensor | None, ctype: str) -> str:
        if t is None:
            return "NULL"
        if t.data is None:
            self._fail(op, f"tensor {t.name!r} must be constant")
        return self._const(f"tensor{t.index}", t.data, ctype)

    def _decl(self, call: Call, ctype: str, suffix: str, init: str) -> str:
        name = f"op{call.op.index}_{suffix}"
        call.decls.append((ctype, name, init))
        return "&" + name

    def _dims(self, call: Call, suffix: str, shape) -> str:
        n, h, w, c = _to4d(shape)
        return self._decl(call, "tk_dims", suffix, f"{{{n}, {h}, {w}, {c}}}")

    def _activation(self, op: Op, out: Tensor) -> str:
        code = getattr(op.options, "fusedActivationFunction", 0)
        if code not in ACTIVATIONS:
            self._fail(op, f"fused activation {code} is not one of {sorted(ACTIVATIONS.values())}")
        low, high = quant.activation_range(ACTIVATIONS[code], out.scale, out.zero_point)
        return f"{{{low}, {high}}}"

    def _channel_quant(self, call: Call, multipliers, shifts) -> str:
        i = call.op.index
        m = self._const(f"op{i}_multiplier", multipliers, "int32_t")
        s = self._const(f"op{i}_shift", shifts, "int32_t")
        return self._decl(call, "tk_channel_quant", "quant", f"{{{m}, {s}, {int(len(multipliers) > 1)}}}")

    def _packed(self, call: Call, op: Op, matrix: np.ndarray, b: Tensor | None, mults, shifts, out: Tensor,
                layout: str, kernel_h: int = 1) -> str | None:
        """A tk_packed_filter for (out_c, taps) weights in the kernel's `layout` ("conv", "fc", "depthwise",
        "depthwise_3x3"), or None when the fast rescale is not exact for them. Convolution weights have their
        filter rows (kernel_h of them) padded to 4 taps each."""
        channels = matrix.shape[0]
        if b is not None and b.data is None:
            self._fail(op, f"tensor {b.name!r} must be constant")
        bias = None if b is None else b.data
        q = pack.fast_quant(mults, shifts, matrix, bias, out.zero_point, channels)
        if q is None:
            return None
        i = op.index
        if layout == "depthwise_3x3":
            weights = pack.pack_depthwise_3x3(matrix)
        elif layout == "depthwise":
            weights = pack.pack_depthwise(matrix.T)
        else:
            weights = pack.pack_matrix(pack.pad_rows(matrix, kernel_h))
        packed_bias = pack.pack_conv_bias(bias, channels) if layout == "conv" else pack.pack_bias(bias, channels, 2)
        names = (self._const(f"op{i}_packed_weights", weights, "int16_t"),
                 self._const(f"op{i}_packed_bias", packed_bias, "int32_t"),
                 self._const(f"op{i}_packed_quant", q, "int32_t"))
        return self._decl(call, "tk_packed_filter", "filter", "{" + ", ".join(names) + "}")

    def _scratch(self, op: Op, nbytes: int) -> str:
        self.scratch_bytes[op.index] = nbytes
        return scratch_ref(op.index)

    def _call(self, call: Call, function: str, *args: str):
        call.function, call.args = function, list(args)

    # -- operators -----------------------------------------------------------------------------------------
    def _conv_2d(self, call, op, ins, out, depthwise=False):
        x, w, b = (ins + [None])[:3]
        o = op.options
        in4, f4, out4 = _to4d(x.shape), _to4d(w.shape), _to4d(out.shape)
        pad_h = _padding(o.padding, in4[1], f4[1], o.strideH, o.dilationHFactor, out4[1])
        pad_w = _padding(o.padding, in4[2], f4[2], o.strideW, o.dilationWFactor, out4[2])
        multiplier = 1
        if depthwise:
            if in4[3] == 0 or out4[3] % in4[3]:
                self._fail(op, f"output channels {out4[3]} are not a multiple of input channels {in4[3]}")
            multiplier = out4[3] // in4[3]
        mults, shifts = quant.per_channel_multipliers(x.scale, w.scales, out.scale, out4[3])
        params = self._decl(call, "tk_conv_params", "params",
                            f"{{{-x.zero_point}, {out.zero_point}, {o.strideH}, {o.strideW}, {o.dilationHFactor}, "
                            f"{o.dilationWFactor}, {pad_h}, {pad_w}, {multiplier}, {self._activation(op, out)}}}")
        if (o.dilationHFactor == 1 and o.dilationWFactor == 1 and multiplier == 1
                and w.data is not None):
            taps = f4[1] * f4[2]
            matrix = w.data.reshape(taps, -1).T if depthwise else w.data.reshape(f4[0], -1)  # (out_c, taps)
            layout = ("depthwise_3x3" if _runs_dw3x3(x, w, out, o) else "depthwise") if depthwise else "conv"
            filt = self._packed(call, op, matrix, b, mults, shifts, out, layout, f4[1])
            if filt is not None:
                dims = (self._dims(call, "input_dims", x.shape), self.pointer(x),
                        self._dims(call, "filter_dims", w.shape), self._dims(call, "output_dims", out.shape),
                        self.pointer(out))
                if layout == "depthwise_3x3":
                    scratch = self._scratch(op, pack.dw3x3_scratch_bytes(in4[1], in4[2]))
                    self.in_place.add(op.index)  # each channel group is read into planes before it is written
                    self._call(call, "tk_depthwise_conv2d_3x3_fast_s8", params, filt, *dims, scratch)
                elif depthwise:
                    self._call(call, "tk_depthwise_conv2d_fast_s8", params, filt, *dims)
                else:
                    scratch = self._scratch(op, pack.conv_scratch_bytes(f4[1], f4[2], in4[3]))
                    self._call(call, "tk_conv2d_fast_s8", params, filt, *dims, scratch)
                return
        self._call(call, "tk_depthwise_conv2d_s8" if depthwise else "tk_conv2d_s8", params,
                   self._channel_quant(call, mults, shifts), self._dims(call, "input_dims", x.shape),
                   self.pointer(x), self._dims(call, "filter_dims", w.shape), self._weights(op, w, "int8_t"),
                   self._weights(op, b, "int32_t"), self._dims(call, "output_dims", out.shape), self.pointer(out))

    def _depthwise_conv_2d(self, call, op, ins, out):
        self._conv_2d(call, op, ins, out, depthwise=True)

    def _fully_connected(self, call, op, ins, out):
        x, w, b = (ins + [None])[:3]
        if getattr(op.options, "weightsFormat", 0) != 0:
            self._fail(op, "shuffled weights are not supported")
        units, depth = w.shape[0], w.shape[-1]
        if len(w.shape) != 2 or x.size % depth:
            self._fail(op, f"input {x.shape} does not fit the weights {w.shape}")
        if len(w.scales) > 1:
            mults, shifts = quant.per_channel_multipliers(x.scale, w.scales, out.scale, units)
        else:
            m, s = quant.per_tensor_conv_multiplier(x.scale, w.scale, out.scale)
            mults, shifts = [m], [s]
        params = self._decl(call, "tk_fc_params", "params",
                            f"{{{-x.zero_point}, {-w.zero_point}, {out.zero_point}, {self._activation(op, out)}}}")
        if w.data is not None:
            matrix = w.data.reshape(units, depth).astype(np.int64) - w.zero_point  # filter offset applied
            filt = self._packed(call, op, matrix, b, mults, shifts, out, "fc")
            if filt is not None:
                self._call(call, "tk_fully_connected_fast_s8", params, filt, str(x.size // depth), str(depth),
                           str(units), self.pointer(x), self.pointer(out),
                           self._scratch(op, pack.fc_scratch_bytes(depth)))
                return
        self._call(call, "tk_fully_connected_s8", params, self._channel_quant(call, mults, shifts),
                   str(x.size // depth), str(depth), str(units), self.pointer(x), self._weights(op, w, "int8_t"),
                   self._weights(op, b, "int32_t"), self.pointer(out))

    def _pool(self, call, op, ins, out, function):
        x, o = ins[0], op.options
        _same_quant(self, op, x, out)
        in4, out4 = _to4d(x.shape), _to4d(out.shape)
        pad_h = _padding(o.padding, in4[1], o.filterHeight, o.strideH, 1, out4[1])
        pad_w = _padding(o.padding, in4[2], o.filterWidth, o.strideW, 1, out4[2])
        params = self._decl(call, "tk_pool_params", "params",
                            f"{{{o.strideH}, {o.strideW}, {o.filterHeight}, {o.filterWidth}, {pad_h}, {pad_w}, "
                            f"{self._activation(op, out)}}}")
        self._call(call, function, params, self._dims(call, "input_dims", x.shape), self.pointer(x),
                   self._dims(call, "output_dims", out.shape), self.pointer(out))

    def _max_pool_2d(self, call, op, ins, out):
        self._pool(call, op, ins, out, "tk_max_pool2d_s8")

    def _average_pool_2d(self, call, op, ins, out):
        self._pool(call, op, ins, out, "tk_avg_pool2d_s8")

    def _mean(self, call, op, ins, out):
        x, axis = ins[0], ins[1]
        if axis is None or axis.data is None:
            self._fail(op, "the axis must be constant")
        axes = sorted({int(a) % len(x.shape) for a in axis.data.reshape(-1)}) if x.shape else []
        if len(x.shape) == 3 and axes == [1]:  # a series (N, T, C): the mean over time is over (T, 1)
            shape, axes = (x.shape[0], x.shape[1], 1, x.shape[2]), [1, 2]
        else:
            shape = x.shape
        if len(shape) != 4 or axes != [1, 2]:
            self._fail(op, f"only the mean over height and width of a 4-D tensor (or over time of a 3-D one) is "
                           f"supported (axes {axes})")
        p = quant.mean_params(x.scale, x.zero_point, out.scale, out.zero_point, shape[1] * shape[2])
        params = self._decl(call, "tk_mean_params", "params",
                            f"{{{x.zero_point}, {out.zero_point}, {p['divide']}, {{{p['multiplier']}, {p['shift']}}}}}")
        self._call(call, "tk_mean_hw_s8", params, self._dims(call, "input_dims", shape), self.pointer(x),
                   self.pointer(out))

    def _add(self, call, op, ins, out):
        a, b = ins[0], ins[1]
        if a.shape != b.shape or a.size != out.size:
            self._fail(op, f"broadcasting {a.shape} + {b.shape} is not supported")
        p = quant.add_params(a.scale, b.scale, out.scale)
        params = self._decl(call, "tk_add_params", "params",
                            f"{{{-a.zero_point}, {-b.zero_point}, {out.zero_point}, {p['left_shift']}, "
                            f"{{{p['input1_multiplier']}, {p['input1_shift']}}}, "
                            f"{{{p['input2_multiplier']}, {p['input2_shift']}}}, "
                            f"{{{p['output_multiplier']}, {p['output_shift']}}}, {self._activation(op, out)}}}")
        self._call(call, "tk_add_s8", params, str(out.size), self._operand(a), self._operand(b), self.pointer(out))

    def _operand(self, t: Tensor) -> str:
        return self._const(f"tensor{t.index}", t.data, "int8_t") if t.data is not None else self.pointer(t)

    def _reshape(self, call, op, ins, out):
        x = ins[0]
        if x.size != out.size:
            self._fail(op, f"{x.shape} has {x.size} elements, {out.shape} has {out.size}")
        _same_quant(self, op, x, out)
        self._call(call, "tk_reshape_s8", str(out.size), self.pointer(x), self.pointer(out))

    # Keras's Conv1D converts to EXPAND_DIMS -> CONV_2D -> SQUEEZE: both only relabel the shape, like RESHAPE
    _expand_dims = _reshape
    _squeeze = _reshape

    def _softmax(self, call, op, ins, out):
        x = ins[0]
        _fixed_output(self, op, out)
        p = quant.softmax_params(op.options.beta, x.scale)
        params = self._decl(call, "tk_softmax_params", "params",
                            f"{{{p['input_multiplier']}, {p['input_left_shift']}, {p['diff_min']}}}")
        depth = x.shape[-1] if x.shape else 1
        self._call(call, "tk_softmax_s8", params, str(x.size // depth), str(depth), self.pointer(x),
                   self.pointer(out))

    def _logistic(self, call, op, ins, out):
        x = ins[0]
        _fixed_output(self, op, out)
        p = quant.logistic_params(x.scale, x.zero_point)
        params = self._decl(call, "tk_logistic_params", "params",
                            f"{{{p['input_zero_point']}, {p['input_range_radius']}, {p['input_multiplier']}, "
                            f"{p['input_left_shift']}}}")
        self._call(call, "tk_logistic_s8", params, str(out.size), self.pointer(x), self.pointer(out))

    def _quantize(self, call, op, ins, out):
        x = ins[0]
        m, s = quant.requantize_params(x.scale, out.scale)
        params = self._decl(call, "tk_requantize_params", "params",
                            f"{{{x.zero_point}, {out.zero_point}, {{{m}, {s}}}}}")
        self._call(call, "tk_requantize_s8", params, str(out.size), self.pointer(x), self.pointer(out))

    def _pad(self, call, op, ins, out):
        x, paddings = ins[0], ins[1]
        if paddings is None or paddings.data is None or len(x.shape) > 4:
            self._fail(op, "paddings must be constant and the tensor at most 4-D")
        _same_quant(self, op, x, out)
        pads = [[0, 0]] * (4 - len(x.shape)) + paddings.data.reshape(-1, 2).astype(int).tolist()
        before = ", ".join(str(p[0]) for p in pads)
        after = ", ".join(str(p[1]) for p in pads)
        params = self._decl(call, "tk_pad_params", "params", f"{{{{{before}}}, {{{after}}}, {out.zero_point}}}")
        self._call(call, "tk_pad_s8", params, self._dims(call, "input_dims", x.shape), self.pointer(x),
                   self._dims(call, "output_dims", out.shape), self.pointer(out))

    def _concatenation(self, call, op, ins, out):
        if getattr(op.options, "fusedActivationFunction", 0) != 0:
            self._fail(op, "a fused activation on CONCATENATION is not supported")
        for t in ins:
            _same_quant(self, op, t, out)
        axis = op.options.axis % len(out.shape)
        outer = int(np.prod(out.shape[:axis], dtype=np.int64))
        sizes = [int(np.prod(t.shape[axis:], dtype=np.int64)) for t in ins]
        pointers = ", ".join(self._operand(t) for t in ins)
        call.locals.append(("const int8_t *", f"op{op.index}_inputs[{len(ins)}]", f"{{{pointers}}}"))
        sizes_name = self._const(f"op{op.index}_sizes", sizes, "int32_t")
        self._call(call, "tk_concatenation_s8", str(len(ins)), f"op{op.index}_inputs", sizes_name, str(outer),
                   self.pointer(out))


def _to4d(shape) -> tuple[int, int, int, int]:
    shape = tuple(shape)
    if len(shape) > 4:
        raise PipelineError(f"Tensor shape {shape} has more than 4 dimensions.", "Use --engine tflm.")
    return (1,) * (4 - len(shape)) + shape


def _runs_dw3x3(x: Tensor, w: Tensor, out: Tensor, options) -> bool:
    """Whether a DEPTHWISE_CONV_2D has the shape tk_depthwise_conv2d_3x3_fast_s8 takes (if its rescale is exact
    too): 3x3, stride 1, dilation 1, depth multiplier 1, SAME (padding 1), channels in fours. That kernel writes
    4 channels of every output row at a time, so the memory planner must not shift its output against its input
    (writing exactly over it is fine: a group's input channels are in the planes before its outputs land there):
    the lowering lists such ops in `in_place`."""
    in4, f4, out4 = _to4d(x.shape), _to4d(w.shape), _to4d(out.shape)
    o = options
    pads = (_padding(o.padding, in4[1], 3, o.strideH, o.dilationHFactor, out4[1]),
            _padding(o.padding, in4[2], 3, o.strideW, o.dilationWFactor, out4[2]))
    return (f4[1:3] == (3, 3) and (o.strideH, o.strideW, o.dilationHFactor, o.dilationWFactor) == (1, 1, 1, 1)
            and pads == (1, 1) and in4 == out4 and in4[3] % 4 == 0)


def _padding(mode: int, size: int, kernel: int, stride: int, dilation: int, out_size: int) -> int:
    """Rows (or columns) of padding before the data, as TFLM's ComputePadding (0 for VALID)."""
    effective = (kernel - 1) * dilation + 1
    pad = ((out_size - 1) * stride + effective - size) // 2
    return max(pad, 0) if mode == PADDING_SAME else 0


def _same_quant(lowering: Lowering, op: Op, a: Tensor, b: Tensor) -> None:
    if a.zero_point != b.zero_point or quant.f32(a.scale) != quant.f32(b.scale):
        lowering._fail(op, f"input and output quantization differ ({a.scale}, {a.zero_point} vs {b.scale}, "
                           f"{b.zero_point})")


def _fixed_output(lowering: Lowering, op: Op, out: Tensor) -> None:
    if out.zero_point != -128 or quant.f32(out.scale) != 1.0 / 256:
        lowering._fail(op, f"int8 output must have scale 1/256 and zero point -128 (has {out.scale}, "
                           f"{out.zero_point})")
