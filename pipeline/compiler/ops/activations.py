"""Activations as separate operators: SOFTMAX, LOGISTIC, TANH, RELU, RELU6, LEAKY_RELU, HARD_SWISH. The
parameters are TFLM's Prepare-time arithmetic (pipeline/compiler/quant.py); the kernels its integer Eval."""
from __future__ import annotations

from pipeline.compiler import kernels as K
from pipeline.compiler import quant
from pipeline.compiler.lower import quant_pair
from pipeline.compiler.registry import ELEMENTWISE, register


@register("SOFTMAX", K.SOFTMAX, in_place=ELEMENTWISE, tests=("ops:softmax", "ops:softmax_wide", "qemu:ds_cnn"))
def lower_softmax(lw, call, op, ins, outs):
    x, out = ins[0], outs[0]
    lw.fixed_output(op, out)
    params = lw.struct(call, "tk_softmax_params", "params", quant.softmax_params(op.options.beta, x.scale))
    depth = x.shape[-1] if x.shape else 1
    lw.emit(call, K.SOFTMAX, params, str(x.size // depth), str(depth), lw.operand(x), lw.pointer(out))


@register("LOGISTIC", K.LOGISTIC, in_place=ELEMENTWISE, tests=("ops:logistic", "qemu:op_mix"))
def lower_logistic(lw, call, op, ins, outs):
    x, out = ins[0], outs[0]
    lw.fixed_output(op, out)
    params = lw.struct(call, "tk_logistic_params", "params", quant.logistic_params(x.scale, x.zero_point))
    lw.emit(call, K.LOGISTIC, params, str(out.size), lw.operand(x), lw.pointer(out))


@register("TANH", K.TANH, in_place=ELEMENTWISE, tests=("ops:tanh", "ops:tanh_conv", "qemu:op_mix"))
def lower_tanh(lw, call, op, ins, outs):
    x, out = ins[0], outs[0]  # TFLM writes scale 1/128, zero point 0 whatever the output says; so do we
    params = lw.struct(call, "tk_tanh_params", "params", quant.logistic_params(x.scale, x.zero_point))
    lw.emit(call, K.TANH, params, str(out.size), lw.operand(x), lw.pointer(out))


@register("RELU", K.RELU, in_place=ELEMENTWISE,
          tests=("ops:relu_after_gap", "ops:relu_after_reduce_max", "ops:relu_after_tconv", "qemu:op_mix"))
def lower_relu(lw, call, op, ins, outs):
    x, out = ins[0], outs[0]  # a rescale to the output's quantization, then the clamp at its zero
    m, s = quant.requantize_params(x.scale, out.scale)
    params = {"input_zero_point": x.zero_point, "output_zero_point": out.zero_point, "quant": quant_pair(m, s),
              "activation": {"min": max(quant.INT8_MIN, out.zero_point), "max": quant.INT8_MAX}}
    lw.emit(call, K.RELU, lw.struct(call, "tk_relu_params", "params", params), str(out.size), lw.operand(x),
            lw.pointer(out))


@register("RELU6", K.RELU, in_place=ELEMENTWISE, tests=("ops:relu6_after_gap", "ops:relu6_after_concat", "qemu:op_mix"))
def lower_relu6(lw, call, op, ins, outs):
    x, out = ins[0], outs[0]  # TFLM clamps in the input's domain, no rescale: a unit multiplier (2^30, shift 1)
    six = quant.quantize_value(6.0, x.scale, x.zero_point)
    params = {"input_zero_point": x.zero_point, "output_zero_point": x.zero_point,
              "quant": quant_pair(*quant.quantize_multiplier(1.0)), "activation": {"min": x.zero_point, "max": six}}
    lw.emit(call, K.RELU, lw.struct(call, "tk_relu_params", "params", params), str(out.size), lw.operand(x),
            lw.pointer(out))


@register("LEAKY_RELU", K.LEAKY_RELU, in_place=ELEMENTWISE,
          tests=("ops:leaky_relu", "ops:leaky_relu_conv", "qemu:op_mix"))
def lower_leaky_relu(lw, call, op, ins, outs):
    x, out = ins[0], outs[0]
    p = quant.leaky_relu_params(x.scale, op.options.alpha, out.scale)
    params = {"input_zero_point": x.zero_point, "output_zero_point": out.zero_point,
              "identity": quant_pair(*p["identity"]), "alpha": quant_pair(*p["alpha"]),
              "alpha_negative": p["alpha_negative"]}
    lw.emit(call, K.LEAKY_RELU, lw.struct(call, "tk_leaky_relu_params", "params", params), str(out.size),
            lw.operand(x), lw.pointer(out))


@register("HARD_SWISH", K.HARD_SWISH, in_place=ELEMENTWISE,
          tests=("ops:hard_swish_keras", "ops:hard_swish_fn_clip", "qemu:op_mix"))
def lower_hard_swish(lw, call, op, ins, outs):
    x, out = ins[0], outs[0]
    p = quant.hard_swish_params(x.scale, out.scale)
    if not -31 <= p["output_exponent"] <= 0 or not -31 <= p["reluish_exponent"] <= 15:
        lw.fail(op, f"the scales in {x.scale}, out {out.scale} give exponents {p['output_exponent']} and "
                    f"{p['reluish_exponent']} (the output's must be in [-31, 0], TFLM refuses a positive one)")
    params = {"input_zero_point": x.zero_point, "output_zero_point": out.zero_point, **p}
    lw.emit(call, K.HARD_SWISH, lw.struct(call, "tk_hard_swish_params", "params", params), str(out.size),
            lw.operand(x), lw.pointer(out))
