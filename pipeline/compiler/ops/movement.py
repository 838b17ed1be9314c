"""Data movement that reorders elements: STRIDED_SLICE, SLICE, SPLIT, SPLIT_V, UNPACK, TRANSPOSE,
SPACE_TO_BATCH_ND, BATCH_TO_SPACE_ND (each a strided copy: the compiler applies the op to the input's element
numbers with numpy and reads off the walk) and RESIZE_NEAREST_NEIGHBOR (index tables). Input and output share
their quantization."""
from __future__ import annotations

import numpy as np

from pipeline.compiler import kernels as K
from pipeline.compiler import quant
from pipeline.compiler.fold import sliced, strided_slice
from pipeline.compiler.lower import index_walk, to4d
from pipeline.compiler.ops.shape import pad
from pipeline.compiler.registry import register


def copy_index(lw, call, op, index: np.ndarray, source: str, out, suffix: str = "copy", target: str = "") -> None:
    """tk_strided_copy_s8 from `source` of the input elements `index` into `out` (or `target`): `index` holds
    them in output order, in any shape that makes them a strided view (e.g. 6-D for a batch <-> space move)."""
    if not target and index.size != out.size:
        lw.fail(op, f"the result has {index.size} elements, the output tensor {out.size}")
    try:
        found = index_walk(index)
    except ValueError as e:
        lw.fail(op, str(e))
    if found is None:
        lw.fail(op, "the elements it reads are not a strided view of its input")
    walk, offset = found
    params = lw.struct(call, "tk_strided_copy_params", suffix, {"walk": walk, "offset": offset})
    lw.emit(call, K.STRIDED_COPY, params, source, target or lw.pointer(out))


def _elements(x) -> np.ndarray:
    return np.arange(x.size, dtype=np.int64).reshape(x.shape)


def _same_quant(lw, op, x, outs) -> None:
    for out in outs:
        lw.same_quant(op, x, out)


@register("STRIDED_SLICE", K.STRIDED_COPY,
          tests=("ops:ss_step2", "ops:ss_neg_stride", "ops:ss_shrink", "ops:ss_fn_neg2", "qemu:op_mix"))
def lower_strided_slice(lw, call, op, ins, outs):
    x, out, o = ins[0], outs[0], op.options
    _same_quant(lw, op, x, outs)
    if getattr(o, "ellipsisMask", 0) or getattr(o, "newAxisMask", 0) or getattr(o, "offset", False):
        lw.fail(op, "ellipsis and new-axis masks and the offset option are not supported (TFLM ignores them)")
    begin, end, strides = (lw.constant(op, t, what) for t, what in zip(ins[1:4], ("begin", "end", "strides")))
    try:
        index = np.asarray(strided_slice(_elements(x), begin, end, strides, o)).reshape(out.shape)
    except (ValueError, IndexError) as e:
        lw.fail(op, str(e))
    copy_index(lw, call, op, index, lw.operand(x), out)


@register("SLICE", K.STRIDED_COPY, tests=("ops:slice_layer", "ops:slice_fn_3d", "qemu:op_mix"))
def lower_slice(lw, call, op, ins, outs):
    x, out = ins[0], outs[0]
    _same_quant(lw, op, x, outs)
    begin, size = (lw.constant(op, t, what) for t, what in zip(ins[1:3], ("begin", "size")))
    copy_index(lw, call, op, sliced(_elements(x), begin, size), lw.operand(x), out)


def _split(lw, call, op, x, outs, axis: int) -> None:
    """Each output is the next outputs[k].shape[axis] slices of the input along `axis`."""
    _same_quant(lw, op, x, outs)
    axis %= len(x.shape)
    start, elements = 0, _elements(x)
    for k, out in enumerate(outs):
        size = out.shape[axis]
        copy_index(lw, call, op, np.take(elements, range(start, start + size), axis=axis), lw.operand(x), out,
                   f"copy{k}")
        start += size
    if start != x.shape[axis]:
        lw.fail(op, f"the outputs take {start} of the {x.shape[axis]} slices along axis {axis}")


@register("SPLIT", K.STRIDED_COPY, tests=("ops:split_c", "ops:split_h_all", "ops:split_fn_neg_axis", "qemu:op_mix"))
def lower_split(lw, call, op, ins, outs):
    _split(lw, call, op, ins[1], outs, int(lw.constant(op, ins[0], "axis").reshape(-1)[0]))


@register("SPLIT_V", K.STRIDED_COPY, tests=("ops:split_v", "ops:split_v_fn_axis1", "qemu:op_mix"))
def lower_split_v(lw, call, op, ins, outs):
    _split(lw, call, op, ins[0], outs, int(lw.constant(op, ins[2], "axis").reshape(-1)[0]))


@register("UNPACK", K.STRIDED_COPY, tests=("ops:unpack_axis1", "ops:unpack_last", "qemu:op_mix"))
def lower_unpack(lw, call, op, ins, outs):
    x = ins[0]
    _same_quant(lw, op, x, outs)
    axis, elements = op.options.axis % len(x.shape), _elements(x)
    for k, out in enumerate(outs):
        copy_index(lw, call, op, np.take(elements, k, axis=axis), lw.operand(x), out, f"copy{k}")


@register("TRANSPOSE", K.STRIDED_COPY,
          tests=("ops:permute_hw", "ops:permute_chw", "ops:transpose_fn_4d", "qemu:op_mix"))
def lower_transpose(lw, call, op, ins, outs):
    x, out = ins[0], outs[0]
    _same_quant(lw, op, x, outs)
    perm = [int(p) % len(x.shape) for p in lw.constant(op, ins[1], "permutation").reshape(-1)]
    if sorted(perm) != list(range(len(x.shape))):
        lw.fail(op, f"{perm} is not a permutation of the input's {len(x.shape)} dimensions")
    copy_index(lw, call, op, _elements(x).transpose(perm), lw.operand(x), out)


def _block(lw, op, x, ins, what: str):
    """(4-D shape of x, block (bh, bw), pairs (before, after) per spatial dim): a 3-D (N, T, C) tensor is
    (N, T, 1, C) with block width 1, as TFLM reads it."""
    if len(x.shape) not in (3, 4):
        lw.fail(op, f"the input must have 3 or 4 dimensions (has {len(x.shape)})")
    block = [int(b) for b in lw.constant(op, ins[1], "block shape").reshape(-1)]
    pairs = lw.constant(op, ins[2], what).reshape(-1, 2).astype(int).tolist()
    if len(x.shape) == 3:
        return (x.shape[0], x.shape[1], 1, x.shape[2]), (block[0], 1), [pairs[0], [0, 0]]
    return tuple(x.shape), (block[0], block[1]), pairs


@register("SPACE_TO_BATCH_ND", K.PAD, K.STRIDED_COPY, tests=("ops:s2b_conv_b2s_fn", "qemu:op_mix"))
def lower_space_to_batch_nd(lw, call, op, ins, outs):
    x, out = ins[0], outs[0]
    lw.same_quant(op, x, out)
    (n, h, w, c), (bh, bw), pads = _block(lw, op, x, ins, "paddings")
    hp, wp = h + sum(pads[0]), w + sum(pads[1])
    if hp % bh or wp % bw:
        lw.fail(op, f"the padded size {hp}x{wp} is not a multiple of the block {bh}x{bw}")
    source = lw.operand(x)
    if any(any(p) for p in pads):  # pad into scratch, then gather the blocks from there. The pad value is the
        # raw 0, not the zero point: what the TFLM runtime writes (tests/op_cases.py: s2b_conv_b2s_fn)
        source = lw.scratch(call, n * hp * wp * c)
        pad(lw, call, (n, h, w, c), lw.operand(x), (n, hp, wp, c), source, [[0, 0], *pads, [0, 0]], 0)
    padded = np.arange(n * hp * wp * c, dtype=np.int64).reshape(n, hp // bh, bh, wp // bw, bw, c)
    copy_index(lw, call, op, padded.transpose(2, 4, 0, 1, 3, 5), source, out)


@register("BATCH_TO_SPACE_ND", K.STRIDED_COPY,
          tests=("ops:s2b_b2s_fn", "ops:b2s_crop_fn", "ops:b2s_3d_fn", "qemu:op_mix"))
def lower_batch_to_space_nd(lw, call, op, ins, outs):
    x, out = ins[0], outs[0]
    lw.same_quant(op, x, out)
    (b, h, w, c), (bh, bw), crops = _block(lw, op, x, ins, "crops")
    if b % (bh * bw):
        lw.fail(op, f"the batch {b} is not a multiple of the block {bh}x{bw}")
    n = b // (bh * bw)
    spread = _elements(x).reshape(bh, bw, n, h, w, c).transpose(2, 3, 0, 4, 1, 5)  # (n, h, bh, w, bw, c)
    if not any(any(p) for p in crops):
        copy_index(lw, call, op, spread, lw.operand(x), out)
        return
    # interleave the blocks into scratch, then cut the crops from there
    scratch = lw.scratch(call, x.size)
    copy_index(lw, call, op, spread, lw.operand(x), out, "spread", target=scratch)
    whole = np.arange(x.size, dtype=np.int64).reshape(n, h * bh, w * bw, c)
    index = whole[:, crops[0][0]:h * bh - crops[0][1], crops[1][0]:w * bw - crops[1][1], :]
    copy_index(lw, call, op, index, scratch, out, "crop")


def nearest_indices(out_size: int, in_size: int, align_corners: bool, half_pixel_centers: bool) -> list[int]:
    """The input row (or column) of each output one, in TFLM's float32 arithmetic."""
    f = np.float32
    if align_corners and out_size > 1:
        scale = f(in_size - 1) / f(out_size - 1)
    else:
        scale = f(in_size) / f(out_size)
    offset = f(0.5 if half_pixel_centers else 0.0)
    indices = []
    for i in range(out_size):
        value = (f(i) + offset) * scale
        index = quant.round_half_away(float(value)) if align_corners else int(np.floor(value))
        index = min(index, in_size - 1)
        indices.append(max(0, index) if half_pixel_centers else index)
    return indices


@register("RESIZE_NEAREST_NEIGHBOR", K.RESIZE_NEAREST,
          tests=("ops:upsample_23", "ops:resize_nn_odd", "ops:resize_nn_v1_align", "ops:resize_nn_v1_hpc",
                 "ops:resize_nn_fn_raw_plain", "qemu:op_mix"))
def lower_resize_nearest_neighbor(lw, call, op, ins, outs):
    x, out, o = ins[0], outs[0], op.options
    if len(x.shape) != 4:
        lw.fail(op, "the input must have 4 dimensions")
    align, half = bool(getattr(o, "alignCorners", False)), bool(getattr(o, "halfPixelCenters", False))
    rows = nearest_indices(out.shape[1], x.shape[1], align, half)
    cols = nearest_indices(out.shape[2], x.shape[2], align, half)
    i = op.index
    lw.emit(call, K.RESIZE_NEAREST, lw.dims(call, "input_dims", x.shape), lw.operand(x),
            lw.const(f"op{i}_rows", rows, "int32_t"), lw.const(f"op{i}_cols", cols, "int32_t"),
            lw.dims(call, "output_dims", to4d(out.shape)), lw.pointer(out))
