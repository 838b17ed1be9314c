"""Element-wise operators of two tensors: ADD, SUB, MUL, MAXIMUM, MINIMUM, PRELU. ADD of two same-shape tensors
runs tk_add_s8 (with its DSP loop); everything else, broadcasting included, tk_binary_s8."""
from __future__ import annotations

from pipeline.compiler import kernels as K
from pipeline.compiler import quant
from pipeline.compiler.lower import broadcast_strides, joint_walks, quant_pair
from pipeline.compiler.registry import ELEMENTWISE, register

BINARY_KINDS = {"ADD": "TK_BINARY_ADD", "SUB": "TK_BINARY_SUB", "MUL": "TK_BINARY_MUL",
                "MAXIMUM": "TK_BINARY_MAXIMUM", "MINIMUM": "TK_BINARY_MINIMUM", "PRELU": "TK_BINARY_PRELU"}
FULL_RANGE = {"min": quant.INT8_MIN, "max": quant.INT8_MAX}
NO_QUANT = quant_pair(0, 0)


def _add_sub_quant(p: dict) -> dict:
    return {"left_shift": p["left_shift"], "input1": quant_pair(p["input1_multiplier"], p["input1_shift"]),
            "input2": quant_pair(p["input2_multiplier"], p["input2_shift"]),
            "output": quant_pair(p["output_multiplier"], p["output_shift"])}


def _binary(lw, call, op, a, b, out, fields: dict) -> None:
    """tk_binary_s8 with `fields` (the arithmetic) over the broadcast of a and b to the output's shape."""
    for t in (a, b):
        if len(t.shape) > len(out.shape) or any(s not in (1, o) for s, o in
                                                zip(t.shape[::-1], out.shape[::-1])):
            lw.fail(op, f"{a.shape} and {b.shape} do not broadcast to {out.shape}")
    try:
        walk1, walk2 = joint_walks(out.shape, broadcast_strides(out.shape, a.shape),
                                   broadcast_strides(out.shape, b.shape))
    except ValueError as e:
        lw.fail(op, str(e))
    params = {"kind": BINARY_KINDS[op.name], "input1_offset": -a.zero_point, "input2_offset": -b.zero_point,
              "output_offset": out.zero_point, "left_shift": 0, "input1": NO_QUANT, "input2": NO_QUANT,
              "output": NO_QUANT, "activation": FULL_RANGE, **fields, "walk1": walk1, "walk2": walk2}
    lw.emit(call, K.BINARY, lw.struct(call, "tk_binary_params", "params", params), lw.operand(a), lw.operand(b),
            lw.pointer(out))


@register("ADD", K.ADD, K.BINARY, in_place=ELEMENTWISE,
          tests=("ops:add", "ops:add_relu", "ops:add_bcast_layer", "ops:add_bcast_4d_fn", "qemu:kernel_mix"))
def lower_add(lw, call, op, ins, outs):
    a, b, out = ins[0], ins[1], outs[0]
    p = _add_sub_quant(quant.add_params(a.scale, b.scale, out.scale))
    if a.shape == b.shape == out.shape:
        params = {"input1_offset": -a.zero_point, "input2_offset": -b.zero_point, "output_offset": out.zero_point,
                  **p, "activation": lw.activation(op, out)}
        lw.emit(call, K.ADD, lw.struct(call, "tk_add_params", "params", params), str(out.size), lw.operand(a),
                lw.operand(b), lw.pointer(out))
    else:
        _binary(lw, call, op, a, b, out, {**p, "activation": lw.activation(op, out)})


@register("SUB", K.BINARY, in_place=ELEMENTWISE,
          tests=("ops:sub_same", "ops:sub_bcast", "ops:sub_const_fn", "qemu:op_mix"))
def lower_sub(lw, call, op, ins, outs):
    a, b, out = ins[0], ins[1], outs[0]
    p = _add_sub_quant(quant.sub_params(a.scale, b.scale, out.scale))
    _binary(lw, call, op, a, b, out, {**p, "activation": lw.activation(op, out)})


@register("MUL", K.BINARY, in_place=ELEMENTWISE,
          tests=("ops:mul_same", "ops:mul_se", "ops:mul_bcast_3d", "ops:mul_const_scalar_input", "qemu:op_mix"))
def lower_mul(lw, call, op, ins, outs):
    a, b, out = ins[0], ins[1], outs[0]
    m, s = quant.quantize_multiplier(quant.f32(a.scale) * quant.f32(b.scale) / quant.f32(out.scale))
    _binary(lw, call, op, a, b, out, {"output": quant_pair(m, s), "activation": lw.activation(op, out)})


@register("MAXIMUM", K.BINARY, in_place=ELEMENTWISE,
          tests=("ops:maximum", "ops:maximum_bcast", "ops:maximum_const_fn", "qemu:op_mix"))
@register("MINIMUM", K.BINARY, in_place=ELEMENTWISE,
          tests=("ops:minimum", "ops:minimum_const", "ops:min_max_clamp_fn", "qemu:op_mix"))
def lower_maximum_minimum(lw, call, op, ins, outs):
    a, b, out = ins[0], ins[1], outs[0]  # raw int8 compared: the converter gives all three one quantization
    _binary(lw, call, op, a, b, out, {})


@register("PRELU", K.BINARY, in_place=ELEMENTWISE,
          tests=("ops:prelu_full", "ops:prelu_shared_hw", "ops:prelu_3d_shared_t", "ops:prelu_zero_alpha",
                 "qemu:prelu_mix"))
def lower_prelu(lw, call, op, ins, outs):
    x, alpha, out = ins[0], ins[1], outs[0]
    lw.constant(op, alpha, "alpha")
    if len(alpha.scales) > 1 and len(set(alpha.scales)) > 1:
        lw.fail(op, "alpha quantized per channel is not supported")
    identity = quant.quantize_multiplier(quant.f32(x.scale) / quant.f32(out.scale))
    scaled = quant.quantize_multiplier(quant.f32(x.scale) * quant.f32(alpha.scale) / quant.f32(out.scale))
    _binary(lw, call, op, x, alpha, out, {"input1": quant_pair(*identity), "output": quant_pair(*scaled)})

