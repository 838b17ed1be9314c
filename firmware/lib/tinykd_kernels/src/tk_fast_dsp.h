/* Cortex-M4 DSP-extension inner loops of the fast kernels (ACLE intrinsics and a few instructions ACLE lacks:
 * SMMULR, SXTAB16 with ROR); the layouts are described in tk_fast.h. Included by tk_fast.h only, when TK_DSP
 * (tk_arch.h). SMLAD does two 16 x 16 MACs per instruction; SXTAB16 sign-extends bytes 0 and 2 (or, rotated by 8,
 * bytes 1 and 3) of a word and adds the input offset to both in one instruction. */
#ifndef TK_FAST_DSP_H
#define TK_FAST_DSP_H

#include <stdint.h>
#include <string.h>

#include "tk_arch.h"

/* The ACLE DSP intrinsics (__smlad, __sxtab16, __ssat, __smlabb, __smlatt) where the compiler has them
 * (TK_DSP_ACLE); one-instruction inline-asm wrappers otherwise. */
#if TK_DSP_ACLE
#include <arm_acle.h>
#define tk_smlad __smlad
#define tk_sxtab16 __sxtab16
#define tk_smlabb __smlabb
#define tk_smlatt __smlatt
static inline int32_t tk_ssat8(int32_t x) { return __ssat(x, 8); } /* clamp to [-128, 127]: SSAT */
#else
/* acc + the 16 x 16 products INSN takes from a and b, one instruction. */
#define TK_MULTIPLY_ACCUMULATE(name, insn)                                    \
    static inline int32_t name(int32_t a, int32_t b, int32_t acc)             \
    {                                                                         \
        int32_t r;                                                            \
        __asm__(insn " %0, %1, %2, %3" : "=r"(r) : "r"(a), "r"(b), "r"(acc)); \
        return r;                                                             \
    }
TK_MULTIPLY_ACCUMULATE(tk_smlad, "smlad")   /* both halfword products */
TK_MULTIPLY_ACCUMULATE(tk_smlabb, "smlabb") /* bottom x bottom */
TK_MULTIPLY_ACCUMULATE(tk_smlatt, "smlatt") /* top x top */

static inline int32_t tk_sxtab16(int32_t a, int32_t x)
{
    int32_t r;
    __asm__("sxtab16 %0, %1, %2" : "=r"(r) : "r"(a), "r"(x));
    return r;
}

static inline int32_t tk_ssat8(int32_t x)
{
    int32_t r;
    __asm__("ssat %0, #8, %1" : "=r"(r) : "r"(x));
    return r;
}
#endif

/* Each byte of v clamped to [lo, hi] (given in each byte): SSUB8 sets the GE flags where v >= lo, SEL keeps v
 * there and takes lo elsewhere; then the same against hi. ge is scratch. */
#define TK_CLAMP4(v, lo, hi, ge)        \
    "ssub8   " ge ", " v ", " lo "\n\t" \
    "sel     " v ", " v ", " lo "\n\t"  \
    "ssub8   " ge ", " hi ", " v "\n\t" \
    "sel     " v ", " v ", " hi "\n\t"

static inline int32_t tk_smmulr(int32_t a, int32_t b)
{
    int32_t r;
    __asm__("smmulr %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));
    return r;
}

/* a + SMMULR(x, m), one instruction. */
static inline int32_t tk_smmlar(int32_t x, int32_t m, int32_t a)
{
    int32_t r;
    __asm__("smmlar %0, %1, %2, %3" : "=r"(r) : "r"(x), "r"(m), "r"(a));
    return r;
}

/* The byte-wise maximum of two words of 4 signed bytes: SSUB8 sets the GE flags where a >= b, SEL keeps a there. */
static inline int32_t tk_max4(int32_t a, int32_t b)
{
    int32_t ge;
    __asm__("ssub8 %[ge], %[a], %[b]\n\tsel %[a], %[a], %[b]" : [a] "+r"(a), [ge] "=&r"(ge) : [b] "r"(b) : "cc");
    return a;
}

/* Each of the 4 signed bytes of v clamped to [low, high] given in each byte of low4 / high4: SSUB8 sets the GE
 * flags where v >= low, SEL keeps v there and takes low elsewhere; the same against high. */
static inline int32_t tk_clamp4(int32_t v, int32_t low4, int32_t high4)
{
    int32_t ge;
    __asm__(TK_CLAMP4("%[v]", "%[lo]", "%[hi]", "%[ge]")
            : [v] "+r"(v), [ge] "=&r"(ge)
            : [lo] "r"(low4), [hi] "r"(high4)
            : "cc");
    return v;
}

static inline int32_t tk_sxtab16_ror8(int32_t a, int32_t x)
{
    int32_t r;
    __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(r) : "r"(a), "r"(x));
    return r;
}

/* (low halfword of a, low halfword of b): PKHBT (GCC does not find it in the mask-and-or). */
static inline int32_t tk_pack_low(int32_t a, int32_t b)
{
    int32_t r;
    __asm__("pkhbt %0, %1, %2, lsl #16" : "=r"(r) : "r"(a), "r"(b));
    return r;
}

/* (high halfword of a, high halfword of b): PKHTB. */
static inline int32_t tk_pack_high(int32_t a, int32_t b)
{
    int32_t r;
    __asm__("pkhtb %0, %2, %1, asr #16" : "=r"(r) : "r"(a), "r"(b));
    return r;
}

static inline int32_t tk_read_s8x4(const int8_t *p) /* unaligned word load (LDR allows it on the M4) */
{
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
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
        col[0] = tk_sxtab16(offsets, x);         /* (x0, x2) + offset */
        col[half] = tk_sxtab16_ror8(offsets, x); /* (x1, x3) + offset */
    }
    if (k < depth) { /* last partial group: the missing taps are 0 */
        int32_t v[4] = {0, 0, 0, 0};
        int32_t i;
        for (i = 0; k + i < depth; ++i) {
            v[i] = src[k + i] + offset;
        }
        col[0] = (int32_t)(((uint32_t)v[0] & 0xFFFFu) | ((uint32_t)v[2] << 16));
        col[half] = (int32_t)(((uint32_t)v[1] & 0xFFFFu) | ((uint32_t)v[3] << 16));
    }
}

/* Columns of `stride` words per group (4: two pixels, 6: three), slot `slot`, groups [first, first + groups)
 * <- src[0 .. 4 * groups) + offset: per group LDR, 2 SXTAB16, 2 STR; two groups per pass from a word-aligned
 * source (LDRD). */
static inline void tk_fill_groups(void *columns, int32_t stride, int32_t slot, int32_t first, const int8_t *src,
                                  int32_t groups, int32_t offset)
{
    tk_word *col = (tk_word *)columns + stride * first + slot;
    const int32_t offsets = tk_offset_pair(offset), half = stride >> 1;
    if (!((uintptr_t)src & 3)) {
        const tk_word *x = (const tk_word *)src, *pairs_end = x + (groups & ~1);
        while (x != pairs_end) {
            const int32_t x0 = x[0], x1 = x[1];
            x += 2;
            col[half] = tk_sxtab16_ror8(offsets, x0);
            col[0] = tk_sxtab16(offsets, x0);
            col[stride + half] = tk_sxtab16_ror8(offsets, x1);
            col[stride] = tk_sxtab16(offsets, x1);
            col += 2 * stride;
        }
        src = (const int8_t *)x;
        groups &= 1;
    }
    for (; groups > 0; --groups, src += 4, col += stride) {
        const int32_t x = tk_read_s8x4(src);
        col[half] = tk_sxtab16_ror8(offsets, x); /* (x1, x3) + offset */
        col[0] = tk_sxtab16(offsets, x);         /* (x0, x2) + offset */
    }
}

/* A group's words a (at col[0]) and b (col[half]) <- the 4 int8 values in `bytes` + the offset pair. */
static inline void tk_put_bytes_group(tk_word *col, int32_t half, int32_t bytes, int32_t offsets)
{
    col[0] = tk_sxtab16(offsets, bytes);
    col[half] = tk_sxtab16_ror8(offsets, bytes);
}

static inline void tk_zero_groups(void *columns, int32_t stride, int32_t slot, int32_t first, int32_t groups)
{
    tk_word *col = (tk_word *)columns + stride * first + slot;
    const int32_t half = stride >> 1;
    for (; groups > 0; --groups, col += stride) {
        col[0] = 0;
        col[half] = 0;
    }
}

static inline void tk_mac_1x2(const void *columns, int32_t stride, const int16_t *weights, int32_t groups, int32_t *acc)
{
    const tk_word *col = (const tk_word *)columns;
    const tk_word *w = (const tk_word *)weights;
    const int32_t half = stride >> 1;
    int32_t a0 = acc[0], a1 = acc[1], g;
    for (g = 0; g < groups; ++g, col += stride, w += 4) {
        const int32_t xa = col[0], xb = col[half];
        a0 = tk_smlad(xa, w[0], a0);
        a1 = tk_smlad(xa, w[1], a1);
        a0 = tk_smlad(xb, w[2], a0);
        a1 = tk_smlad(xb, w[3], a1);
    }
    acc[0] = a0;
    acc[1] = a1;
}

static inline void tk_mac_1x4(const void *column, const int16_t *weights0, const int16_t *weights1, int32_t groups,
                              int32_t *acc)
{
    const tk_word *col = (const tk_word *)column;
    const tk_word *w0 = (const tk_word *)weights0;
    const tk_word *w1 = (const tk_word *)weights1;
    const tk_word *end = col + 2 * groups;
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    while (col < end) {
        const int32_t xa = col[0], xb = col[1];
        col += 2;
        a0 = tk_smlad(xa, w0[0], a0);
        a1 = tk_smlad(xa, w0[1], a1);
        a2 = tk_smlad(xa, w1[0], a2);
        a3 = tk_smlad(xa, w1[1], a3);
        a0 = tk_smlad(xb, w0[2], a0);
        a1 = tk_smlad(xb, w0[3], a1);
        a2 = tk_smlad(xb, w1[2], a2);
        a3 = tk_smlad(xb, w1[3], a3);
        w0 += 4;
        w1 += 4;
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

/* Depthwise: acc[0..3] (channels 4q..4q+3) over a rows x cols window of taps; `in` and the packed weights step
 * by the given amounts (bytes; int16 values) per row and per column. Per tap: LDR, 2 SXTAB16, LDRD, 4 SMLAxy. */
static inline void tk_dw_window(const int8_t *in, int32_t in_row_step, int32_t in_col_step, const int16_t *weights,
                                int32_t w_row_step, int32_t w_col_step, int32_t rows, int32_t cols, int32_t offset,
                                int32_t *acc)
{
    const int32_t offsets = tk_offset_pair(offset);
    const int32_t w_col_words = w_col_step >> 1;
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3], r, c;
    for (r = 0; r < rows; ++r, in += in_row_step, weights += w_row_step) {
        const int8_t *x = in;
        const tk_word *w = (const tk_word *)weights;
        for (c = 0; c < cols; ++c, x += in_col_step, w += w_col_words) {
            const int32_t v = tk_read_s8x4(x);
            const int32_t xa = tk_sxtab16(offsets, v), xb = tk_sxtab16_ror8(offsets, v);
            const int32_t wa = w[0], wb = w[1];
            a0 = tk_smlabb(xa, wa, a0);
            a2 = tk_smlatt(xa, wa, a2);
            a1 = tk_smlabb(xb, wb, a1);
            a3 = tk_smlatt(xb, wb, a3);
        }
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

#include "tk_fast_dsp_asm.h"
#include "tk_conv_unrolled_dsp_asm.h"

#endif /* TK_FAST_DSP_H */
