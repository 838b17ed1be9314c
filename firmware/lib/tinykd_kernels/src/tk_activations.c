/* Activations as separate operators: RELU / RELU6, LEAKY_RELU, HARD_SWISH (TANH: tk_elementwise.c, next to
 * LOGISTIC), and DEQUANTIZE (int8 -> float).
 * Element by element, so each may run in place. */
#include "tinykd_kernels.h"
#include "tk_fixedpoint.h"

#include <stddef.h>

tk_status tk_relu_s8(const tk_relu_params *params, int32_t size, const int8_t *input, int8_t *output)
{
    int32_t i;

    if (params == NULL || input == NULL || output == NULL || size < 0) {
        return TK_ERR_ARGUMENT;
    }
    for (i = 0; i < size; ++i) {
        const int32_t value =
            tk_requantize((int32_t)input[i] - params->input_zero_point, params->quant.multiplier, params->quant.shift) +
            params->output_zero_point;
        output[i] = (int8_t)tk_clamp32(value, params->activation.min, params->activation.max);
    }
    return TK_OK;
}

tk_status tk_leaky_relu_s8(const tk_leaky_relu_params *params, int32_t size, const int8_t *input, int8_t *output)
{
    int32_t i;

    if (params == NULL || input == NULL || output == NULL || size < 0) {
        return TK_ERR_ARGUMENT;
    }
    for (i = 0; i < size; ++i) {
        const int32_t value = (int32_t)input[i] - params->input_zero_point;
        int32_t result;
        if (value >= 0) {
            result = tk_requantize(value, params->identity.multiplier, params->identity.shift);
        } else {
            result = tk_requantize(value, params->alpha.multiplier, params->alpha.shift);
            result = params->alpha_negative ? -result : result;
        }
        output[i] = (int8_t)tk_clamp32(result + params->output_zero_point, TK_INT8_MIN, TK_INT8_MAX);
    }
    return TK_OK;
}

/* int16 fixed-point helpers of HARD_SWISH (gemmlowp's, on 16 bits). */
static int32_t sat_rounding_doubling_high_mul16(int32_t a, int32_t b)
{
    const int32_t product = a * b;
    const int32_t nudge = product >= 0 ? (1 << 14) : (1 - (1 << 14));
    if (a == INT16_MIN && b == INT16_MIN) {
        return INT16_MAX;
    }
    return (product + nudge) / (1 << 15); /* truncating division, as in C++ */
}

static int32_t sat_doubling_high_mul16(int32_t a, int32_t b) /* without rounding */
{
    if (a == INT16_MIN && b == INT16_MIN) {
        return INT16_MAX;
    }
    return (a * b) / (1 << 15);
}

static int32_t sat_left_shift16(int32_t value, int32_t amount)
{
    return tk_clamp32(value * (1 << amount), INT16_MIN, INT16_MAX);
}

tk_status tk_hard_swish_s8(const tk_hard_swish_params *params, int32_t size, const int8_t *input, int8_t *output)
{
    int32_t i;

    if (params == NULL || input == NULL || output == NULL || size < 0 || params->output_exponent > 0 ||
        params->output_exponent < -31 || params->reluish_exponent > 15 || params->reluish_exponent < -31) {
        return TK_ERR_ARGUMENT;
    }
    for (i = 0; i < size; ++i) {
        const int32_t hires = ((int32_t)input[i] - params->input_zero_point) * 128; /* x on scale / 128 */
        const int32_t preshift = sat_rounding_doubling_high_mul16(hires, params->output_multiplier);
        int32_t reluish = hires; /* relu6(x + 3) / 6 mapped to [-1, 1] in Q15, then to [0, 1] */
        int32_t result;
        if (params->reluish_exponent > 0) {
            reluish = sat_left_shift16(reluish, params->reluish_exponent - 1);
        }
        reluish = sat_rounding_doubling_high_mul16(reluish, params->reluish_multiplier);
        if (params->reluish_exponent > 0) {
            reluish = sat_left_shift16(reluish, 1);
        }
        if (params->reluish_exponent < 0) {
            reluish = tk_rounding_divide_by_pot(reluish, -params->reluish_exponent);
        }
        reluish = (reluish + (1 << 15)) >> 1;
        result = tk_rounding_divide_by_pot(sat_doubling_high_mul16(reluish, preshift), -params->output_exponent);
        result = (int16_t)(result + params->output_zero_point); /* an int16 sum, as in TFLM */
        output[i] = (int8_t)tk_clamp32(result, TK_INT8_MIN, TK_INT8_MAX);
    }
    return TK_OK;
}

tk_status tk_dequantize_s8(const tk_dequantize_params *params, int32_t size, const int8_t *input, float *output)
{
    int32_t i;

    if (params == NULL || input == NULL || output == NULL || size < 0) {
        return TK_ERR_ARGUMENT;
    }
    for (i = 0; i < size; ++i) {
        /* TFLM rounds the double product once to float; it is exact in double (24 x 9 bits), so one float
         * multiply gives the same value */
        output[i] = params->scale * (float)((int32_t)input[i] - params->zero_point);
    }
    return TK_OK;
}
