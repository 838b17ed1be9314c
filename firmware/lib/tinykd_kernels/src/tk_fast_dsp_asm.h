/* The fast kernels' inner loops in Cortex-M4 assembly (naked functions: AAPCS arguments in r0-r3, every other
 * register saved by the function), for the loops that need all 14 registers or that C compilers spill: the conv
 * channel loops of a 2- or 3-pixel tile (MACs, rescale, clamp, stores) and the depthwise 3x3 pixel. Included by
 * tk_fast_dsp.h only; the layouts are described in tk_fast.h, the portable equivalents are in tk_fast.h and
 * tk_fast_portable.h. */
#ifndef TK_FAST_DSP_ASM_H
#define TK_FAST_DSP_ASM_H

#include <stdint.h>

#include "tk_arch.h"

/* The assembly below is laid out by hand, one instruction per line with its comment: clang-format would join the
 * string literals and the macro calls. */
/* clang-format off */

/* Rescale of accumulator `r` with multiplier m, right shift s and nudge n (registers) to a saturated int8 in `r`,
 * 4 instructions (see tk_fast_rescaled): tmp = n + (r >> 31) (round half away from zero), SMMLAR adds tmp to
 * SMMULR(r, m), shift, SSAT. tmp is scratch. */
#define TK_RESCALE_WITH(r, m, s, n, tmp)          \
    "add     " tmp ", " n ", " r ", asr #31\n\t"   \
    "smmlar  " r ", " r ", " m ", " tmp "\n\t"     \
    "asr     " r ", " r ", " s "\n\t"             \
    "ssat    " r ", #8, " r "\n\t"

/* ... with (multiplier r0, right shift r2, nudge r8), r9 scratch. */
#define TK_RESCALE(r) TK_RESCALE_WITH(r, "r0", "r2", "r8", "r9")

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

/* The loop over the groups of 4 taps, two per pass, from r0 (columns) to r2 (their end): one group first when
 * the Z flag says the count is odd (Z clear). Local labels 1-3. */
#define TK_GROUP_LOOP(GROUP)  \
    "beq     2f\n\t"          \
    GROUP                     \
    "2:\n\t"                 \
    "cmp     r0, r2\n\t"      \
    "beq     3f\n\t"          \
    "1:\n\t"                 \
    GROUP                     \
    GROUP                     \
    "cmp     r0, r2\n\t"      \
    "bne     1b\n\t"          \
    "3:\n\t"

/* The declaration of a naked conv channel loop (see tk_pair_job). */
#define TK_PAIRS_FUNCTION(name)                                                                \
    TK_NAKED static void name(TK_UNUSED const void *columns, TK_UNUSED const int16_t *weights, \
                              TK_UNUSED int32_t groups, TK_UNUSED tk_pair_job *job)

/* acc[0..3] += (p0, c0) (p0, c1) (p1, c0) (p1, c1) over `groups` groups of 4 taps: 11 instructions per 16 MACs
 * (two groups per loop pass). In assembly (AAPCS: r0 = columns, r1 = weights, r2 = groups, r3 = acc) because the
 * loop needs every register: 4 accumulators, 4 column words, 2 weight words, 3 pointers. */
TK_NAKED static void tk_mac_2x2(TK_UNUSED const void *columns,
                                TK_UNUSED const int16_t *weights,
                                TK_UNUSED int32_t groups, TK_UNUSED int32_t *acc)
{
    __asm__ volatile(
        "push    {r4-r11, lr}\n\t"
        "ldm     r3, {r4-r7}\n\t"
        "lsls    r12, r2, #31\n\t"          /* Z: an even number of groups (add below keeps the flags) */
        "add     r2, r0, r2, lsl #4\n\t"    /* end of the columns */
        TK_GROUP_LOOP(TK_MAC_2X2_GROUP)
        "stm     r3, {r4-r7}\n\t"
        "pop     {r4-r11, pc}\n\t");
}

/* tk_conv_pairs_2x2 (see tk_pair_job in tk_fast.h): per channel pair, tk_mac_2x2's loop, then the rescale of the
 * 4 accumulators (SMMULR, round half away from zero, shift, SSAT), the activation clamp of the 4 bytes at once
 * (SSUB8 + SEL against low4, then high4) and two STRH. r3 holds the job; the weights (r1) run on from one pair
 * block to the next. Stack: columns, end of the columns, odd group count. */
TK_NAKED static void tk_conv_pairs_2x2(TK_UNUSED const void *columns,
                                       TK_UNUSED const int16_t *weights,
                                       TK_UNUSED int32_t groups,
                                       TK_UNUSED tk_pair_job *job)
{
    __asm__ volatile(
        "push    {r4-r11, lr}\n\t"
        "and     r12, r2, #1\n\t"
        "add     r2, r0, r2, lsl #4\n\t"    /* end of the columns */
        "push    {r0, r2, r12, lr}\n\t"     /* [sp] columns, [sp, #4] end, [sp, #8] odd (lr: padding) */
        "4:\n\t"
        "ldr     r12, [r3]\n\t"              /* bias (b0, b1, b0, b1): acc (p0, c0) (p0, c1) (p1, c0) (p1, c1) */
        "ldmia   r12!, {r4-r7}\n\t"
        "str     r12, [r3]\n\t"
        "ldrd    r0, r2, [sp]\n\t"
        "ldr     r12, [sp, #8]\n\t"
        "cmp     r12, #0\n\t"                 /* Z: an even number of groups */
        TK_GROUP_LOOP(TK_MAC_2X2_GROUP)
        "ldr     r12, [r3, #4]\n\t"          /* quant: r0 m0, r2 s0, r8 n0, r9 m1, r10 s1, r11 n1 */
        "ldmia   r12!, {r0, r2, r8, r9, r10, r11}\n\t"
        "str     r12, [r3, #4]\n\t"
        TK_RESCALE_WITH("r4", "r0", "r2", "r8", "r12") TK_RESCALE_WITH("r6", "r0", "r2", "r8", "r12")
        TK_RESCALE_WITH("r5", "r9", "r10", "r11", "r12") TK_RESCALE_WITH("r7", "r9", "r10", "r11", "r12")
        "bfi     r4, r5, #8, #8\n\t"        /* bytes (p0, c0) (p0, c1) (p1, c0) (p1, c1) */
        "bfi     r6, r7, #8, #8\n\t"
        "bfi     r4, r6, #16, #16\n\t"
        "ldrd    r8, r9, [r3, #24]\n\t"      /* low4, high4 */
        TK_CLAMP4("r4", "r8", "r9", "r5")
        "ldrd    r8, r9, [r3, #8]\n\t"       /* out0, out1 */
        "strh    r4, [r8], #2\n\t"
        "lsr     r4, r4, #16\n\t"
        "strh    r4, [r9], #2\n\t"
        "strd    r8, r9, [r3, #8]\n\t"
        "ldr     r12, [r3, #20]\n\t"          /* pairs */
        "subs    r12, r12, #1\n\t"
        "str     r12, [r3, #20]\n\t"
        "bne     4b\n\t"
        "add     sp, sp, #16\n\t"
        "pop     {r4-r11, pc}\n\t");
}

/* One word (a: taps 0, 2; b: taps 1, 3) of a group of 4 taps for 3 pixels x 2 channels: the word of the 3 pixels
 * (LDM), of the 2 channels (LDRD), 6 SMLAD. A group is word a then word b: 16 instructions per 24 MACs. */
#define TK_MAC_3X2_WORD                  \
    "ldmia   r0!, {r8, r9, r10}\n\t"     \
    "ldrd    r11, r12, [r1], #8\n\t"     \
    "smlad   r3, r8, r11, r3\n\t"        \
    "smlad   r4, r8, r12, r4\n\t"        \
    "smlad   r5, r9, r11, r5\n\t"        \
    "smlad   r6, r9, r12, r6\n\t"        \
    "smlad   r7, r10, r11, r7\n\t"       \
    "smlad   lr, r10, r12, lr\n\t"
#define TK_MAC_3X2_GROUP TK_MAC_3X2_WORD TK_MAC_3X2_WORD

/* The loop over the groups of 4 taps four per pass, from r0 (columns) to r2 (their end), entered by TBB on r12 =
 * groups % 4 so that the first pass does the remainder (Duff's device). Local labels 5, 10-13. */
#define TK_GROUP_LOOP4(GROUP)                                                    \
    "tbb     [pc, r12]\n\t"                                                      \
    "5:\n\t"                                                                     \
    ".byte   (10f - 5b) / 2, (13f - 5b) / 2, (12f - 5b) / 2, (11f - 5b) / 2\n\t"  \
    "10:\n\t" GROUP                                                              \
    "11:\n\t" GROUP                                                              \
    "12:\n\t" GROUP                                                              \
    "13:\n\t" GROUP                                                              \
    "cmp     r0, r2\n\t"                                                         \
    "bne     10b\n\t"

/* The entry of a 3-pixel channel loop (r0 columns, r2 groups, r3 job): the stack holds [sp] columns, [sp, #4] end of
 * the columns, [sp, #8] job, [sp, #12] groups % 4. */
#define TK_PAIRS_3X2_ENTRY                                                       \
    "push    {r4-r11, lr}\n\t"                                               \
    "and     r12, r2, #3\n\t"                                                \
    "add     r2, r2, r2, lsl #1\n\t"    /* 3 * groups */                      \
    "add     r2, r0, r2, lsl #3\n\t"    /* end of the columns: 24 bytes per group */ \
    "push    {r0, r2, r3, r12}\n\t"

/* Its end per channel pair: the 6 saturated bytes (p c) in r3 (p0 c0), r4, r5, r6, r7, lr (p2 c1) packed, clamped
 * (CLAMP), stored (STRH per pixel), the job's pointers and pair count moved on (r12 = job); back to label 4 while
 * pairs are left, then the return. */
#define TK_PAIRS_3X2_STORE(CLAMP)                                                \
    "bfi     r3, r4, #8, #8\n\t"         /* (p0, c0) (p0, c1) (p1, c0) (p1, c1) in r3, p2's in r7 */ \
    "bfi     r5, r6, #8, #8\n\t"                                             \
    "bfi     r7, lr, #8, #8\n\t"                                             \
    "bfi     r3, r5, #16, #16\n\t"                                           \
    CLAMP                                                                    \
    "add     r11, r12, #8\n\t"                                               \
    "ldm     r11, {r0, r2, r10}\n\t"     /* out0, out1, out2 */               \
    "strh    r3, [r0], #2\n\t"                                               \
    "lsr     r3, r3, #16\n\t"                                                \
    "strh    r3, [r2], #2\n\t"                                               \
    "strh    r7, [r10], #2\n\t"                                              \
    "stm     r11, {r0, r2, r10}\n\t"                                         \
    "ldr     r10, [r12, #20]\n\t"        /* pairs */                          \
    "subs    r10, r10, #1\n\t"                                               \
    "str     r10, [r12, #20]\n\t"                                            \
    "bne     4b\n\t"                                                         \
    "add     sp, sp, #16\n\t"                                                \
    "pop     {r4-r11, pc}\n\t"

/* tk_conv_pairs_3x2: tk_conv_pairs_2x2 for three pixels (columns of stride 6). Accumulators (p0, c0) r3, (p0, c1)
 * r4, (p1, c0) r5, (p1, c1) r6, (p2, c0) r7, (p2, c1) lr; the job lives on the stack: [sp] columns, [sp, #4] end
 * of the columns, [sp, #8] job, [sp, #12] groups % 4. CLAMP clamps the packed bytes to the activation range
 * (tk_conv_pairs_3x2) or is empty (tk_conv_pairs_3x2_full: the range is all of int8, SSAT's). */
#define TK_CONV_PAIRS_3X2(CLAMP)                                                 \
    __asm__ volatile(                                                            \
        TK_PAIRS_3X2_ENTRY                                                       \
        "4:\n\t"                                                                 \
        "ldr     r12, [sp, #8]\n\t"                                              \
        "ldr     r11, [r12]\n\t"             /* bias (b0, b1, b0, b1) */          \
        "ldmia   r11!, {r3-r6}\n\t"                                              \
        "str     r11, [r12]\n\t"                                                 \
        "mov     r7, r3\n\t"                                                     \
        "mov     lr, r4\n\t"                                                     \
        "ldrd    r0, r2, [sp]\n\t"                                               \
        "ldr     r12, [sp, #12]\n\t"                                             \
        TK_GROUP_LOOP4(TK_MAC_3X2_GROUP)                                         \
        "ldr     r12, [sp, #8]\n\t"                                              \
        "ldr     r11, [r12, #4]\n\t"         /* quant */                          \
        "ldmia   r11!, {r0, r2, r8}\n\t"     /* channel 0 */                      \
        TK_RESCALE("r3") TK_RESCALE("r5") TK_RESCALE("r7")                       \
        "ldmia   r11!, {r0, r2, r8}\n\t"     /* channel 1 */                      \
        TK_RESCALE("r4") TK_RESCALE("r6") TK_RESCALE("lr")                       \
        "str     r11, [r12, #4]\n\t"                                             \
        TK_PAIRS_3X2_STORE(CLAMP))

#define TK_CLAMP_3X2                                                             \
    "ldrd    r8, r9, [r12, #24]\n\t"     /* low4, high4 */                       \
    TK_CLAMP4("r3", "r8", "r9", "r0")                                            \
    TK_CLAMP4("r7", "r8", "r9", "r0")

TK_PAIRS_FUNCTION(tk_conv_pairs_3x2) { TK_CONV_PAIRS_3X2(TK_CLAMP_3X2); }
TK_PAIRS_FUNCTION(tk_conv_pairs_3x2_full) { TK_CONV_PAIRS_3X2(""); }

/* One depthwise tap for 4 channels: the input word at `addr`, its packed weights at r1 (then r1 steps to the next
 * tap: a group's 9 taps are back to back, pack.py's group-major 3x3 layout), acc (c0, c1, c2, c3) in r4, r5, r6,
 * r7; r8 = the input offset pair. */
#define TK_DW_TAP(addr)                   \
    "ldr     r9, " addr "\n\t"            \
    "ldrd    r12, lr, [r1], #8\n\t"       \
    "sxtab16 r10, r8, r9\n\t"             \
    "sxtab16 r11, r8, r9, ror #8\n\t"     \
    "smlabb  r4, r10, r12, r4\n\t"        \
    "smlatt  r6, r10, r12, r6\n\t"        \
    "smlabb  r5, r11, lr, r5\n\t"         \
    "smlatt  r7, r11, lr, r7\n\t"

/* Rescale of accumulator `r` with the next channel's (multiplier, right shift, nudge) from r2 (advanced) to a
 * saturated int8 in `r`. */
#define TK_DW_RESCALE(r)                  \
    "ldmia   r2!, {r9, r10, r11}\n\t"     \
    TK_RESCALE_WITH(r, "r9", "r10", "r11", "r12")

/* tk_dw_3x3_pixel (see tk_dw_job in tk_fast.h): per group of 4 channels, the bias, the 9 taps unrolled (8
 * instructions each: a group's packed weights are its 9 taps back to back), the rescale, the clamp of the 4 bytes
 * at once and one STR. Stack: job, out, bias, quant, groups left. */
TK_NAKED static void tk_dw_3x3_pixel(TK_UNUSED const int8_t *x,
                                     TK_UNUSED const int16_t *w,
                                     TK_UNUSED const tk_dw_job *job,
                                     TK_UNUSED int8_t *out)
{
    __asm__ volatile(
        "push    {r4-r11, lr}\n\t"
        "ldr     r12, [r2, #28]\n\t"          /* groups */
        "ldrd    r9, r10, [r2, #20]\n\t"      /* bias, quant */
        "push    {r2, r3, r9, r10, r12}\n\t"
        "6:\n\t"
        "ldr     r12, [sp]\n\t"
        "ldm     r12, {r2, r3, r8}\n\t"        /* row step, channels, offsets */
        "ldr     r9, [sp, #8]\n\t"
        "ldmia   r9!, {r4-r7}\n\t"             /* bias: acc c0 c1 c2 c3 */
        "str     r9, [sp, #8]\n\t"
        TK_DW_TAP("[r0]") TK_DW_TAP("[r0, r3]") TK_DW_TAP("[r0, r3, lsl #1]")
        "add     r0, r0, r2\n\t"
        TK_DW_TAP("[r0]") TK_DW_TAP("[r0, r3]") TK_DW_TAP("[r0, r3, lsl #1]")
        "add     r0, r0, r2\n\t"
        TK_DW_TAP("[r0]") TK_DW_TAP("[r0, r3]") TK_DW_TAP("[r0, r3, lsl #1]")
        "sub     r0, r0, r2, lsl #1\n\t"       /* the next group's first tap */
        "add     r0, r0, #4\n\t"                /* (r1: at the next group's first tap) */
        "ldr     r2, [sp, #12]\n\t"            /* quant */
        TK_DW_RESCALE("r4") TK_DW_RESCALE("r5") TK_DW_RESCALE("r6") TK_DW_RESCALE("r7")
        "str     r2, [sp, #12]\n\t"
        "bfi     r4, r5, #8, #8\n\t"
        "bfi     r4, r6, #16, #8\n\t"
        "bfi     r4, r7, #24, #8\n\t"
        "ldr     r12, [sp]\n\t"
        "ldrd    r9, r10, [r12, #12]\n\t"      /* low4, high4 */
        TK_CLAMP4("r4", "r9", "r10", "r11")
        "ldr     r3, [sp, #4]\n\t"
        "str     r4, [r3], #4\n\t"
        "str     r3, [sp, #4]\n\t"
        "ldr     r3, [sp, #16]\n\t"
        "subs    r3, r3, #1\n\t"
        "str     r3, [sp, #16]\n\t"
        "bne     6b\n\t"
        "add     sp, sp, #20\n\t"
        "pop     {r4-r11, pc}\n\t");
}
/* clang-format on */

#endif /* TK_FAST_DSP_ASM_H */
