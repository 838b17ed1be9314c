/*
 * Integer fixed-point arithmetic shared by the kernels: the rounding rules of TFLite Micro's rescale
 * (MultiplyByQuantizedMultiplier, double rounding) and of gemmlowp's Q-format helpers that its int8
 * SOFTMAX and LOGISTIC are built on. A raw int32 value in Qm.n stands for raw / 2^n (m + n = 31).
 */
#ifndef TK_FIXEDPOINT_H
#define TK_FIXEDPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "tinykd_kernels.h"

#define TK_INT8_MIN (-128)
#define TK_INT8_MAX 127

static inline int32_t tk_min32(int32_t a, int32_t b) { return a < b ? a : b; }
static inline int32_t tk_max32(int32_t a, int32_t b) { return a > b ? a : b; }
static inline int32_t tk_clamp32(int32_t x, int32_t lo, int32_t hi) { return tk_min32(tk_max32(x, lo), hi); }

/* round(a * b / 2^31), halves away from zero, saturating the one overflow (-2^31 * -2^31). */
static inline int32_t tk_sat_rounding_doubling_high_mul(int32_t a, int32_t b)
{
    const int64_t product = (int64_t)a * (int64_t)b;
    const int64_t nudge = product >= 0 ? ((int64_t)1 << 30) : (1 - ((int64_t)1 << 30));
    if (a == INT32_MIN && b == INT32_MIN) {
        return INT32_MAX;
    }
    return (int32_t)((product + nudge) / ((int64_t)1 << 31));
}

/* x / 2^exponent rounded to nearest, halves away from zero; exponent in [0, 31]. */
static inline int32_t tk_rounding_divide_by_pot(int32_t x, int32_t exponent)
{
    const int32_t mask = (int32_t)(((int64_t)1 << exponent) - 1);
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/* x * 2^exponent, saturating to int32 for exponent > 0, rounding for exponent < 0. */
static inline int32_t tk_sat_rounding_mul_by_pot(int32_t x, int32_t exponent)
{
    if (exponent > 0) {
        const int32_t threshold = (int32_t)(((int64_t)1 << (31 - exponent)) - 1);
        if (x > threshold) {
            return INT32_MAX;
        }
        if (x < -threshold) {
            return INT32_MIN;
        }
        return (int32_t)((uint32_t)x << exponent);
    }
    return exponent < 0 ? tk_rounding_divide_by_pot(x, -exponent) : x;
}

/* x * multiplier * 2^(shift - 31): TFLite's MultiplyByQuantizedMultiplier (left shift, then two roundings). */
static inline int32_t tk_requantize(int32_t x, int32_t multiplier, int32_t shift)
{
    const int32_t left_shift = shift > 0 ? shift : 0;
    const int32_t right_shift = shift > 0 ? 0 : -shift;
    const int32_t shifted = (int32_t)((int64_t)x * ((int64_t)1 << left_shift));
    return tk_rounding_divide_by_pot(tk_sat_rounding_doubling_high_mul(shifted, multiplier), right_shift);
}

/* Output channel `channel`'s int8 value from its accumulator in the reference kernels (CONV_2D, DEPTHWISE_CONV_2D,
 * FULLY_CONNECTED): bias, TFLM's rescale (per-tensor or per-channel), output zero point, activation clamp. */
static inline int8_t tk_finish_channel(int32_t acc, const int32_t *bias, int32_t channel, const tk_channel_quant *quant,
                                       int32_t output_offset, const tk_activation *activation)
{
    const int32_t q = quant->per_channel ? channel : 0;
    if (bias != NULL) {
        acc += bias[channel];
    }
    acc = tk_requantize(acc, quant->multiplier[q], quant->shift[q]) + output_offset;
    return (int8_t)tk_clamp32(acc, activation->min, activation->max);
}

/* (a + b) / 2 rounded away from zero, without overflow. */
static inline int32_t tk_rounding_half_sum(int32_t a, int32_t b)
{
    const int64_t sum = (int64_t)a + (int64_t)b;
    const int64_t sign = sum >= 0 ? 1 : -1;
    return (int32_t)((sum + sign) / 2);
}

/* Q0.31 results of the functions below; 1.0 is represented by INT32_MAX. */
int32_t tk_fp_exp_on_negative_values(int32_t a, int32_t integer_bits); /* a <= 0 in Q(ib).(31-ib) */
int32_t tk_fp_one_over_one_plus_x(int32_t a);                          /* a in [0, 1) in Q0.31 */
int32_t tk_fp_logistic(int32_t a, int32_t integer_bits);               /* a in Q(ib).(31-ib) */
int32_t tk_fp_tanh(int32_t a, int32_t integer_bits);                   /* a in Q(ib).(31-ib) */

#endif /* TK_FIXEDPOINT_H */
