/* CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED on weights packed offline (pipeline/compiler/pack.py): the loop
 * structure here, the inner loops in tk_fast_dsp.h (Cortex-M4) or tk_fast_portable.h. Same results as the
 * reference kernels in tk_conv.c / tk_fully_connected.c, bit for bit, for every layer the compiler packs. */
#include "tinykd_kernels.h"
#include "tk_fast.h"

#include <stddef.h>
#include <string.h>

static int32_t round_up4(int32_t n) { return (n + 3) & ~3; }

int32_t tk_conv2d_fast_scratch_size(const tk_dims *input_dims, const tk_dims *filter_dims)
{
    const int32_t depth = round_up4(filter_dims->h * filter_dims->w * input_dims->c);
    return 2 * 2 * depth + depth;  /* two int16 columns + one gathered int8 column */
}

int32_t tk_fully_connected_fast_scratch_size(int32_t accum_depth)
{
    return 2 * round_up4(accum_depth);  /* one int16 column */
}

static int fast_conv_ok(const tk_conv_params *p, const tk_packed_filter *f)
{
    return p->stride_h >= 1 && p->stride_w >= 1 && p->dilation_h == 1 && p->dilation_w == 1 && p->pad_h >= 0 &&
           p->pad_w >= 0 && p->activation.min <= p->activation.max && f->weights != NULL && f->bias != NULL &&
           f->quant != NULL;
}

/* The taps of output pixel `pixel` (row-major over batch, y, x) in filter order (y, x, channel): the input
 * itself for an unpadded 1x1 filter, else gathered into `buffer` with the input zero point in the padding
 * (so that x + input offset = 0 there, as TFLM skipping the tap). */
static const int8_t *gather(const tk_conv_params *p, const tk_dims *in, const int8_t *input, const tk_dims *filter,
                            const tk_dims *out, int32_t pixel, int8_t *buffer)
{
    const int32_t out_x = pixel % out->w, out_y = (pixel / out->w) % out->h, batch = pixel / (out->w * out->h);
    const int32_t in_y0 = out_y * p->stride_h - p->pad_h, in_x0 = out_x * p->stride_w - p->pad_w;
    const int32_t channels = in->c, row_bytes = filter->w * channels;
    const int8_t zero_point = (int8_t)(-p->input_offset);
    int32_t filter_y, x_lo, x_hi;
    int8_t *dst = buffer;

    if (filter->h == 1 && filter->w == 1 && p->pad_h == 0 && p->pad_w == 0) {
        return input + ((batch * in->h + in_y0) * in->w + in_x0) * channels;
    }
    x_lo = in_x0 < 0 ? -in_x0 : 0;                                          /* first filter column inside */
    x_hi = in->w - in_x0 < filter->w ? in->w - in_x0 : filter->w;           /* one past the last */
    x_hi = x_hi < x_lo ? x_lo : x_hi;
    for (filter_y = 0; filter_y < filter->h; ++filter_y, dst += row_bytes) {
        const int32_t in_y = in_y0 + filter_y;
        if (in_y < 0 || in_y >= in->h) {
            memset(dst, zero_point, (size_t)row_bytes);
            continue;
        }
        memset(dst, zero_point, (size_t)(x_lo * channels));
        memcpy(dst + x_lo * channels, input + ((batch * in->h + in_y) * in->w + in_x0 + x_lo) * channels,
               (size_t)((x_hi - x_lo) * channels));
        memset(dst + x_hi * channels, zero_point, (size_t)((filter->w - x_hi) * channels));
    }
    return buffer;
}

/* Column `slot` <- the taps of output pixel `pixel`. With input channels a multiple of 4, every filter row starts
 * a group of 4 taps: the rows are converted straight from the input and the padding written as zeros. */
static void fill_pixel(const tk_conv_params *p, const tk_dims *in, const int8_t *input, const tk_dims *filter,
                       const tk_dims *out, int32_t pixel, void *columns, int32_t slot, int8_t *buffer)
{
    const int32_t channels = in->c, row_taps = filter->w * channels, taps = filter->h * row_taps;
    const int32_t out_x = pixel % out->w, out_y = (pixel / out->w) % out->h, batch = pixel / (out->w * out->h);
    const int32_t in_y0 = out_y * p->stride_h - p->pad_h, in_x0 = out_x * p->stride_w - p->pad_w;
    const int32_t x_lo = in_x0 < 0 ? -in_x0 : 0;
    const int32_t x_end = in->w - in_x0 < filter->w ? in->w - in_x0 : filter->w;
    const int32_t x_hi = x_end < x_lo ? x_lo : x_end;
    int32_t filter_y;
    uint8_t *col = (uint8_t *)columns;  /* a group of 4 taps takes 16 bytes of the two-pixel columns */

    if (channels & 3 || (filter->h == 1 && filter->w == 1 && p->pad_h == 0 && p->pad_w == 0)) {
        tk_fill_column(columns, 4, slot, gather(p, in, input, filter, out, pixel, buffer), taps, p->input_offset);
        return;
    }
    for (filter_y = 0; filter_y < filter->h; ++filter_y, col += 4 * row_taps) {
        const int32_t in_y = in_y0 + filter_y;
        if (in_y < 0 || in_y >= in->h) {
            tk_zero_column(col, 4, slot, row_taps / 4);
            continue;
        }
        tk_zero_column(col, 4, slot, x_lo * channels / 4);
        tk_fill_column(col + 4 * x_lo * channels, 4, slot,
                       input + ((batch * in->h + in_y) * in->w + in_x0 + x_lo) * channels, (x_hi - x_lo) * channels,
                       p->input_offset);
        tk_zero_column(col + 4 * x_hi * channels, 4, slot, (filter->w - x_hi) * channels / 4);
    }
}

tk_status tk_conv2d_fast_s8(const tk_conv_params *params, const tk_packed_filter *filter,
                            const tk_dims *input_dims, const int8_t *input, const tk_dims *filter_dims,
                            const tk_dims *output_dims, int8_t *output, void *scratch)
{
    int32_t pixel, out_c;

    if (params == NULL || filter == NULL || input_dims == NULL || input == NULL || filter_dims == NULL ||
        output_dims == NULL || output == NULL || scratch == NULL || !fast_conv_ok(params, filter)) {
        return TK_ERR_ARGUMENT;
    }
    if (filter_dims->c != input_dims->c || filter_dims->n != output_dims->c || input_dims->n != output_dims->n) {
        return TK_ERR_SHAPE;
    }
    {
        const int32_t taps = filter_dims->h * filter_dims->w * input_dims->c;
        const int32_t depth = round_up4(taps), groups = depth / 4;
        const int32_t channels = output_dims->c, low = params->activation.min, high = params->activation.max;
        const int32_t pixels = output_dims->n * output_dims->h * output_dims->w;
        void *columns = scratch;                                      /* 2 * depth int16 */
        int8_t *buffer = (int8_t *)scratch + 4 * depth;               /* depth int8 */

        for (pixel = 0; pixel < pixels; pixel += 2) {
            const int two = pixel + 1 < pixels;
            int8_t *out0 = output + pixel * channels;
            int8_t *out1 = out0 + channels;
            fill_pixel(params, input_dims, input, filter_dims, output_dims, pixel, columns, 0, buffer);
            if (two) {
                fill_pixel(params, input_dims, input, filter_dims, output_dims, pixel + 1, columns, 1, buffer);
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

tk_status tk_depthwise_conv2d_fast_s8(const tk_conv_params *params, const tk_packed_filter *filter,
                                      const tk_dims *input_dims, const int8_t *input,
                                      const tk_dims *filter_dims, const tk_dims *output_dims, int8_t *output)
{
    int32_t pixel, group, channel, i;

    if (params == NULL || filter == NULL || input_dims == NULL || input == NULL || filter_dims == NULL ||
        output_dims == NULL || output == NULL || !fast_conv_ok(params, filter) || params->depth_multiplier != 1) {
        return TK_ERR_ARGUMENT;
    }
    if (output_dims->c != input_dims->c || filter_dims->c != output_dims->c || input_dims->n != output_dims->n) {
        return TK_ERR_SHAPE;
    }
    {
        const int32_t channels = input_dims->c, full = channels / 4, groups = (channels + 3) / 4;
        const int32_t in_h = input_dims->h, in_w = input_dims->w, kh = filter_dims->h, kw = filter_dims->w;
        const int32_t low = params->activation.min, high = params->activation.max, offset = params->input_offset;
        const int32_t pixels = output_dims->n * output_dims->h * output_dims->w;
        for (pixel = 0; pixel < pixels; ++pixel) {
            const int32_t out_x = pixel % output_dims->w, out_y = (pixel / output_dims->w) % output_dims->h;
            const int32_t batch = pixel / (output_dims->w * output_dims->h);
            const int32_t in_y0 = out_y * params->stride_h - params->pad_h;
            const int32_t in_x0 = out_x * params->stride_w - params->pad_w;
            /* the filter window clipped to the input, once per pixel: no bounds checks in the tap loops */
            const int32_t y_lo = in_y0 < 0 ? -in_y0 : 0, x_lo = in_x0 < 0 ? -in_x0 : 0;
            const int32_t y_hi = in_h - in_y0 < kh ? in_h - in_y0 : kh, x_hi = in_w - in_x0 < kw ? in_w - in_x0 : kw;
            const int32_t row_taps = x_hi > x_lo ? x_hi - x_lo : 0;
            const int32_t origin = (batch * in_h + in_y0) * in_w + in_x0;  /* pixel index of tap (0, 0) */
            int8_t *out = output + pixel * channels;
            for (group = 0; group < full; ++group) {
                int32_t acc[4], filter_y;
                for (i = 0; i < 4; ++i) {
                    acc[i] = filter->bias[4 * group + i];
                }
                for (filter_y = y_lo; filter_y < y_hi; ++filter_y) {
                    tk_dw_taps(input + (origin + filter_y * in_w + x_lo) * channels + 4 * group, channels,
                               filter->weights + ((filter_y * kw + x_lo) * groups + group) * 4, 4 * groups, row_taps,
                               offset, acc);
                }
                for (i = 0; i < 4; ++i) {
                    out[4 * group + i] = tk_fast_rescale(acc[i], filter->quant + 3 * (4 * group + i), low, high);
                }
            }
            for (channel = 4 * full; channel < channels; ++channel) {  /* the last channels of a count not /4 */
                const int32_t r = channel & 3, lane = (r & 1) * 2 + (r >> 1);
                int32_t acc = filter->bias[channel], filter_y, filter_x;
                for (filter_y = y_lo; filter_y < y_hi; ++filter_y) {
                    for (filter_x = x_lo; filter_x < x_hi; ++filter_x) {
                        const int32_t x = input[(origin + filter_y * in_w + filter_x) * channels + channel] + offset;
                        acc += x * filter->weights[((filter_y * kw + filter_x) * groups + full) * 4 + lane];
                    }
                }
                out[channel] = tk_fast_rescale(acc, filter->quant + 3 * channel, low, high);
            }
        }
    }
    return TK_OK;
}
