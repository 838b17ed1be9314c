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
    int32_t row_groups; /* groups of 4 taps per filter row (packed_depth) */
    int32_t row_step;   /* bytes from one input row to the next */
    int32_t input_bytes;
    int pointwise; /* 1x1, no padding, channels in fours: a pixel's groups are its bytes, no more */
} conv_geometry;

/* Taps per output pixel in the packed layout: each filter row (kw * channels taps) padded to a multiple of 4, so
 * that every row starts a group of 4 taps (the padding taps have zero weights). */
static inline int32_t tk_packed_depth(const tk_dims *input_dims, const tk_dims *filter_dims)
{
    return filter_dims->h * ((filter_dims->w * input_dims->c + 3) & ~3);
}

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

/* What filling the columns of a layer needs. */
void tk_conv_init_geometry(conv_geometry *g, const tk_conv_params *params, const tk_dims *input_dims,
                           const int8_t *input, const tk_dims *filter_dims);

/* The arguments tk_conv2d_fast_s8 and tk_conv2d_fast8_s8 check alike: TK_OK, or the status to return. */
tk_status tk_conv_check(const tk_conv_params *params, const tk_packed_filter *filter, const tk_dims *input_dims,
                        const int8_t *input, const tk_dims *filter_dims, const tk_dims *output_dims,
                        const int8_t *output, const void *scratch);

/* Column `slot` (of columns with `stride` words per group) <- the taps of the output pixel at (batch, out_y,
 * out_x), filter row by filter row (see tk_conv_fill.c). */
void tk_conv_fill_pixel(const conv_geometry *g, int32_t batch, int32_t out_y, int32_t out_x, void *columns,
                        int32_t stride, int32_t slot);

#endif /* TK_CONV_FILL_H */
