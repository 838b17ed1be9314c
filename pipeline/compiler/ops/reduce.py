"""Pooling and reductions: MAX_POOL_2D, AVERAGE_POOL_2D, MEAN, SUM, REDUCE_MAX."""
from __future__ import annotations

import numpy as np

from pipeline.compiler import kernels as K
from pipeline.compiler import quant
from pipeline.compiler.lower import joint_walks, natural_strides, padding, quant_pair, to4d
from pipeline.compiler.registry import register


def _pool(lw, call, op, ins, outs, kernel):
    x, out, o = ins[0], outs[0], op.options
    lw.same_quant(op, x, out)
    in4, out4 = to4d(x.shape), to4d(out.shape)
    params = lw.struct(call, "tk_pool_params", "params", {
        "stride_h": o.strideH, "stride_w": o.strideW, "filter_h": o.filterHeight, "filter_w": o.filterWidth,
        "pad_h": padding(o.padding, in4[1], o.filterHeight, o.strideH, 1, out4[1]),
        "pad_w": padding(o.padding, in4[2], o.filterWidth, o.strideW, 1, out4[2]),
        "activation": lw.activation(op, out)})
    lw.emit(call, kernel, params, lw.dims(call, "input_dims", x.shape), lw.operand(x),
            lw.dims(call, "output_dims", out.shape), lw.pointer(out))


@register("MAX_POOL_2D", K.MAX_POOL,
          tests=("ops:maxpool_valid", "ops:maxpool_23_same", "ops:maxpool1d", "ops:maxpool_12ch_relu_clamped",
                 "qemu:digits_student", "qemu:kernel_mix"))
def lower_max_pool_2d(lw, call, op, ins, outs):
    _pool(lw, call, op, ins, outs, K.MAX_POOL)


@register("AVERAGE_POOL_2D", K.AVG_POOL,
          tests=("ops:avgpool_same", "ops:avgpool_3s2_valid_odd", "ops:avgpool1d_same", "qemu:kernel_mix"))
def lower_average_pool_2d(lw, call, op, ins, outs):
    _pool(lw, call, op, ins, outs, K.AVG_POOL)


def _axes(lw, op, x, axis_tensor) -> list[int]:
    axis = lw.constant(op, axis_tensor, "axis")
    return sorted({int(a) % len(x.shape) for a in axis.reshape(-1)}) if x.shape else []


def _reduce(lw, call, op, x, out, axes: list[int], kind: str, p: dict) -> None:
    """tk_reduce_s8: for each element of the kept axes (in order: the output), the reduced axes' elements."""
    strides = natural_strides(x.shape)
    kept = [d for d in range(len(x.shape)) if d not in axes]
    try:
        outer = joint_walks([x.shape[d] for d in kept], [strides[d] for d in kept])[0]
        inner = joint_walks([x.shape[d] for d in axes], [strides[d] for d in axes])[0]
    except ValueError as e:
        lw.fail(op, str(e))
    params = {"kind": kind, "outer": outer, "inner": inner, "input_zero_point": x.zero_point,
              "output_zero_point": out.zero_point, "divide": p["divide"],
              "quant": quant_pair(p["multiplier"], p["shift"])}
    lw.emit(call, K.REDUCE, lw.struct(call, "tk_reduce_params", "params", params), lw.operand(x), lw.pointer(out))


@register("MEAN", K.MEAN_HW, K.REDUCE,
          tests=("ops:mean_gap", "ops:mean_keepdims", "ops:mean_last", "ops:mean_axes_13", "ops:mean_fn_axis2",
                 "qemu:digits_student", "qemu:op_mix"))
def lower_mean(lw, call, op, ins, outs):
    x, out = ins[0], outs[0]
    axes = _axes(lw, op, x, ins[1] if len(ins) > 1 else None)
    count = int(np.prod([x.shape[d] for d in axes], dtype=np.int64))
    p = quant.mean_params(x.scale, x.zero_point, out.scale, out.zero_point, count)
    hw = (tuple(x.shape) if len(x.shape) == 4 and axes == [1, 2] else
          (x.shape[0], x.shape[1], 1, x.shape[2]) if len(x.shape) == 3 and axes == [1] else None)
    if hw is not None:  # global average pooling (of an image, or of a series over time): direct loops
        params = lw.struct(call, "tk_mean_params", "params", {
            "input_zero_point": x.zero_point, "output_zero_point": out.zero_point, "divide": p["divide"],
            "quant": quant_pair(p["multiplier"], p["shift"])})
        lw.emit(call, K.MEAN_HW, params, lw.dims(call, "input_dims", hw), lw.operand(x), lw.pointer(out))
    else:
        _reduce(lw, call, op, x, out, axes, "TK_REDUCE_MEAN", p)


@register("SUM", K.REDUCE, tests=("ops:sum_last", "ops:sum_hw_keep", "ops:sum_fn_axis1_keep", "qemu:op_mix"))
def lower_sum(lw, call, op, ins, outs):
    x, out = ins[0], outs[0]
    axes = _axes(lw, op, x, ins[1] if len(ins) > 1 else None)
    _reduce(lw, call, op, x, out, axes, "TK_REDUCE_SUM", quant.sum_params(x.scale, out.scale))


@register("REDUCE_MAX", K.REDUCE, tests=("ops:rmax_last", "ops:rmax_gmp2d", "ops:rmax_fn_hw_keep", "qemu:op_mix"))
def lower_reduce_max(lw, call, op, ins, outs):
    x, out = ins[0], outs[0]
    lw.same_quant(op, x, out)  # TFLM requires it: the largest raw value
    axes = _axes(lw, op, x, ins[1] if len(ins) > 1 else None)
    _reduce(lw, call, op, x, out, axes, "TK_REDUCE_MAX", {"divide": 0, "multiplier": 0, "shift": 0})
