/* Cortex-M4 DSP-extension inner loops of the fast kernels (ACLE intrinsics and a few instructions ACLE lacks:
 * SMMULR, SXTAB16 with ROR); the layouts are described in tk_fast.h. Included by tk_fast.h only, when
 * __ARM_FEATURE_DSP is defined. SMLAD does two 16 x 16 MACs per instruction; SXTAB16 sign-extends bytes 0 and 2
 * (or, rotated by 8, bytes 1 and 3) of a word and adds the input offset to both in one instruction. */
#ifndef TK_FAST_DSP_H
#define TK_FAST_DSP_H

#include <arm_acle.h>
#include <stdint.h>
#include <string.h>

/* A word of packed int16 data read through an int32 lvalue (GCC: may alias the int16 arrays). */
typedef int32_t tk_word __attribute__((may_alias));

static inline int32_t tk_smmulr(int32_t a, int32_t b)
{
    int32_t r;
    __asm__("smmulr %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));
    return r;
}

static inline int32_t tk_sxtab16_ror8(int32_t a, int32_t x)
{
    int32_t r;
    __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(r) : "r"(a), "r"(x));
    return r;
}

static inline int32_t tk_read_s8x4(const int8_t *p)  /* unaligned word load (LDR allows it on the M4) */
{
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline int32_t tk_offset_pair(int32_t offset)
{
    return (int32_t)(((uint32_t)offset & 0xFFFFu) | ((uint32_t)offset << 16));
}

static inline void tk_fill_column(void *columns, int32_t stride, int32_t slot, const int8_t *src, int32_t depth,
                                  int32_t offset)
{
    tk_word *col = (tk_word *)columns + slot;
    const int32_t offsets = tk_offset_pair(offset);
    const int32_t half = stride >> 1;
    int32_t k;
    for (k = 0; k + 4 <= depth; k += 4, col += stride) {
        const int32_t x = tk_read_s8x4(src + k);
        col[0] = __sxtab16(offsets, x);            /* (x0, x2) + offset */
        col[half] = tk_sxtab16_ror8(offsets, x);   /* (x1, x3) + offset */
    }
    if (k < depth) {  /* last partial group: the missing taps are 0 */
        int32_t v[4] = {0, 0, 0, 0};
        int32_t i;
        for (i = 0; k + i < depth; ++i) {
            v[i] = src[k + i] + offset;
        }
        col[0] = (int32_t)(((uint32_t)v[0] & 0xFFFFu) | ((uint32_t)v[2] << 16));
        col[half] = (int32_t)(((uint32_t)v[1] & 0xFFFFu) | ((uint32_t)v[3] << 16));
    }
}

static inline void tk_mac_2x2(const void *columns, const int16_t *weights, int32_t groups, int32_t *acc)
{
    const tk_word *col = (const tk_word *)columns;
    const tk_word *w = (const tk_word *)weights;
    const tk_word *end = col + 4 * groups;
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    while (col < end) {
        const int32_t x0a = col[0], x1a = col[1], w0a = w[0], w1a = w[1];
        const int32_t x0b = col[2], x1b = col[3], w0b = w[2], w1b = w[3];
        col += 4;
        w += 4;
        a0 = __smlad(x0a, w0a, a0);
        a1 = __smlad(x0a, w1a, a1);
        a2 = __smlad(x1a, w0a, a2);
        a3 = __smlad(x1a, w1a, a3);
        a0 = __smlad(x0b, w0b, a0);
        a1 = __smlad(x0b, w1b, a1);
        a2 = __smlad(x1b, w0b, a2);
        a3 = __smlad(x1b, w1b, a3);
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

static inline void tk_mac_1x2(const void *columns, int32_t stride, const int16_t *weights, int32_t groups,
                              int32_t *acc)
{
    const tk_word *col = (const tk_word *)columns;
    const tk_word *w = (const tk_word *)weights;
    const int32_t half = stride >> 1;
    int32_t a0 = acc[0], a1 = acc[1], g;
    for (g = 0; g < groups; ++g, col += stride, w += 4) {
        const int32_t xa = col[0], xb = col[half];
        a0 = __smlad(xa, w[0], a0);
        a1 = __smlad(xa, w[1], a1);
        a0 = __smlad(xb, w[2], a0);
        a1 = __smlad(xb, w[3], a1);
    }
    acc[0] = a0;
    acc[1] = a1;
}

static inline void tk_mac_1x4(const void *column, const int16_t *weights0, const int16_t *weights1,
                              int32_t groups, int32_t *acc)
{
    const tk_word *col = (const tk_word *)column;
    const tk_word *w0 = (const tk_word *)weights0;
    const tk_word *w1 = (const tk_word *)weights1;
    const tk_word *end = col + 2 * groups;
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    while (col < end) {
        const int32_t xa = col[0], xb = col[1];
        col += 2;
        a0 = __smlad(xa, w0[0], a0);
        a1 = __smlad(xa, w0[1], a1);
        a2 = __smlad(xa, w1[0], a2);
        a3 = __smlad(xa, w1[1], a3);
        a0 = __smlad(xb, w0[2], a0);
        a1 = __smlad(xb, w0[3], a1);
        a2 = __smlad(xb, w1[2], a2);
        a3 = __smlad(xb, w1[3], a3);
        w0 += 4;
        w1 += 4;
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

static inline void tk_dw_taps(const int8_t *in, int32_t in_step, const int16_t *weights, int32_t w_step,
                              int32_t taps, int32_t offset, int32_t *acc)
{
    const int32_t offsets = tk_offset_pair(offset);
    const tk_word *w = (const tk_word *)weights;
    const int32_t w_words = w_step >> 1;
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3], t;
    for (t = 0; t < taps; ++t, in += in_step, w += w_words) {
        const int32_t x = tk_read_s8x4(in);
        const int32_t xa = __sxtab16(offsets, x), xb = tk_sxtab16_ror8(offsets, x);
        const int32_t wa = w[0], wb = w[1];
        a0 = __smlabb(xa, wa, a0);
        a2 = __smlatt(xa, wa, a2);
        a1 = __smlabb(xb, wb, a1);
        a3 = __smlatt(xb, wb, a3);
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

#endif /* TK_FAST_DSP_H */
