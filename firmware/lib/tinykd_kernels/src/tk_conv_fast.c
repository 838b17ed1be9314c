/* CONV_2D and FULLY_CONNECTED on weights packed offline (pipeline/compiler/pack.py): the loop
 * structure here, the inner loops in tk_fast_dsp.h (Cortex-M4) or tk_fast_portable.h. Same results as the
 * reference kernels in tk_conv.c / tk_fully_connected.c, bit for bit, for every layer the compiler packs. */
#include "tinykd_kernels.h"
#include "tk_fast.h"

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
    return 3 * 2 * depth + depth;  /* three int16 columns + one gathered int8 filter row */
}

int32_t tk_fully_connected_fast_scratch_size(int32_t accum_depth)
{
    return 2 * round_up4(accum_depth);  /* one int16 column */
}

/* Copies and fills of a few bytes (one filter row): plain loops, cheaper than a library call at these sizes (GCC
 * would turn them back into memcpy / memset calls). */
#if defined(__GNUC__) && !defined(__clang__)
#define TK_INLINE_LOOPS __attribute__((optimize("no-tree-loop-distribute-patterns")))
#else
#define TK_INLINE_LOOPS
#endif

static inline TK_INLINE_LOOPS int8_t *put_bytes(int8_t *dst, int8_t value, int32_t n)
{
    for (; n > 0; --n) {
        *dst++ = value;
    }
    return dst;
}

static inline TK_INLINE_LOOPS int8_t *copy_bytes(int8_t *dst, const int8_t *src, int32_t n)
{
    for (; n > 0; --n) {
        *dst++ = *src++;
    }
    return dst;
}


/* What filling a column needs, computed once per layer. */
typedef struct {
    const tk_conv_params *p;
    const tk_dims *in;
    const tk_dims *filter;
    const int8_t *input;
    int8_t *buffer;          /* one gathered filter row */
    int32_t row_groups;      /* groups of 4 taps per filter row (packed_depth) */
    int32_t row_step;        /* bytes from one input row to the next */
    int32_t input_bytes;
} conv_geometry;

/* Column `slot` (of columns with `stride` words per group) <- the taps of the output pixel at (batch, out_y,
 * out_x), filter row by filter row, each row padded to whole groups of 4 (see packed_depth); the input zero
 * point (x + input offset = 0, as TFLM skipping the tap) outside the image. A row inside the image converts
 * straight from the input; with channels not a multiple of 4 its last group reads up to 3 bytes past the row,
 * into the next pixel (their weights are 0). A row on the border: channels a multiple of 4 are whole groups, the
 * padding written as zeros; other counts are gathered into `buffer` first. */
static inline __attribute__((always_inline)) void fill_pixel(const conv_geometry *g, int32_t batch, int32_t out_y,
                                                             int32_t out_x, void *columns, int32_t stride,
                                                             int32_t slot)
{
    const tk_conv_params *p = g->p;
    const int32_t channels = g->in->c, in_h = g->in->h, in_w = g->in->w, kh = g->filter->h, kw = g->filter->w;
    const int32_t in_y0 = out_y * p->stride_h - p->pad_h, in_x0 = out_x * p->stride_w - p->pad_w;
    const int32_t row_groups = g->row_groups, offset = p->input_offset;
    int32_t row = ((batch * in_h + in_y0) * in_w + in_x0) * channels;  /* may be < 0 in padding */
    int32_t filter_y, first = 0;

    if (in_y0 >= 0 && in_y0 + kh <= in_h && in_x0 >= 0 && in_x0 + kw <= in_w &&
        row + (kh - 1) * g->row_step + 4 * row_groups <= g->input_bytes) {  /* inside: the common case */
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
                const int8_t zero_point = (int8_t)(-offset);
                int8_t *dst = put_bytes(g->buffer, zero_point, x_lo * channels);
                dst = copy_bytes(dst, g->input + row, (x_hi - x_lo) * channels);
                put_bytes(dst, zero_point, 4 * row_groups - x_hi * channels);
                tk_fill_groups(columns, stride, slot, first, g->buffer, row_groups, offset);
            }
        }
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

tk_status tk_conv2d_fast_s8(const tk_conv_params *params, const tk_packed_filter *filter,
                            const tk_dims *input_dims, const int8_t *input, const tk_dims *filter_dims,
                            const tk_dims *output_dims, int8_t *output, void *scratch)
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
        void *columns = scratch;                                      /* 3 * depth int16 */
        conv_geometry geometry;
        int32_t at[3] = {0, 0, 0};                                    /* the pixel's (batch, y, x) */
        tk_pair_job job;
        geometry.p = params;
        geometry.in = input_dims;
        geometry.filter = filter_dims;
        geometry.input = input;
        geometry.buffer = (int8_t *)scratch + 6 * depth;              /* depth int8 */
        geometry.row_groups = groups / filter_dims->h;                 /* packed_depth: kh whole rows */
        geometry.row_step = input_dims->w * input_dims->c;
        geometry.input_bytes = input_dims->n * input_dims->h * geometry.row_step;
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
            if (pixels - pixel >= 3 && !(channels & 1)) {  /* the common case: 3 pixels, every channel in one call */
                job.out2 = out1 + channels;
                fill_pixel(&geometry, at[0], at[1], at[2], columns, 6, 0);
                next_pixel(output_dims, at);
                fill_pixel(&geometry, at[0], at[1], at[2], columns, 6, 1);
                next_pixel(output_dims, at);
                fill_pixel(&geometry, at[0], at[1], at[2], columns, 6, 2);
                next_pixel(output_dims, at);
                if (low > -128 || high < 127) {
                    tk_conv_pairs_3x2(columns, filter->weights, groups, &job);
                } else {
                    tk_conv_pairs_3x2_full(columns, filter->weights, groups, &job);
                }
                pixel += 3;
                continue;
            }
            two = pixel + 1 < pixels;
            fill_pixel(&geometry, at[0], at[1], at[2], columns, 4, 0);
            next_pixel(output_dims, at);
            if (two) {
                fill_pixel(&geometry, at[0], at[1], at[2], columns, 4, 1);
                next_pixel(output_dims, at);
            }
            pixel += 2;
            if (two && !(channels & 1)) {
                tk_conv_pairs_2x2(columns, filter->weights, groups, &job);
                continue;
            }
            for (out_c = 0; out_c < channels; out_c += 2) {
                const int16_t *w = filter->weights + out_c * depth;  /* pair block out_c / 2 */
                const int32_t *q = filter->quant + 3 * out_c;
                const int last = out_c + 1 == channels;               /* odd count: the pair's 2nd is padding */
                if (two) {
                    int32_t acc[4];  /* (p0, c0) (p0, c1) (p1, c0) (p1, c1); |acc| < 2^31 checked by pack.py */
                    acc[0] = acc[2] = filter->bias[out_c];
                    acc[1] = acc[3] = filter->bias[out_c + 1];
                    tk_mac_2x2(columns, w, groups, acc);
                    out0[out_c] = tk_fast_rescale(acc[0], q, low, high);
                    out1[out_c] = tk_fast_rescale(acc[2], q, low, high);
                    if (!last) {
                        out0[out_c + 1] = tk_fast_rescale(acc[1], q + 3, low, high);
                        out1[out_c + 1] = tk_fast_rescale(acc[3], q + 3, low, high);
                    }
                } else {
                    int32_t acc[2];
                    acc[0] = filter->bias[out_c];
                    acc[1] = filter->bias[out_c + 1];
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

tk_status tk_fully_connected_fast_s8(const tk_fc_params *params, const tk_packed_filter *filter,
                                     int32_t batches, int32_t accum_depth, int32_t output_depth,
                                     const int8_t *input, int8_t *output, void *scratch)
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
            for (out_c = 0; out_c + 4 <= padded; out_c += 4) {  /* four rows share each input load */
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
            if (out_c < padded) {  /* a last pair of rows */
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
