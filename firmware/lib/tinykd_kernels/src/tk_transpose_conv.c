/* TRANSPOSE_CONV: TFLM's reference scatter. Every input pixel adds (input + offset) * filter into the int32
 * accumulators of the output pixels under the filter; then bias, per-channel rescale, clamp. */
#include "tinykd_kernels.h"
#include "tk_fixedpoint.h"

#include <stddef.h>
#include <string.h>

tk_status tk_transpose_conv2d_s8(const tk_transpose_conv_params *params, const tk_channel_quant *quant,
                                 const tk_dims *input_dims, const int8_t *input, const tk_dims *filter_dims,
                                 const int8_t *filter, const int32_t *bias, const tk_dims *output_dims, int8_t *output,
                                 void *scratch)
{
    int32_t *acc = (int32_t *)scratch;
    int32_t b, y, x, c, fy, fx, oc, i;

    if (params == NULL || quant == NULL || input_dims == NULL || input == NULL || filter_dims == NULL ||
        filter == NULL || output_dims == NULL || output == NULL || scratch == NULL || params->stride_h < 1 ||
        params->stride_w < 1) {
        return TK_ERR_ARGUMENT;
    }
    if (filter_dims->c != input_dims->c || filter_dims->n != output_dims->c || input_dims->n != output_dims->n) {
        return TK_ERR_SHAPE;
    }
    memset(acc, 0,
           sizeof(int32_t) * (size_t)output_dims->n * (size_t)output_dims->h * (size_t)output_dims->w *
               (size_t)output_dims->c);
    for (b = 0; b < input_dims->n; ++b) {
        for (y = 0; y < input_dims->h; ++y) {
            for (x = 0; x < input_dims->w; ++x) {
                const int8_t *pixel = input + ((b * input_dims->h + y) * input_dims->w + x) * input_dims->c;
                const int32_t top = y * params->stride_h - params->pad_h;
                const int32_t left = x * params->stride_w - params->pad_w;
                for (fy = 0; fy < filter_dims->h; ++fy) {
                    const int32_t out_y = top + fy;
                    if (out_y < 0 || out_y >= output_dims->h) {
                        continue;
                    }
                    for (fx = 0; fx < filter_dims->w; ++fx) {
                        const int32_t out_x = left + fx;
                        int32_t *sums;
                        if (out_x < 0 || out_x >= output_dims->w) {
                            continue;
                        }
                        sums = acc + ((b * output_dims->h + out_y) * output_dims->w + out_x) * output_dims->c;
                        for (oc = 0; oc < output_dims->c; ++oc) {
                            const int8_t *taps =
                                filter + ((oc * filter_dims->h + fy) * filter_dims->w + fx) * filter_dims->c;
                            int32_t sum = 0;
                            for (c = 0; c < input_dims->c; ++c) {
                                sum += ((int32_t)pixel[c] + params->input_offset) * taps[c];
                            }
                            sums[oc] += sum;
                        }
                    }
                }
            }
        }
    }
    for (i = 0; i < output_dims->n * output_dims->h * output_dims->w; ++i) {
        for (oc = 0; oc < output_dims->c; ++oc) {
            output[i * output_dims->c + oc] = tk_finish_channel(acc[i * output_dims->c + oc], bias, oc, quant,
                                                                params->output_offset, &params->activation);
        }
    }
    return TK_OK;
}
