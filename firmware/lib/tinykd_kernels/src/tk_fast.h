/*
 * Shared by the fast kernels (tk_conv_fast.c): the packed layouts of pipeline/compiler/pack.py and the inner
 * loops over them. The loops come from tk_fast_dsp.h (Cortex-M4 DSP extension) when the compiler targets it,
 * from tk_fast_portable.h otherwise; both compute the same integers, so the host tests check the layouts and
 * the rescale arithmetic, and the QEMU tests check the DSP instructions.
 *
 * Layouts (int16 values, "word" = two of them, low halfword first):
 *   packed CONV/FC weights  per output channel pair, per group of 4 taps k0..k3: c0(k0,k2) c1(k0,k2) c0(k1,k3)
 *                           c1(k1,k3); a pair block is 2 * depth values (depth = taps rounded up to 4)
 *   input columns           the same grouping, (x + input offset) per tap, 0 in the padding: with `stride` 4
 *                           two pixels per group (p0 a, p1 a, p0 b, p1 b), with `stride` 2 one (a, b)
 *   packed DW weights       per tap, per group of 4 channels c0..c3: (c0, c2) (c1, c3)
 */
#ifndef TK_FAST_H
#define TK_FAST_H

#include <stdint.h>

#if defined(__ARM_FEATURE_DSP)
#include "tk_fast_dsp.h"
#else
#include "tk_fast_portable.h"
#endif

/* TFLM's rescale + output zero point + clamp (see tinykd_kernels.h, tk_packed_filter.quant). */
static inline int8_t tk_fast_rescale(int32_t acc, const int32_t *quant, int32_t low, int32_t high)
{
    int32_t t = tk_smmulr(acc, quant[0]);
    t = (t + (t >> 31) + quant[2]) >> quant[1];
    return (int8_t)(t < low ? low : (t > high ? high : t));
}

/* TFLM's MultiplyByQuantizedMultiplierSmallerThanOneExp(x, multiplier, -right_shift) given doubled = 2 * x
 * (no overflow): SaturatingRoundingDoublingHighMul(x, m) = floor((x * m + 2^30) / 2^31) = SMMULR(2x, m), then
 * RoundingDivideByPOT (halves away from zero). */
static inline int32_t tk_fast_requantize(int32_t doubled, int32_t multiplier, int32_t right_shift)
{
    int32_t t = tk_smmulr(doubled, multiplier);
    if (right_shift > 0) {
        t = (t + (t >> 31) + ((int32_t)1 << (right_shift - 1))) >> right_shift;
    }
    return t;
}

#endif /* TK_FAST_H */
