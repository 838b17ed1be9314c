/* CONV_2D and DEPTHWISE_CONV_2D, int8 with per-channel requantization (TFLM reference loop order).
 * Contract the memory planner relies on (pipeline/compiler/planner.py, overlap_shift): output rows are written in
 * order, and while output row out_y is written only input rows >= out_y * stride_h - pad_h are read. So the output
 * may overlap the input when it starts far enough below it; keep this loop order. */
#include "tinykd_kernels.h"
#include "tk_fixedpoint.h"

#include <stddef.h>

static int conv_params_ok(const tk_conv_params *p)
{
    return p->stride_h >= 1 && p->stride_w >= 1 && p->dilation_h >= 1 && p->dilation_w >= 1 && p->pad_h >= 0 &&
           p->pad_w >= 0 && p->activation.min <= p->activation.max;
}

tk_status tk_conv2d_s8(const tk_conv_params *params, const tk_channel_quant *quant, const tk_dims *input_dims,
                       const int8_t *input, const tk_dims *filter_dims, const int8_t *filter, const int32_t *bias,
                       const tk_dims *output_dims, int8_t *output)
{
    int32_t batch, out_y, out_x, out_c, filter_y, filter_x, in_c;

    if (params == NULL || quant == NULL || input_dims == NULL || input == NULL || filter_dims == NULL ||
        filter == NULL || output_dims == NULL || output == NULL || !conv_params_ok(params)) {
        return TK_ERR_ARGUMENT;
    }
    if (filter_dims->c != input_dims->c || filter_dims->n != output_dims->c || input_dims->n != output_dims->n) {
        return TK_ERR_SHAPE;
    }
    {
        const int32_t input_h = input_dims->h, input_w = input_dims->w, input_c = input_dims->c;
        const int32_t filter_h = filter_dims->h, filter_w = filter_dims->w;
        const int32_t output_h = output_dims->h, output_w = output_dims->w, output_c = output_dims->c;
        const int32_t input_offset = params->input_offset;

        for (batch = 0; batch < output_dims->n; ++batch) {
            for (out_y = 0; out_y < output_h; ++out_y) {
                const int32_t in_y_origin = out_y * params->stride_h - params->pad_h;
                for (out_x = 0; out_x < output_w; ++out_x) {
                    const int32_t in_x_origin = out_x * params->stride_w - params->pad_w;
                    for (out_c = 0; out_c < output_c; ++out_c) {
                        /* |acc| <= kh * kw * in_c * 255 * 128 (+ bias): fits int32 up to ~65k taps */
                        int32_t acc = 0;
                        for (filter_y = 0; filter_y < filter_h; ++filter_y) {
                            const int32_t in_y = in_y_origin + params->dilation_h * filter_y;
                            if (in_y < 0 || in_y >= input_h) {
                                continue; /* padding: contributes (zero point - zero point) * w = 0 */
                            }
                            for (filter_x = 0; filter_x < filter_w; ++filter_x) {
                                const int32_t in_x = in_x_origin + params->dilation_w * filter_x;
                                const int8_t *in_row;
                                const int8_t *filter_row;
                                if (in_x < 0 || in_x >= input_w) {
                                    continue;
                                }
                                in_row = input + ((batch * input_h + in_y) * input_w + in_x) * input_c;
                                filter_row = filter + ((out_c * filter_h + filter_y) * filter_w + filter_x) * input_c;
                                for (in_c = 0; in_c < input_c; ++in_c) {
                                    acc += (int32_t)filter_row[in_c] * ((int32_t)in_row[in_c] + input_offset);
                                }
                            }
                        }
                        output[((batch * output_h + out_y) * output_w + out_x) * output_c + out_c] =
                            tk_finish_channel(acc, bias, out_c, quant, params->output_offset, &params->activation);
                    }
                }
            }
        }
    }
    return TK_OK;
}

tk_status tk_depthwise_conv2d_s8(const tk_conv_params *params, const tk_channel_quant *quant, const tk_dims *input_dims,
                                 const int8_t *input, const tk_dims *filter_dims, const int8_t *filter,
                                 const int32_t *bias, const tk_dims *output_dims, int8_t *output)
{
    int32_t batch, out_y, out_x, in_c, m, filter_y, filter_x;

    if (params == NULL || quant == NULL || input_dims == NULL || input == NULL || filter_dims == NULL ||
        filter == NULL || output_dims == NULL || output == NULL || !conv_params_ok(params) ||
        params->depth_multiplier < 1) {
        return TK_ERR_ARGUMENT;
    }
    if (output_dims->c != input_dims->c * params->depth_multiplier || filter_dims->c != output_dims->c ||
        input_dims->n != output_dims->n) {
        return TK_ERR_SHAPE;
    }
    {
        const int32_t input_h = input_dims->h, input_w = input_dims->w, input_c = input_dims->c;
        const int32_t filter_h = filter_dims->h, filter_w = filter_dims->w;
        const int32_t output_h = output_dims->h, output_w = output_dims->w, output_c = output_dims->c;
        const int32_t depth_multiplier = params->depth_multiplier;

        for (batch = 0; batch < output_dims->n; ++batch) {
            for (out_y = 0; out_y < output_h; ++out_y) {
                const int32_t in_y_origin = out_y * params->stride_h - params->pad_h;
                for (out_x = 0; out_x < output_w; ++out_x) {
                    const int32_t in_x_origin = out_x * params->stride_w - params->pad_w;
                    for (in_c = 0; in_c < input_c; ++in_c) {
                        for (m = 0; m < depth_multiplier; ++m) {
                            const int32_t out_c = m + in_c * depth_multiplier;
                            int32_t acc = 0; /* |acc| <= kh * kw * 255 * 128 (+ bias) */
                            for (filter_y = 0; filter_y < filter_h; ++filter_y) {
                                const int32_t in_y = in_y_origin + params->dilation_h * filter_y;
                                if (in_y < 0 || in_y >= input_h) {
                                    continue;
                                }
                                for (filter_x = 0; filter_x < filter_w; ++filter_x) {
                                    const int32_t in_x = in_x_origin + params->dilation_w * filter_x;
                                    int32_t input_val, filter_val;
                                    if (in_x < 0 || in_x >= input_w) {
                                        continue;
                                    }
                                    input_val = input[((batch * input_h + in_y) * input_w + in_x) * input_c + in_c];
                                    filter_val = filter[(filter_y * filter_w + filter_x) * output_c + out_c];
                                    acc += filter_val * (input_val + params->input_offset);
                                }
                            }
                            output[((batch * output_h + out_y) * output_w + out_x) * output_c + out_c] =
                                tk_finish_channel(acc, bias, out_c, quant, params->output_offset, &params->activation);
                        }
                    }
                }
            }
        }
    }
    return TK_OK;
}
