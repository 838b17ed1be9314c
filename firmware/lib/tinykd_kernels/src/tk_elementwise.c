/* ADD, LOGISTIC, TANH and QUANTIZE (int8 -> int8): element by element, so each may run in place. */
#include "tinykd_kernels.h"
#include "tk_fast.h"
#include "tk_fixedpoint.h"

#include <stddef.h>

/* TFLM's int8 ADD gives the input with the larger scale the multiplier 1/2 (2^30, shift 0): its rescale is
 * exact, (x + offset) << (left_shift - 1). When the other input's right shift is >= 1, the loop below computes
 * the same integers as the general loops of tk_add_s8 with every parameter in a register: the x << s + base
 * products by MLA, the output zero point folded into the last rounding nudge ((t + nudge + zp * 2^shift) >>
 * shift = ((t + nudge) >> shift) + zp, no overflow: |zp| * 2^22 + |t| < 2^31). */
static inline void add_loop(const int8_t *a, int32_t offset_a, const int8_t *b, int32_t offset_b, tk_quant quant_b,
                            int8_t *output, int32_t size, const tk_add_params *params, int full_range)
{
    const int32_t scale_a = (int32_t)1 << params->left_shift; /* 2 * (exact half rescale), doubled */
    const int32_t scale_b = (int32_t)1 << (params->left_shift + 1);
    const int32_t base_a = offset_a * scale_a, base_b = offset_b * scale_b;
    const int32_t mb = quant_b.multiplier, rsb = -quant_b.shift, nb = (int32_t)1 << (rsb - 1);
    const int32_t mo = params->output.multiplier, rso = -params->output.shift;
    const int32_t no = ((int32_t)1 << (rso - 1)) + params->output_offset * ((int32_t)1 << rso);
    const int32_t low = params->activation.min, high = params->activation.max;
    const int8_t *end = a + size;
    while (a != end) {
        const int32_t twice_a = *a++ * scale_a + base_a;
        const int32_t tb = tk_smmulr(*b++ * scale_b + base_b, mb);
        const int32_t twice_sum = twice_a + 2 * ((tb + (tb >> 31) + nb) >> rsb);
        const int32_t t = tk_smmulr(twice_sum, mo);
        int32_t result = tk_ssat8((t + (t >> 31) + no) >> rso);
        if (!full_range) {
            result = result < low ? low : (result > high ? high : result);
        }
        *output++ = (int8_t)result;
    }
}

/* The fast ADD when it applies (see add_loop); returns 0 when it does not. */
static int add_half_rescaled(const tk_add_params *params, int32_t size, const int8_t *input1, const int8_t *input2,
                             int8_t *output)
{
    const int8_t *a = input1, *b = input2;
    int32_t offset_a = params->input1_offset, offset_b = params->input2_offset;
    const tk_quant *quant_a = &params->input1, *quant_b = &params->input2;
    if (params->left_shift < 2 || params->left_shift > 22 || params->output.shift > -1 || params->output.shift < -22) {
        return 0;
    }
    if (!(quant_a->multiplier == (1 << 30) && quant_a->shift == 0)) { /* input 2 must be the exact half */
        a = input2, b = input1;
        offset_a = params->input2_offset, offset_b = params->input1_offset;
        quant_a = &params->input2, quant_b = &params->input1;
        if (!(quant_a->multiplier == (1 << 30) && quant_a->shift == 0)) {
            return 0;
        }
    }
    if (quant_b->shift > -1) {
        return 0;
    }
    if (params->activation.min == -128 && params->activation.max == 127) { /* SSAT is the whole clamp */
        add_loop(a, offset_a, b, offset_b, *quant_b, output, size, params, 1);
    } else {
        add_loop(a, offset_a, b, offset_b, *quant_b, output, size, params, 0);
    }
    return 1;
}

tk_status tk_add_s8(const tk_add_params *params, int32_t size, const int8_t *input1, const int8_t *input2,
                    int8_t *output)
{
    int32_t i;

    if (params == NULL || input1 == NULL || input2 == NULL || output == NULL || size < 0 || params->left_shift < 0 ||
        params->left_shift > 24 || params->activation.min > params->activation.max) {
        return TK_ERR_ARGUMENT;
    }
    if (add_half_rescaled(params, size, input1, input2, output)) {
        return TK_OK;
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

/* LOGISTIC and TANH: the input rescaled to Q4.27 (saturated beyond the radius), gemmlowp's function of it in
 * Q0.31, rounded to `output_bits` fraction bits and shifted by `output_offset`. */
static void fixed_point_curve(int32_t zero_point, int32_t radius, int32_t multiplier, int32_t left_shift,
                              int32_t (*curve)(int32_t, int32_t), int32_t output_bits, int32_t output_offset,
                              int32_t size, const int8_t *input, int8_t *output)
{
    const int32_t input_integer_bits = 4;
    int32_t i;

    for (i = 0; i < size; ++i) {
        const int32_t value = (int32_t)input[i] - zero_point;
        if (value <= -radius) {
            output[i] = TK_INT8_MIN;
        } else if (value >= radius) {
            output[i] = TK_INT8_MAX;
        } else {
            const int32_t input_q4 = tk_requantize(value, multiplier, left_shift);
            const int32_t scaled = tk_rounding_divide_by_pot(curve(input_q4, input_integer_bits), 31 - output_bits);
            output[i] = (int8_t)tk_clamp32(scaled + output_offset, TK_INT8_MIN, TK_INT8_MAX);
        }
    }
}

tk_status tk_logistic_s8(const tk_logistic_params *params, int32_t size, const int8_t *input, int8_t *output)
{
    if (params == NULL || input == NULL || output == NULL || size < 0) {
        return TK_ERR_ARGUMENT;
    }
    /* output scale 1/256, zero point -128 */
    fixed_point_curve(params->input_zero_point, params->input_range_radius, params->input_multiplier,
                      params->input_left_shift, tk_fp_logistic, 8, TK_INT8_MIN, size, input, output);
    return TK_OK;
}

tk_status tk_tanh_s8(const tk_tanh_params *params, int32_t size, const int8_t *input, int8_t *output)
{
    if (params == NULL || input == NULL || output == NULL || size < 0) {
        return TK_ERR_ARGUMENT;
    }
    /* output scale 1/128, zero point 0 */
    fixed_point_curve(params->input_zero_point, params->input_range_radius, params->input_multiplier,
                      params->input_left_shift, tk_fp_tanh, 7, 0, size, input, output);
    return TK_OK;
}

tk_status tk_requantize_s8(const tk_requantize_params *params, int32_t size, const int8_t *input, int8_t *output)
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
