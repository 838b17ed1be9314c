/* CONV_2D on int8 weights packed two output channels to an int16 (pipeline/compiler/pack.py, pack_fc8 with one
 * pair per tile): three output pixels per pass, the columns from tk_conv_fill.c, the channel loop in
 * tk_conv8_dsp_asm.h (Cortex-M4) or below; tk_conv2d_fast8_tiles_s8 first runs chunks of tiles of 4 pixels on the
 * Cortex-M4 (tk_conv8_tiles_dsp_asm.h). Same results as tk_conv.c's reference kernel, bit for bit, for every layer
 * the compiler packs so. */
#include "tinykd_kernels.h"
#include "tk_arch.h"
#include "tk_conv_fill.h"
#include "tk_fast.h"

#include <stddef.h>
#include <string.h>

#if TK_DSP
#include "tk_conv8_dsp_asm.h"
#include "tk_conv8_unrolled_dsp_asm.h"
#include "tk_conv8_tiles_dsp_asm.h"
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

/* Tiles of 4 pixels: groups of taps up to which a layer takes them (tk_conv8_tiles_4x2u unrolls as many), and
 * the bytes of the chunk of tiles whose columns the scratch holds at once (each chunk copies every channel pair's
 * weights once more). pipeline/compiler/pack.py has the same numbers (CONV8_TILE_GROUPS, CONV8_TILES_MAX). */
#define TK_CONV8_TILE_GROUPS 64
#define TK_CONV8_TILES_MAX 10240
#if TK_DSP
TK_STATIC_ASSERT(TK_CONV8_TILE_GROUPS == TK_UNROLLED8_GROUPS, "the tiles' sequence unrolls TK_UNROLLED8_GROUPS");
#endif

/* Tiles a chunk holds for a column of `depth` int16 taps and `pixels` output pixels (0: the layer takes none). */
static int32_t chunk_tiles(int32_t depth, int32_t pixels)
{
    const int32_t groups = depth / 4, fit = TK_CONV8_TILES_MAX / (8 * depth);
    if (groups % 4 != 0 || groups > TK_CONV8_TILE_GROUPS) {
        return 0;
    }
    return pixels / 4 < fit ? pixels / 4 : fit;
}

#if TK_DSP
/* The first pixels tiles of 4 take: all of them, or all but the last 1-3 (one tile of 3 after them), when that
 * costs fewer MAC instructions than tiles of 3 only (per word of taps 11 for 4 pixels, 9 for 3); else 0 (pack.py,
 * tile_pixels). */
static int32_t tile_pixels(int32_t pixels)
{
    const int32_t quads = pixels / 4;
    return 11 * quads + (pixels % 4 ? 9 : 0) < 9 * ((pixels + 2) / 3) ? 4 * quads : 0;
}
#endif

int32_t tk_conv2d_fast8_tiles_scratch_size(const tk_dims *input_dims, const tk_dims *filter_dims)
{
    /* tk_conv2d_fast_scratch_size's, then a chunk's columns (8 bytes per tap and tile) */
    const int32_t depth = tk_packed_depth(input_dims, filter_dims);
    return tk_conv2d_fast_scratch_size(input_dims, filter_dims) +
           8 * depth * chunk_tiles(depth, input_dims->n * input_dims->h * input_dims->w);
}

/* Columns (stride 2 x slots int16 per word of taps) <- the next `count` (1 .. slots) output pixels, the last one
 * repeated in the slots past them (their outputs land on its own: the same bytes again); `at` moves on. */
static void fill_slots(const conv_geometry *g, const tk_dims *out, int32_t *at, void *columns, int32_t count,
                       int32_t slots)
{
    int32_t slot, pixel[3] = {0, 0, 0};
    for (slot = 0; slot < slots; ++slot) {
        if (slot < count) {
            memcpy(pixel, at, sizeof pixel);
            tk_next_pixel(out, at);
        }
        tk_conv_fill_pixel(g, pixel[0], pixel[1], pixel[2], columns, 2 * slots, slot);
    }
}

/* What a call's passes share: the columns' geometry, the next pixel, the channel loop and its job. */
typedef struct {
    conv_geometry geometry;
    int32_t at[3]; /* the next pixel's (batch, y, x) */
    const tk_dims *out;
    int32_t depth, pixels, channels;
    void (*run)(const void *, const int16_t *, int32_t, tk_pair_job *);
    tk_pair_job job;
} conv8_call;

/* TK_OK with `c` ready for the passes, or the error (tk_conv_check; an odd output channel count). */
static tk_status start(conv8_call *c, const tk_conv_params *params, const tk_dims *input_dims, const int8_t *input,
                       const tk_packed_filter *filter, const tk_dims *filter_dims, const tk_dims *output_dims,
                       int8_t *output, void *scratch)
{
    const tk_status status =
        tk_conv_check(params, filter, input_dims, input, filter_dims, output_dims, output, scratch);
    int32_t low, high;
    if (status != TK_OK) {
        return status;
    }
    if (output_dims->c & 1) {
        return TK_ERR_SHAPE;
    }
    low = params->activation.min;
    high = params->activation.max;
    c->out = output_dims;
    c->depth = tk_packed_depth(input_dims, filter_dims);
    c->pixels = output_dims->n * output_dims->h * output_dims->w;
    c->channels = output_dims->c;
    c->run = low > -128 || high < 127 ? tk_conv8_pairs_3x2 : tk_conv8_pairs_3x2_full;
#if TK_DSP
    if (c->depth / 4 <= TK_UNROLLED8_GROUPS) { /* no loop counter: the unrolled sequence */
        c->run = tk_conv8_pairs_3x2u;          /* clamps or not by the job's bounds */
    }
#endif
    memset(c->at, 0, sizeof c->at);
    tk_conv_init_geometry(&c->geometry, params, input_dims, input, filter_dims, scratch);
    c->job.low4 = tk_bytes4(low);
    c->job.high4 = tk_bytes4(high);
    return TK_OK;
}

/* Pixels `pixel` .. the last, 3 per pass (the columns at the start of the scratch). */
static void run_threes(conv8_call *c, const tk_packed_filter *filter, int8_t *output, void *scratch, int32_t pixel)
{
    for (; pixel < c->pixels; pixel += 3) {
        const int32_t count = c->pixels - pixel < 3 ? c->pixels - pixel : 3;
        c->job.bias = filter->bias;
        c->job.quant = filter->quant;
        c->job.out0 = output + pixel * c->channels;
        c->job.out1 = count > 1 ? c->job.out0 + c->channels : c->job.out0;
        c->job.out2 = count > 2 ? c->job.out1 + c->channels : c->job.out1;
        c->job.pairs = c->channels / 2;
        fill_slots(&c->geometry, c->out, c->at, scratch, count, 3);
        c->run(scratch, filter->weights, c->depth / 4, &c->job);
    }
}

tk_status tk_conv2d_fast8_s8(const tk_conv_params *params, const tk_packed_filter *filter, const tk_dims *input_dims,
                             const int8_t *input, const tk_dims *filter_dims, const tk_dims *output_dims,
                             int8_t *output, void *scratch)
{
    conv8_call c;
    const tk_status status = start(&c, params, input_dims, input, filter, filter_dims, output_dims, output, scratch);
    if (status == TK_OK) {
        run_threes(&c, filter, output, scratch, 0);
    }
    return status;
}

tk_status tk_conv2d_fast8_tiles_s8(const tk_conv_params *params, const tk_packed_filter *filter,
                                   const tk_dims *input_dims, const int8_t *input, const tk_dims *filter_dims,
                                   const tk_dims *output_dims, int8_t *output, void *scratch)
{
    conv8_call c;
    int32_t pixel = 0;
    const tk_status status = start(&c, params, input_dims, input, filter, filter_dims, output_dims, output, scratch);
    if (status != TK_OK) {
        return status;
    }
#if TK_DSP
    { /* chunks of tiles of 4, their columns after the 3 of tk_conv2d_fast_scratch_size */
        const int32_t in_pixels = input_dims->n * input_dims->h * input_dims->w;
        const int32_t chunk = chunk_tiles(c.depth, c.pixels < in_pixels ? c.pixels : in_pixels);
        const int32_t quad = chunk > 0 ? tile_pixels(c.pixels) : 0;
        int16_t *columns = (int16_t *)((int8_t *)scratch + tk_conv2d_fast_scratch_size(input_dims, filter_dims));
        tk_tile_job tile;
        int32_t t;
        tile.step = c.channels;
        tile.pairs = c.channels / 2;
        tile.low4 = c.job.low4;
        tile.high4 = c.job.high4;
        for (; pixel < quad; pixel += 4 * tile.tiles) {
            tile.tiles = (quad - pixel) / 4 < chunk ? (quad - pixel) / 4 : chunk;
            for (t = 0; t < tile.tiles; ++t) {
                fill_slots(&c.geometry, c.out, c.at, columns + 4 * c.depth * t, 4, 4);
            }
            tile.bias = filter->bias;
            tile.quant = filter->quant;
            tile.out = output + pixel * c.channels;
            tk_conv8_tiles_4x2u(columns, filter->weights, c.depth / 4, &tile);
        }
    }
#endif
    run_threes(&c, filter, output, scratch, pixel);
    return TK_OK;
}
