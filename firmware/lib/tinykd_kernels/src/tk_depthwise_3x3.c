/* DEPTHWISE_CONV_2D 3x3, stride 1 with SAME padding (1 on every side) or stride 2 with padding 0 or 1 on top and
 * left (SAME, VALID), depth multiplier 1, any channel count (a last group of 1-3 gathered first), on weights packed
 * offline (pipeline/compiler/pack.py, pack_depthwise_3x3): the multiply-accumulates pair two taps of one channel per
 * SMLAD, which the interleaved channels of the NHWC input cannot give. So each group of 4 channels is first
 * converted into 4 planes, one per channel, of int16 (x + input offset, 0 in the padding), arranged for a 4-row
 * output block: block b, input column j (padded, 0 .. w + 1) holds the 6 padded rows 4b .. 4b + 5 as 3 words (x0,
 * x1) (x2, x3) (x4, x5). An output column of a block then reads 3 such columns (9 words) for 36 MACs in 24 SMLAD /
 * SMLAxy (tk_dw3x3_dsp_asm.h), the 6 weight pairs (k0, k1) (k1, k2) per filter column staying in registers for the
 * whole channel. A last block of 1-2 rows runs a 2-row loop straight into the output (one row: row step 0, the real
 * row stored last); one of 3 rows is computed whole into scratch and its 3 rows copied. Stride 2 reads the same
 * planes: a block's 6 rows give 2 output rows, an output column 3 input columns 2 apart (tk_dw3s2_even / _odd).
 * When the planes of all the blocks would take more than TK_DW3_PLANES_MAX bytes, they hold a band of blocks at a
 * time (their RAM stops growing with the input's height): a group is filled and run band by band, the last input row of
 * a band kept aside for the next band's first block, since the previous band's outputs may have landed on it (the
 * output may be the input). Same results as the reference kernel in tk_conv.c, bit for bit. */
#include "tinykd_kernels.h"
#include "tk_arch.h"
#include "tk_fast.h"

#include <stddef.h>
#include <string.h>

/* Bytes of the 4 planes above which they hold a band of blocks at a time (each band costs its fill's first rows
 * and each channel's calls again). pipeline/compiler/pack.py's DW3X3_PLANES_MAX is the same number (the scratch
 * size). */
#define TK_DW3_PLANES_MAX 16384

/* One channel's work for the inner loop (16 words: the assembly copies them to its stack). */
typedef struct {
    int32_t bias[2];    /* doubled, twice (two LDRD fill the 4 accumulators) */
    int32_t multiplier; /* the fast rescale (tk_packed_filter.quant) */
    int32_t shift;
    int32_t nudge;
    int32_t low4;       /* activation min in each byte */
    int32_t high4;      /* activation max in each byte */
    int8_t *out;        /* output of block 0, row 0, column 0 */
    int32_t row_step;   /* bytes from an output row to the next */
    int32_t col_step;   /* bytes from an output column to the next */
    int32_t columns;    /* output columns (>= 1) */
    int32_t blocks;     /* blocks of output rows (>= 1) */
    int32_t out_skip;   /* bytes from the end of a block's columns to the next block's first output */
    int32_t scratch[2]; /* the assembly's own (end of a block's columns, a weight pair) */
    int32_t in_skip;    /* stride 2: plane bytes from the end of a block's columns to the next block's first */
} tk_dw3_job;

#if TK_DSP /* the byte offsets the assembly reads in its copy of the job ([sp, #offset], tk_dw3x3_dsp_asm.h) */
TK_ASM_OFFSET(tk_dw3_job, bias, 0);
TK_ASM_OFFSET(tk_dw3_job, multiplier, 8);
TK_ASM_OFFSET(tk_dw3_job, shift, 12);
TK_ASM_OFFSET(tk_dw3_job, nudge, 16);
TK_ASM_OFFSET(tk_dw3_job, low4, 20);
TK_ASM_OFFSET(tk_dw3_job, high4, 24);
TK_ASM_OFFSET(tk_dw3_job, out, 28);
TK_ASM_OFFSET(tk_dw3_job, row_step, 32);
TK_ASM_OFFSET(tk_dw3_job, col_step, 36);
TK_ASM_OFFSET(tk_dw3_job, columns, 40);
TK_ASM_OFFSET(tk_dw3_job, blocks, 44);
TK_ASM_OFFSET(tk_dw3_job, out_skip, 48);
TK_ASM_OFFSET(tk_dw3_job, scratch, 52);
TK_ASM_OFFSET(tk_dw3_job, in_skip, 60);
TK_STATIC_ASSERT(sizeof(tk_dw3_job) == 64, "tk_dw3_channel copies tk_dw3_job as 16 words");
#endif

/* tk_dw3_fill_band's job: block b of a column holds the padded rows 4b .. 4b + 5 of the band (its input rows 4b - 1
 * .. 4b + 4); the first `blocks` have rows 4b + 1 .. 4b + 4 all inside, the next one `tail` of them. */
typedef struct {
    int32_t *at;           /* the band's block 0, word 0 of input column 0 in plane 0 */
    const int8_t *src;     /* input column 0's first row in the band, at the group's first channel */
    int32_t block_step;    /* bytes from a block's word 2 to the next block's word 0 (a block's bytes - 8) */
    int32_t blocks;        /* blocks with all 4 rows inside (>= 0) */
    int32_t zero_points;   /* the input zero point in each byte: x + offset = 0 (the padding) */
    const int32_t *above;  /* the input row above the band's first, a word of 4 channels per column (NULL: padding) */
    int32_t column_step;   /* input bytes from one column to the next */
    const int32_t *at_end; /* at + 3 x the input columns */
    int32_t tail;          /* rows inside of the block after them (0 .. 3) */
    int32_t row_step;      /* input bytes from one row to the next */
    int32_t plane_bytes;   /* from one channel's plane to the next */
    int32_t offsets;       /* the input offset in both halfwords */
} tk_dw3_fill;

#if TK_DSP /* tk_dw3_fill_band copies the 12 words to its stack with one LDM, in this order */
TK_ASM_OFFSET(tk_dw3_fill, at, 0);
TK_ASM_OFFSET(tk_dw3_fill, src, 4);
TK_ASM_OFFSET(tk_dw3_fill, block_step, 8);
TK_ASM_OFFSET(tk_dw3_fill, blocks, 12);
TK_ASM_OFFSET(tk_dw3_fill, zero_points, 16);
TK_ASM_OFFSET(tk_dw3_fill, above, 20);
TK_ASM_OFFSET(tk_dw3_fill, column_step, 24);
TK_ASM_OFFSET(tk_dw3_fill, at_end, 28);
TK_ASM_OFFSET(tk_dw3_fill, tail, 32);
TK_ASM_OFFSET(tk_dw3_fill, row_step, 36);
TK_ASM_OFFSET(tk_dw3_fill, plane_bytes, 40);
TK_ASM_OFFSET(tk_dw3_fill, offsets, 44);
TK_STATIC_ASSERT(sizeof(tk_dw3_fill) == 48, "tk_dw3_fill_band copies tk_dw3_fill as 12 words");
#endif

static int32_t blocks_of(int32_t rows) { return (rows + 3) / 4; }

/* Blocks of a band: all of them when their 4 planes take at most TK_DW3_PLANES_MAX bytes, else as many as fit
 * with one block more (at least 1). */
static int32_t band_of(const tk_dims *input_dims)
{
    const int32_t blocks = blocks_of(input_dims->h), block_bytes = 4 * 4 * 3 * (input_dims->w + 2);
    const int32_t fit = TK_DW3_PLANES_MAX / block_bytes - 1;
    return blocks * block_bytes <= TK_DW3_PLANES_MAX ? blocks : fit > 1 ? fit : 1;
}

/* Words of one channel's plane: (w + 2) columns x 3 words for each block of a band, and one more block when a band
 * follows (the fill of a band's last block writes its third word there too, as the next block's first). */
static int32_t plane_words(const tk_dims *input_dims)
{
    const int32_t band = band_of(input_dims);
    return (band == blocks_of(input_dims->h) ? band : band + 1) * (input_dims->w + 2) * 3;
}

/* Bytes of the last group's input when the channels do not come in fours: a word per pixel of one batch. */
static int32_t tail_bytes(const tk_dims *input_dims)
{
    return (input_dims->c & 3) ? 4 * input_dims->h * input_dims->w : 0;
}

int32_t tk_depthwise_conv2d_3x3_fast_scratch_size(const tk_dims *input_dims)
{
    /* 4 planes + one 4-row block of output bytes + a row of words kept for the next band + the last group's input
     * gathered (channels not in fours) */
    return 4 * (4 * plane_words(input_dims) + 2 * input_dims->w) + tail_bytes(input_dims);
}

/* tail <- channels 4g .. c - 1 (1 to 3 of them) of every pixel of one batch's input, a word per pixel (the bytes
 * past them 0, their planes unused): the last group's input as 4 channels, so its fill never reads past the
 * input's end. */
static void gather_tail(int8_t *tail, const int8_t *input, const tk_dims *in, int32_t g)
{
    const int32_t pixels = in->h * in->w, first = 4 * g, count = in->c - first;
    int32_t pixel, k;
    for (pixel = 0; pixel < pixels; ++pixel, input += in->c, tail += 4) {
        tail[1] = tail[2] = tail[3] = 0;
        for (k = 0; k < count; ++k) {
            tail[k] = input[first + k];
        }
    }
}

/* Words (x_top, x_bottom) + offset of channels 0..3 of a 4-channel group, for two input rows (NULL: a row in the
 * padding, whose values are 0). */
typedef struct {
    int32_t lane[4];
} row_pair;

static inline row_pair pair_of(const int8_t *top, const int8_t *bottom, int32_t offset)
{
    row_pair p;
#if TK_DSP
    const int32_t offsets = tk_offset_pair(offset);
    int32_t at = 0, bt = 0, ab = 0, bb = 0;
    if (top != NULL) {
        const int32_t x = tk_read_s8x4(top);
        at = tk_sxtab16(offsets, x);      /* channels 0, 2 */
        bt = tk_sxtab16_ror8(offsets, x); /* channels 1, 3 */
    }
    if (bottom != NULL) {
        const int32_t x = tk_read_s8x4(bottom);
        ab = tk_sxtab16(offsets, x);
        bb = tk_sxtab16_ror8(offsets, x);
    }
    p.lane[0] = tk_pack_low(at, ab);
    p.lane[1] = tk_pack_low(bt, bb);
    p.lane[2] = tk_pack_high(at, ab);
    p.lane[3] = tk_pack_high(bt, bb);
#else
    int32_t c;
    for (c = 0; c < 4; ++c) {
        const int32_t t = top != NULL ? top[c] + offset : 0, b = bottom != NULL ? bottom[c] + offset : 0;
        p.lane[c] = (int32_t)(((uint32_t)t & 0xFFFFu) | ((uint32_t)b << 16));
    }
#endif
    return p;
}

static inline void put_pair(int32_t *at, int32_t words, const row_pair *p)
{
    at[0] = p->lane[0];
    at[words] = p->lane[1];
    at[2 * words] = p->lane[2];
    at[3 * words] = p->lane[3];
}

#if TK_DSP
#include "tk_dw3x3_dsp_asm.h"
#else
#include "tk_dw3x3_portable.h"
#endif

/* planes <- the 4 channels at `source` (fill: the layer's job; its row and column steps the source's), blocks
 * first .. first + count - 1 (a band) of an input of `rows` rows, column by column (tk_dw3_fill_band; the padding
 * columns stay 0 from the first fill); `above`: the input row above the band's first (a word per column), unless
 * the band is the first. The last block is the only one with rows past the input (1 to 3 of its 4 rows inside, or
 * none: then its words 1 and 2 are set to 0 here when an earlier band's rows may be there). */
static void fill_planes(tk_dw3_fill *fill, const int8_t *source, int32_t rows, int32_t first, int32_t count,
                        const int32_t *above)
{
    const int32_t inside = (rows - 1) / 4; /* blocks with rows 4b + 1 .. 4b + 4 inside: all but the last */
    const int last = first + count > inside;
    fill->src = source + 4 * first * fill->row_step;
    fill->blocks = last ? count - 1 : count;
    fill->above = first > 0 ? above : NULL;
    fill->tail = last ? rows - 1 - 4 * inside : 0;
    tk_dw3_fill_band(fill);
    if (last && fill->tail == 0 && first > 0) { /* (the first band's are 0 from the memset) */
        const int32_t block_words = (fill->block_step + 8) / 4, words = fill->plane_bytes / 4;
        int32_t lane, col;
        for (lane = 0; lane < 4; ++lane) {
            int32_t *words12 = fill->at - 3 + lane * words + (count - 1) * block_words + 1;
            for (col = 0; col < block_words / 3; ++col) {
                words12[3 * col] = words12[3 * col + 1] = 0;
            }
        }
    }
}

/* above <- the 4 channels at `source` of input row `row` (fill's row and column steps), a word per column. */
static void keep_row(int32_t *above, const tk_dw3_fill *fill, const int8_t *source, int32_t columns, int32_t row)
{
    const int8_t *src = source + row * fill->row_step;
    int32_t col;
    for (col = 0; col < columns; ++col) {
        memcpy(above + col, src + col * fill->column_step, 4);
    }
}

typedef void (*dw3_loop)(const int32_t *, const int16_t *, const tk_dw3_job *);

/* What a layer's channels share, computed once (the channel loops' calls could change what a pointer reads). */
typedef struct {
    int32_t block_rows;   /* output rows per block: 4 (stride 1), 2 (stride 2) */
    int32_t row_step;     /* bytes from an output row to the next */
    int32_t channels;     /* bytes from an output column to the next */
    int32_t words;        /* from a channel's plane to the next */
    int32_t block_words;  /* from a block of a plane to the next */
    int32_t columns;      /* input columns (stride 1) */
    int8_t *last_block;   /* stride 1: a last block of 3 rows, column-major (4 bytes per column) */
    dw3_loop loop, loop2; /* whole blocks (stride 1: 4 rows, 2: 2 rows), a last one of 2 (1) rows */
} dw3_layer;

/* `rows` output rows (>= 1: whole blocks, then 1-3 rows) of channels `channel` .. + lanes - 1, from row 0 of the
 * band at `out` (the first channel's), from their planes from `plane`. A last block of 1 or 2 rows runs loop2
 * straight into the output (1 row: row step 0, the real row stored last); one of 3 rows (stride 1) runs the
 * 4-row loop into last_block, its 3 rows copied. */
static void run_band(const dw3_layer *l, tk_dw3_job *job, const tk_packed_filter *filter, int32_t channel,
                     int32_t lanes, const int32_t *plane, int8_t *out, int32_t rows)
{
    const int32_t full = rows / l->block_rows, last_rows = rows % l->block_rows, row_step = l->row_step;
    const int32_t *bias = filter->bias + channel, *quant = filter->quant + 3 * channel;
    const int16_t *weights = filter->weights + 12 * channel;
    const int32_t last = full * l->block_words; /* the last block's plane words */
    const int32_t last_out = full * l->block_rows * row_step;
    const int32_t last_step = last_rows == 2 ? row_step : 0; /* 1 row: row step 0 */
    const int32_t out_skip = (l->block_rows - 1) * row_step; /* from the end of a block's first row on */
    int32_t lane, row, col;
    for (lane = 0; lane < lanes; ++lane, ++bias, quant += 3, weights += 12, plane += l->words, ++out) {
        job->bias[0] = job->bias[1] = *bias;
        job->multiplier = quant[0];
        job->shift = quant[1];
        job->nudge = quant[2];
        if (full > 0) {
            job->out = out;
            job->row_step = row_step;
            job->blocks = full;
            job->out_skip = out_skip;
            l->loop(plane, weights, job);
        }
        if (last_rows == 3) { /* 4 rows into last_block (column-major), then the valid ones */
            int8_t *to = out + last_out;
            job->out = l->last_block;
            job->row_step = 1;
            job->col_step = 4;
            job->blocks = 1;
            l->loop(plane + last, weights, job);
            job->col_step = l->channels;
            for (row = 0; row < 3; ++row, to += row_step) {
                for (col = 0; col < l->columns; ++col) {
                    to[col * l->channels] = l->last_block[4 * col + row];
                }
            }
        } else if (last_rows > 0) {
            job->out = out + last_out;
            job->row_step = last_step;
            job->blocks = 1; /* (out_skip unused) */
            l->loop2(plane + last, weights, job);
        }
    }
}

/* TK_OK, or why the layer is not one this kernel takes: 3x3, depth multiplier 1, channels in fours; stride 1
 * with padding 1 (the output the input's size), or stride 2 with padding 0 or 1 whose taps stay within one padding
 * row or column past the input's end (SAME and VALID). */
static tk_status check(const tk_conv_params *p, const tk_dims *in, const tk_dims *f, const tk_dims *out)
{
    const int s2 =
        p->stride_h == 2 && p->stride_w == 2 && p->pad_h >= 0 && p->pad_h <= 1 && p->pad_w >= 0 && p->pad_w <= 1;
    if (p->depth_multiplier != 1 || !(s2 || (p->stride_h == 1 && p->stride_w == 1 && p->pad_h == 1 && p->pad_w == 1))) {
        return TK_ERR_ARGUMENT;
    }
    if (f->h != 3 || f->w != 3 || f->c != in->c || out->c != in->c || out->n != in->n || in->c < 1 || in->h < 1 ||
        in->w < 1 || out->h < 1 || out->w < 1) {
        return TK_ERR_SHAPE;
    }
    if (s2 ? 2 * out->h + 1 - p->pad_h > in->h + 1 || 2 * out->w + 1 - p->pad_w > in->w + 1
           : out->h != in->h || out->w != in->w) {
        return TK_ERR_SHAPE;
    }
    return TK_OK;
}

tk_status tk_depthwise_conv2d_3x3_fast_s8(const tk_conv_params *params, const tk_packed_filter *filter,
                                          const tk_dims *input_dims, const int8_t *input, const tk_dims *filter_dims,
                                          const tk_dims *output_dims, int8_t *output, void *scratch)
{
    tk_status status;
    if (params == NULL || filter == NULL || input_dims == NULL || input == NULL || filter_dims == NULL ||
        output_dims == NULL || output == NULL || scratch == NULL || !tk_fast_conv_ok(params, filter)) {
        return TK_ERR_ARGUMENT;
    }
    status = check(params, input_dims, filter_dims, output_dims);
    if (status != TK_OK) {
        return status;
    }
    {
        const int32_t channels = input_dims->c, w = input_dims->w, words = plane_words(input_dims);
        const int32_t image = input_dims->h * w * channels, out_image = output_dims->h * output_dims->w * channels;
        const int clamp = params->activation.min > -128 || params->activation.max < 127;
        const int s2 = params->stride_h == 2;
        const int32_t start = s2 ? 3 * (1 - params->pad_w) : 0; /* stride 2: output column 0's first tap */
        int32_t *planes = (int32_t *)scratch;
        int8_t *last_block = (int8_t *)(planes + 4 * words); /* 4 bytes per column */
        int32_t *above = (int32_t *)(last_block + 4 * w);    /* the row above the next band: a word per column */
        int8_t *tail = (int8_t *)(above + w);                /* channels not in fours: the last group's input */
        const int32_t blocks = blocks_of(input_dims->h), band = band_of(input_dims);
        const int32_t block_rows = s2 ? 2 : 4; /* output rows per block */
        int32_t batch, g, first;
        tk_dw3_job job;
        tk_dw3_fill fill;
        dw3_layer layer;
        layer.block_rows = block_rows;
        layer.row_step = output_dims->w * channels;
        layer.channels = channels;
        layer.words = words;
        layer.block_words = (w + 2) * 3;
        layer.columns = w;
        layer.last_block = last_block;
        layer.loop = clamp ? tk_dw3_channel_clamped : tk_dw3_channel;
        layer.loop2 = clamp ? tk_dw3_channel2_clamped : tk_dw3_channel2;
        if (s2) { /* 2-row blocks, the loop of the padding on top */
            layer.loop2 = params->pad_h ? (clamp ? tk_dw3s2_even_clamped : tk_dw3s2_even)
                                        : (clamp ? tk_dw3s2_odd_clamped : tk_dw3s2_odd);
            layer.loop = layer.loop2;
        }
        job.low4 = tk_bytes4(params->activation.min);
        job.high4 = tk_bytes4(params->activation.max);
        job.columns = output_dims->w;
        job.col_step = channels;
        job.in_skip = 12 * (w + 2) - 24 * output_dims->w; /* stride 2 only */
        memset(planes, 0, (size_t)(4 * words) * sizeof *planes);
        fill.at = planes + 3;
        fill.block_step = 4 * layer.block_words - 8;
        fill.zero_points = tk_bytes4(-params->input_offset);
        fill.at_end = fill.at + 3 * w;
        fill.plane_bytes = 4 * words;
        fill.offsets = tk_offset_pair(params->input_offset);
        for (batch = 0; batch < input_dims->n; ++batch) {
            for (g = 0; 4 * g < channels; ++g) {
                const int32_t lanes = channels - 4 * g < 4 ? channels - 4 * g : 4;
                const int8_t *source = input + batch * image + 4 * g; /* the group's channels, `step` a pixel */
                int32_t step = channels;
                if (lanes < 4) { /* read before this group's outputs land on it (the output may be the input) */
                    gather_tail(tail, input + batch * image, input_dims, g);
                    source = tail;
                    step = 4;
                }
                fill.row_step = w * step;
                fill.column_step = step;
                for (first = 0; first < blocks; first += band) {
                    const int32_t count = blocks - first < band ? blocks - first : band;
                    const int32_t left = output_dims->h - block_rows * first;
                    fill_planes(&fill, source, input_dims->h, first, count, above);
                    if (first + count < blocks) { /* before this band's outputs can land on it */
                        keep_row(above, &fill, source, w, 4 * (first + count) - 1);
                    }
                    if (left > 0) {
                        run_band(&layer, &job, filter, 4 * g, lanes, planes + start,
                                 output + batch * out_image + block_rows * first * layer.row_step + 4 * g,
                                 left < block_rows * count ? left : block_rows * count);
                    }
                }
            }
        }
    }
    return TK_OK;
}
