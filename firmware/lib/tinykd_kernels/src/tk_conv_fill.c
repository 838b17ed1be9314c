/* The im2col columns of the fast CONV_2D kernels (tk_conv_fill.h): one output pixel's taps, int16 with the input
 * offset added, in the grouping of tk_fast.h; the zero point (x + offset = 0) in the padding. */
#include "tk_conv_fill.h"
#include "tinykd_kernels.h"
#include "tk_arch.h"
#include "tk_fast.h"
#include "tk_fixedpoint.h"

#include <stddef.h>
#include <string.h>

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
 * out_x), filter row by filter row, each row padded to whole groups of 4 (see tk_packed_depth); the input zero
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

/* Column words <- `rows` filter rows from src (`row_step` bytes apart), a word each, its taps outside `keep` the
 * zero point (`pad`). */
static inline void narrow_rows(tk_word *dst, const int8_t *src, int32_t rows, int32_t row_step, int32_t stride,
                               uint32_t keep, uint32_t pad, int32_t offsets)
{
    const tk_word *end = dst + stride * rows;
    for (; dst != end; src += row_step, dst += stride) {
        uint32_t word;
        memcpy(&word, src, sizeof word);
        tk_put_bytes_group(dst, stride >> 1, (int32_t)(pad | (word & keep)), offsets);
    }
}

/* fill_pixel_narrow for a window that is clipped by the image or meets an end of the input: the taps outside the
 * image, or past the row, masked to the zero point (the same mask for every row); rows outside the image, or whose
 * word would start before or end past the input, one by one (narrow_edge_row). `at`: the input byte of tap 0 of
 * filter row 0 (may be < 0). */
static inline TK_ALWAYS_INLINE void narrow_clipped(const conv_geometry *g, int32_t at, int32_t in_y0, int32_t in_x0,
                                                   tk_word *col, int32_t stride)
{
    const int32_t channels = g->in->c, kh = g->filter->h, kw = g->filter->w, offset = g->p->input_offset;
    const int32_t lo = tk_max32(0, -in_x0) * channels;
    const int32_t hi = tk_max32(lo, tk_min32(kw, g->in->w - in_x0) * channels);
    const int32_t y_lo = tk_max32(0, -in_y0), y_hi = tk_min32(kh, g->in->h - in_y0);
    const uint32_t keep = KEEP_FROM[lo] & KEEP_BELOW[hi], pad = (uint32_t)tk_bytes4(-offset) & ~keep;
    const int32_t offsets = tk_offset_pair(offset), half = stride >> 1, row_step = g->row_step;
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
    /* the rest, a word per row with no checks */
    narrow_rows(col + stride * first, g->input + at + first * row_step, end - first, row_step, stride, keep, pad,
                offsets);
}

/* fill_pixel for filter rows of one group (kw * channels <= 4, e.g. a 1-channel input): per filter row, the
 * group's bytes read as one word. A window inside the image whose last word ends inside the input (most pixels)
 * takes the rows with no bounds at all; the others narrow_clipped. */
static TK_NOINLINE void fill_pixel_narrow(const conv_geometry *g, int32_t batch, int32_t out_y, int32_t out_x,
                                          void *columns, int32_t stride, int32_t slot)
{
    const tk_conv_params *p = g->p;
    const int32_t channels = g->in->c, in_h = g->in->h, in_w = g->in->w, kh = g->filter->h, kw = g->filter->w;
    const int32_t in_y0 = out_y * p->stride_h - p->pad_h, in_x0 = out_x * p->stride_w - p->pad_w;
    const int32_t at = ((batch * in_h + in_y0) * in_w + in_x0) * channels; /* tap 0 of filter row 0; may be < 0 */
    tk_word *col = (tk_word *)columns + slot;
    if (in_x0 >= 0 && in_x0 <= in_w - kw && in_y0 >= 0 && in_y0 <= in_h - kh &&
        at + (kh - 1) * g->row_step + 4 <= g->input_bytes) {
        const uint32_t keep = KEEP_BELOW[kw * channels], pad = (uint32_t)tk_bytes4(-p->input_offset) & ~keep;
        narrow_rows(col, g->input + at, kh, g->row_step, stride, keep, pad, tk_offset_pair(p->input_offset));
    } else {
        narrow_clipped(g, at, in_y0, in_x0, col, stride);
    }
}

/* patch <- the `bytes` bytes at src, a word at a time (up to 3 bytes more read, and written past the end). */
static inline void copy_words(int8_t *patch, const int8_t *src, int32_t bytes)
{
    int32_t k;
    for (k = 0; k < bytes; k += 4) {
        int32_t word; /* unaligned LDR / STR on the M4 */
        memcpy(&word, src + k, sizeof word);
        memcpy(patch + k, &word, sizeof word);
    }
}

void tk_conv_stage_patch(const conv_geometry *g, int32_t batch, int32_t out_y, int32_t out_x, int8_t *patch)
{
    const tk_conv_params *p = g->p;
    const int32_t channels = g->in->c, in_h = g->in->h, in_w = g->in->w, kh = g->filter->h, kw = g->filter->w;
    const int32_t in_y0 = out_y * p->stride_h - p->pad_h, in_x0 = out_x * p->stride_w - p->pad_w;
    const int32_t row_bytes = kw * channels, row_step = g->row_step;
    const int8_t zero_point = (int8_t)(-p->input_offset);             /* x + input offset = 0: TFLM skips the tap */
    int32_t row = ((batch * in_h + in_y0) * in_w + in_x0) * channels; /* may be < 0 in padding */
    int32_t filter_y;

    if (in_y0 >= 0 && in_y0 + kh <= in_h && in_x0 >= 0 && in_x0 + kw <= in_w &&
        row + (kh - 1) * row_step + ((row_bytes + 3) & ~3) <= g->input_bytes) { /* inside: the common case */
        for (filter_y = 0; filter_y < kh; ++filter_y, row += row_step, patch += row_bytes) {
            copy_words(patch, g->input + row, row_bytes); /* the next row overwrites the bytes past this one */
        }
        return;
    }
    {
        const int32_t lo = tk_max32(0, -in_x0) * channels;
        const int32_t hi = tk_max32(lo, tk_min32(kw, in_w - in_x0) * channels);
        memset(patch, zero_point, (size_t)(kh * row_bytes + 4));
        for (filter_y = 0; filter_y < kh; ++filter_y, row += row_step, patch += row_bytes) {
            const int32_t in_y = in_y0 + filter_y;
            if (in_y >= 0 && in_y < in_h && hi > lo) {
                memcpy(patch + lo, g->input + row + lo, (size_t)(hi - lo));
            }
        }
    }
}

/* The input bytes of the pixel at `at` (batch, y, x) when it and the next one on its row lie inside the image,
 * with every row copy of both (whole words: `copied` bytes) inside the input; else NULL. */
static inline const int8_t *two_inside(const conv_geometry *g, const int32_t *at, int32_t next, int32_t copied)
{
    const tk_conv_params *p = g->p;
    const int32_t kh = g->filter->h, kw = g->filter->w, channels = g->in->c;
    const int32_t in_y0 = at[1] * p->stride_h - p->pad_h, in_x0 = at[2] * p->stride_w - p->pad_w;
    const int32_t row = ((at[0] * g->in->h + in_y0) * g->in->w + in_x0) * channels;
    if (in_y0 < 0 || in_y0 + kh > g->in->h || in_x0 < 0 || in_x0 + p->stride_w + kw > g->in->w ||
        row + (kh - 1) * g->row_step + next + copied > g->input_bytes) {
        return NULL;
    }
    return g->input + row;
}

int tk_conv_stage_two(const conv_geometry *g, const int32_t *at, int8_t *patch0, int8_t *patch1)
{
    const int32_t kh = g->filter->h, row_step = g->row_step;
    const int32_t next = g->p->stride_w * g->in->c; /* from pixel 0's taps to pixel 1's */
    const int32_t row_bytes = g->filter->w * g->in->c, copied = (row_bytes + 3) & ~3;
    const int8_t *src = two_inside(g, at, next, copied);
    int32_t filter_y, k;
    if (src == NULL) {
        return 0;
    }
    for (filter_y = 0; filter_y < kh; ++filter_y, src += row_step) {
        for (k = 0; k < copied; k += 4) { /* unaligned LDR / STR; the next row overwrites the bytes past this one */
            int32_t word0, word1;
            memcpy(&word0, src + k, sizeof word0);
            memcpy(&word1, src + next + k, sizeof word1);
            memcpy(patch0 + k, &word0, sizeof word0);
            memcpy(patch1 + k, &word1, sizeof word1);
        }
        patch0 += row_bytes;
        patch1 += row_bytes;
    }
    return 1;
}

static inline uint32_t word_at(const int8_t *src)
{
    uint32_t word;
    memcpy(&word, src, sizeof word); /* an unaligned LDR */
    return word;
}

/* One group of tk_fill_two's 2-pixel columns: (p0 a, p1 a, p0 b, p1 b) <- 4 taps of each pixel + the offsets. */
static inline void put_two(tk_word *col, uint32_t pixel0, uint32_t pixel1, int32_t offsets)
{
    tk_put_bytes_group(col, 2, (int32_t)pixel0, offsets);
    tk_put_bytes_group(col + 1, 2, (int32_t)pixel1, offsets);
}

/* The 27 taps of a 3x3 RGB pixel are its 3 input rows of 9 bytes, back to back: a group of 4 inside a row is one
 * unaligned load, one across two rows two shifted loads; the 28th tap (weight 0) reads the last row's 10th byte. */
int tk_conv_fill_rgb_two(const conv_geometry *g, const int32_t *at, void *columns)
{
    const int32_t next = g->p->stride_w * 3, offsets = tk_offset_pair(g->p->input_offset), rs = g->row_step;
    /* each row read as 3 whole words from its start, as tk_conv_stage_two copies it (the last load, at +6, ends
     * at +10) */
    const int8_t *a0 = two_inside(g, at, next, 12), *a1, *a2, *b0, *b1, *b2;
    tk_word *col = (tk_word *)columns;
    if (a0 == NULL) {
        return 0;
    }
    a1 = a0 + rs;
    a2 = a1 + rs;
    b0 = a0 + next;
    b1 = b0 + rs;
    b2 = b1 + rs;
    put_two(col, word_at(a0), word_at(b0), offsets);
    put_two(col + 4, word_at(a0 + 4), word_at(b0 + 4), offsets);
    put_two(col + 8, word_at(a0 + 5) >> 24 | word_at(a1) << 8, word_at(b0 + 5) >> 24 | word_at(b1) << 8, offsets);
    put_two(col + 12, word_at(a1 + 3), word_at(b1 + 3), offsets);
    put_two(col + 16, word_at(a1 + 5) >> 16 | word_at(a2) << 16, word_at(b1 + 5) >> 16 | word_at(b2) << 16, offsets);
    put_two(col + 20, word_at(a2 + 2), word_at(b2 + 2), offsets);
    put_two(col + 24, word_at(a2 + 6), word_at(b2 + 6), offsets);
    return 1;
}

/* Column `slot` <- the taps of the output pixel at (batch, out_y, out_x) (see fill_pixel_rows). */
void tk_conv_fill_pixel(const conv_geometry *g, int32_t batch, int32_t out_y, int32_t out_x, void *columns,
                        int32_t stride, int32_t slot)
{
    if (g->flat) { /* staged, then converted as whole groups */
        tk_conv_stage_patch(g, batch, out_y, out_x, g->patch);
        tk_fill_groups(columns, stride, slot, 0, g->patch, g->row_groups, g->p->input_offset);
    } else if (g->pointwise) { /* 1x1: one row, inside */
        tk_fill_groups(columns, stride, slot, 0, tk_pointwise_input(g, batch, out_y, out_x), g->row_groups,
                       g->p->input_offset);
    } else if (g->row_groups == 1) {
        fill_pixel_narrow(g, batch, out_y, out_x, columns, stride, slot);
    } else {
        fill_pixel_rows(g, batch, out_y, out_x, columns, stride, slot);
    }
}

/* What filling the columns of a layer needs. */
void tk_conv_init_geometry(conv_geometry *g, const tk_conv_params *params, const tk_dims *input_dims,
                           const int8_t *input, const tk_dims *filter_dims, void *scratch)
{
    const int32_t depth = tk_packed_depth(input_dims, filter_dims);
    g->p = params;
    g->in = input_dims;
    g->filter = filter_dims;
    g->input = input;
    g->flat = tk_conv_flat(input_dims, filter_dims);
    g->rgb3x3 = g->flat && tk_conv_rgb3x3(input_dims, filter_dims);
    g->row_groups = g->flat ? depth / 4 : depth / 4 / filter_dims->h; /* packed_depth: kh whole rows, or flat */
    g->patch = (int8_t *)scratch + 3 * 2 * depth; /* after three int16 columns (tk_conv2d_fast_scratch_size) */
    g->row_step = input_dims->w * input_dims->c;
    g->input_bytes = input_dims->n * input_dims->h * g->row_step;
    g->pointwise =
        filter_dims->h == 1 && filter_dims->w == 1 && params->pad_h == 0 && params->pad_w == 0 && !(input_dims->c & 3);
}

/* The arguments tk_conv2d_fast_s8 and tk_conv2d_fast8_s8 check alike: TK_OK, or the status to return. */
tk_status tk_conv_check(const tk_conv_params *params, const tk_packed_filter *filter, const tk_dims *input_dims,
                        const int8_t *input, const tk_dims *filter_dims, const tk_dims *output_dims,
                        const int8_t *output, const void *scratch)
{
    if (params == NULL || filter == NULL || input_dims == NULL || input == NULL || filter_dims == NULL ||
        output_dims == NULL || output == NULL || scratch == NULL || !tk_fast_conv_ok(params, filter)) {
        return TK_ERR_ARGUMENT;
    }
    if (filter_dims->c != input_dims->c || filter_dims->n != output_dims->c || input_dims->n != output_dims->n) {
        return TK_ERR_SHAPE;
    }
    return TK_OK;
}
