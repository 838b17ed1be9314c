"""Changes of representation: QUANTIZE (int8 -> int8 with another scale) and DEQUANTIZE (int8 -> float32, the
model's output)."""
from __future__ import annotations

from pipeline.compiler import kernels as K
from pipeline.compiler import quant
from pipeline.compiler.lower import c_float, quant_pair
from pipeline.compiler.registry import ELEMENTWISE, NONE, register


@register("QUANTIZE", K.REQUANTIZE, in_place=ELEMENTWISE,
          tests=("ops:quantize_input", "ops:quantize_logistic", "qemu:op_mix"))
def lower_quantize(lw, call, op, ins, outs):
    x, out = ins[0], outs[0]
    params = {"input_zero_point": x.zero_point, "output_zero_point": out.zero_point,
              "quant": quant_pair(*quant.requantize_params(x.scale, out.scale))}
    lw.emit(call, K.REQUANTIZE, lw.struct(call, "tk_requantize_params", "params", params), str(out.size),
            lw.operand(x), lw.pointer(out))


@register("DEQUANTIZE", K.DEQUANTIZE, in_place=NONE,
          tests=("ops:dequantize_out_dense", "ops:dequantize_out_softmax", "qemu:dequantize_output"))
def lower_dequantize(lw, call, op, ins, outs):
    x, out = ins[0], outs[0]
    if out.dtype != "FLOAT32":
        lw.fail(op, f"only int8 -> float32 is supported (output {out.dtype})")
    params = lw.struct(call, "tk_dequantize_params", "params", {"zero_point": x.zero_point, "scale": c_float(x.scale)})
    lw.emit(call, K.DEQUANTIZE, params, str(out.size), lw.operand(x), lw.pointer(out))
