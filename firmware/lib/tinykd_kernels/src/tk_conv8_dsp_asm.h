/* The channel loop of tk_conv2d_fast8_s8 in Cortex-M4 assembly (naked functions: AAPCS arguments in r0-r3, every
 * other register saved by the function): tk_conv_pairs_3x2 (tk_fast_dsp_asm.h) on int8 weights two channels to
 * an int16 (pack.py, pack_fc8 with one pair per tile). Included by tk_conv_fast8.c only, when TK_DSP; the portable
 * equivalent is in tk_conv_fast8.c. */
#ifndef TK_CONV8_DSP_ASM_H
#define TK_CONV8_DSP_ASM_H

#include <stdint.h>

#include "tk_arch.h"
#include "tk_fast.h"

/* The assembly below is laid out by hand, one instruction per line with its comment: clang-format would join the
 * string literals and the macro calls. */
/* clang-format off */

/* One word (a: taps 0, 2; b: taps 1, 3) of a group of 4 taps for 3 pixels x 2 channels: the word of the 3 pixels
 * (LDM), h = w0 + 256 w1 per halfword (LDR): SMLAD into the 3 mixes, SXTB16 (w0), SMLAD into the 3 a's: 9
 * instructions per 12 MACs, 36 bytes (fixed 32-bit encodings: tk_conv8_unrolled_dsp_asm.h jumps into a sequence of
 * them). a (p0, p1, p2) r3, r5, r7; mix r4, r6, lr. */
#define TK_MAC8_3X2_WORD                 \
    "ldmia.w r0!, {r8, r9, r10}\n\t"     \
    "ldr.w   r11, [r1], #4\n\t"          \
    "smlad   r4, r8, r11, r4\n\t"        \
    "smlad   r6, r9, r11, r6\n\t"        \
    "smlad   lr, r10, r11, lr\n\t"       \
    "sxtb16  r11, r11\n\t"               \
    "smlad   r3, r8, r11, r3\n\t"        \
    "smlad   r5, r9, r11, r5\n\t"        \
    "smlad   r7, r10, r11, r7\n\t"
#define TK_MAC8_3X2_GROUP TK_MAC8_3X2_WORD TK_MAC8_3X2_WORD

/* Channel 1's doubled accumulator of a pixel: 2 low (r10) + (mix - a) >> 7 (pack_fc8), mix in `d`. */
#define TK_UNMIX(d) "add     " d ", r10, " d ", lsr #7\n\t"

/* tk_conv8_pairs_3x2 (see tk_pair_job; bias: a, mix per pair; quant: (m, s, n) channel 0, (m, s, n, 2 low)
 * channel 1 per pair): per channel pair, the MACs of 3 pixels, the 3 channel-1 accumulators taken out of the
 * mixes, 6 rescales, the bytes packed, clamped (CLAMP, or nothing: tk_conv8_pairs_3x2_full) and stored as in
 * tk_conv_pairs_3x2. Stack: [sp] columns, [sp, #4] end of the columns, [sp, #8] job, [sp, #12] groups % 4. */
#define TK_CONV8_PAIRS_3X2(CLAMP)                                                \
    __asm__ volatile(                                                            \
        TK_PAIRS_3X2_ENTRY                                                       \
        "4:\n\t"                                                                 \
        "ldr     r12, [sp, #8]\n\t"                                              \
        "ldr     r11, [r12]\n\t"             /* bias (a, mix) */                  \
        "ldmia   r11!, {r3, r4}\n\t"                                             \
        "str     r11, [r12]\n\t"                                                 \
        "mov     r5, r3\n\t"                                                     \
        "mov     r6, r4\n\t"                                                     \
        "mov     r7, r3\n\t"                                                     \
        "mov     lr, r4\n\t"                                                     \
        "ldrd    r0, r2, [sp]\n\t"                                               \
        "ldr     r12, [sp, #12]\n\t"                                             \
        TK_GROUP_LOOP4(TK_MAC8_3X2_GROUP)                                        \
        "sub     r4, r4, r3\n\t"             /* 256 (T - low) per pixel */        \
        "sub     r6, r6, r5\n\t"                                                 \
        "sub     lr, lr, r7\n\t"                                                 \
        "lsl     r3, r3, #1\n\t"             /* doubled channel 0 */              \
        "lsl     r5, r5, #1\n\t"                                                 \
        "lsl     r7, r7, #1\n\t"                                                 \
        "ldr     r12, [sp, #8]\n\t"                                              \
        "ldr     r11, [r12, #4]\n\t"         /* quant */                          \
        "ldmia   r11!, {r0, r2, r8}\n\t"     /* channel 0 */                      \
        TK_RESCALE("r3") TK_RESCALE("r5") TK_RESCALE("r7")                       \
        "ldmia   r11!, {r0, r2, r8, r10}\n\t" /* channel 1, 2 low */             \
        TK_UNMIX("r4") TK_UNMIX("r6") TK_UNMIX("lr")                             \
        TK_RESCALE("r4") TK_RESCALE("r6") TK_RESCALE("lr")                       \
        "str     r11, [r12, #4]\n\t"                                             \
        TK_PAIRS_3X2_STORE(CLAMP))

TK_PAIRS_FUNCTION(tk_conv8_pairs_3x2) { TK_CONV8_PAIRS_3X2(TK_CLAMP_3X2); }
TK_PAIRS_FUNCTION(tk_conv8_pairs_3x2_full) { TK_CONV8_PAIRS_3X2(""); }

/* clang-format on */

#endif /* TK_CONV8_DSP_ASM_H */
