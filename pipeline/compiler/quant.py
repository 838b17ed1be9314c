"""Fixed-point quantization parameters, computed in Python exactly as TFLite Micro computes them at Prepare time.

TFLM turns every real-valued rescale factor into a 32-bit multiplier and a power-of-two shift (frexp, round half
away from zero, as in tensorflow/lite/kernels/internal/quantization_util.cc). Scales come from the flatbuffer as
float32 and TFLM widens them to double in a specific order; the functions below keep that order, because the last
bit of a multiplier decides whether an output element matches.
"""
from __future__ import annotations

import math

import numpy as np

INT8_MIN, INT8_MAX = -128, 127


def f32(x) -> float:
    """A Python float rounded to float32, as a TfLiteQuantizationParams.scale holds it."""
    return float(np.float32(x))


def round_half_away(x: float) -> int:
    """std::round: halves go away from zero (Python's round() goes to even)."""
    return int(math.floor(abs(x) + 0.5)) * (1 if x >= 0 else -1)


def quantize_multiplier(real: float) -> tuple[int, int]:
    """(multiplier, shift) with real ~= multiplier * 2^(shift - 31), multiplier in [2^30, 2^31)."""
    if real == 0.0:
        return 0, 0
    q, shift = math.frexp(real)
    q_fixed = round_half_away(q * (1 << 31))
    if q_fixed == 1 << 31:
        q_fixed //= 2
        shift += 1
    if shift < -31:  # would shift every bit out: TFLM flushes it to zero
        return 0, 0
    return q_fixed, shift


def per_channel_multipliers(input_scale: float, filter_scales, output_scale: float, channels: int):
    """CONV_2D / DEPTHWISE_CONV_2D: effective scale in_scale * filter_scale[c] / out_scale, in double."""
    scales = [f32(s) for s in filter_scales]
    if len(scales) == 1:
        scales = scales * channels
    pairs = [quantize_multiplier(f32(input_scale) * s / f32(output_scale)) for s in scales]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def per_tensor_conv_multiplier(input_scale: float, filter_scale: float, output_scale: float) -> tuple[int, int]:
    """FULLY_CONNECTED per tensor: TFLM multiplies the two scales in float32 first, then divides in double."""
    product = f32(np.float32(input_scale) * np.float32(filter_scale))
    return quantize_multiplier(product / f32(output_scale))


def activation_range(activation: str, scale: float, zero_point: int) -> tuple[int, int]:
    """Clamp bounds of a fused activation (NONE, RELU, RELU6, RELU_N1_TO_1) in the int8 output domain."""
    scale = np.float32(scale)

    def quantize(value: float) -> int:  # zero_point + round(value / scale), the division in float32
        return zero_point + round_half_away(float(np.float32(value) / scale))

    if activation == "NONE":
        return INT8_MIN, INT8_MAX
    if activation == "RELU":
        return max(INT8_MIN, quantize(0.0)), INT8_MAX
    if activation == "RELU6":
        return max(INT8_MIN, quantize(0.0)), min(INT8_MAX, quantize(6.0))
    if activation == "RELU_N1_TO_1":
        return max(INT8_MIN, quantize(-1.0)), min(INT8_MAX, quantize(1.0))
    raise ValueError(activation)


def add_params(scale1: float, scale2: float, out_scale: float) -> dict:
    """ADD int8: both inputs rescaled to twice the larger input scale with 20 bits of headroom, then summed."""
    left_shift = 20
    twice_max = 2 * float(max(np.float32(scale1), np.float32(scale2)))
    m1, s1 = quantize_multiplier(f32(scale1) / twice_max)
    m2, s2 = quantize_multiplier(f32(scale2) / twice_max)
    mo, so = quantize_multiplier(twice_max / ((1 << left_shift) * f32(out_scale)))
    return {"left_shift": left_shift, "input1_multiplier": m1, "input1_shift": s1, "input2_multiplier": m2,
            "input2_shift": s2, "output_multiplier": mo, "output_shift": so}


def mean_params(in_scale: float, in_zp: int, out_scale: float, out_zp: int, count: int) -> dict:
    """MEAN int8 over `count` elements. Same quantization in and out: integer sum / count (truncating).
    Otherwise the requantize multiplier absorbs 1/count (TFLM's QuantizedMeanOrSum)."""
    if in_zp == out_zp and f32(in_scale) == f32(out_scale):
        return {"divide": 1, "multiplier": 0, "shift": 0}
    multiplier, shift = quantize_multiplier(f32(in_scale) / f32(out_scale))
    extra = min(count.bit_length() - 1, 32, 31 + shift)
    return {"divide": 0, "multiplier": (multiplier << extra) // count, "shift": shift - extra}


def requantize_params(in_scale: float, out_scale: float) -> tuple[int, int]:
    """QUANTIZE int8 -> int8: multiplier of in_scale / out_scale."""
    return quantize_multiplier(f32(in_scale) / f32(out_scale))


def softmax_params(beta: float, input_scale: float) -> dict:
    """SOFTMAX int8: input differences scaled into Q5.26 (PreprocessSoftmaxScaling) and the smallest difference
    whose exp still counts (CalculateInputRadius)."""
    integer_bits = 5
    real = min(float(np.float32(beta)) * f32(input_scale) * (1 << (31 - integer_bits)), (1 << 31) - 1.0)
    multiplier, left_shift = quantize_multiplier(real)
    return {"input_multiplier": multiplier, "input_left_shift": left_shift,
            "diff_min": -input_radius(integer_bits, left_shift)}


def logistic_params(input_scale: float, input_zp: int) -> dict:
    """LOGISTIC int8: input in Q4.27 through frexp (no renormalisation of a rounded-up mantissa)."""
    integer_bits = 4
    q, left_shift = math.frexp(f32(input_scale) * (1 << (31 - integer_bits)))
    return {"input_zero_point": input_zp, "input_multiplier": round_half_away(q * (1 << 31)),
            "input_left_shift": left_shift, "input_range_radius": input_radius(integer_bits, left_shift)}


def input_radius(integer_bits: int, left_shift: int, total_bits: int = 31) -> int:
    """The largest input magnitude that does not saturate after the fixed-point rescale (floor of it)."""
    max_rescaled = (1.0 * ((1 << integer_bits) - 1) * (1 << (total_bits - integer_bits)) / (1 << left_shift))
    return int(math.floor(max_rescaled))


def sub_params(scale1: float, scale2: float, out_scale: float) -> dict:
    """SUB int8: ADD's scheme, but TFLM computes the scale ratios in float32 before widening them."""
    left_shift = 20
    f = np.float32
    twice_max = f(2) * max(f(scale1), f(scale2))
    m1, s1 = quantize_multiplier(float(f(scale1) / twice_max))
    m2, s2 = quantize_multiplier(float(f(scale2) / twice_max))
    mo, so = quantize_multiplier(float(twice_max / (f(1 << left_shift) * f(out_scale))))
    return {"left_shift": left_shift, "input1_multiplier": m1, "input1_shift": s1, "input2_multiplier": m2,
            "input2_shift": s2, "output_multiplier": mo, "output_shift": so}


def quantize_value(value: float, scale: float, zero_point: int) -> int:
    """A real value in an int8 domain, clamped: zero_point + round(value / scale), the division in float32."""
    q = zero_point + round_half_away(float(np.float32(value) / np.float32(scale)))
    return min(max(q, INT8_MIN), INT8_MAX)


def leaky_relu_params(in_scale: float, alpha: float, out_scale: float) -> dict:
    """LEAKY_RELU int8: both multipliers from float32 arithmetic (in * alpha / out, in / out); a negative alpha
    is applied as |alpha| and a sign."""
    f = np.float32
    alpha_real = float(f(f(in_scale) * f(alpha)) / f(out_scale))
    identity = float(f(in_scale) / f(out_scale))
    return {"identity": quantize_multiplier(identity), "alpha": quantize_multiplier(abs(alpha_real)),
            "alpha_negative": int(alpha_real < 0)}


def downscale_to_q15(multiplier: int) -> int:
    """A Q31 multiplier rounded to Q15 (TFLite's DownScaleInt32ToInt16Multiplier)."""
    if multiplier >= (1 << 31) - 1 - (1 << 15):
        return (1 << 15) - 1
    return (multiplier + (1 << 15)) >> 16


def hard_swish_params(in_scale: float, out_scale: float) -> dict:
    """HARD_SWISH int8: the input on a 128x finer scale; Q15 multipliers to the output scale and to the
    'reluish' scale 3/32768 (float32 ratios, as TFLM)."""
    f = np.float32
    hires = f(1.0 / 128.0) * f(in_scale)
    m_out, e_out = quantize_multiplier(float(hires / f(out_scale)))
    m_relu, e_relu = quantize_multiplier(float(hires / f(3.0 / 32768.0)))
    return {"output_multiplier": downscale_to_q15(m_out), "output_exponent": e_out,
            "reluish_multiplier": downscale_to_q15(m_relu), "reluish_exponent": e_relu}


def sum_params(in_scale: float, out_scale: float) -> dict:
    """SUM int8: (sum - count * input zero point) rescaled by in_scale / out_scale."""
    multiplier, shift = quantize_multiplier(f32(in_scale) / f32(out_scale))
    return {"divide": 0, "multiplier": multiplier, "shift": shift}
