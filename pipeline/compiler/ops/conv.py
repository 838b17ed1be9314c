"""Convolutions and matrix products: CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, TRANSPOSE_CONV. Layers the fast
kernels run exactly (pipeline/compiler/pack.py) take packed weights; the others the reference kernels."""
from __future__ import annotations

import numpy as np

from pipeline.compiler import kernels as K
from pipeline.compiler import pack, policy, quant
from pipeline.compiler.graph import Tensor
from pipeline.compiler.lower import PADDING_SAME, array_bytes, padding, to4d
from pipeline.compiler.registry import NONE, ROWS, register


def conv_params(op, x, out, pads, multiplier, activation) -> dict:
    o = op.options
    return {"input_offset": -x.zero_point, "output_offset": out.zero_point, "stride_h": o.strideH,
            "stride_w": o.strideW, "dilation_h": o.dilationHFactor, "dilation_w": o.dilationWFactor,
            "pad_h": pads[0], "pad_w": pads[1], "depth_multiplier": multiplier, "activation": activation}


@register("CONV_2D", K.CONV_FAST, K.CONV_FAST8, K.CONV_FAST8_TILES, K.CONV_NARROW, K.CONV, in_place=ROWS,
          tests=("ops:conv_same_s2_rect", "ops:conv_dilated_same_relu", "ops:conv1d_keras_dil2_causal",
                 "ops:conv_1x1_narrow_odd", "qemu:kernel_mix"))
def lower_conv_2d(lw, call, op, ins, outs, depthwise=False):
    x, w, b = (ins + [None])[:3]
    out, o = outs[0], op.options
    in4, f4, out4 = to4d(x.shape), to4d(w.shape), to4d(out.shape)
    pads = (padding(o.padding, in4[1], f4[1], o.strideH, o.dilationHFactor, out4[1]),
            padding(o.padding, in4[2], f4[2], o.strideW, o.dilationWFactor, out4[2]))
    multiplier = 1
    if depthwise:
        if in4[3] == 0 or out4[3] % in4[3]:
            lw.fail(op, f"output channels {out4[3]} are not a multiple of input channels {in4[3]}")
        multiplier = out4[3] // in4[3]
    mults, shifts = quant.per_channel_multipliers(x.scale, w.scales, out.scale, out4[3])
    activation = lw.activation(op, out)
    params = lw.struct(call, "tk_conv_params", "params", conv_params(op, x, out, pads, multiplier, activation))
    outputs = out4[0] * out4[1] * out4[2] * out4[3]
    macs = outputs * f4[1] * f4[2] * (1 if depthwise else in4[3])
    candidates = [policy.candidate("reference_dw" if depthwise else "reference_conv", reference_bytes(w, b, mults),
                                   macs, outputs)]
    packings = {}
    if o.dilationHFactor == 1 and o.dilationWFactor == 1 and multiplier == 1 and w.data is not None:
        taps = f4[1] * f4[2]
        matrix = w.data.reshape(taps, -1).T if depthwise else w.data.reshape(f4[0], -1)  # (out_c, taps)
        layouts = [("depthwise_3x3" if runs_dw3x3(x, w, out, o) else "depthwise")] if depthwise else \
            ["conv"] + (["conv8"] if out4[3] % 2 == 0 else []) + \
            (["narrow"] if runs_narrow(in4, f4, out4, (o.strideH, o.strideW), pads, activation) else [])
        for layout in layouts:
            arrays = lw.pack_arrays(op, matrix, b, mults, shifts, out, layout, f4[1], input_offset=-x.zero_point)
            if arrays is not None:
                packings[layout] = arrays
                candidates.append(policy.candidate(layout, array_bytes(arrays), macs, outputs))
        if "conv8" in packings and pack.conv8_tiles(f4[1], f4[2], in4[3], out4[0] * out4[1] * out4[2]):
            packings["conv8t"] = packings["conv8"]  # the same arrays, the pixels in tiles of 4
            candidates.append(policy.candidate("conv8t", array_bytes(packings["conv8"]), macs, outputs))
    pick = policy.choose(lw.optimize, candidates, lw.exclude)
    lw.record(call, pick.layout, pick.weight_bytes, candidates)
    if pick.layout in packings:
        filt = lw.filter_struct(call, packings[pick.layout])
        dims = (lw.dims(call, "input_dims", x.shape), lw.operand(x), lw.dims(call, "filter_dims", w.shape),
                lw.dims(call, "output_dims", out.shape), lw.pointer(out))
        if pick.layout == "depthwise_3x3":  # each channel group is read into planes before it is written
            lw.emit(call, K.DEPTHWISE_3X3, params, filt, *dims, scratch=(in4[1], in4[2], in4[3]))
        elif depthwise:
            lw.emit(call, K.DEPTHWISE_FAST, params, filt, *dims)
        elif pick.layout == "narrow":
            lw.emit(call, K.CONV_NARROW, params, filt, *dims)
        elif pick.layout == "conv8t":
            lw.emit(call, K.CONV_FAST8_TILES, params, filt, *dims,
                    scratch=(f4[1], f4[2], in4[3], in4[0] * in4[1] * in4[2]))
        else:
            kernel = K.CONV_FAST8 if pick.layout == "conv8" else K.CONV_FAST
            lw.emit(call, kernel, params, filt, *dims, scratch=(f4[1], f4[2], in4[3]))
        return
    lw.emit(call, K.DEPTHWISE if depthwise else K.CONV, params, lw.channel_quant(call, mults, shifts),
            lw.dims(call, "input_dims", x.shape), lw.operand(x), lw.dims(call, "filter_dims", w.shape),
            lw.weights(op, w, "int8_t"), lw.weights(op, b, "int32_t"), lw.dims(call, "output_dims", out.shape),
            lw.pointer(out))


def runs_narrow(in4, f4, out4, strides, pads, activation: dict) -> bool:
    """Whether tk_conv2d_narrow_s8 takes a CONV_2D: 1x1, stride 1, no padding, exactly 8 input channels, and an
    activation that clamps nothing (its loop has no clamp)."""
    return (f4[1:] == (1, 1, pack.NARROW_TAPS) and in4[3] == pack.NARROW_TAPS and strides == (1, 1) and
            tuple(pads) == (0, 0) and (activation["min"], activation["max"]) == (-128, 127) and
            in4[:3] == out4[:3])


@register("DEPTHWISE_CONV_2D", K.DEPTHWISE_3X3, K.DEPTHWISE_FAST, K.DEPTHWISE, in_place=ROWS,
          tests=("ops:dw3x3_tail_relu6", "ops:dw_mult2_s2_valid", "ops:dw_keras_dil2_same", "qemu:ds_cnn"))
def lower_depthwise_conv_2d(lw, call, op, ins, outs):
    lower_conv_2d(lw, call, op, ins, outs, depthwise=True)


@register("FULLY_CONNECTED", K.FULLY_CONNECTED_FAST8, K.FULLY_CONNECTED_FAST, K.FULLY_CONNECTED,
          tests=("ops:fc", "ops:fc_relu_flatten", "qemu:digits_student", "qemu:fc_autoencoder"))
def lower_fully_connected(lw, call, op, ins, outs):
    x, w, b = (ins + [None])[:3]
    out = outs[0]
    if getattr(op.options, "weightsFormat", 0) != 0:
        lw.fail(op, "shuffled weights are not supported")
    units, depth = w.shape[0], w.shape[-1]
    if len(w.shape) != 2 or x.size % depth:
        lw.fail(op, f"input {x.shape} does not fit the weights {w.shape}")
    if len(w.scales) > 1:
        mults, shifts = quant.per_channel_multipliers(x.scale, w.scales, out.scale, units)
    else:
        m, s = quant.per_tensor_conv_multiplier(x.scale, w.scale, out.scale)
        mults, shifts = [m], [s]
    params = lw.struct(call, "tk_fc_params", "params",
                       {"input_offset": -x.zero_point, "filter_offset": -w.zero_point,
                        "output_offset": out.zero_point, "activation": lw.activation(op, out)})
    batches = x.size // depth
    macs, outputs = batches * depth * units, batches * units
    candidates = [policy.candidate("reference", reference_bytes(w, b, mults), macs, outputs)]
    packings = {}
    if w.data is not None:
        matrix = w.data.reshape(units, depth).astype(np.int64) - w.zero_point  # filter offset applied
        for layout in ("fc8", "fc"):
            arrays = lw.pack_arrays(op, matrix, b, mults, shifts, out, layout, input_offset=-x.zero_point)
            if arrays is not None:
                packings[layout] = arrays
                candidates.append(policy.candidate(layout, array_bytes(arrays), macs, outputs))
    pick = policy.choose(lw.optimize, candidates, lw.exclude)
    lw.record(call, pick.layout, pick.weight_bytes, candidates)
    if pick.layout != "reference":
        kernel = K.FULLY_CONNECTED_FAST8 if pick.layout == "fc8" else K.FULLY_CONNECTED_FAST
        lw.emit(call, kernel, params, lw.filter_struct(call, packings[pick.layout]), str(batches), str(depth),
                str(units), lw.operand(x), lw.pointer(out), scratch=(depth,))
        return
    lw.emit(call, K.FULLY_CONNECTED, params, lw.channel_quant(call, mults, shifts), str(batches),
            str(depth), str(units), lw.operand(x), lw.weights(op, w, "int8_t"), lw.weights(op, b, "int32_t"),
            lw.pointer(out))


@register("TRANSPOSE_CONV", K.TRANSPOSE_CONV, in_place=NONE,
          tests=("ops:tconv_s2_same", "ops:tconv_s2_valid", "ops:tconv_nobias_relu", "ops:tconv_fn_s2_same_odd",
                 "qemu:op_mix"))
def lower_transpose_conv(lw, call, op, ins, outs):
    w, x, b = ins[1], ins[2], (ins[3] if len(ins) > 3 else None)  # ins[0]: the output shape (static here)
    out, o = outs[0], op.options
    lw.constant(op, w, "filter")
    if len(x.shape) != 4 or len(w.shape) != 4 or len(out.shape) != 4:
        lw.fail(op, "input, filter and output must have 4 dimensions")
    pads = []  # TFLM pads as for the forward convolution from the output (size) back to the input (steps)
    for size, kernel, stride in ((out.shape[1], w.shape[1], o.strideH), (out.shape[2], w.shape[2], o.strideW)):
        steps = (size + stride - 1) // stride if o.padding == PADDING_SAME else (size + stride - kernel) // stride
        pads.append(padding(o.padding, size, kernel, stride, 1, steps))
    mults, shifts = quant.per_channel_multipliers(x.scale, w.scales, out.scale, out.shape[3])
    params = lw.struct(call, "tk_transpose_conv_params", "params", {
        "input_offset": -x.zero_point, "output_offset": out.zero_point, "stride_h": o.strideH,
        "stride_w": o.strideW, "pad_h": pads[0], "pad_w": pads[1], "activation": lw.activation(op, out)})
    lw.emit(call, K.TRANSPOSE_CONV, params, lw.channel_quant(call, mults, shifts),
            lw.dims(call, "input_dims", x.shape), lw.operand(x), lw.dims(call, "filter_dims", w.shape),
            lw.weights(op, w, "int8_t"), lw.weights(op, b, "int32_t"), lw.dims(call, "output_dims", out.shape),
            lw.pointer(out), scratch=(out.size,))


def reference_bytes(w: Tensor, b: Tensor | None, mults) -> int:
    """Constant bytes of a reference kernel's layer: int8 weights, int32 biases, int32 multipliers and shifts."""
    weights = 0 if w.data is None else int(np.asarray(w.data).size)
    bias = 0 if b is None or b.data is None else 4 * int(np.asarray(b.data).size)
    return weights + bias + 8 * len(mults)


# Stride 2 on planes converts 4 input pixels per output pixel: on small maps (MobileNet's 6x6, 3x3) that costs more
# than the per-pixel kernel saves (bench/kernels.py --profile: 24x24 -16 %, 12x12 -6 %, 6x6 +11 %, 3x3 +60 %).
DW3X3_S2_PIXELS = 64
# ... and its planes (3 bytes per input value, at most a band of pack.DW3X3_PLANES_MAX) must not outgrow half the
# input (few channels over a wide map). MobileNetV1-0.25's 48x48x16 layer takes them (14.8 KB of scratch, a band of 5
# blocks): 341,580 -> 305,476 instructions, its arena 55,296 -> 60,864 bytes.
DW3X3_S2_SCRATCH = 0.5


def runs_dw3x3(x: Tensor, w: Tensor, out: Tensor, options) -> bool:
    """Whether a DEPTHWISE_CONV_2D has the shape tk_depthwise_conv2d_3x3_fast_s8 takes (if its rescale is exact
    too): 3x3, dilation 1, depth multiplier 1 (channels in fours, a last 1-3 gathered first); stride 1 with SAME
    (padding 1), or stride 2 with
    padding 0 or 1 on top and left (SAME, VALID), DW3X3_S2_PIXELS output pixels or more and planes of at most
    DW3X3_S2_SCRATCH of the input. That kernel writes 4 channels of every output row at a time, so the memory
    planner must not shift its output against its input (writing exactly over it is fine: a group's input channels
    are in the planes before its outputs land there, on bytes of the same channels): its Kernel entry says
    in_place."""
    in4, f4, out4 = to4d(x.shape), to4d(w.shape), to4d(out.shape)
    o = options
    pads = (padding(o.padding, in4[1], 3, o.strideH, o.dilationHFactor, out4[1]),
            padding(o.padding, in4[2], 3, o.strideW, o.dilationWFactor, out4[2]))
    if f4[1:3] != (3, 3) or (o.dilationHFactor, o.dilationWFactor) != (1, 1) or in4[3] != out4[3]:
        return False
    if (o.strideH, o.strideW) == (2, 2):  # the taps stay within one padding row / column past the input's end
        return (pads[0] in (0, 1) and pads[1] in (0, 1) and in4[0] == out4[0] and
                2 * out4[1] + 1 - pads[0] <= in4[1] + 1 and 2 * out4[2] + 1 - pads[1] <= in4[2] + 1 and
                out4[1] * out4[2] >= DW3X3_S2_PIXELS and
                pack.dw3x3_scratch_bytes(*in4[1:]) <= DW3X3_S2_SCRATCH * in4[1] * in4[2] * in4[3])
    return (o.strideH, o.strideW) == (1, 1) and pads == (1, 1) and in4 == out4
