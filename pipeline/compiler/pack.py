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
  where both give zp), so the sum is one SMMLAR: (SMMLAR(acc, M, nudge + (acc >> 31))) >> rs, then SSAT.
  `fast_quant` refuses a layer where any of this could overflow int32 or where rs = 0: the compiler then emits
  the reference kernel, so results never depend on a precondition.
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


NARROW_TAPS = 8     # tk_conv2d_narrow_s8: a 1x1 conv over exactly this many input channels
NARROW_LAST = 1 << 8  # set in the last channel's right-shift word (the kernel's ASR reads the low byte only)


def pack_narrow(weights: np.ndarray, bias, quant: np.ndarray) -> np.ndarray:
    """(C, 8) int 1x1 conv weights, bias, fast_quant's rows -> tk_conv2d_narrow_s8's stream, 8 int32 per output
    channel: the doubled taps as int16 pairs (k0, k2) (k1, k3) (k4, k6) (k5, k7) (what SXTAB16 of the pixel's two
    input words lines up with), the doubled bias, multiplier, right shift (NARROW_LAST on the last channel), nudge."""
    channels = weights.shape[0]
    w = (2 * weights.astype(np.int64)).reshape(channels, 2, 2, 2)     # (channel, group, high, b)
    halves = w.transpose(0, 1, 3, 2).reshape(channels, 4, 2) & 0xFFFF  # words (group, b): (low, high)
    words = (halves[:, :, 0] | halves[:, :, 1] << 16).astype(np.uint32).view(np.int32).astype(np.int64)
    q = np.asarray(quant, np.int64).reshape(-1, 3)[:channels].copy()
    q[-1, 1] |= NARROW_LAST
    packed_bias = pack_bias(bias, channels, 1).astype(np.int64).reshape(channels, 1)
    return np.concatenate([words, packed_bias, q], axis=1).reshape(-1).astype(np.int32)


def pack_depthwise(weights: np.ndarray, kernel_h: int = 1) -> np.ndarray:
    """(taps, C) int depthwise weights -> flat int16, doubled, channels in groups of four per tap: index order
    (tap, group, a|b, low|high) with channel 4q + r in word a (r = 0, 2) or b (r = 1, 3). A 3x3 filter over channels
    in fours (dw_group_major) goes group-major instead, (group, tap, a|b, low|high): tk_dw_3x3_pixel reads a
    group's 9 taps back to back."""
    taps, channels = weights.shape
    w = np.zeros((taps, round_up(channels, 4)), np.int64)
    w[:, :channels] = 2 * weights.astype(np.int64)
    w = w.reshape(taps, -1, 2, 2)                     # (tap, group, high, b)
    order = (1, 0, 3, 2) if dw_group_major(kernel_h, taps, channels) else (0, 1, 3, 2)
    return w.transpose(order).reshape(-1).astype(np.int16)


def dw_group_major(kernel_h: int, taps: int, channels: int) -> bool:
    """tk_depthwise_fast.c's whole_3x3: a 3x3 filter over a multiple of 4 channels (TK_DW3_GROUP, tk_fast.h)."""
    return kernel_h == 3 and taps == 9 and channels % 4 == 0


def pack_depthwise_3x3(weights: np.ndarray) -> np.ndarray:
    """(C, 9) int 3x3 depthwise weights (taps row-major) -> flat int16, doubled, per channel per filter column j:
    (k0j, k1j) (k1j, k2j), the pairs tk_depthwise_3x3.c multiplies with two input rows at a time."""
    channels = weights.shape[0]
    k = 2 * weights.astype(np.int64).reshape(channels, 3, 3)  # (channel, filter row, filter column)
    pairs = np.stack([k[:, 0], k[:, 1], k[:, 1], k[:, 2]], axis=2)  # (channel, column, 4)
    return pairs.reshape(-1).astype(np.int16)


DW3X3_PLANES_MAX = 16384  # tk_depthwise_3x3.c's TK_DW3_PLANES_MAX: planes above this hold a band of blocks at a time


def dw3x3_scratch_bytes(in_h: int, in_w: int, channels: int) -> int:
    """tk_depthwise_conv2d_3x3_fast_scratch_size: 4 int16 planes of 4-row blocks (3 words per padded input column;
    all the blocks if they fit DW3X3_PLANES_MAX bytes, else a band of them and one block more), one block of output
    bytes, a row of words (the input row above the next band), and when the channels do not come in fours the last
    group's input gathered (a word per pixel)."""
    blocks, block_bytes = (in_h + 3) // 4, 4 * 4 * 3 * (in_w + 2)
    band = blocks if blocks * block_bytes <= DW3X3_PLANES_MAX else max(DW3X3_PLANES_MAX // block_bytes - 1, 1)
    plane_words = (band if band == blocks else band + 1) * (in_w + 2) * 3
    return 4 * (4 * plane_words + 2 * in_w) + (4 * in_h * in_w if channels % 4 else 0)


def pack_bias(bias, channels: int, multiple: int) -> np.ndarray:
    out = np.zeros(round_up(channels, multiple), np.int64)
    if bias is not None:
        out[:channels] = 2 * np.asarray(bias, np.int64).reshape(-1)
    return out.astype(np.int32)


def pack_conv_bias(bias, channels: int) -> np.ndarray:
    """pack_bias for CONV_2D: each channel pair's (b0, b1) twice, the accumulators of two pixels (one LDM)."""
    pairs = pack_bias(bias, channels, 2).reshape(-1, 2)
    return np.concatenate([pairs, pairs], axis=1).reshape(-1)


def packed_arrays(matrix: np.ndarray, bias, mults, shifts, zero_point: int, layout: str, kernel_h: int = 1,
                  input_offset: int = 0) -> dict | None:
    """The arrays of a tk_packed_filter for (out_c, taps) weights in the kernel's `layout` ("conv", "conv8", "fc",
    "fc8", "depthwise", "depthwise_3x3": {"weights": int16, "bias": int32, "quant": int32}; "narrow": its stream
    alone, {"quant": int32}), or None when the fast rescale (or fc8's two-row packing) is not exact for them.
    Convolution weights have their filter rows (kernel_h of them) padded to 4 taps each; fc8 needs the input offset
    (its range check)."""
    channels = matrix.shape[0]
    q = fast_quant(mults, shifts, matrix, bias, zero_point, channels)
    if q is None:
        return None
    q = q.astype(np.int32)  # as model.c stores it (the byte counts of the policy)
    if layout == "narrow":
        return {"quant": pack_narrow(matrix, bias, q)}
    if layout in ("fc8", "conv8"):
        packed = pack_fc8(pad_rows(matrix, kernel_h), bias, input_offset, q, 2 if layout == "fc8" else 1)
        return None if packed is None else dict(zip(("weights", "bias", "quant"), packed))
    if layout == "depthwise_3x3":
        weights = pack_depthwise_3x3(matrix)
    elif layout == "depthwise":
        weights = pack_depthwise(matrix.T, kernel_h)
    else:
        weights = pack_matrix(pad_rows(matrix, kernel_h))
    packed_bias = pack_conv_bias(bias, channels) if layout == "conv" else pack_bias(bias, channels, 2)
    return {"weights": weights, "bias": packed_bias, "quant": q}


def flat_taps(kernel_h: int, row: int) -> bool:
    """tk_conv_fill.h's tk_conv_flat: the taps of a pixel go back to back (padded to 4 once) when padding each of
    the kernel_h filter rows of `row` taps to 4 would cost groups (a first conv over RGB: 27 taps, 36 as rows)."""
    return kernel_h * round_up(row, 4) > round_up(kernel_h * row, 4)


def pad_rows(weights: np.ndarray, kernel_h: int) -> np.ndarray:
    """(C, kh * kw * in_c) conv weights -> each filter row's kw * in_c taps padded with zeros to a multiple of 4
    (tk_conv_fill.h's tk_packed_depth: every filter row starts a group of 4 taps, so rows convert straight from
    the input), or all taps padded once when that saves groups (flat_taps: the kernel stages the taps first)."""
    channels, depth = weights.shape
    if flat_taps(kernel_h, depth // kernel_h):
        padded = np.zeros((channels, round_up(depth, 4)), weights.dtype)
        padded[:, :depth] = weights
        return padded
    rows = weights.reshape(channels, kernel_h, depth // kernel_h)
    padded = np.zeros((channels, kernel_h, round_up(rows.shape[2], 4)), weights.dtype)
    padded[:, :, :rows.shape[2]] = rows
    return padded.reshape(channels, -1)


def column_taps(kernel_h: int, kernel_w: int, in_channels: int) -> int:
    """tk_packed_depth: the int16 taps of one pixel's column (filter rows padded to 4 taps, or flat taps padded
    once)."""
    row = kernel_w * in_channels
    return round_up(kernel_h * row, 4) if flat_taps(kernel_h, row) else kernel_h * round_up(row, 4)


def conv_scratch_bytes(kernel_h: int, kernel_w: int, in_channels: int) -> int:
    """tk_conv2d_fast_scratch_size: three int16 columns, and for flat taps two int8 staging patches
    (TK_PATCH_BYTES: the taps rounded up + 4)."""
    depth = column_taps(kernel_h, kernel_w, in_channels)
    return 3 * 2 * depth + (2 * (depth + 4) if flat_taps(kernel_h, kernel_w * in_channels) else 0)


# tk_conv2d_fast8_tiles_s8 (tk_conv_fast8.c): tiles of 4 pixels for columns of at most this many groups of 4
# taps (TK_CONV8_TILE_GROUPS), the columns of at most this many bytes of tiles in the scratch (TK_CONV8_TILES_MAX)
CONV8_TILE_GROUPS = 64
CONV8_TILES_MAX = 10240


def tile_pixels(pixels: int) -> int:
    """tk_conv_fast8.c's tile_pixels: the first output pixels that run in tiles of 4 (all, or all but the last 1-3),
    when that takes fewer MAC instructions than tiles of 3 only (per word of taps 11 for 4 pixels, 9 for 3)."""
    quads, rest = divmod(pixels, 4)
    return 4 * quads if 11 * quads + (9 if rest else 0) < 9 * -(-pixels // 3) else 0


def chunk_tiles(depth: int, pixels: int) -> int:
    """tk_conv_fast8.c's chunk_tiles: the tiles whose columns (of `depth` taps) the scratch holds at once for
    `pixels` pixels; 0 when columns of that depth take no tiles."""
    groups = depth // 4
    if groups % 4 or groups > CONV8_TILE_GROUPS:
        return 0
    return min(pixels // 4, CONV8_TILES_MAX // (8 * depth))


def conv8_tiles(kernel_h: int, kernel_w: int, in_channels: int, out_pixels: int) -> bool:
    """Whether tk_conv2d_fast8_tiles_s8 runs tiles of 4 pixels for this layer on the Cortex-M4."""
    return chunk_tiles(column_taps(kernel_h, kernel_w, in_channels), out_pixels) > 0 and tile_pixels(out_pixels) > 0


def conv8_tiles_scratch_bytes(kernel_h: int, kernel_w: int, in_channels: int, in_pixels: int) -> int:
    """tk_conv2d_fast8_tiles_scratch_size: conv_scratch_bytes, then a chunk's columns (8 bytes per tap and tile)."""
    depth = column_taps(kernel_h, kernel_w, in_channels)
    return conv_scratch_bytes(kernel_h, kernel_w, in_channels) + 8 * depth * chunk_tiles(depth, in_pixels)


def fc_scratch_bytes(depth: int) -> int:
    """tk_fully_connected_fast_scratch_size: one int16 column of the input row padded to 4."""
    return 2 * round_up(depth, 4)


# -- int8 weights, two rows to an int16 (tk_fully_connected_fast8_s8) -----------------------------------------
# Row A of a pair in the low byte, row B in the high byte: h = wA + 256 * wB, one int16 per two weights (int8
# density). SMLAD(x, h) accumulates mix = SA + 256 * SB; SMLAD(x, SXTB16(h)) accumulates SA alone (SXTB16 keeps
# the low bytes, sign-extended: wA). Then 256 * SB = mix - SA modulo 2^32: exact when SB's range (known here from
# the weights, the bias and the input range) spans less than 2^24, with mix started at 256 * (bB - low) so that
# the difference is the non-negative 256 * (T - low) (T = SB + bB); the kernel takes it with LSR #7 (= 2 (T - low))
# and adds 2 * low: the doubled accumulator of the fast rescale. Rows go in tiles of 4 (two pairs) so that each
# input word serves four rows; per group of 4 taps the tile's words are pair 0 (k0, k2), pair 0 (k1, k3), pair 1
# (k0, k2), pair 1 (k1, k3).
MIX_RANGE = 1 << 24
FC8_QUANT_WORDS = 14  # per tile: (m, s, n) A0, (m, s, n, 2 low) B0, (m, s, n) A1, (m, s, n, 2 low) B1


def pack_fc8(weights: np.ndarray, bias, input_offset: int, quant: np.ndarray, pairs_per_tile: int = 2):
    """(rows, K) int weights (offsets applied), their bias and fast_quant words -> (int16 weights, int32 bias
    words a0, mix0, a1, mix1 per tile of 4 rows, int32 quant words per tile (FC8_QUANT_WORDS)), or None when a
    weight is outside int8 or a pair's B row has too wide a range. With pairs_per_tile=1, CONV_2D's layout
    (tk_conv2d_fast8_s8): per channel pair, per group, words (k0, k2) (k1, k3); bias (a, mix), 7 quant words."""
    rows, depth = weights.shape
    w = np.zeros((round_up(rows, 2 * pairs_per_tile), round_up(depth, 4)), np.int64)
    w[:rows, :depth] = weights
    if w.min() < -128 or w.max() > 127:
        return None
    b = np.zeros(w.shape[0], np.int64)
    if bias is not None:
        b[:rows] = np.asarray(bias, np.int64).reshape(-1)
    wa, wb = w[0::2], w[1::2]                                 # (pairs, K): rows A and B of each pair
    h = wa + 256 * wb
    if h.min() < -(1 << 15) or h.max() >= 1 << 15:
        return None
    x_lo, x_hi = -128 + input_offset, 127 + input_offset
    low = b[1::2] + np.minimum(wb * x_lo, wb * x_hi).sum(axis=1)  # T = SB + bB over every input
    high = b[1::2] + np.maximum(wb * x_lo, wb * x_hi).sum(axis=1)
    if (high - low).max() >= MIX_RANGE or np.abs(low).max() >= 1 << 29:
        return None
    mix = b[0::2] + 256 * (b[1::2] - low)                     # wraps like the int32 accumulator
    bias_words = np.stack([b[0::2], mix], axis=1).reshape(-1)
    q = np.zeros((w.shape[0], 3), np.int64)
    q[:, 1] = 1                                               # padding rows: multiplier 0, shift 1
    q[:len(quant) // 3] = np.asarray(quant, np.int64).reshape(-1, 3)[:w.shape[0]]
    q = q.reshape(-1, 2, 3)                                   # (pair, A|B, (m, s, n))
    quant_words = np.concatenate([q[:, 0], q[:, 1], 2 * low[:, None]], axis=1).reshape(-1)
    tiles, groups = w.shape[0] // (2 * pairs_per_tile), w.shape[1] // 4
    h = h.reshape(tiles, pairs_per_tile, groups, 2, 2)          # (tile, pair, group, high, b)
    packed = h.transpose(0, 2, 1, 4, 3).reshape(-1)             # (tile, group, pair, a|b, low|high)
    return packed.astype(np.int16), _int32(bias_words), _int32(quant_words)


def _int32(values: np.ndarray) -> np.ndarray:
    """int64 values as the int32 words of model.c, wrapping like the accumulator."""
    return (values & 0xFFFFFFFF).astype(np.uint32).view(np.int32)
