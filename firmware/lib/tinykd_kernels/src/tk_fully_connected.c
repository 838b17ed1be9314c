/* FULLY_CONNECTED, int8, per-tensor or per-channel requantization. */
#include "tinykd_kernels.h"
#include "tk_fixedpoint.h"

#include <stddef.h>

tk_status tk_fully_connected_s8(const tk_fc_params *params, const tk_channel_quant *quant, int32_t batches,
                                int32_t accum_depth, int32_t output_depth, const int8_t *input, const int8_t *filter,
                                const int32_t *bias, int8_t *output)
{
    int32_t batch, out_c, d;

    if (params == NULL || quant == NULL || input == NULL || filter == NULL || output == NULL ||
        params->activation.min > params->activation.max) {
        return TK_ERR_ARGUMENT;
    }
    if (batches < 1 || accum_depth < 1 || output_depth < 1) {
        return TK_ERR_SHAPE;
    }
    for (batch = 0; batch < batches; ++batch) {
        const int8_t *in_row = input + batch * accum_depth;
        for (out_c = 0; out_c < output_depth; ++out_c) {
            const int8_t *filter_row = filter + out_c * accum_depth;
            int32_t acc = 0; /* |acc| <= accum_depth * 255 * 255 (+ bias): fits int32 up to ~33k inputs */
            for (d = 0; d < accum_depth; ++d) {
                acc += ((int32_t)filter_row[d] + params->filter_offset) * ((int32_t)in_row[d] + params->input_offset);
            }
            output[batch * output_depth + out_c] =
                tk_finish_channel(acc, bias, out_c, quant, params->output_offset, &params->activation);
        }
    }
    return TK_OK;
}
