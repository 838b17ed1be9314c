/* CONV_2D on int8 weights packed two output channels to an int16 (pipeline/compiler/pack.py, pack_fc8 with one
 * pair per tile): three output pixels per pass, the columns from tk_conv_fill.c, the channel loop in
 * tk_conv8_dsp_asm.h (Cortex-M4) or below. Same results as tk_conv.c's reference kernel, bit for bit, for every
 * layer the compiler packs so. */
#include "tinykd_kernels.h"
#include "tk_arch.h"
#include "tk_conv_fill.h"
#include "tk_fast.h"

#include <stddef.h>
#include <string.h>

#if TK_DSP
#include "tk_conv8_dsp_asm.h"
#include "tk_conv8_unrolled_dsp_asm.h"
#else
/* Portable tk_conv8_pairs_3x2: per channel pair, a = sum x * w0 and mix = sum x * (w0 + 256 w1) modulo 2^32 for
 * each of 3 pixels (columns of stride 6), then channel 1's 2 T = (mix - a) / 128 + 2 low (pack_fc8). */
static void tk_conv8_pairs_3x2(const void *columns, const int16_t *weights, int32_t groups, tk_pair_job *job)
{
    int8_t *out[3];
    int32_t g, word, p, i;
    out[0] = job->out0;
    out[1] = job->out1;
    out[2] = job->out2;
    for (; job->pairs > 0; --job->pairs, job->bias += 2, job->quant += 7) {
        uint32_t a[3], mix[3];
        const int16_t *x = (const int16_t *)columns;
        for (p = 0; p < 3; ++p) {
            a[p] = (uint32_t)job->bias[0];
            mix[p] = (uint32_t)job->bias[1];
        }
        for (g = 0; g < groups; ++g, weights += 4) {
            for (word = 0; word < 2; ++word, x += 6) {
                for (p = 0; p < 3; ++p) {
                    for (i = 0; i < 2; ++i) {
                        const int32_t tap = x[2 * p + i], h = weights[2 * word + i];
                        mix[p] += (uint32_t)(tap * h);
                        a[p] += (uint32_t)(tap * (int8_t)(h & 0xFF));
                    }
                }
            }
        }
        for (p = 0; p < 3; ++p) {
            const int32_t b = (int32_t)((mix[p] - a[p]) >> 7) + job->quant[6];
            const int32_t bytes = (int32_t)(tk_fast_rescale_byte((int32_t)(a[p] << 1), job->quant) |
                                            tk_fast_rescale_byte(b, job->quant + 3) << 8);
            const int32_t clamped = tk_clamp4(bytes, job->low4, job->high4);
            out[p][0] = (int8_t)clamped;
            out[p][1] = (int8_t)(clamped >> 8);
            out[p] += 2;
        }
    }
}

static void tk_conv8_pairs_3x2_full(const void *columns, const int16_t *weights, int32_t groups, tk_pair_job *job)
{
    tk_conv8_pairs_3x2(columns, weights, groups, job);
}
#endif

/* Columns (stride 6) <- the next `count` (1 to 3) output pixels, the last one repeated in the slots past them
 * (their outputs land on its own: the same bytes again); `at` moves on by `count`. */
static void fill_three(const conv_geometry *g, const tk_dims *out, int32_t *at, void *columns, int32_t count)
{
    int32_t slot, pixel[3] = {0, 0, 0};
    for (slot = 0; slot < 3; ++slot) {
        if (slot < count) {
            memcpy(pixel, at, sizeof pixel);
            tk_next_pixel(out, at);
        }
        tk_conv_fill_pixel(g, pixel[0], pixel[1], pixel[2], columns, 6, slot);
    }
}

tk_status tk_conv2d_fast8_s8(const tk_conv_params *params, const tk_packed_filter *filter, const tk_dims *input_dims,
                             const int8_t *input, const tk_dims *filter_dims, const tk_dims *output_dims,
                             int8_t *output, void *scratch)
{
    int32_t pixel;
    const tk_status status =
        tk_conv_check(params, filter, input_dims, input, filter_dims, output_dims, output, scratch);

    if (status != TK_OK) {
        return status;
    }
    if (output_dims->c & 1) {
        return TK_ERR_SHAPE;
    }
    {
        const int32_t groups = tk_packed_depth(input_dims, filter_dims) / 4, channels = output_dims->c;
        const int32_t low = params->activation.min, high = params->activation.max;
        const int32_t pixels = output_dims->n * output_dims->h * output_dims->w;
        const int clamp = low > -128 || high < 127;
        void (*run)(const void *, const int16_t *, int32_t, tk_pair_job *) =
            clamp ? tk_conv8_pairs_3x2 : tk_conv8_pairs_3x2_full;
        conv_geometry geometry;
        int32_t at[3] = {0, 0, 0}; /* the next pixel's (batch, y, x) */
        tk_pair_job job;
#if TK_DSP
        if (groups <= TK_UNROLLED8_GROUPS) { /* no loop counter: the unrolled sequence */
            run = tk_conv8_pairs_3x2u;       /* clamps or not by the job's bounds */
        }
#endif
        tk_conv_init_geometry(&geometry, params, input_dims, input, filter_dims, scratch);
        job.low4 = tk_bytes4(low);
        job.high4 = tk_bytes4(high);
        for (pixel = 0; pixel < pixels; pixel += 3) {
            const int32_t count = pixels - pixel < 3 ? pixels - pixel : 3;
            job.bias = filter->bias;
            job.quant = filter->quant;
            job.out0 = output + pixel * channels;
            job.out1 = count > 1 ? job.out0 + channels : job.out0;
            job.out2 = count > 2 ? job.out1 + channels : job.out1;
            job.pairs = channels / 2;
            fill_three(&geometry, output_dims, at, scratch, count);
            run(scratch, filter->weights, groups, &job);
        }
    }
    return TK_OK;
}
