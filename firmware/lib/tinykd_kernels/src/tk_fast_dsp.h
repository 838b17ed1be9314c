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

static inline void tk_zero_column(void *columns, int32_t stride, int32_t slot, int32_t groups)
{
    tk_word *col = (tk_word *)columns + slot;
    const int32_t half = stride >> 1;
    int32_t g;
    for (g = 0; g < groups; ++g, col += stride) {
        col[0] = 0;
        col[half] = 0;
    }
}

/* One group of 4 taps for 2 pixels x 2 channels: LDM of the 4 column words, 2 LDRD of weights, 8 SMLAD. */
#define TK_MAC_2X2_GROUP                \
    "ldmia   r0!, {r8, r9, r10, r11}\n\t" \
    "ldrd    r12, lr, [r1], #8\n\t"       \
    "smlad   r4, r8, r12, r4\n\t"         \
    "smlad   r5, r8, lr, r5\n\t"          \
    "smlad   r6, r9, r12, r6\n\t"         \
    "smlad   r7, r9, lr, r7\n\t"          \
    "ldrd    r12, lr, [r1], #8\n\t"       \
    "smlad   r4, r10, r12, r4\n\t"        \
    "smlad   r5, r10, lr, r5\n\t"         \
    "smlad   r6, r11, r12, r6\n\t"        \
    "smlad   r7, r11, lr, r7\n\t"

/* acc[0..3] += (p0, c0) (p0, c1) (p1, c0) (p1, c1) over `groups` groups of 4 taps: 11 instructions per 16 MACs
 * (two groups per loop pass). In assembly (AAPCS: r0 = columns, r1 = weights, r2 = groups, r3 = acc) because the
 * loop needs every register: 4 accumulators, 4 column words, 2 weight words, 3 pointers. */
#define TK_UNUSED __attribute__((unused))
__attribute__((naked, noinline, unused)) static void tk_mac_2x2(TK_UNUSED const void *columns,
                                                                TK_UNUSED const int16_t *weights,
                                                                TK_UNUSED int32_t groups, TK_UNUSED int32_t *acc)
{
    __asm__ volatile(
        "push    {r4-r11, lr}\n\t"
        "ldm     r3, {r4-r7}\n\t"
        "lsls    r12, r2, #31\n\t"          /* Z: an even number of groups */
        "add     r2, r0, r2, lsl #4\n\t"    /* end of the columns */
        "beq     2f\n\t"
        TK_MAC_2X2_GROUP
        "2:\n\t"
        "cmp     r0, r2\n\t"
        "beq     3f\n\t"
        "1:\n\t"
        TK_MAC_2X2_GROUP
        TK_MAC_2X2_GROUP
        "cmp     r0, r2\n\t"
        "bne     1b\n\t"
        "3:\n\t"
        "stm     r3, {r4-r7}\n\t"
        "pop     {r4-r11, pc}\n\t");
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
