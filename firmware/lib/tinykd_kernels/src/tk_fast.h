/*
 * Shared by the fast kernels (tk_conv_fast.c): the packed layouts of pipeline/compiler/pack.py and the inner
 * loops over them. The loops come from tk_fast_dsp.h (Cortex-M4 DSP extension) when the compiler targets it,
 * from tk_fast_portable.h otherwise; both compute the same integers, so the host tests check the layouts and
 * the rescale arithmetic, and the QEMU tests check the DSP instructions.
 *
 * Layouts (int16 values, "word" = two of them, low halfword first):
 *   packed CONV/FC weights  per output channel pair, per group of 4 taps k0..k3: c0(k0,k2) c1(k0,k2) c0(k1,k3)
 *                           c1(k1,k3); a pair block is 2 * depth values (depth = taps rounded up to 4)
 *   input columns           the same grouping, (x + input offset) per tap, 0 in the padding: with `stride` 6
 *                           three pixels per group (p0 a, p1 a, p2 a, p0 b, p1 b, p2 b), with `stride` 4 two
 *                           (p0 a, p1 a, p0 b, p1 b), with `stride` 2 one (a, b)
 *   packed DW weights       per tap, per group of 4 channels c0..c3: (c0, c2) (c1, c3)
 */
#ifndef TK_FAST_H
#define TK_FAST_H

#include <stdint.h>

#include <string.h>

#include "tinykd_kernels.h"
#include "tk_arch.h"

/* The channel loop of 2 or 3 output pixels (tk_conv_pairs_2x2, tk_conv_pairs_3x2): for each output channel pair,
 * bias + the block of MACs, the rescale, the activation clamp and the output bytes; advances the pointers. */
typedef struct {
    const int32_t *bias;  /* next channel pair's biases (b0, b1, b0, b1) */
    const int32_t *quant; /* next channel pair's (multiplier, right shift, nudge) x 2 */
    int8_t *out0;         /* next channel pair's outputs, pixel 0 */
    int8_t *out1;         /* pixel 1 */
    int8_t *out2;         /* pixel 2 (3x2 only) */
    int32_t pairs;        /* channel pairs left (>= 1) */
    int32_t low4;         /* activation min in each of the 4 bytes (min >= -128) */
    int32_t high4;        /* activation max in each byte (max <= 127) */
} tk_pair_job;

#if TK_DSP /* the byte offsets the assembly reads (tk_fast_dsp_asm.h, tk_conv_unrolled_dsp_asm.h: LDRD, LDM) */
TK_ASM_OFFSET(tk_pair_job, bias, 0);
TK_ASM_OFFSET(tk_pair_job, quant, 4);
TK_ASM_OFFSET(tk_pair_job, out0, 8);
TK_ASM_OFFSET(tk_pair_job, out1, 12);
TK_ASM_OFFSET(tk_pair_job, out2, 16);
TK_ASM_OFFSET(tk_pair_job, pairs, 20);
TK_ASM_OFFSET(tk_pair_job, low4, 24);
TK_ASM_OFFSET(tk_pair_job, high4, 28);
TK_STATIC_ASSERT(sizeof(tk_pair_job) == 32, "tk_conv_pairs_2x2u copies tk_pair_job as 8 words");
#endif

/* A 3x3 depthwise layer over channels in fours has its packed weights group-major (pack.py, pack_depthwise):
 * per group of 4 channels its 9 taps back to back, 4 values each. */
#define TK_DW3_GROUP 36

/* Every group of 4 channels of one depthwise output pixel whose 3x3 window lies inside the input
 * (tk_dw_3x3_pixel); channels a multiple of 4. */
typedef struct {
    int32_t row_step; /* input bytes from one row to the next */
    int32_t channels;
    int32_t offsets; /* the input offset in both halfwords */
    int32_t low4;    /* activation min in each byte */
    int32_t high4;   /* activation max in each byte */
    const int32_t *bias;
    const int32_t *quant;
    int32_t groups; /* channels / 4 */
} tk_dw_job;

#if TK_DSP /* the byte offsets tk_dw_3x3_pixel (tk_fast_dsp_asm.h) reads */
TK_ASM_OFFSET(tk_dw_job, row_step, 0);
TK_ASM_OFFSET(tk_dw_job, channels, 4);
TK_ASM_OFFSET(tk_dw_job, offsets, 8);
TK_ASM_OFFSET(tk_dw_job, low4, 12);
TK_ASM_OFFSET(tk_dw_job, high4, 16);
TK_ASM_OFFSET(tk_dw_job, bias, 20);
TK_ASM_OFFSET(tk_dw_job, quant, 24);
TK_ASM_OFFSET(tk_dw_job, groups, 28);
#endif

/* A word of packed int16 data read through an int32 lvalue (GCC: may alias the int16 arrays). */
typedef int32_t tk_word TK_MAY_ALIAS;
typedef int16_t tk_half TK_MAY_ALIAS; /* ... and an int16 of data written as words */

/* `offset` in both halfwords (what SXTAB16 adds to the two bytes it extends). */
static inline int32_t tk_offset_pair(int32_t offset)
{
    return (int32_t)(((uint32_t)offset & 0xFFFFu) | ((uint32_t)offset << 16));
}

/* An int8 value in each of the 4 bytes of a word (the clamp bounds of tk_clamp4). */
static inline int32_t tk_bytes4(int32_t value) { return (int32_t)((uint32_t)(uint8_t)value * 0x01010101u); }

/* Groups of 4 taps up to which a conv layer takes the fully unrolled 2-pixel loop (tk_conv_pairs_2x2u). */
#define TK_UNROLLED_GROUPS 32

#if TK_DSP
#include "tk_fast_dsp.h"
#else
#include "tk_fast_portable.h"
#endif

/* The preconditions shared by the fast CONV_2D and DEPTHWISE_CONV_2D. */
static inline int tk_fast_conv_ok(const tk_conv_params *p, const tk_packed_filter *f)
{
    return p->stride_h >= 1 && p->stride_w >= 1 && p->dilation_h == 1 && p->dilation_w == 1 && p->pad_h >= 0 &&
           p->pad_w >= 0 && p->activation.min <= p->activation.max && p->activation.min >= -128 &&
           p->activation.max <= 127 && f->weights != NULL && f->bias != NULL && f->quant != NULL;
}

/* TFLM's rescale + output zero point, before any clamp (see tinykd_kernels.h, tk_packed_filter.quant): the same
 * arithmetic as the assembly's TK_RESCALE_WITH. The -1 that rounds a negative value half away from zero is taken
 * from the accumulator's sign, not from t = SMMULR(acc, m)'s: they differ only for t = 0 < -acc, where
 * (nudge - 1) >> s = nudge >> s = the zero point (nudge = 2^(s-1) + zp * 2^s, s >= 1). */
static inline int32_t tk_fast_rescaled(int32_t acc, const int32_t *quant)
{
    return tk_smmlar(acc, quant[0], quant[2] + (acc >> 31)) >> quant[1];
}

/* ... clamped to the activation range. */
static inline int8_t tk_fast_rescale(int32_t acc, const int32_t *quant, int32_t low, int32_t high)
{
    const int32_t t = tk_fast_rescaled(acc, quant);
    return (int8_t)(t < low ? low : (t > high ? high : t));
}

/* out[0..3] <- the rescale of acc[0..3] with quant[0..11] (3 words per channel), clamped to the activation
 * range given in each byte of low4 / high4: SSAT per value, then the 4 bytes clamped at once (tk_clamp4). */
static inline uint32_t tk_fast_rescale_byte(int32_t acc, const int32_t *quant)
{
    return (uint32_t)tk_ssat8(tk_fast_rescaled(acc, quant)) & 0xFFu;
}

static inline void tk_fast_rescale4(const int32_t *acc, const int32_t *quant, int8_t *out, int32_t low4, int32_t high4)
{
    uint32_t packed = tk_fast_rescale_byte(acc[0], quant) | tk_fast_rescale_byte(acc[1], quant + 3) << 8 |
                      tk_fast_rescale_byte(acc[2], quant + 6) << 16 | tk_fast_rescale_byte(acc[3], quant + 9) << 24;
    packed = (uint32_t)tk_clamp4((int32_t)packed, low4, high4);
    memcpy(out, &packed, sizeof packed);
}

#if !TK_DSP
/* Portable tk_dw_3x3_pixel (the DSP one is in assembly): x and w at tap (0, 0) of channel 0; the weights
 * group-major (TK_DW3_GROUP values per group of 4 channels: its 9 taps back to back). */
static inline void tk_dw_3x3_pixel(const int8_t *x, const int16_t *w, const tk_dw_job *job, int8_t *out)
{
    int32_t group, i;
    for (group = 0; group < job->groups; ++group, x += 4, w += TK_DW3_GROUP, out += 4) {
        int32_t acc[4];
        for (i = 0; i < 4; ++i) {
            acc[i] = job->bias[4 * group + i];
        }
        tk_dw_window(x, job->row_step, job->channels, w, 12, 4, 3, 3, (int16_t)job->offsets, acc);
        tk_fast_rescale4(acc, job->quant + 12 * group, out, job->low4, job->high4);
    }
}
#endif

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

#if !TK_DSP
/* Portable tk_conv_pairs_2x2 / 3x2 (the DSP ones are in assembly, tk_fast_dsp.h): the same integers. */
static inline void tk_conv_pairs(const void *columns, const int16_t *weights, int32_t groups, tk_pair_job *job,
                                 int32_t pixels)
{
    const int32_t low = (int8_t)job->low4, high = (int8_t)job->high4;
    int8_t *out[3];
    int32_t i;
    for (; job->pairs > 0; --job->pairs, weights += 8 * groups) {
        int32_t acc[6];
        for (i = 0; i < pixels; ++i) {
            acc[2 * i] = job->bias[0];
            acc[2 * i + 1] = job->bias[1];
        }
        tk_mac_pixels(columns, weights, groups, acc, pixels);
        out[0] = job->out0;
        out[1] = job->out1;
        out[2] = job->out2;
        for (i = 0; i < pixels; ++i) {
            out[i][0] = tk_fast_rescale(acc[2 * i], job->quant, low, high);
            out[i][1] = tk_fast_rescale(acc[2 * i + 1], job->quant + 3, low, high);
        }
        job->bias += 4;
        job->quant += 6;
        job->out0 += 2;
        job->out1 += 2;
        job->out2 += pixels == 3 ? 2 : 0;
    }
}

static inline void tk_conv_pairs_2x2(const void *columns, const int16_t *weights, int32_t groups, tk_pair_job *job)
{
    tk_conv_pairs(columns, weights, groups, job, 2);
}

static inline void tk_conv_pairs_3x2(const void *columns, const int16_t *weights, int32_t groups, tk_pair_job *job)
{
    tk_conv_pairs(columns, weights, groups, job, 3);
}

static inline void tk_conv_pairs_2x2u(const void *columns, const int16_t *weights, int32_t groups, tk_pair_job *job)
{
    tk_conv_pairs(columns, weights, groups, job, 2);
}

static inline void tk_conv_pairs_2x2u_full(const void *columns, const int16_t *weights, int32_t groups,
                                           tk_pair_job *job)
{
    tk_conv_pairs(columns, weights, groups, job, 2);
}

static inline void tk_conv_pairs_3x2_full(const void *columns, const int16_t *weights, int32_t groups, tk_pair_job *job)
{
    tk_conv_pairs(columns, weights, groups, job, 3);
}
#endif

#endif /* TK_FAST_H */
