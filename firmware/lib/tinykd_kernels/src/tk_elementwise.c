/* ADD, LOGISTIC and QUANTIZE (int8 -> int8): element by element, so each may run in place. */
#include "tinykd_kernels.h"
#include "tk_fast.h"
#include "tk_fixedpoint.h"

#include <stddef.h>

tk_status tk_add_s8(const tk_add_params *params, int32_t size, const int8_t *input1, const int8_t *input2,
                    int8_t *output)
{
    int32_t i;

    if (params == NULL || input1 == NULL || input2 == NULL || output == NULL || size < 0 ||
        params->left_shift < 0 || params->left_shift > 24 || params->activation.min > params->activation.max) {
        return TK_ERR_ARGUMENT;
    }
    if (params->left_shift <= 22) {
        /* Same integers as below with each rescale's doubling high multiply done by SMMULR on the doubled value
         * ((value << left_shift) * 2 < 2^31, and the rescaled sum doubled < 2^30); see tk_fast_requantize. */
        const int32_t shift1 = params->left_shift + 1;
        for (i = 0; i < size; ++i) {
            const int32_t value1 = (params->input1_offset + input1[i]) * ((int32_t)1 << shift1);
            const int32_t value2 = (params->input2_offset + input2[i]) * ((int32_t)1 << shift1);
            const int32_t sum = tk_fast_requantize(value1, params->input1.multiplier, -params->input1.shift) +
                                tk_fast_requantize(value2, params->input2.multiplier, -params->input2.shift);
            int32_t result = tk_fast_requantize(2 * sum, params->output.multiplier, -params->output.shift);
            result += params->output_offset;
            output[i] = (int8_t)tk_clamp32(result, params->activation.min, params->activation.max);
        }
        return TK_OK;
    }
    for (i = 0; i < size; ++i) {
        /* (value - zero point) < 2^8, shifted by 20 bits: < 2^28, rescaled by multipliers <= 1/2 */
        const int32_t value1 = (params->input1_offset + input1[i]) * ((int32_t)1 << params->left_shift);
        const int32_t value2 = (params->input2_offset + input2[i]) * ((int32_t)1 << params->left_shift);
        const int32_t scaled1 = tk_requantize(value1, params->input1.multiplier, params->input1.shift);
        const int32_t scaled2 = tk_requantize(value2, params->input2.multiplier, params->input2.shift);
        int32_t result = tk_requantize(scaled1 + scaled2, params->output.multiplier, params->output.shift);
        result += params->output_offset;
        output[i] = (int8_t)tk_clamp32(result, params->activation.min, params->activation.max);
    }
    return TK_OK;
}

tk_status tk_logistic_s8(const tk_logistic_params *params, int32_t size, const int8_t *input, int8_t *output)
{
    const int32_t input_integer_bits = 4;   /* input in Q4.27 */
    const int32_t output_integer_bits = 8;  /* the Q0.31 result keeps 8 bits: scale 1/256 */
    int32_t i;

    if (params == NULL || input == NULL || output == NULL || size < 0) {
        return TK_ERR_ARGUMENT;
    }
    for (i = 0; i < size; ++i) {
        const int32_t value = (int32_t)input[i] - params->input_zero_point;
        if (value <= -params->input_range_radius) {
            output[i] = TK_INT8_MIN;
        } else if (value >= params->input_range_radius) {
            output[i] = TK_INT8_MAX;
        } else {
            const int32_t input_q4 = tk_requantize(value, params->input_multiplier, params->input_left_shift);
            const int32_t output_q0 = tk_fp_logistic(input_q4, input_integer_bits);
            const int32_t scaled = tk_rounding_divide_by_pot(output_q0, 31 - output_integer_bits);
            output[i] = (int8_t)tk_clamp32(scaled + TK_INT8_MIN, TK_INT8_MIN, TK_INT8_MAX);
        }
    }
    return TK_OK;
}

tk_status tk_requantize_s8(const tk_requantize_params *params, int32_t size, const int8_t *input,
                           int8_t *output)
{
    int32_t i;

    if (params == NULL || input == NULL || output == NULL || size < 0) {
        return TK_ERR_ARGUMENT;
    }
    for (i = 0; i < size; ++i) {
        const int32_t value = (int32_t)input[i] - params->input_zero_point;
        const int32_t result = tk_requantize(value, params->quant.multiplier, params->quant.shift);
        output[i] = (int8_t)tk_clamp32(result + params->output_zero_point, TK_INT8_MIN, TK_INT8_MAX);
    }
    return TK_OK;
}
