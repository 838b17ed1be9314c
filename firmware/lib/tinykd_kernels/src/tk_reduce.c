/* MEAN, SUM and REDUCE_MAX over any axes (TFLM's reference reduction: raw int32 sums, then one rescale). */
#include "tinykd_kernels.h"
#include "tk_fixedpoint.h"
#include "tk_walk.h"

#include <stddef.h>

tk_status tk_reduce_s8(const tk_reduce_params *params, const int8_t *input, int8_t *output)
{
    int32_t outer_index[TK_MAX_DIMS] = {0};
    int32_t outer_count, count, outer_offset = 0;

    if (params == NULL || input == NULL || output == NULL || params->kind < TK_REDUCE_MEAN ||
        params->kind > TK_REDUCE_MAX || !tk_walk_valid(&params->outer, &outer_count) ||
        !tk_walk_valid(&params->inner, &count)) {
        return TK_ERR_ARGUMENT;
    }
    if (outer_count == 0) {
        return TK_OK;
    }
    if (count == 0) {
        return TK_ERR_SHAPE;
    }
    do {
        int32_t inner_index[TK_MAX_DIMS] = {0};
        int32_t inner_offset = 0;
        int32_t acc = params->kind == TK_REDUCE_MAX ? TK_INT8_MIN : 0; /* |sum| < 2^31 for < 2^24 elements */
        int32_t result;
        do {
            const int32_t value = input[outer_offset + inner_offset];
            if (params->kind == TK_REDUCE_MAX) {
                acc = value > acc ? value : acc;
            } else {
                acc += value;
            }
        } while (tk_walk_step(&params->inner, inner_index, &inner_offset));
        if (params->kind == TK_REDUCE_MAX) {
            result = acc;
        } else if (params->kind == TK_REDUCE_MEAN && params->divide) {
            result = acc / count; /* same quantization in and out: truncating integer mean */
        } else {
            result =
                tk_requantize(acc - count * params->input_zero_point, params->quant.multiplier, params->quant.shift) +
                params->output_zero_point;
            result = tk_clamp32(result, TK_INT8_MIN, TK_INT8_MAX);
        }
        *output++ = (int8_t)result;
    } while (tk_walk_step(&params->outer, outer_index, &outer_offset));
    return TK_OK;
}
