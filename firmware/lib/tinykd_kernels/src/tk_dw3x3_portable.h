/* The channel loops and the plane fill of tk_depthwise_conv2d_3x3_fast_s8 in portable C (tk_depthwise_3x3.c;
 * layouts there): the integers of tk_dw3x3_dsp_asm.h's assembly. Included by tk_depthwise_3x3.c only, when not
 * TK_DSP, after pair_of and put_pair. */
#ifndef TK_DW3X3_PORTABLE_H
#define TK_DW3X3_PORTABLE_H

#include "tk_fast.h"

/* Portable tk_dw3_channel (4 rows per block), tk_dw3_channel2 (2 rows) and the stride-2 loops (2 rows): the same
 * integers. `weights`: (k0, k1, k1, k2) per filter column, 12 values. Output row i of a block takes padded rows
 * top + stride * i .. + 2 (stride 2, top 0: one padding row on top, 1: none); output columns `stride` input columns
 * apart. */
static void dw3_channel(const int32_t *plane, const int16_t *weights, const tk_dw3_job *job, int clamp, int rows,
                        int stride, int top)
{
    const tk_half *x = (const tk_half *)plane; /* 6 values per input column (written as words: may_alias) */
    const int32_t quant[3] = {job->multiplier, job->shift, job->nudge};
    const int32_t low = clamp ? (int8_t)job->low4 : -128, high = clamp ? (int8_t)job->high4 : 127;
    const int32_t skip = stride == 1 ? 12 : job->in_skip / 2; /* from the end of a block's columns to the next's */
    int8_t *out = job->out;
    int32_t block, column, i, j;
    for (block = 0; block < job->blocks; ++block, x += skip, out += job->out_skip) {
        for (column = 0; column < job->columns; ++column, x += 6 * stride, out += job->col_step) {
            for (i = rows - 1; i >= 0; --i) { /* the last row first, as the assembly (row step 0: row 0 wins) */
                int32_t acc = job->bias[0];
                for (j = 0; j < 3; ++j) {
                    const int16_t *k = weights + 4 * j;
                    const tk_half *col = x + 6 * j + top + stride * i;
                    acc += col[0] * k[0] + col[1] * k[1] + col[2] * k[3];
                }
                out[i * job->row_step] = tk_fast_rescale(acc, quant, low, high);
            }
        }
    }
}

/* The loop `name` of tk_dw3x3_dsp_asm.h: dw3_channel with its clamp, rows, stride and top. */
#define TK_DW3_PORTABLE(name, clamp, rows, stride, top)                                   \
    static void name(const int32_t *plane, const int16_t *weights, const tk_dw3_job *job) \
    {                                                                                     \
        dw3_channel(plane, weights, job, clamp, rows, stride, top);                       \
    }

TK_DW3_PORTABLE(tk_dw3_channel, 0, 4, 1, 0)
TK_DW3_PORTABLE(tk_dw3_channel_clamped, 1, 4, 1, 0)
TK_DW3_PORTABLE(tk_dw3_channel2, 0, 2, 1, 0)
TK_DW3_PORTABLE(tk_dw3_channel2_clamped, 1, 2, 1, 0)
TK_DW3_PORTABLE(tk_dw3s2_even, 0, 2, 2, 0)
TK_DW3_PORTABLE(tk_dw3s2_even_clamped, 1, 2, 2, 0)
TK_DW3_PORTABLE(tk_dw3s2_odd, 0, 2, 2, 1)
TK_DW3_PORTABLE(tk_dw3s2_odd_clamped, 1, 2, 2, 1)

/* One column of tk_dw3_fill_band: `at` is the band's block 0's word 0 in plane 0, `src` the column's first row,
 * `above` the word of the row above (NULL: the padding row). */
static void fill_column(int32_t *at, const int8_t *src, const int32_t *above, const tk_dw3_fill *fill)
{
    const int32_t words = fill->plane_bytes / 4, block_words = (fill->block_step + 8) / 4, step = fill->row_step;
    const int32_t offset = (int16_t)fill->offsets;
    row_pair upper = pair_of((const int8_t *)above, src, offset), lower;
    int32_t block;
    put_pair(at, words, &upper);
    for (block = 0; block < fill->blocks; ++block, at += block_words) {
        const int8_t *x = src + (4 * block + 1) * step; /* no pointer past the input's end */
        upper = pair_of(x, x + step, offset);
        lower = pair_of(x + 2 * step, x + 3 * step, offset);
        put_pair(at + 1, words, &upper);
        put_pair(at + 2, words, &lower);
        put_pair(at + block_words, words, &lower); /* the next block's word 0 */
    }
    if (fill->tail > 0) { /* the last block's rows inside: 1 to 3 */
        const int8_t *x = src + (4 * block + 1) * step;
        upper = pair_of(x, fill->tail >= 2 ? x + step : NULL, offset);
        lower = pair_of(fill->tail >= 3 ? x + 2 * step : NULL, NULL, offset);
        put_pair(at + 1, words, &upper);
        put_pair(at + 2, words, &lower);
    }
}

/* Portable tk_dw3_fill_band. */
static void tk_dw3_fill_band(const tk_dw3_fill *fill)
{
    int32_t col;
    for (col = 0; fill->at + 3 * col != fill->at_end; ++col) {
        fill_column(fill->at + 3 * col, fill->src + col * fill->column_step,
                    fill->above != NULL ? fill->above + col : NULL, fill);
    }
}

#endif /* TK_DW3X3_PORTABLE_H */
