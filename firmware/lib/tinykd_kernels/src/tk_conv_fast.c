/* CONV_2D and FULLY_CONNECTED on weights packed offline (pipeline/compiler/pack.py): the loop
 * structure here, the inner loops in tk_fast_dsp.h (Cortex-M4) or tk_fast_portable.h. Same results as the
 * reference kernels in tk_conv.c / tk_fully_connected.c, bit for bit, for every layer the compiler packs. */
#include "tinykd_kernels.h"
#include "tk_arch.h"
#include "tk_fast.h"
#include "tk_fixedpoint.h"

#include <stddef.h>
#include <string.h>

static int32_t round_up4(int32_t n) { return (n + 3) & ~3; }

/* Taps per output pixel in the packed layout: each filter row (kw * channels taps) padded to a multiple of 4, so
 * that every row starts a group of 4 taps (the padding taps have zero weights). */
static int32_t packed_depth(const tk_dims *input_dims, const tk_dims *filter_dims)
{
    return filter_dims->h * round_up4(filter_dims->w * input_dims->c);
}

int32_t tk_conv2d_fast_scratch_size(const tk_dims *input_dims, const tk_dims *filter_dims)
{
    const int32_t depth = packed_depth(input_dims, filter_dims);
    return 3 * 2 * depth; /* three int16 columns */
}

int32_t tk_fully_connected_fast_scratch_size(int32_t accum_depth)
{
    return 2 * round_up4(accum_depth); /* one int16 column */
}

/* What filling a column needs, computed once per layer. */
typedef struct {
    const tk_conv_params *p;
    const tk_dims *in;
    const tk_dims *filter;
    const int8_t *input;
    int32_t row_groups; /* groups of 4 taps per filter row (packed_depth) */
    int32_t row_step;   /* bytes from one input row to the next */
    int32_t input_bytes;
    int pointwise; /* 1x1, no padding, channels in fours: a pixel's groups are its bytes, no more */
} conv_geometry;

/* Bytes [n, 4) of a word set (KEEP_FROM) and bytes [0, n) (KEEP_BELOW), for n = 0 .. 4. */
static const uint32_t KEEP_FROM[5] = {0xFFFFFFFFu, 0xFFFFFF00u, 0xFFFF0000u, 0xFF000000u, 0u};
static const uint32_t KEEP_BELOW[5] = {0u, 0xFFu, 0xFFFFu, 0xFFFFFFu, 0xFFFFFFFFu};

/* `bytes` with byte r = input[at + r] for r in [a, b) (the taps inside the image, read one by one). */
static inline uint32_t gather_bytes(const int8_t *input, int32_t at, int32_t a, int32_t b, uint32_t bytes)
{
    int32_t r;
    for (r = a; r < b; ++r) {
        bytes |= (uint32_t)(uint8_t)input[at + r] << (8 * r);
    }
    return bytes;
}

/* One filter row on the border whose channel count is not a multiple of 4 (column `slot`, groups from `first`):
 * the taps in [lo, hi) are inside the image, tap t at input[at + t]; the others (the padding, the row's padding
 * taps) take the zero point (x + offset = 0). A group's 4 input bytes are read as one word when that stays inside
 * the input, the outside taps masked to the zero point; else tap by tap. */
static void fill_border_taps(const conv_geometry *g, void *columns, int32_t stride, int32_t slot, int32_t first,
                             int32_t at, int32_t lo, int32_t hi)
{
    const int32_t offset = g->p->input_offset, taps = 4 * g->row_groups;
    const int32_t offsets = tk_offset_pair(offset), half = stride >> 1;
    const uint32_t zero_points = (uint32_t)tk_bytes4(-offset);
    tk_word *col = (tk_word *)columns + stride * first + slot;
    int32_t t;
    for (t = 0; t < taps; t += 4, col += stride) {
        const int32_t a = tk_clamp32(lo - t, 0, 4), b = tk_clamp32(hi - t, 0, 4);
        const uint32_t keep = a < b ? KEEP_FROM[a] & KEEP_BELOW[b] : 0u; /* the group's taps inside */
        uint32_t bytes = zero_points & ~keep;
        if (keep != 0u && at + t >= 0 && at + t + 4 <= g->input_bytes) {
            uint32_t word;
            memcpy(&word, g->input + at + t, sizeof word);
            bytes |= word & keep;
        } else {
            bytes = gather_bytes(g->input, at + t, a, b, bytes);
        }
        tk_put_bytes_group(col, half, (int32_t)bytes, offsets);
    }
}

/* Column `slot` (of columns with `stride` words per group) <- the taps of the output pixel at (batch, out_y,
 * out_x), filter row by filter row, each row padded to whole groups of 4 (see packed_depth); the input zero
 * point (x + input offset = 0, as TFLM skipping the tap) outside the image. A row inside the image converts
 * straight from the input; with channels not a multiple of 4 its last group reads up to 3 bytes past the row,
 * into the next pixel (their weights are 0). A row on the border: channels a multiple of 4 are whole groups, the
 * padding written as zeros; other counts tap by tap (fill_border_taps). */
static TK_NOINLINE void fill_pixel_rows(const conv_geometry *g, int32_t batch, int32_t out_y, int32_t out_x,
                                        void *columns, int32_t stride, int32_t slot)
{
    const tk_conv_params *p = g->p;
    const int32_t channels = g->in->c, in_h = g->in->h, in_w = g->in->w, kh = g->filter->h, kw = g->filter->w;
    const int32_t in_y0 = out_y * p->stride_h - p->pad_h, in_x0 = out_x * p->stride_w - p->pad_w;
    const int32_t row_groups = g->row_groups, offset = p->input_offset;
    int32_t row = ((batch * in_h + in_y0) * in_w + in_x0) * channels; /* may be < 0 in padding */
    int32_t filter_y, first = 0;

    if (in_y0 >= 0 && in_y0 + kh <= in_h && in_x0 >= 0 && in_x0 + kw <= in_w &&
        row + (kh - 1) * g->row_step + 4 * row_groups <= g->input_bytes) { /* inside: the common case */
        const int8_t *src = g->input + row;
        for (filter_y = 0; filter_y < kh; ++filter_y, first += row_groups, src += g->row_step) {
            tk_fill_groups(columns, stride, slot, first, src, row_groups, offset);
        }
        return;
    }
    {
        const int32_t x_lo = in_x0 < 0 ? -in_x0 : 0;
        const int32_t x_end = in_w - in_x0 < kw ? in_w - in_x0 : kw;
        const int32_t x_hi = x_end < x_lo ? x_lo : x_end;
        row += x_lo * channels;
        for (filter_y = 0; filter_y < kh; ++filter_y, first += row_groups, row += g->row_step) {
            const int32_t in_y = in_y0 + filter_y;
            if (in_y < 0 || in_y >= in_h) {
                tk_zero_groups(columns, stride, slot, first, row_groups);
            } else if (!(channels & 3)) {
                const int32_t lo = x_lo * channels / 4, hi = x_hi * channels / 4;
                tk_zero_groups(columns, stride, slot, first, lo);
                tk_fill_groups(columns, stride, slot, first + lo, g->input + row, hi - lo, offset);
                tk_zero_groups(columns, stride, slot, first + hi, row_groups - hi);
            } else {
                fill_border_taps(g, columns, stride, slot, first, row - x_lo * channels, x_lo * channels,
                                 x_hi * channels);
            }
        }
    }
}

/* A filter row of fill_pixel_narrow outside the image (zeros) or at an end of the input (`inside`: taps [lo, hi)
 * read one by one, the others the zero point). */
static inline void narrow_edge_row(const conv_geometry *g, tk_word *col, int32_t half, int inside, int32_t at,
                                   int32_t lo, int32_t hi, uint32_t pad, int32_t offsets)
{
    if (inside) {
        tk_put_bytes_group(col, half, (int32_t)gather_bytes(g->input, at, lo, hi, pad), offsets);
    } else {
        col[0] = 0;
        col[half] = 0;
    }
}

/* fill_pixel for filter rows of one group (kw * channels <= 4, e.g. a 1-channel input): per filter row, the
 * group's bytes read as one word (when inside the input) with the taps outside the image, or past the row, masked
 * to the zero point; the mask is the same for every row of the pixel. */
static TK_NOINLINE void fill_pixel_narrow(const conv_geometry *g, int32_t batch, int32_t out_y, int32_t out_x,
                                          void *columns, int32_t stride, int32_t slot)
{
    const tk_conv_params *p = g->p;
    const int32_t channels = g->in->c, in_h = g->in->h, in_w = g->in->w, kh = g->filter->h, kw = g->filter->w;
    const int32_t in_y0 = out_y * p->stride_h - p->pad_h, in_x0 = out_x * p->stride_w - p->pad_w;
    const int32_t lo = tk_max32(0, -in_x0) * channels;
    const int32_t hi = tk_max32(lo, tk_min32(kw, in_w - in_x0) * channels);
    const int32_t y_lo = tk_max32(0, -in_y0), y_hi = tk_min32(kh, in_h - in_y0), offset = p->input_offset;
    const uint32_t keep = KEEP_FROM[lo] & KEEP_BELOW[hi], pad = (uint32_t)tk_bytes4(-offset) & ~keep;
    const int32_t offsets = tk_offset_pair(offset), half = stride >> 1, row_step = g->row_step;
    const int32_t at = ((batch * in_h + in_y0) * in_w + in_x0) * channels; /* tap 0 of filter row 0; may be < 0 */
    tk_word *col = (tk_word *)columns + slot;
    int32_t first = y_lo, end = y_hi, filter_y;
    while (first < end && at + first * row_step < 0) { /* a row whose word would start before the input */
        ++first;
    }
    while (end > first && at + (end - 1) * row_step + 4 > g->input_bytes) { /* ... or end past it */
        --end;
    }
    for (filter_y = 0; filter_y < first; ++filter_y) { /* rows above the image, or at the input's start */
        narrow_edge_row(g, col + stride * filter_y, half, filter_y >= y_lo, at + filter_y * row_step, lo, hi, pad,
                        offsets);
    }
    for (filter_y = end; filter_y < kh; ++filter_y) { /* rows at the input's end, or below the image */
        narrow_edge_row(g, col + stride * filter_y, half, filter_y < y_hi, at + filter_y * row_step, lo, hi, pad,
                        offsets);
    }
    { /* the rest, a word per row with no checks */
        const int8_t *src = g->input + at + first * row_step;
        tk_word *dst = col + stride * first;
        for (filter_y = first; filter_y < end; ++filter_y, src += row_step, dst += stride) {
            uint32_t word;
            memcpy(&word, src, sizeof word);
            tk_put_bytes_group(dst, half, (int32_t)(pad | (word & keep)), offsets);
        }
    }
}

/* The input bytes of output pixel (batch, out_y, out_x) of a pointwise layer. */
static inline const int8_t *pointwise_input(const conv_geometry *g, int32_t batch, int32_t out_y, int32_t out_x)
{
    const tk_conv_params *p = g->p;
    return g->input + ((batch * g->in->h + out_y * p->stride_h) * g->in->w + out_x * p->stride_w) * g->in->c;
}

/* Column `slot` <- the taps of the output pixel at (batch, out_y, out_x) (see fill_pixel_rows). */
static inline void fill_pixel(const conv_geometry *g, int32_t batch, int32_t out_y, int32_t out_x, void *columns,
                              int32_t stride, int32_t slot)
{
    if (g->pointwise) { /* 1x1: one row, inside */
        tk_fill_groups(columns, stride, slot, 0, pointwise_input(g, batch, out_y, out_x), g->row_groups,
                       g->p->input_offset);
    } else if (g->row_groups == 1) {
        fill_pixel_narrow(g, batch, out_y, out_x, columns, stride, slot);
    } else {
        fill_pixel_rows(g, batch, out_y, out_x, columns, stride, slot);
    }
}

/* The next output pixel's (batch, y, x). */
static inline void next_pixel(const tk_dims *out, int32_t *at)
{
    if (++at[2] == out->w) {
        at[2] = 0;
        if (++at[1] == out->h) {
            at[1] = 0;
            ++at[0];
        }
    }
}

/* Columns of `stride` words per group <- the next `count` output pixels (slots 0 .. count - 1); `at` moves on. */
static inline TK_ALWAYS_INLINE void fill_tile(const conv_geometry *g, const tk_dims *out, int32_t *at, void *columns,
                                              int32_t stride, int32_t count)
{
    int32_t slot;
    if (count == 2 && g->pointwise) {
        const int8_t *src[2];
        for (slot = 0; slot < 2; ++slot, next_pixel(out, at)) {
            src[slot] = pointwise_input(g, at[0], at[1], at[2]);
        }
        tk_fill_two(columns, src[0], src[1], g->row_groups, g->p->input_offset);
        return;
    }
    for (slot = 0; slot < count; ++slot) {
        fill_pixel(g, at[0], at[1], at[2], columns, stride, slot);
        next_pixel(out, at);
    }
}

tk_status tk_conv2d_fast_s8(const tk_conv_params *params, const tk_packed_filter *filter, const tk_dims *input_dims,
                            const int8_t *input, const tk_dims *filter_dims, const tk_dims *output_dims, int8_t *output,
                            void *scratch)
{
    int32_t pixel, out_c;

    if (params == NULL || filter == NULL || input_dims == NULL || input == NULL || filter_dims == NULL ||
        output_dims == NULL || output == NULL || scratch == NULL || !tk_fast_conv_ok(params, filter)) {
        return TK_ERR_ARGUMENT;
    }
    if (filter_dims->c != input_dims->c || filter_dims->n != output_dims->c || input_dims->n != output_dims->n) {
        return TK_ERR_SHAPE;
    }
    {
        const int32_t depth = packed_depth(input_dims, filter_dims), groups = depth / 4;
        const int32_t channels = output_dims->c, low = params->activation.min, high = params->activation.max;
        const int32_t pixels = output_dims->n * output_dims->h * output_dims->w;
        void *columns = scratch; /* 3 * depth int16 */
        /* shallow layers: 2 pixels, groups unrolled; deeper ones 3 pixels; the byte clamp only if it clamps */
        const int clamp = low > -128 || high < 127;
        const int32_t tile = groups <= TK_UNROLLED_GROUPS ? 2 : 3;
        void (*run)(const void *, const int16_t *, int32_t, tk_pair_job *) =
            tile == 2 ? (clamp ? tk_conv_pairs_2x2u : tk_conv_pairs_2x2u_full)
                      : (clamp ? tk_conv_pairs_3x2 : tk_conv_pairs_3x2_full);
        conv_geometry geometry;
        int32_t at[3] = {0, 0, 0}; /* the pixel's (batch, y, x) */
        tk_pair_job job;
        geometry.p = params;
        geometry.in = input_dims;
        geometry.filter = filter_dims;
        geometry.input = input;
        geometry.row_groups = groups / filter_dims->h; /* packed_depth: kh whole rows */
        geometry.row_step = input_dims->w * input_dims->c;
        geometry.input_bytes = input_dims->n * input_dims->h * geometry.row_step;
        geometry.pointwise = filter_dims->h == 1 && filter_dims->w == 1 && params->pad_h == 0 && params->pad_w == 0 &&
                             !(input_dims->c & 3);
        job.low4 = tk_bytes4(low);
        job.high4 = tk_bytes4(high);

        for (pixel = 0; pixel < pixels;) {
            int8_t *out0 = output + pixel * channels;
            int8_t *out1 = out0 + channels;
            int two;
            job.bias = filter->bias;
            job.quant = filter->quant;
            job.out0 = out0;
            job.out1 = out1;
            job.out2 = out1;
            job.pairs = channels / 2;
            if (pixels - pixel >= tile && !(channels & 1)) { /* the common case: every channel in one call */
                job.out2 = out1 + channels;
                fill_tile(&geometry, output_dims, at, columns, 2 * tile, tile);
                run(columns, filter->weights, groups, &job);
                pixel += tile;
                continue;
            }
            two = pixel + 1 < pixels;
            fill_tile(&geometry, output_dims, at, columns, 4, two ? 2 : 1);
            pixel += 2;
            if (two && !(channels & 1)) {
                tk_conv_pairs_2x2(columns, filter->weights, groups, &job);
                continue;
            }
            for (out_c = 0; out_c < channels; out_c += 2) {
                const int16_t *w = filter->weights + out_c * depth; /* pair block out_c / 2 */
                const int32_t *q = filter->quant + 3 * out_c;
                const int last = out_c + 1 == channels; /* odd count: the pair's 2nd is padding */
                if (two) {
                    int32_t acc[4]; /* (p0, c0) (p0, c1) (p1, c0) (p1, c1); |acc| < 2^31 checked by pack.py */
                    acc[0] = acc[2] = filter->bias[2 * out_c]; /* (b0, b1, b0, b1) per pair */
                    acc[1] = acc[3] = filter->bias[2 * out_c + 1];
                    tk_mac_2x2(columns, w, groups, acc);
                    out0[out_c] = tk_fast_rescale(acc[0], q, low, high);
                    out1[out_c] = tk_fast_rescale(acc[2], q, low, high);
                    if (!last) {
                        out0[out_c + 1] = tk_fast_rescale(acc[1], q + 3, low, high);
                        out1[out_c + 1] = tk_fast_rescale(acc[3], q + 3, low, high);
                    }
                } else {
                    int32_t acc[2];
                    acc[0] = filter->bias[2 * out_c];
                    acc[1] = filter->bias[2 * out_c + 1];
                    tk_mac_1x2(columns, 4, w, groups, acc);
                    out0[out_c] = tk_fast_rescale(acc[0], q, low, high);
                    if (!last) {
                        out0[out_c + 1] = tk_fast_rescale(acc[1], q + 3, low, high);
                    }
                }
            }
        }
    }
    return TK_OK;
}

tk_status tk_fully_connected_fast_s8(const tk_fc_params *params, const tk_packed_filter *filter, int32_t batches,
                                     int32_t accum_depth, int32_t output_depth, const int8_t *input, int8_t *output,
                                     void *scratch)
{
    int32_t batch, out_c, i;

    if (params == NULL || filter == NULL || input == NULL || output == NULL || scratch == NULL ||
        filter->weights == NULL || filter->bias == NULL || filter->quant == NULL ||
        params->activation.min > params->activation.max) {
        return TK_ERR_ARGUMENT;
    }
    if (batches < 1 || accum_depth < 1 || output_depth < 1) {
        return TK_ERR_SHAPE;
    }
    {
        const int32_t depth = round_up4(accum_depth), groups = depth / 4;
        const int32_t low = params->activation.min, high = params->activation.max;
        const int32_t padded = (output_depth + 1) & ~1;
        for (batch = 0; batch < batches; ++batch) {
            int8_t *out = output + batch * output_depth;
            tk_fill_column(scratch, 2, 0, input + batch * accum_depth, accum_depth, params->input_offset);
            for (out_c = 0; out_c + 4 <= padded; out_c += 4) { /* four rows share each input load */
                int32_t acc[4];
                const int16_t *w = filter->weights + out_c * depth;
                for (i = 0; i < 4; ++i) {
                    acc[i] = filter->bias[out_c + i];
                }
                tk_mac_1x4(scratch, w, w + 2 * depth, groups, acc);
                for (i = 0; i < 4 && out_c + i < output_depth; ++i) {
                    out[out_c + i] = tk_fast_rescale(acc[i], filter->quant + 3 * (out_c + i), low, high);
                }
            }
            if (out_c < padded) { /* a last pair of rows */
                int32_t acc[2];
                acc[0] = filter->bias[out_c];
                acc[1] = filter->bias[out_c + 1];
                tk_mac_1x2(scratch, 2, filter->weights + out_c * depth, groups, acc);
                for (i = 0; i < 2 && out_c + i < output_depth; ++i) {
                    out[out_c + i] = tk_fast_rescale(acc[i], filter->quant + 3 * (out_c + i), low, high);
                }
            }
        }
    }
    return TK_OK;
}
