/* The channel loop of tk_conv2d_fast8_s8 with the groups of taps fully unrolled (Cortex-M4 assembly, naked): the
 * 3-pixel loop of tk_conv8_dsp_asm.h without its loop counter and end pointer. The two registers that frees hold
 * the bias and quant pointers for the whole call, so a channel pair costs 4 setup instructions and 3 to move on
 * instead of ~20 of stack bookkeeping and loop control (MobileNetV1-0.25's pointwise layers: 128-256 taps). Layers
 * of at most TK_UNROLLED8_GROUPS groups (depth 256) take it; the call jumps into the sequence `groups` groups before
 * its end (LDR PC from the stack), as tk_conv_unrolled_dsp_asm.h does. Included by tk_conv_fast8.c only, when
 * TK_DSP. */
#ifndef TK_CONV8_UNROLLED_DSP_ASM_H
#define TK_CONV8_UNROLLED_DSP_ASM_H

#include <stdint.h>

#include "tk_arch.h"
#include "tk_conv8_dsp_asm.h"
#include "tk_fast.h"

/* Groups of 4 taps up to which tk_conv2d_fast8_s8 takes the unrolled loop (the sequence: 4.6 KB of code). The
 * assembly below spells it out (the entry arithmetic, the size check): change them together. */
#define TK_UNROLLED8_GROUPS 64
TK_STATIC_ASSERT(TK_UNROLLED8_GROUPS == 64, "tk_conv8_pairs_3x2u unrolls exactly 64 groups");

/* The assembly below is laid out by hand, one instruction per line with its comment: clang-format would join the
 * string literals and the macro calls. */
/* clang-format off */

#define TK_MAC8U_GROUP TK_MAC8_3X2_WORD TK_MAC8_3X2_WORD /* 72 bytes */
#define TK_MAC8U_GROUP4 TK_MAC8U_GROUP TK_MAC8U_GROUP TK_MAC8U_GROUP TK_MAC8U_GROUP
#define TK_MAC8U_GROUP16 TK_MAC8U_GROUP4 TK_MAC8U_GROUP4 TK_MAC8U_GROUP4 TK_MAC8U_GROUP4
#define TK_MAC8U_GROUP64 TK_MAC8U_GROUP16 TK_MAC8U_GROUP16 TK_MAC8U_GROUP16 TK_MAC8U_GROUP16

/* tk_conv8_pairs_3x2 (tk_pair_job; columns of stride 6) with groups <= TK_UNROLLED8_GROUPS, clamped or not (one
 * function of 4.9 KB: a second copy of the 4.6 KB sequence would cost more than the 2 instructions per channel
 * pair the test costs). r2: the bias (a, mix per pair), r12: the quant words (7 per pair), both for the whole call. Stack: [sp]
 * columns, [sp, #4] the entry address (Thumb bit set), [sp, #8] 0 when the activation is all of int8, [sp, #12]
 * out0, out1, out2, [sp, #24] the end of quant, [sp, #28] low4, high4. */
TK_PAIRS_FUNCTION(tk_conv8_pairs_3x2u)
{
    __asm__ volatile(
        "push    {r4-r11, lr}\n\t"
        "ldm     r3, {r4-r11}\n\t"             /* bias quant out0 out1 out2 pairs low4 high4 */
        "rsb     r9, r9, r9, lsl #3\n\t"
        "add     r9, r5, r9, lsl #2\n\t"       /* the end of quant: 28 bytes a pair */
        "push    {r6-r11}\n\t"
        "eor     r3, r10, #0x80808080\n\t"    /* low4 - (-128) */
        "eor     lr, r11, #0x7f7f7f7f\n\t"    /* high4 - 127 */
        "orr     r3, r3, lr\n\t"
        "push    {r3}\n\t"
        "adr     r12, 8f\n\t"                 /* (ADR reaches the start, not the end) */
        "rsb     r2, r2, #64\n\t"              /* groups skipped */
        "add     r2, r2, r2, lsl #3\n\t"
        "add     r12, r12, r2, lsl #3\n\t"     /* 72 bytes each */
        "orr     r12, r12, #1\n\t"             /* Thumb */
        "push    {r0, r12}\n\t"
        "mov     r2, r4\n\t"
        "mov     r12, r5\n\t"
        "4:\n\t"
        "ldmia   r2!, {r3, r4}\n\t"            /* bias: a, mix */
        "mov     r5, r3\n\t"
        "mov     r6, r4\n\t"
        "mov     r7, r3\n\t"
        "mov     lr, r4\n\t"
        "ldr     r0, [sp]\n\t"
        "ldr     pc, [sp, #4]\n\t"
        ".p2align 2\n\t"
        "8:\n\t"
        TK_MAC8U_GROUP64
        "9:\n\t"
        ".if (9b - 8b) != 72 * 64\n\t"
        ".error \"unrolled int8 group is not 72 bytes\"\n\t"
        ".endif\n\t"
        "sub     r4, r4, r3\n\t"               /* 256 (T - low) per pixel */
        "sub     r6, r6, r5\n\t"
        "sub     lr, lr, r7\n\t"
        "lsl     r3, r3, #1\n\t"               /* doubled channel 0 */
        "lsl     r5, r5, #1\n\t"
        "lsl     r7, r7, #1\n\t"
        "ldmia   r12!, {r8, r9, r10}\n\t"      /* channel 0: m, s, n */
        TK_RESCALE_WITH("r3", "r8", "r9", "r10", "r0")
        TK_RESCALE_WITH("r5", "r8", "r9", "r10", "r0")
        TK_RESCALE_WITH("r7", "r8", "r9", "r10", "r0")
        "ldmia   r12!, {r8, r9, r10, r11}\n\t" /* channel 1: m, s, n, 2 low */
        "add     r4, r11, r4, lsr #7\n\t"
        "add     r6, r11, r6, lsr #7\n\t"
        "add     lr, r11, lr, lsr #7\n\t"
        TK_RESCALE_WITH("r4", "r8", "r9", "r10", "r0")
        TK_RESCALE_WITH("r6", "r8", "r9", "r10", "r0")
        TK_RESCALE_WITH("lr", "r8", "r9", "r10", "r0")
        "bfi     r3, r4, #8, #8\n\t"           /* (p0, c0) (p0, c1) (p1, c0) (p1, c1) in r3 */
        "bfi     r5, r6, #8, #8\n\t"
        "bfi     r7, lr, #8, #8\n\t"           /* p2's in r7 */
        "bfi     r3, r5, #16, #16\n\t"
        "ldr     r0, [sp, #8]\n\t"
        "cbz     r0, 7f\n\t"                  /* all of int8: nothing to clamp */
        "ldrd    r8, r9, [sp, #28]\n\t"       /* low4, high4 */
        TK_CLAMP4("r3", "r8", "r9", "r0")
        TK_CLAMP4("r7", "r8", "r9", "r0")
        "7:\n\t"
        "add     r11, sp, #12\n\t"
        "ldm     r11, {r0, r8, r9}\n\t"        /* out0, out1, out2 */
        "strh    r3, [r0], #2\n\t"
        "lsr     r3, r3, #16\n\t"
        "strh    r3, [r8], #2\n\t"
        "strh    r7, [r9], #2\n\t"
        "stm     r11, {r0, r8, r9}\n\t"
        "ldr     r0, [sp, #24]\n\t"            /* the end of quant */
        "cmp     r12, r0\n\t"
        "bne     4b\n\t"
        "add     sp, sp, #36\n\t"
        "pop     {r4-r11, pc}\n\t");
}

/* clang-format on */

#endif /* TK_CONV8_UNROLLED_DSP_ASM_H */
