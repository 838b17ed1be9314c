/* DEPTHWISE_CONV_2D (depth multiplier 1, dilation 1) on weights packed offline (pipeline/compiler/pack.py):
 * four channels per pass. A 3x3 filter over a multiple of 4 channels runs a whole pixel per call
 * (tk_dw_3x3_pixel: assembly in tk_fast_dsp_asm.h, C in tk_fast.h), border pixels gathered first; other shapes
 * run the clipped-window loop (tk_dw_window, tk_fast_dsp.h or tk_fast_portable.h). Same results as the reference
 * kernel in tk_conv.c, bit for bit, for every layer the compiler packs. */
#include "tinykd_kernels.h"
#include "tk_fast.h"

#include <stddef.h>
#include <string.h>

/* A border pixel's 3x3 window, gathered with the input zero point in the padding (x + offset = 0: TFLM skips
 * those taps), takes the unrolled path too when it fits this stack buffer (up to 64 channels). */
#define TK_DW_WINDOW_BYTES 576

/* window (3 x 3 x channels) <- the taps of the pixel whose tap (0, 0) is input pixel `origin`; clip = rows
 * [y_lo, y_hi) and columns [x_lo, x_hi) inside the input. */
static void gather_3x3(const int8_t *input, const tk_dims *in, int32_t origin, const int32_t *clip, int8_t zero_point,
                       int8_t *window)
{
    const int32_t channels = in->c;
    int32_t y, x;
    for (y = 0; y < 3; ++y) {
        for (x = 0; x < 3; ++x, window += channels) {
            if (y >= clip[0] && y < clip[1] && x >= clip[2] && x < clip[3]) {
                memcpy(window, input + (origin + y * in->w + x) * channels, (size_t)channels);
            } else {
                memset(window, zero_point, (size_t)channels);
            }
        }
    }
}

/* The channels of a count not a multiple of 4 left after the groups of 4, one at a time. */
static void last_channels(const tk_conv_params *params, const tk_packed_filter *filter, const tk_dims *in,
                          const int8_t *input, int32_t kw, int32_t origin, const int32_t *window, int8_t *out)
{
    const int32_t channels = in->c, full = channels / 4, groups = (channels + 3) / 4;
    int32_t channel, filter_y, filter_x;
    for (channel = 4 * full; channel < channels; ++channel) {
        const int32_t r = channel & 3, lane = (r & 1) * 2 + (r >> 1);
        int32_t acc = filter->bias[channel];
        for (filter_y = window[0]; filter_y < window[1]; ++filter_y) {
            for (filter_x = window[2]; filter_x < window[3]; ++filter_x) {
                const int32_t x = input[(origin + filter_y * in->w + filter_x) * channels + channel];
                acc += (x + params->input_offset) *
                       filter->weights[((filter_y * kw + filter_x) * groups + full) * 4 + lane];
            }
        }
        out[channel] =
            tk_fast_rescale(acc, filter->quant + 3 * channel, params->activation.min, params->activation.max);
    }
}

tk_status tk_depthwise_conv2d_fast_s8(const tk_conv_params *params, const tk_packed_filter *filter,
                                      const tk_dims *input_dims, const int8_t *input, const tk_dims *filter_dims,
                                      const tk_dims *output_dims, int8_t *output)
{
    if (params == NULL || filter == NULL || input_dims == NULL || input == NULL || filter_dims == NULL ||
        output_dims == NULL || output == NULL || !tk_fast_conv_ok(params, filter) || params->depth_multiplier != 1) {
        return TK_ERR_ARGUMENT;
    }
    if (output_dims->c != input_dims->c || filter_dims->c != output_dims->c || input_dims->n != output_dims->n) {
        return TK_ERR_SHAPE;
    }
    {
        const int32_t channels = input_dims->c, full = channels / 4, groups = (channels + 3) / 4;
        const int32_t in_h = input_dims->h, in_w = input_dims->w, kh = filter_dims->h, kw = filter_dims->w;
        const int32_t offset = params->input_offset, row_step = in_w * channels, tap_words = groups * 4;
        const int32_t low4 = tk_bytes4(params->activation.min), high4 = tk_bytes4(params->activation.max);
        const int whole_3x3 = kh == 3 && kw == 3 && !(channels & 3);
        /* int16 values from a tap's weights to the next, and from a group's to the next (tk_fast.h) */
        const int32_t tap_step = whole_3x3 ? 4 : tap_words, group_step = whole_3x3 ? TK_DW3_GROUP : 4;
        const int gather = whole_3x3 && 9 * channels <= TK_DW_WINDOW_BYTES;
        int32_t window_words[TK_DW_WINDOW_BYTES / 4]; /* word-aligned */
        tk_dw_job job, gathered;
        int32_t batch, out_y, out_x, group;
        int8_t *out = output;
        job.row_step = row_step;
        job.channels = channels;
        job.offsets = tk_offset_pair(offset);
        job.low4 = low4;
        job.high4 = high4;
        job.bias = filter->bias;
        job.quant = filter->quant;
        job.groups = full;
        gathered = job;
        gathered.row_step = 3 * channels;

        for (batch = 0; batch < output_dims->n; ++batch) {
            for (out_y = 0; out_y < output_dims->h; ++out_y) {
                const int32_t in_y0 = out_y * params->stride_h - params->pad_h;
                const int32_t y_lo = in_y0 < 0 ? -in_y0 : 0, y_hi = in_h - in_y0 < kh ? in_h - in_y0 : kh;
                for (out_x = 0; out_x < output_dims->w; ++out_x, out += channels) {
                    const int32_t in_x0 = out_x * params->stride_w - params->pad_w;
                    /* the filter window clipped to the input, once per pixel: no bounds checks in the tap loops */
                    const int32_t x_lo = in_x0 < 0 ? -in_x0 : 0, x_hi = in_w - in_x0 < kw ? in_w - in_x0 : kw;
                    const int32_t window[4] = {y_lo, y_hi, x_lo, x_hi};
                    const int32_t origin = (batch * in_h + in_y0) * in_w + in_x0; /* pixel of tap (0, 0) */
                    const int32_t rows = y_hi - y_lo, cols = x_hi > x_lo ? x_hi - x_lo : 0;
                    const int inside = rows > 0 && cols > 0; /* else the window misses the input: bias only */
                    /* the first tap inside the window (the input itself when there is none) */
                    const int8_t *x = input + (inside ? (origin + y_lo * in_w + x_lo) * channels : 0);
                    const int16_t *w = filter->weights + (inside ? (y_lo * kw + x_lo) * tap_step : 0);
                    const int32_t *bias = filter->bias, *quant = filter->quant;
                    if (whole_3x3 && rows == 3 && cols == 3) { /* inside the input: every group in assembly */
                        tk_dw_3x3_pixel(x, w, &job, out);
                        continue;
                    }
                    if (gather && inside) { /* on the border: gathered, then the same */
                        gather_3x3(input, input_dims, origin, window, (int8_t)(-offset), (int8_t *)window_words);
                        tk_dw_3x3_pixel((const int8_t *)window_words, filter->weights, &gathered, out);
                        continue;
                    }
                    for (group = 0; group < full; ++group, x += 4, w += group_step, bias += 4, quant += 12) {
                        int32_t acc[4];
                        acc[0] = bias[0];
                        acc[1] = bias[1];
                        acc[2] = bias[2];
                        acc[3] = bias[3];
                        if (inside) {
                            tk_dw_window(x, row_step, channels, w, kw * tap_step, tap_step, rows, cols, offset, acc);
                        }
                        tk_fast_rescale4(acc, quant, out + 4 * group, low4, high4);
                    }
                    if (channels & 3) {
                        last_channels(params, filter, input_dims, input, kw, origin, window, out);
                    }
                }
            }
        }
    }
    return TK_OK;
}
