/* FULLY_CONNECTED on weights packed offline (pipeline/compiler/pack.py): int16 (pack_matrix,
 * tk_fully_connected_fast_s8) or int8 two rows to an int16 (pack_fc8, tk_fully_connected_fast8_s8). The same
 * results as tk_fully_connected_s8, bit for bit, for every layer the compiler packs so. The inner loops are
 * tk_fast_dsp.h's and tk_fc8_dsp_asm.h's on the Cortex-M4, tk_fast_portable.h's and the ones below elsewhere. */
#include "tinykd_kernels.h"
#include "tk_arch.h"
#include "tk_fast.h"

#include <stddef.h>
#include <string.h>

/* The tiles of 4 rows of one input row (tk_fc8_tiles): for each, the MACs, the rescale, the clamp and 4 bytes. */
typedef struct {
    const int32_t *bias;  /* next tile's a0, mix0, a1, mix1 */
    const int32_t *quant; /* next tile's (m, s, n) A0, (m, s, n, 2 low) B0, (m, s, n) A1, (m, s, n, 2 low) B1 */
    int8_t *out;          /* next tile's 4 outputs */
    int8_t *out_end;      /* the end of the tiles' outputs (out + 4 * tiles, tiles >= 1) */
    int32_t low4;         /* activation min in each of the 4 bytes */
    int32_t high4;        /* activation max in each byte */
} tk_fc8_job;

static int32_t round_up4(int32_t n) { return (n + 3) & ~3; }

int32_t tk_fully_connected_fast_scratch_size(int32_t accum_depth)
{
    return 2 * round_up4(accum_depth); /* one int16 column */
}

#if TK_DSP /* the byte offsets the assembly reads (tk_fc8_dsp_asm.h: LDRD) */
TK_ASM_OFFSET(tk_fc8_job, bias, 0);
TK_ASM_OFFSET(tk_fc8_job, quant, 4);
TK_ASM_OFFSET(tk_fc8_job, out, 8);
TK_ASM_OFFSET(tk_fc8_job, out_end, 12);
TK_ASM_OFFSET(tk_fc8_job, low4, 16);
TK_ASM_OFFSET(tk_fc8_job, high4, 20);
#include "tk_fc8_dsp_asm.h"
#else
/* acc (a0, mix0, a1, mix1) += one tile of 4 rows: a = sum x * wA, mix = sum x * (wA + 256 wB), modulo 2^32 as
 * SMLAD's. weights: per group, pair 0 (k0, k2) (k1, k3), pair 1 (k0, k2) (k1, k3); column: (x0, x2) (x1, x3). */
static void mac_tile(const int16_t *x, const int16_t *weights, int32_t groups, uint32_t *acc)
{
    int32_t g, pair, word, i;
    for (g = 0; g < groups; ++g, x += 4, weights += 8) {
        for (pair = 0; pair < 2; ++pair) {
            for (word = 0; word < 2; ++word) {
                const int16_t *h = weights + 4 * pair + 2 * word;
                for (i = 0; i < 2; ++i) {
                    const int32_t tap = x[2 * word + i];
                    acc[2 * pair + 1] += (uint32_t)(tap * h[i]);
                    acc[2 * pair] += (uint32_t)(tap * (int8_t)(h[i] & 0xFF));
                }
            }
        }
    }
}

/* Portable tk_fc8_tiles: the same integers. A's doubled accumulator is 2 a; B's is 2 T = (mix - a) / 128 + 2 low
 * (pack_fc8: mix - a = 256 (T - low), in [0, 2^32)). */
static void tk_fc8_tiles(const void *column, const int16_t *weights, int32_t groups, tk_fc8_job *job)
{
    for (; job->out != job->out_end; job->out += 4, job->bias += 4, job->quant += 14, weights += 8 * groups) {
        uint32_t acc[4];
        int32_t pair, packed = 0;
        for (pair = 0; pair < 4; ++pair) {
            acc[pair] = (uint32_t)job->bias[pair];
        }
        mac_tile((const int16_t *)column, weights, groups, acc);
        for (pair = 0; pair < 2; ++pair) {
            const int32_t *q = job->quant + 7 * pair;
            const int32_t a = (int32_t)(acc[2 * pair] << 1), b = (int32_t)((acc[2 * pair + 1] - acc[2 * pair]) >> 7);
            packed |= (int32_t)((uint32_t)tk_fast_rescale_byte(a, q) << (16 * pair));
            packed |= (int32_t)((uint32_t)tk_fast_rescale_byte(b + q[6], q + 3) << (16 * pair + 8));
        }
        packed = tk_clamp4(packed, job->low4, job->high4);
        memcpy(job->out, &packed, sizeof packed);
    }
}

static void tk_fc8_tiles_full(const void *column, const int16_t *weights, int32_t groups, tk_fc8_job *job)
{
    tk_fc8_tiles(column, weights, groups, job);
}
#endif

tk_status tk_fully_connected_fast8_s8(const tk_fc_params *params, const tk_packed_filter *filter, int32_t batches,
                                      int32_t accum_depth, int32_t output_depth, const int8_t *input, int8_t *output,
                                      void *scratch)
{
    int32_t batch;

    if (params == NULL || filter == NULL || input == NULL || output == NULL || scratch == NULL ||
        filter->weights == NULL || filter->bias == NULL || filter->quant == NULL ||
        params->activation.min > params->activation.max || params->activation.min < -128 ||
        params->activation.max > 127) {
        return TK_ERR_ARGUMENT;
    }
    if (batches < 1 || accum_depth < 1 || output_depth < 1) {
        return TK_ERR_SHAPE;
    }
    {
        const int32_t groups = (accum_depth + 3) / 4, whole = output_depth & ~3;
        const int32_t low = params->activation.min, high = params->activation.max;
        void (*run)(const void *, const int16_t *, int32_t, tk_fc8_job *) =
            low > -128 || high < 127 ? tk_fc8_tiles : tk_fc8_tiles_full;
        for (batch = 0; batch < batches; ++batch) {
            int8_t *out = output + batch * output_depth, last[4];
            tk_fc8_job job;
            job.bias = filter->bias;
            job.quant = filter->quant;
            job.low4 = tk_bytes4(low);
            job.high4 = tk_bytes4(high);
            tk_fill_column(scratch, 2, 0, input + batch * accum_depth, accum_depth, params->input_offset);
            if (whole > 0) {
                job.out = out;
                job.out_end = out + whole;
                run(scratch, filter->weights, groups, &job);
            }
            if (whole < output_depth) { /* the last rows: a whole tile into `last` (the packing pads it) */
                job.out = last;
                job.out_end = last + 4;
                run(scratch, filter->weights + 2 * whole * groups, groups, &job);
                memcpy(out + whole, last, (size_t)(output_depth - whole));
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
