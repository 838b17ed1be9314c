/* The conv channel loop of a 2-pixel tile with the groups of taps fully unrolled (Cortex-M4 assembly, naked):
 * with no loop counter, 4 accumulators, 4 column words and 4 weight words fit the 14 registers, so a group of 4
 * taps is 2 LDM + 8 SMLAD (10 instructions per 16 MACs, against 16 per 24 for tk_conv_pairs_3x2). Layers of at
 * most TK_UNROLLED_GROUPS groups (depth 128) take it; the call jumps into the unrolled sequence `groups` groups
 * before its end (LDR PC from the stack). Included by tk_fast_dsp.h only. */
#ifndef TK_CONV_UNROLLED_DSP_ASM_H
#define TK_CONV_UNROLLED_DSP_ASM_H

#include "tk_arch.h"

/* The assembly below is laid out by hand, one instruction per line with its comment: clang-format would join the
 * string literals and the macro calls. */
/* clang-format off */

/* Group of 4 taps: columns (p0 a, p1 a, p0 b, p1 b) r2-r5, weights (c0 a, c1 a, c0 b, c1 b) r6-r9, accumulators
 * (p0, c0) r10, (p0, c1) r11, (p1, c0) r12, (p1, c1) lr. 40 bytes of code (every instruction 32-bit). */
#define TK_U_GROUP                         \
    "ldmia.w r0!, {r2-r5}\n\t"             \
    "ldmia.w r1!, {r6-r9}\n\t"             \
    "smlad   r10, r2, r6, r10\n\t"         \
    "smlad   r11, r2, r7, r11\n\t"         \
    "smlad   r12, r3, r6, r12\n\t"         \
    "smlad   lr, r3, r7, lr\n\t"           \
    "smlad   r10, r4, r8, r10\n\t"         \
    "smlad   r11, r4, r9, r11\n\t"         \
    "smlad   r12, r5, r8, r12\n\t"         \
    "smlad   lr, r5, r9, lr\n\t"
#define TK_U_GROUP4 TK_U_GROUP TK_U_GROUP TK_U_GROUP TK_U_GROUP
#define TK_U_GROUP32 TK_U_GROUP4 TK_U_GROUP4 TK_U_GROUP4 TK_U_GROUP4 TK_U_GROUP4 TK_U_GROUP4 TK_U_GROUP4 TK_U_GROUP4

/* tk_conv_pairs_2x2 (tk_pair_job; columns of stride 4) with groups <= TK_UNROLLED_GROUPS. Stack: [sp] columns,
 * [sp, #4] the entry address (Thumb bit set), [sp, #8 ..] a copy of the job (bias #8, quant #12, out0 #16, out1
 * #20, low4 #32, high4 #36; #28: the end of quant instead of the pair count). CLAMP works on r10 = the 4 bytes
 * (p0, c0) (p0, c1) (p1, c0) (p1, c1), or is empty when the activation is all of int8. */
#define TK_CONV_PAIRS_2X2_UNROLLED(CLAMP)                                                     \
    __asm__ volatile(                                                                         \
        "push    {r4-r11, lr}\n\t"                                                            \
        "ldm     r3, {r4-r11}\n\t"                                                            \
        "add     r9, r9, r9, lsl #1\n\t"                                                      \
        "add     r9, r5, r9, lsl #3\n\t"      /* pairs -> the end of quant (24 bytes a pair) */  \
        "push    {r4-r11}\n\t"                 /* the job */                                   \
        "adr     r12, 9f\n\t"                                                                 \
        "add     r2, r2, r2, lsl #2\n\t"      /* 5 * groups */                                 \
        "sub     r12, r12, r2, lsl #3\n\t"    /* 40 bytes per group before the end */          \
        "orr     r12, r12, #1\n\t"            /* Thumb */                                      \
        "push    {r0, r12}\n\t"                                                               \
        "4:\n\t"                                                                              \
        "ldr     r7, [sp, #8]\n\t"                                                            \
        "ldmia   r7!, {r10, r11, r12, lr}\n\t" /* bias (b0, b1, b0, b1) */                      \
        "str     r7, [sp, #8]\n\t"                                                            \
        "ldr     r0, [sp]\n\t"                                                                \
        "ldr     pc, [sp, #4]\n\t"                                                            \
        "8:\n\t"                                                                              \
        TK_U_GROUP32                                                                          \
        "9:\n\t"                                                                              \
        ".if (9b - 8b) != 40 * 32\n\t"                                                        \
        ".error \"unrolled group is not 40 bytes\"\n\t"                                       \
        ".endif\n\t"                                                                          \
        "ldr     r7, [sp, #12]\n\t"                                                           \
        "ldmia   r7!, {r0, r2, r3, r4, r5, r8}\n\t"  /* quant: m0 s0 n0 m1 s1 n1 */             \
        "str     r7, [sp, #12]\n\t"                                                           \
        TK_RESCALE_WITH("r10", "r0", "r2", "r3", "r9") TK_RESCALE_WITH("r12", "r0", "r2", "r3", "r9") \
        TK_RESCALE_WITH("r11", "r4", "r5", "r8", "r9") TK_RESCALE_WITH("lr", "r4", "r5", "r8", "r9")  \
        "bfi     r10, r11, #8, #8\n\t"         /* pixel 0: c0, c1 */                            \
        "bfi     r12, lr, #8, #8\n\t"          /* pixel 1 */                                    \
        CLAMP                                                                                 \
        "ldrd    r2, r3, [sp, #16]\n\t"        /* out0, out1 */                                \
        "strh    r10, [r2], #2\n\t"                                                           \
        "strh    r12, [r3], #2\n\t"                                                           \
        "strd    r2, r3, [sp, #16]\n\t"                                                       \
        "ldr     r2, [sp, #28]\n\t"           /* the end of quant */                          \
        "cmp     r7, r2\n\t"                                                                  \
        "bne     4b\n\t"                                                                      \
        "add     sp, sp, #40\n\t"                                                             \
        "pop     {r4-r11, pc}\n\t")

#define TK_CLAMP_2X2_UNROLLED                                                                 \
    "bfi     r10, r12, #16, #16\n\t"                                                          \
    "ldrd    r2, r3, [sp, #32]\n\t"            /* low4, high4 */                               \
    TK_CLAMP4("r10", "r2", "r3", "r4")                                                        \
    "lsr     r12, r10, #16\n\t"

TK_PAIRS_FUNCTION(tk_conv_pairs_2x2u) { TK_CONV_PAIRS_2X2_UNROLLED(TK_CLAMP_2X2_UNROLLED); }
TK_PAIRS_FUNCTION(tk_conv_pairs_2x2u_full) { TK_CONV_PAIRS_2X2_UNROLLED(""); }

/* The loop's columns for two pixels (stride 4) <- groups [0, end) of their inputs src0 and src1 (any alignment),
 * + the offset pair: per group 2 LDR, 4 SXTAB16 and one STM of (p0 a, p1 a, p0 b, p1 b); two groups per pass. */
/* One group of tk_fill_two_words. */
#define TK_FILL_TWO_GROUP               \
    "ldr     r8, [r1], #4\n\t"          \
    "ldr     r9, [r2], #4\n\t"          \
    "sxtab16 r4, r12, r8\n\t"           \
    "sxtab16 r5, r12, r9\n\t"           \
    "sxtab16 r6, r12, r8, ror #8\n\t"   \
    "sxtab16 r7, r12, r9, ror #8\n\t"   \
    "stmia   r0!, {r4-r7}\n\t"

TK_NAKED static void tk_fill_two_words(TK_UNUSED void *columns, TK_UNUSED const int8_t *src0,
                                       TK_UNUSED const int8_t *src1,
                                       TK_UNUSED const int32_t *end_and_offsets)
{
    __asm__ volatile(
        "push    {r4-r9, lr}\n\t"
        "ldrd    r3, r12, [r3]\n\t"               /* end of src0, offsets */
        "sub     lr, r3, r1\n\t"
        "tst     lr, #4\n\t"                      /* an odd group count: one group first */
        "beq     2f\n\t"
        TK_FILL_TWO_GROUP
        "2:\n\t"
        "cmp     r1, r3\n\t"
        "beq     3f\n\t"
        "1:\n\t"
        TK_FILL_TWO_GROUP TK_FILL_TWO_GROUP
        "cmp     r1, r3\n\t"
        "bne     1b\n\t"
        "3:\n\t"
        "pop     {r4-r9, pc}\n\t");
}

/* Columns of stride 4 (two pixels) <- groups [0, groups) of two pixels' inputs, + offset. */
static inline void tk_fill_two(void *columns, const int8_t *src0, const int8_t *src1, int32_t groups,
                               int32_t offset)
{
    const int32_t end_and_offsets[2] = {(int32_t)(uintptr_t)(src0 + 4 * groups), tk_offset_pair(offset)};
    tk_fill_two_words(columns, src0, src1, end_and_offsets);
}
/* clang-format on */

#endif /* TK_CONV_UNROLLED_DSP_ASM_H */
