/* The im2col columns of the fast CONV_2D kernels (tk_conv_fast.c: int16 weights, tk_conv_fast8.c: int8): what
 * filling them needs per layer (conv_geometry) and the fill of one output pixel's taps. Private to the kernels;
 * the layouts are described in tk_fast.h. */
#ifndef TK_CONV_FILL_H
#define TK_CONV_FILL_H

#include <stdint.h>

#include "tinykd_kernels.h"

/* What filling a column needs, computed once per layer. */
typedef struct {
    const tk_conv_params *p;
    const tk_dims *in;
    const tk_dims *filter;
    const int8_t *input;
    int32_t row_groups; /* groups of 4 taps per filter row (packed_depth; a flat layer: all its groups) */
    int32_t row_step;   /* bytes from one input row to the next */
    int32_t input_bytes;
    int pointwise; /* 1x1, no padding, channels in fours: a pixel's groups are its bytes, no more */
    int flat;      /* taps packed back to back (tk_conv_flat): each pixel's are first staged at `patch` */
    int rgb3x3;    /* flat, 3x3 over 3 channels: pixel pairs inside the image fill straight (tk_conv_fill_rgb_two) */
    int8_t *patch; /* a flat layer's two staging patches (TK_PATCH_BYTES(depth) bytes each) in the scratch */
} conv_geometry;

/* Filter rows (kw * channels taps) whose padding to whole groups of 4 would add groups: a layer of few input
 * channels, such as a first conv over RGB (3x3x3: 27 taps, 9 groups as rows of 9 but 7 back to back). */
static inline int tk_conv_flat(const tk_dims *input_dims, const tk_dims *filter_dims)
{
    const int32_t row = filter_dims->w * input_dims->c;
    return filter_dims->h * ((row + 3) & ~3) > ((filter_dims->h * row + 3) & ~3);
}

/* Taps per output pixel in the packed layout: each filter row (kw * channels taps) padded to a multiple of 4, so
 * that every row starts a group of 4 taps (the padding taps have zero weights); or, when that costs groups
 * (tk_conv_flat), all taps back to back padded to a multiple of 4. */
static inline int32_t tk_packed_depth(const tk_dims *input_dims, const tk_dims *filter_dims)
{
    const int32_t row = filter_dims->w * input_dims->c;
    return tk_conv_flat(input_dims, filter_dims) ? (filter_dims->h * row + 3) & ~3 : filter_dims->h * ((row + 3) & ~3);
}

/* Bytes of one staging patch of a flat layer: its taps, rounded up, + a word the row copies may run over. */
#define TK_PATCH_BYTES(depth) ((depth) + 4)

/* The input bytes of output pixel (batch, out_y, out_x) of a pointwise layer. */
static inline const int8_t *tk_pointwise_input(const conv_geometry *g, int32_t batch, int32_t out_y, int32_t out_x)
{
    const tk_conv_params *p = g->p;
    return g->input + ((batch * g->in->h + out_y * p->stride_h) * g->in->w + out_x * p->stride_w) * g->in->c;
}

/* The next output pixel's (batch, y, x). */
static inline void tk_next_pixel(const tk_dims *out, int32_t *at)
{
    if (++at[2] == out->w) {
        at[2] = 0;
        if (++at[1] == out->h) {
            at[1] = 0;
            ++at[0];
        }
    }
}

/* What filling the columns of a layer needs; `scratch`: the kernel's (tk_conv2d_fast_scratch_size). */
void tk_conv_init_geometry(conv_geometry *g, const tk_conv_params *params, const tk_dims *input_dims,
                           const int8_t *input, const tk_dims *filter_dims, void *scratch);

/* The arguments tk_conv2d_fast_s8 and tk_conv2d_fast8_s8 check alike: TK_OK, or the status to return. */
tk_status tk_conv_check(const tk_conv_params *params, const tk_packed_filter *filter, const tk_dims *input_dims,
                        const int8_t *input, const tk_dims *filter_dims, const tk_dims *output_dims,
                        const int8_t *output, const void *scratch);

/* Column `slot` (of columns with `stride` words per group) <- the taps of the output pixel at (batch, out_y,
 * out_x), filter row by filter row (see tk_conv_fill.c). */
void tk_conv_fill_pixel(const conv_geometry *g, int32_t batch, int32_t out_y, int32_t out_x, void *columns,
                        int32_t stride, int32_t slot);

/* A flat layer's taps of output pixel (batch, out_y, out_x) as int8 in `patch` (filter rows back to back; the
 * input zero point outside the image; the bytes past the taps any int8, their weights are 0). */
void tk_conv_stage_patch(const conv_geometry *g, int32_t batch, int32_t out_y, int32_t out_x, int8_t *patch);

/* tk_conv_stage_patch for the output pixel at `at` (batch, y, x) and the next one on its row, when both lie inside
 * the image (their row copies inside the input): 1, or 0 (nothing staged). */
int tk_conv_stage_two(const conv_geometry *g, const int32_t *at, int8_t *patch0, int8_t *patch1);

/* Whether a flat layer is a 3x3 conv over 3 channels (27 taps, 7 groups): tk_conv_fill_rgb_two's. */
static inline int tk_conv_rgb3x3(const tk_dims *input_dims, const tk_dims *filter_dims)
{
    return input_dims->c == 3 && filter_dims->h == 3 && filter_dims->w == 3;
}

/* The 2-pixel columns (stride 4, tk_fill_two's) of a 3x3 conv over 3 channels, for the output pixel at `at` and the
 * next one on its row, straight from the input rows (no staging) when both lie inside the image: 1, or 0 (nothing
 * written). */
int tk_conv_fill_rgb_two(const conv_geometry *g, const int32_t *at, void *columns);

#endif /* TK_CONV_FILL_H */
