/* SOFTMAX, int8 in, int8 out (scale 1/256, zero point -128), in integer fixed point as TFLite Micro does it:
 * differences to the row maximum in Q5.26, exp() in Q0.31, their sum in Q12.19, one reciprocal per row. */
#include "tinykd_kernels.h"
#include "tk_fixedpoint.h"

#include <stddef.h>

#define SCALED_DIFF_INTEGER_BITS 5
#define ACCUMULATION_INTEGER_BITS 12

static int32_t count_leading_zeros(uint32_t x)
{
    int32_t count = 0;
    if (x == 0) {
        return 32;
    }
    while ((x & 0x80000000u) == 0) {
        x <<= 1;
        ++count;
    }
    return count;
}

/* exp(beta * scale * diff) in Q0.31 for a difference diff <= 0 to the row maximum. */
static int32_t exp_of_difference(const tk_softmax_params *params, int32_t diff)
{
    const int32_t rescaled = tk_requantize(diff, params->input_multiplier, params->input_left_shift); /* shift >= 0 */
    return tk_fp_exp_on_negative_values(rescaled, SCALED_DIFF_INTEGER_BITS);
}

tk_status tk_softmax_s8(const tk_softmax_params *params, int32_t rows, int32_t depth, const int8_t *input,
                        int8_t *output)
{
    int32_t row, c;

    if (params == NULL || input == NULL || output == NULL || rows < 0 || depth < 1 || depth > 2048 ||
        params->input_left_shift < 0) {
        return TK_ERR_ARGUMENT;
    }
    for (row = 0; row < rows; ++row) {
        const int8_t *in = input + row * depth;
        int8_t *out = output + row * depth;
        int32_t max_in_row = TK_INT8_MIN;
        int32_t sum_of_exps = 0; /* Q12.19: depth <= 2048 terms of at most 1.0 */
        int32_t headroom, bits_over_unit, reciprocal;

        for (c = 0; c < depth; ++c) {
            max_in_row = tk_max32(max_in_row, in[c]);
        }
        for (c = 0; c < depth; ++c) {
            const int32_t diff = (int32_t)in[c] - max_in_row;
            if (diff >= params->diff_min) {
                sum_of_exps += tk_rounding_divide_by_pot(exp_of_difference(params, diff), ACCUMULATION_INTEGER_BITS);
            }
        }
        /* 1 / sum: normalise the sum into [1, 2), take 1 / (1 + x) in Q0.31, remember the power of two */
        headroom = count_leading_zeros((uint32_t)sum_of_exps);
        bits_over_unit = ACCUMULATION_INTEGER_BITS - headroom;
        reciprocal = tk_fp_one_over_one_plus_x((int32_t)(((uint32_t)sum_of_exps << headroom) - ((uint32_t)1 << 31)));
        for (c = 0; c < depth; ++c) {
            const int32_t diff = (int32_t)in[c] - max_in_row;
            if (diff >= params->diff_min) {
                const int32_t probability =
                    tk_sat_rounding_doubling_high_mul(reciprocal, exp_of_difference(params, diff));
                const int32_t scaled = tk_rounding_divide_by_pot(probability, bits_over_unit + 31 - 8);
                out[c] = (int8_t)tk_clamp32(scaled + TK_INT8_MIN, TK_INT8_MIN, TK_INT8_MAX);
            } else {
                out[c] = TK_INT8_MIN;
            }
        }
    }
    return TK_OK;
}
