/*
 * exp, 1/(1+x) and the logistic function in Q-format integers, following the algorithms of gemmlowp's
 * fixedpoint.h (a Taylor polynomial around -1/8 plus a barrel shifter of exp(-2^k) constants; Newton-Raphson
 * for the reciprocal), which TFLite Micro's int8 SOFTMAX and LOGISTIC use. The constants are those values
 * rounded to Q0.31 or Q2.29, so results match bit for bit.
 */
#include "tk_fixedpoint.h"

/* Raw value of 1.0 in Q0.31 (saturated) and of a Q2.29 one. */
#define TK_Q0_ONE INT32_MAX
#define TK_Q2_ONE ((int32_t)1 << 29)

/* exp(a) for a in [-1/4, 0), a in Q0.31. */
static int32_t exp_on_interval_minus_quarter_to_zero(int32_t a)
{
    const int32_t exp_minus_one_eighth = 1895147668; /* exp(-1/8) in Q0.31 */
    const int32_t one_third = 715827883;             /* 1/3 in Q0.31 */
    const int32_t x = a + ((int32_t)1 << 28);        /* x = a + 1/8: expand around -1/8 */
    const int32_t x2 = tk_sat_rounding_doubling_high_mul(x, x);
    const int32_t x3 = tk_sat_rounding_doubling_high_mul(x2, x);
    const int32_t x4 = tk_sat_rounding_doubling_high_mul(x2, x2);
    const int32_t x4_over_4 = tk_sat_rounding_mul_by_pot(x4, -2);
    const int32_t poly = tk_sat_rounding_mul_by_pot(tk_sat_rounding_doubling_high_mul(x4_over_4 + x3, one_third) + x2,
                                                    -1); /* x^4/24 + x^3/6 + x^2/2 */
    return exp_minus_one_eighth + tk_sat_rounding_doubling_high_mul(exp_minus_one_eighth, x + poly);
}

int32_t tk_fp_exp_on_negative_values(int32_t a, int32_t integer_bits)
{
    /* exp(-2^k) in Q0.31 for k = -2 .. 4 */
    static const int32_t exp_minus_pow2[7] = {1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242};
    const int32_t fractional_bits = 31 - integer_bits;
    const int32_t one_quarter = (int32_t)1 << (fractional_bits - 2);
    const int32_t mask = one_quarter - 1;
    const int32_t a_mod_quarter_minus_quarter = (a & mask) - one_quarter;
    const int32_t remainder = a_mod_quarter_minus_quarter - a; /* the multiples of 1/4 still to apply */
    int32_t result =
        exp_on_interval_minus_quarter_to_zero(tk_sat_rounding_mul_by_pot(a_mod_quarter_minus_quarter, integer_bits));
    int32_t k;

    for (k = -2; k <= 4; ++k) {
        if (integer_bits > k && (remainder & ((int32_t)1 << (fractional_bits + k))) != 0) {
            result = tk_sat_rounding_doubling_high_mul(result, exp_minus_pow2[k + 2]);
        }
    }
    return a == 0 ? TK_Q0_ONE : result;
}

int32_t tk_fp_one_over_one_plus_x(int32_t a)
{
    const int32_t half_denominator = tk_rounding_half_sum(a, TK_Q0_ONE); /* (1 + a) / 2 in Q0.31 */
    const int32_t c48_over_17 = 1515870810;                              /* 48/17 in Q2.29 */
    const int32_t cneg32_over_17 = -1010580540;                          /* -32/17 in Q2.29 */
    int32_t x = c48_over_17 + tk_sat_rounding_doubling_high_mul(half_denominator, cneg32_over_17);
    int32_t iteration;

    for (iteration = 0; iteration < 3; ++iteration) { /* Newton-Raphson: x += x * (1 - d * x) */
        const int32_t half_denominator_times_x = tk_sat_rounding_doubling_high_mul(half_denominator, x);
        const int32_t one_minus = TK_Q2_ONE - half_denominator_times_x;
        x = x + tk_sat_rounding_mul_by_pot(tk_sat_rounding_doubling_high_mul(x, one_minus), 2);
    }
    return tk_sat_rounding_mul_by_pot(x, 1); /* x / 2 read in Q1.30, rescaled to Q0.31 */
}

int32_t tk_fp_logistic(int32_t a, int32_t integer_bits)
{
    const int32_t abs_a = a > 0 ? a : -a;
    const int32_t positive = tk_fp_one_over_one_plus_x(tk_fp_exp_on_negative_values(-abs_a, integer_bits));

    if (a == 0) {
        return (int32_t)1 << 30; /* 0.5 */
    }
    return a > 0 ? positive : TK_Q0_ONE - positive;
}

/* (1 - a) / (1 + a) for a in [0, 1) in Q0.31: Newton-Raphson on the half denominator, in Q2.29 (as gemmlowp). */
static int32_t one_minus_x_over_one_plus_x(int32_t a)
{
    const int32_t half_denominator = tk_rounding_half_sum(a, TK_Q0_ONE);
    const int32_t c48_over_17 = 1515870810;     /* 48/17 in Q2.29 */
    const int32_t cneg32_over_17 = -1010580540; /* -32/17 in Q2.29 */
    int32_t x = c48_over_17 + tk_sat_rounding_doubling_high_mul(half_denominator, cneg32_over_17);
    int32_t iteration;

    for (iteration = 0; iteration < 3; ++iteration) {
        const int32_t half_denominator_times_x = tk_sat_rounding_doubling_high_mul(half_denominator, x);
        const int32_t one_minus = TK_Q2_ONE - half_denominator_times_x;
        x = x + tk_sat_rounding_mul_by_pot(tk_sat_rounding_doubling_high_mul(x, one_minus), 2);
    }
    return tk_sat_rounding_mul_by_pot(x - TK_Q2_ONE, 2); /* 1/d - 1 in Q2.29, rescaled to Q0.31 */
}

int32_t tk_fp_tanh(int32_t a, int32_t integer_bits)
{
    /* tanh(|a|) = (1 - exp(-2|a|)) / (1 + exp(-2|a|)); -2|a| is the raw -|a| read with one more integer bit */
    const int32_t negative_abs = a < 0 ? a : -a;
    const int32_t t = one_minus_x_over_one_plus_x(tk_fp_exp_on_negative_values(negative_abs, integer_bits + 1));

    if (a == 0) {
        return 0;
    }
    return a < 0 ? -t : t;
}
