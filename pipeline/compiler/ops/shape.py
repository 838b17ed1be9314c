"""Data movement that keeps the element order: RESHAPE and its aliases, PAD, PADV2, CONCATENATION, PACK; SHAPE
(folded at compile time). No arithmetic on values: input and output share their quantization."""
from __future__ import annotations

import numpy as np

from pipeline.compiler import kernels as K
from pipeline.compiler.registry import VIEW, register


# Keras's Conv1D converts to EXPAND_DIMS -> CONV_2D -> SQUEEZE: both only relabel the shape, like RESHAPE.
@register("SQUEEZE", K.RESHAPE, in_place=VIEW, tests=("ops:squeeze_rewritten",))
@register("EXPAND_DIMS", K.RESHAPE, in_place=VIEW, tests=("ops:expand_dims_conv1d",))
@register("RESHAPE", K.RESHAPE, in_place=VIEW, tests=("ops:reshape", "qemu:kernel_mix"))
def lower_reshape(lw, call, op, ins, outs):
    x, out = ins[0], outs[0]
    if x.size != out.size:
        lw.fail(op, f"{x.shape} has {x.size} elements, {out.shape} has {out.size}")
    lw.same_quant(op, x, out)
    lw.emit(call, K.RESHAPE, str(out.size), lw.operand(x), lw.pointer(out))


@register("PADV2", K.PAD, tests=("ops:padv2_const", "ops:padv2_neg", "ops:padv2_fn_minus1", "qemu:op_mix"))
@register("PAD", K.PAD, tests=("ops:pad", "ops:pad_zero_3d", "qemu:op_mix"))
def lower_pad(lw, call, op, ins, outs):
    x, out = ins[0], outs[0]
    pads = lw.constant(op, ins[1] if len(ins) > 1 else None, "paddings")
    value = out.zero_point
    if len(ins) > 2 and ins[2] is not None:  # PADV2: the pad value, quantized like the output
        value = int(lw.constant(op, ins[2], "pad value").reshape(-1)[0])
    if len(x.shape) > 4:
        lw.fail(op, "the tensor must have at most 4 dimensions")
    lw.same_quant(op, x, out)
    pad(lw, call, x.shape, lw.operand(x), out.shape, lw.pointer(out), pads.reshape(-1, 2).astype(int).tolist(),
        value)


def pad(lw, call, in_shape, source: str, out_shape, target: str, pads, value: int) -> None:
    """tk_pad_s8 of `source` (in_shape) into `target` (out_shape); pads: (before, after) per dimension."""
    pads = [[0, 0]] * (4 - len(in_shape)) + [list(p) for p in pads]
    params = lw.struct(call, "tk_pad_params", "pad", {"before": [p[0] for p in pads],
                                                      "after": [p[1] for p in pads], "value": value})
    lw.emit(call, K.PAD, params, lw.dims(call, "pad_input_dims", in_shape), source,
            lw.dims(call, "pad_output_dims", out_shape), target)


# PACK is a concatenation along a new axis: the same bytes in the same order (its options have no activation).
@register("PACK", K.CONCATENATION, tests=("ops:pack_axis1", "ops:pack_last", "ops:pack_fn_last", "qemu:op_mix"))
@register("CONCATENATION", K.CONCATENATION,
          tests=("ops:concat", "ops:concat_axis1_three", "ops:concat_fn_neg", "qemu:kernel_mix"))
def lower_concatenation(lw, call, op, ins, outs):
    """tk_concatenation_s8 along the axis: each outer row of the output is the inputs' rows in turn."""
    out = outs[0]
    if getattr(op.options, "fusedActivationFunction", 0) != 0:
        lw.fail(op, "a fused activation on CONCATENATION is not supported")
    for t in ins:
        lw.same_quant(op, t, out)
    outer = int(np.prod(out.shape[:op.options.axis % len(out.shape)], dtype=np.int64))
    pointers = ", ".join(lw.operand(t) for t in ins)
    call.locals.append(("const int8_t *", f"op{op.index}_inputs[{len(ins)}]", f"{{{pointers}}}"))
    sizes = lw.const(f"op{op.index}_sizes", [t.size // outer for t in ins], "int32_t")
    lw.emit(call, K.CONCATENATION, str(len(ins)), f"op{op.index}_inputs", sizes, str(outer), lw.pointer(out))


@register("SHAPE", folded=True, tests=("ops:shape_fn_reshape_dyn",))
def lower_shape(lw, call, op, ins, outs):
    lw.fail(op, "its output is not int32")  # SHAPE -> int32 is folded (pipeline/compiler/fold.py)
