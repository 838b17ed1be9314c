/* CONV_2D on int16 weights packed offline (pipeline/compiler/pack.py, pack_matrix): the loop structure here, the
 * columns from tk_conv_fill.c, the inner loops in tk_fast_dsp.h (Cortex-M4) or tk_fast_portable.h. Same results
 * as the reference kernel in tk_conv.c, bit for bit, for every layer the compiler packs. */
#include "tinykd_kernels.h"
#include "tk_arch.h"
#include "tk_conv_fill.h"
#include "tk_fast.h"
#include "tk_fixedpoint.h"

#include <stddef.h>
#include <string.h>

int32_t tk_conv2d_fast_scratch_size(const tk_dims *input_dims, const tk_dims *filter_dims)
{
    const int32_t depth = tk_packed_depth(input_dims, filter_dims);
    /* three int16 columns; a flat layer's two staging patches (tk_conv_fill.h) */
    return 3 * 2 * depth + (tk_conv_flat(input_dims, filter_dims) ? 2 * TK_PATCH_BYTES(depth) : 0);
}

/* Columns of `stride` words per group <- the next `count` output pixels (slots 0 .. count - 1); `at` moves on. */
static inline TK_ALWAYS_INLINE void fill_tile(const conv_geometry *g, const tk_dims *out, int32_t *at, void *columns,
                                              int32_t stride, int32_t count)
{
    int32_t slot;
    if (count == 2 && g->flat) { /* both pixels' taps staged, then converted together (3x3 RGB: straight) */
        int8_t *patch1 = g->patch + TK_PATCH_BYTES(4 * g->row_groups);
        const int inside = at[2] + 1 < out->w;
        const int direct = inside && g->rgb3x3 && tk_conv_fill_rgb_two(g, at, columns);
        /* (a 3x3 RGB pair tk_conv_fill_rgb_two refused fails the same bounds in tk_conv_stage_two) */
        if (direct || (inside && !g->rgb3x3 && tk_conv_stage_two(g, at, g->patch, patch1))) {
            at[2] += 2;
            if (at[2] == out->w) {
                at[2] = out->w - 1;
                tk_next_pixel(out, at);
            }
        } else {
            tk_conv_stage_patch(g, at[0], at[1], at[2], g->patch);
            tk_next_pixel(out, at);
            tk_conv_stage_patch(g, at[0], at[1], at[2], patch1);
            tk_next_pixel(out, at);
        }
        if (!direct) {
            tk_fill_two(columns, g->patch, patch1, g->row_groups, g->p->input_offset);
        }
        return;
    }
    if (count == 2 && g->pointwise) {
        const int8_t *src[2];
        for (slot = 0; slot < 2; ++slot, tk_next_pixel(out, at)) {
            src[slot] = tk_pointwise_input(g, at[0], at[1], at[2]);
        }
        tk_fill_two(columns, src[0], src[1], g->row_groups, g->p->input_offset);
        return;
    }
    for (slot = 0; slot < count; ++slot) {
        tk_conv_fill_pixel(g, at[0], at[1], at[2], columns, stride, slot);
        tk_next_pixel(out, at);
    }
}

tk_status tk_conv2d_fast_s8(const tk_conv_params *params, const tk_packed_filter *filter, const tk_dims *input_dims,
                            const int8_t *input, const tk_dims *filter_dims, const tk_dims *output_dims, int8_t *output,
                            void *scratch)
{
    int32_t pixel, out_c;
    const tk_status status =
        tk_conv_check(params, filter, input_dims, input, filter_dims, output_dims, output, scratch);

    if (status != TK_OK) {
        return status;
    }
    {
        const int32_t depth = tk_packed_depth(input_dims, filter_dims), groups = depth / 4;
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
        int contiguous;
        tk_conv_init_geometry(&geometry, params, input_dims, input, filter_dims, scratch);
        contiguous = geometry.pointwise && params->stride_h == 1 && params->stride_w == 1;
        job.low4 = tk_bytes4(low);
        job.high4 = tk_bytes4(high);

        pixel = 0;
        if (contiguous && tile == 2 && !(channels & 1)) { /* pointwise: pixel i's input is the input's pixel i */
            const int32_t in_c = input_dims->c, offset = params->input_offset, pairs = channels / 2;
            const int32_t *bias = filter->bias, *quant = filter->quant;
            const int16_t *weights = filter->weights;
            for (; pixels - pixel >= 2; pixel += 2) {
                const int8_t *src = input + pixel * in_c;
                job.bias = bias;
                job.quant = quant;
                job.out0 = output + pixel * channels;
                job.out1 = job.out0 + channels;
                job.pairs = pairs;
                tk_fill_two(columns, src, src + in_c, groups, offset);
                run(columns, weights, groups, &job);
            }
            at[0] = pixel / (output_dims->h * output_dims->w); /* the last pixel's (batch, y, x), if any */
            at[1] = pixel / output_dims->w % output_dims->h;
            at[2] = pixel % output_dims->w;
        }
        while (pixel < pixels) {
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
