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
 * planes: a block's 6 rows give 2 output rows, an output column 3 input columns 2 apart (tk_dw3s2_even / _odd). Same
 * results as the reference kernel in tk_conv.c, bit for bit. */
#include "tinykd_kernels.h"
#include "tk_arch.h"
#include "tk_fast.h"

#include <stddef.h>
#include <string.h>

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

/* tk_dw3_fill_column's constants: block b of a column holds the padded rows 4b .. 4b + 5 (input rows 4b - 1 ..
 * 4b + 4); the first `blocks` have rows 4b + 1 .. 4b + 4 all inside, the next one `tail` of them. */
typedef struct {
    int32_t row_step;    /* input bytes from one row to the next */
    int32_t plane_bytes; /* from one channel's plane to the next */
    int32_t block_bytes; /* from one block to the next in a plane */
    int32_t offsets;     /* the input offset in both halfwords */
    int32_t blocks;      /* blocks with all 4 rows inside (>= 0) */
    int32_t tail;        /* rows inside of the block after them (0 .. 3) */
    int32_t zero_points; /* the input zero point in each byte: x + offset = 0 (the padding) */
} tk_dw3_fill;

#if TK_DSP /* tk_dw3_fill_column loads the first 5 words with one LDM, in this order, then the last two */
TK_ASM_OFFSET(tk_dw3_fill, row_step, 0);
TK_ASM_OFFSET(tk_dw3_fill, plane_bytes, 4);
TK_ASM_OFFSET(tk_dw3_fill, block_bytes, 8);
TK_ASM_OFFSET(tk_dw3_fill, offsets, 12);
TK_ASM_OFFSET(tk_dw3_fill, blocks, 16);
TK_ASM_OFFSET(tk_dw3_fill, tail, 20);
TK_ASM_OFFSET(tk_dw3_fill, zero_points, 24);
#endif

static int32_t blocks_of(int32_t rows) { return (rows + 3) / 4; }

/* Words of one channel's plane: blocks x (w + 2) columns x 3 words. */
static int32_t plane_words(const tk_dims *input_dims) { return blocks_of(input_dims->h) * (input_dims->w + 2) * 3; }

/* Bytes of the last group's input when the channels do not come in fours: a word per pixel of one batch. */
static int32_t tail_bytes(const tk_dims *input_dims)
{
    return (input_dims->c & 3) ? 4 * input_dims->h * input_dims->w : 0;
}

int32_t tk_depthwise_conv2d_3x3_fast_scratch_size(const tk_dims *input_dims)
{
    /* 4 planes + one 4-row block of output bytes + the last group's input gathered (channels not in fours) */
    return 4 * (4 * plane_words(input_dims) + input_dims->w) + tail_bytes(input_dims);
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

/* planes <- channels 4g .. 4g + 3 of one batch's input, column by column (tk_dw3_fill_column; the padding columns
 * stay 0 from the first fill). Pairs wholly in the padding below the last block are never written. */
static void fill_planes(int32_t *planes, int32_t words, const tk_dims *in, const int8_t *input, int32_t g,
                        int32_t offset)
{
    const int32_t rows = in->h, inside = rows >= 5 ? (rows - 1) / 4 : 0; /* blocks with rows 4b + 1 .. 4b + 4 */
    tk_dw3_fill fill;
    int32_t col;
    fill.row_step = in->w * in->c;
    fill.plane_bytes = 4 * words;
    fill.block_bytes = 4 * 3 * (in->w + 2);
    fill.offsets = tk_offset_pair(offset);
    fill.blocks = inside;
    fill.tail = rows - 1 - 4 * inside;
    fill.zero_points = tk_bytes4(-offset);
    for (col = 0; col < in->w; ++col) {
        tk_dw3_fill_column(planes + 3 * (col + 1), input + col * in->c + 4 * g, &fill);
    }
}

/* Where the channel loop writes: `blocks` blocks of `rows` output rows from `out`, rows `row_step` and columns
 * `col_step` bytes apart. */
static void aim(tk_dw3_job *job, int8_t *out, int32_t rows, int32_t row_step, int32_t col_step, int32_t blocks)
{
    job->out = out;
    job->row_step = row_step;
    job->col_step = col_step;
    job->blocks = blocks;
    job->out_skip = rows * row_step - job->columns * col_step; /* used between blocks only */
}

typedef void (*dw3_loop)(const int32_t *, const int16_t *, const tk_dw3_job *);

/* What a layer's channels share, computed once (the channel loops' calls could change what a pointer reads). */
typedef struct {
    int32_t rows;         /* output rows */
    int32_t row_step;     /* bytes from an output row to the next */
    int32_t channels;     /* bytes from an output column to the next */
    int32_t block_words;  /* from a block of a plane to the next */
    int32_t columns;      /* input columns (stride 1) */
    dw3_loop loop, loop2; /* stride 1: blocks of 4 rows, a last one of 2 (1) rows; stride 2: blocks of 2 rows */
} dw3_layer;

/* Stride 1 (padding 1): one channel's output, at `out`, from its plane. */
static inline TK_ALWAYS_INLINE void stride1_channel(const int32_t *plane, const int16_t *weights, tk_dw3_job *job,
                                                    int8_t *out, const dw3_layer *l, int8_t *last_block)
{
    const int32_t full = l->rows / 4, last_rows = l->rows % 4, row_step = l->row_step;
    int32_t row, col;
    if (full > 0) {
        aim(job, out, 4, row_step, l->channels, full);
        l->loop(plane, weights, job);
    }
    if (last_rows > 0 && last_rows <= 2) { /* 2 rows straight to the output (1: row step 0) */
        aim(job, out + full * 4 * row_step, 4, last_rows == 2 ? row_step : 0, l->channels, 1);
        l->loop2(plane + full * l->block_words, weights, job);
    } else if (last_rows > 0) { /* 4 rows into last_block (column-major), then the valid ones */
        aim(job, last_block, 4, 1, 4, 1);
        l->loop(plane + full * l->block_words, weights, job);
        out += full * 4 * row_step;
        for (row = 0; row < last_rows; ++row, out += row_step) {
            for (col = 0; col < l->columns; ++col) {
                out[col * l->channels] = last_block[4 * col + row];
            }
        }
    }
}

/* Stride 2: one channel's output from its plane, `plane` at the padded column of output column 0's first tap;
 * blocks of 2 output rows (a last single row: row step 0). */
static inline TK_ALWAYS_INLINE void stride2_channel(const int32_t *plane, const int16_t *weights, tk_dw3_job *job,
                                                    int8_t *out, const dw3_layer *l)
{
    const int32_t full = l->rows / 2;
    if (full > 0) {
        aim(job, out, 2, l->row_step, l->channels, full);
        l->loop2(plane, weights, job);
    }
    if (l->rows & 1) {
        aim(job, out + full * 2 * l->row_step, 2, 0, l->channels, 1);
        l->loop2(plane + full * l->block_words, weights, job);
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
        const int32_t first = s2 ? 3 * (1 - params->pad_w) : 0; /* stride 2: output column 0's first tap */
        int32_t *planes = (int32_t *)scratch;
        int8_t *last_block = (int8_t *)(planes + 4 * words); /* 4 bytes per column */
        int8_t *tail = last_block + 4 * w;                   /* channels not in fours: the last group's input */
        tk_dims tail_dims = *input_dims;
        int32_t batch, g, lane;
        tk_dw3_job job;
        dw3_layer layer;
        layer.rows = output_dims->h;
        layer.row_step = output_dims->w * channels;
        layer.channels = channels;
        layer.block_words = (w + 2) * 3;
        layer.columns = w;
        layer.loop = clamp ? tk_dw3_channel_clamped : tk_dw3_channel;
        layer.loop2 = clamp ? tk_dw3_channel2_clamped : tk_dw3_channel2;
        if (s2) { /* the loop of the padding on top */
            layer.loop2 = params->pad_h ? (clamp ? tk_dw3s2_even_clamped : tk_dw3s2_even)
                                        : (clamp ? tk_dw3s2_odd_clamped : tk_dw3s2_odd);
        }
        job.low4 = tk_bytes4(params->activation.min);
        job.high4 = tk_bytes4(params->activation.max);
        job.columns = output_dims->w;
        job.in_skip = 12 * (w + 2) - 24 * output_dims->w; /* stride 2 only */
        memset(planes, 0, (size_t)(4 * words) * sizeof *planes);
        tail_dims.c = 4;
        for (batch = 0; batch < input_dims->n; ++batch) {
            for (g = 0; 4 * g < channels; ++g) {
                const int32_t lanes = channels - 4 * g < 4 ? channels - 4 * g : 4;
                if (lanes < 4) { /* read before this group's outputs land on it (the output may be the input) */
                    gather_tail(tail, input + batch * image, input_dims, g);
                    fill_planes(planes, words, &tail_dims, tail, 0, params->input_offset);
                } else {
                    fill_planes(planes, words, input_dims, input + batch * image, g, params->input_offset);
                }
                for (lane = 0; lane < lanes; ++lane) {
                    const int32_t channel = 4 * g + lane;
                    const int32_t *plane = planes + lane * words + first;
                    const int16_t *weights = filter->weights + 12 * channel;
                    int8_t *out = output + batch * out_image + channel;
                    job.bias[0] = job.bias[1] = filter->bias[channel];
                    job.multiplier = filter->quant[3 * channel];
                    job.shift = filter->quant[3 * channel + 1];
                    job.nudge = filter->quant[3 * channel + 2];
                    if (s2) {
                        stride2_channel(plane, weights, &job, out, &layer);
                    } else {
                        stride1_channel(plane, weights, &job, out, &layer, last_block);
                    }
                }
            }
        }
    }
    return TK_OK;
}
