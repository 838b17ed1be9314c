"""Offline arrangement of weights, biases and rescale factors for the fast kernels (tk_*_fast_s8).

The fast kernels multiply int16 pairs with the Cortex-M4's SMLAD (two MACs per instruction). Everything that can
be done once is done here, at compile time:

* Weights become int16, doubled, and reordered so that the kernel's unpack of four int8 inputs with SXTAB16
  (bytes 0 and 2 into one word, bytes 1 and 3, rotated by 8, into another: 2 instructions, input offset added
  for free) lines up with them. Output channels go in pairs (two rows share every input load). Within each group of
  four taps k0..k3: word a = (k0, k2), word b = (k1, k3), low halfword first.
* The rescale is TFLM's MultiplyByQuantizedMultiplier (double rounding) in four instructions: with the accumulator
  doubled (weights and bias packed x2), SMMULR(acc, M) = round(acc * M / 2^32) equals TFLM's
  SaturatingRoundingDoublingHighMul(acc, M) = floor((acc * M + 2^30) / 2^31); then its RoundingDivideByPOT by
  2^rs plus the output zero point is (t + (t >> 31) + 2^(rs-1) + zp * 2^rs) >> rs for rs >= 1 (floor of a
  floor folds the added integers in). The kernels take the sign from acc instead of t (equal but for t = 0,
  where both give zp), so the sum is one SMMLAR: (SMMLAR(acc, M, nudge + (acc >> 31))) >> rs, then SSAT. `fast_quant` refuses a layer where any of this could overflow int32 or
  where rs = 0: the compiler then emits the reference kernel, so results never depend on a precondition.
"""
from __future__ import annotations

import numpy as np

INT32_LIMIT = 1 << 31
MAX_INPUT_MAGNITUDE = 255  # |x + input_offset| with x and the zero point both int8


def round_up(n: int, multiple: int) -> int:
    return (n + multiple - 1) // multiple * multiple


def fast_quant(multipliers, shifts, weights: np.ndarray, bias, zero_point: int, channels: int):
    """Per output channel (multiplier, right shift, nudge) for the fast rescale, padded to an even channel count,
    or None when the fast rescale is not provably equal to TFLM's. weights: (channels, K) int, offsets applied."""
    if len(multipliers) == 1:
        multipliers, shifts = list(multipliers) * channels, list(shifts) * channels
    bias = np.zeros(channels, np.int64) if bias is None else np.asarray(bias, np.int64).reshape(-1)
    bound = np.abs(bias) + MAX_INPUT_MAGNITUDE * np.abs(weights.astype(np.int64)).sum(axis=1)  # |acc|, per channel
    rows = []
    for c in range(channels):
        m, shift = int(multipliers[c]), int(shifts[c])
        rs = -shift
        if m <= 0 or rs < 1 or rs > 24:
            return None
        nudge = (1 << (rs - 1)) + zero_point * (1 << rs)
        acc2 = 2 * int(bound[c])  # the doubled accumulator must fit int32
        if acc2 >= INT32_LIMIT or int(bound[c]) + 2 + abs(nudge) >= INT32_LIMIT:
            return None
        rows.append((m, rs, nudge))
    rows += [(0, 1, 0)] * (round_up(channels, 2) - channels)
    return np.asarray(rows, np.int64).reshape(-1)


def pack_matrix(weights: np.ndarray) -> np.ndarray:
    """(C, K) int weights -> flat int16, doubled, channels in pairs, taps in groups of four (see the module doc):
    index order (pair, group, a|b, channel of the pair, low|high)."""
    channels, depth = weights.shape
    w = np.zeros((round_up(channels, 2), round_up(depth, 4)), np.int64)
    w[:channels, :depth] = 2 * weights.astype(np.int64)
    pairs, groups = w.shape[0] // 2, w.shape[1] // 4
    # tap 4j + r sits in word a (r = 0, 2) or b (r = 1, 3), low (r < 2) or high halfword: r = 2 * high + b
    w = w.reshape(pairs, 2, groups, 2, 2)             # (pair, channel, group, high, b)
    return w.transpose(0, 2, 4, 1, 3).reshape(-1).astype(np.int16)


def pack_depthwise(weights: np.ndarray) -> np.ndarray:
    """(taps, C) int depthwise weights -> flat int16, doubled, channels in groups of four per tap:
    index order (tap, group, a|b, low|high) with channel 4q + r in word a (r = 0, 2) or b (r = 1, 3)."""
    taps, channels = weights.shape
    w = np.zeros((taps, round_up(channels, 4)), np.int64)
    w[:, :channels] = 2 * weights.astype(np.int64)
    w = w.reshape(taps, -1, 2, 2)                     # (tap, group, high, b)
    return w.transpose(0, 1, 3, 2).reshape(-1).astype(np.int16)


def pack_depthwise_3x3(weights: np.ndarray) -> np.ndarray:
    """(C, 9) int 3x3 depthwise weights (taps row-major) -> flat int16, doubled, per channel per filter column j:
    (k0j, k1j) (k1j, k2j), the pairs tk_depthwise_3x3.c multiplies with two input rows at a time."""
    channels = weights.shape[0]
    k = 2 * weights.astype(np.int64).reshape(channels, 3, 3)  # (channel, filter row, filter column)
    pairs = np.stack([k[:, 0], k[:, 1], k[:, 1], k[:, 2]], axis=2)  # (channel, column, 4)
    return pairs.reshape(-1).astype(np.int16)


def dw3x3_scratch_bytes(in_h: int, in_w: int) -> int:
    """tk_depthwise_conv2d_3x3_fast_scratch_size: 4 int16 planes of 4-row blocks (3 words per padded input column)
    plus one block of output bytes."""
    plane_words = (in_h + 3) // 4 * (in_w + 2) * 3
    return 4 * (4 * plane_words + in_w)


def pack_bias(bias, channels: int, multiple: int) -> np.ndarray:
    out = np.zeros(round_up(channels, multiple), np.int64)
    if bias is not None:
        out[:channels] = 2 * np.asarray(bias, np.int64).reshape(-1)
    return out.astype(np.int32)


def pack_conv_bias(bias, channels: int) -> np.ndarray:
    """pack_bias for CONV_2D: each channel pair's (b0, b1) twice, the accumulators of two pixels (one LDM)."""
    pairs = pack_bias(bias, channels, 2).reshape(-1, 2)
    return np.concatenate([pairs, pairs], axis=1).reshape(-1)


def pad_rows(weights: np.ndarray, kernel_h: int) -> np.ndarray:
    """(C, kh * kw * in_c) conv weights -> each filter row's kw * in_c taps padded with zeros to a multiple of 4
    (tk_conv_fast.c's packed_depth: every filter row starts a group of 4 taps, so rows convert straight from
    the input)."""
    channels, depth = weights.shape
    rows = weights.reshape(channels, kernel_h, depth // kernel_h)
    padded = np.zeros((channels, kernel_h, round_up(rows.shape[2], 4)), weights.dtype)
    padded[:, :, :rows.shape[2]] = rows
    return padded.reshape(channels, -1)


def conv_scratch_bytes(kernel_h: int, kernel_w: int, in_channels: int) -> int:
    """tk_conv2d_fast_scratch_size: three int16 columns (filter rows padded to 4 taps)."""
    depth = kernel_h * round_up(kernel_w * in_channels, 4)
    return 3 * 2 * depth


def fc_scratch_bytes(depth: int) -> int:
    """tk_fully_connected_fast_scratch_size: one int16 column of the input row padded to 4."""
    return 2 * round_up(depth, 4)
