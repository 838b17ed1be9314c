/* The tile loop of tk_fully_connected_fast8_s8 in Cortex-M4 assembly (a naked function: AAPCS arguments in r0-r3,
 * every other register saved by it): its MAC loop needs 13 registers and the job a 14th, which GCC spills.
 * Included by tk_fully_connected_fast.c only, when TK_DSP; the layouts are pack.py's pack_fc8, the portable
 * equivalent is in tk_fully_connected_fast.c. */
#ifndef TK_FC8_DSP_ASM_H
#define TK_FC8_DSP_ASM_H

#include <stdint.h>

#include "tk_arch.h"
#include "tk_fast.h"

/* The assembly below is laid out by hand, one instruction per line with its comment: clang-format would join the
 * string literals and the macro calls. */
/* clang-format off */

/* One row pair of one word of inputs x (taps 0, 2 or 1, 3): h (wA + 256 wB per halfword) into mix, its low bytes
 * (SXTB16: wA) into a. */
#define TK_MAC8_PAIR(a, mix, x, h)               \
    "smlad   " mix ", " x ", " h ", " mix "\n\t" \
    "sxtb16  " h ", " h "\n\t"                   \
    "smlad   " a ", " x ", " h ", " a "\n\t"

/* One group of 4 taps for the tile's 4 rows: the 2 input words (LDRD), the 4 weight words (LDM), 4 x (SMLAD,
 * SXTB16, SMLAD): 14 instructions per 16 MACs. Accumulators a0 r3, mix0 r4, a1 r5, mix1 r6. */
#define TK_MAC8_GROUP                           \
    "ldrd    r7, r8, [r0], #8\n\t"              \
    "ldmia   r1!, {r9, r10, r11, r12}\n\t"      \
    TK_MAC8_PAIR("r3", "r4", "r7", "r9")        \
    TK_MAC8_PAIR("r3", "r4", "r8", "r10")       \
    TK_MAC8_PAIR("r5", "r6", "r7", "r11")       \
    TK_MAC8_PAIR("r5", "r6", "r8", "r12")

/* B's doubled accumulator from mix - a (= 256 (T - low), register `d`) and the next quant words (m, s, n, 2 low)
 * at r11 (LDM fills registers in ascending order), then its rescale; r7 scratch. */
#define TK_FC8_RESCALE_B(d)                       \
    "ldmia   r11!, {r0, r2, r8, r9}\n\t"          \
    "add     " d ", r9, " d ", lsr #7\n\t"        \
    TK_RESCALE_WITH(d, "r0", "r2", "r8", "r7")

/* A's: the doubled a (register `a`) and the next quant words (m, s, n). */
#define TK_FC8_RESCALE_A(a)                       \
    "ldmia   r11!, {r0, r2, r8}\n\t"              \
    TK_RESCALE_WITH(a, "r0", "r2", "r8", "r9")

/* tk_fc8_tiles (see tk_fc8_job): per tile of 4 rows, the bias, the MAC loop over the column (four groups per
 * pass, entered on groups % 4), the two B accumulators taken out of the mixes, 4 rescales, the 4 bytes packed,
 * clamped to the activation range (CLAMP, or nothing when the range is all of int8: SSAT's) and stored as one
 * word. lr holds the job; the weights (r1) run on from tile to tile. Stack: column, end of the column,
 * groups % 4. */
#define TK_FC8_TILES(CLAMP)                                                      \
    __asm__ volatile(                                                            \
        "push    {r4-r11, lr}\n\t"                                               \
        "mov     lr, r3\n\t"                                                     \
        "and     r12, r2, #3\n\t"                                                \
        "add     r2, r0, r2, lsl #3\n\t"     /* end of the column: 8 bytes per group */ \
        "push    {r0, r2, r12, lr}\n\t"                                          \
        "4:\n\t"                                                                 \
        "ldr     r11, [lr]\n\t"              /* bias: a0, mix0, a1, mix1 */      \
        "ldmia   r11!, {r3-r6}\n\t"                                              \
        "str     r11, [lr]\n\t"                                                  \
        "ldrd    r0, r2, [sp]\n\t"                                               \
        "ldr     r12, [sp, #8]\n\t"                                              \
        TK_GROUP_LOOP4(TK_MAC8_GROUP)                                            \
        "sub     r4, r4, r3\n\t"             /* 256 (T0 - low0) */               \
        "sub     r6, r6, r5\n\t"                                                 \
        "lsl     r3, r3, #1\n\t"             /* doubled A0, A1 */                \
        "lsl     r5, r5, #1\n\t"                                                 \
        "ldr     r11, [lr, #4]\n\t"          /* quant */                         \
        TK_FC8_RESCALE_A("r3") TK_FC8_RESCALE_B("r4")                            \
        TK_FC8_RESCALE_A("r5") TK_FC8_RESCALE_B("r6")                            \
        "str     r11, [lr, #4]\n\t"                                              \
        "bfi     r3, r4, #8, #8\n\t"         /* bytes A0 B0 A1 B1 */             \
        "bfi     r5, r6, #8, #8\n\t"                                             \
        "bfi     r3, r5, #16, #16\n\t"                                           \
        CLAMP                                                                    \
        "ldrd    r0, r2, [lr, #8]\n\t"       /* out, out_end */                  \
        "str     r3, [r0], #4\n\t"                                               \
        "str     r0, [lr, #8]\n\t"                                               \
        "cmp     r0, r2\n\t"                                                     \
        "bne     4b\n\t"                                                         \
        "add     sp, sp, #16\n\t"                                                \
        "pop     {r4-r11, pc}\n\t")

#define TK_FC8_CLAMP                                                             \
    "ldrd    r8, r9, [lr, #16]\n\t"      /* low4, high4 */                       \
    TK_CLAMP4("r3", "r8", "r9", "r10")

#define TK_FC8_FUNCTION(name)                                                                  \
    TK_NAKED static void name(TK_UNUSED const void *column, TK_UNUSED const int16_t *weights, \
                              TK_UNUSED int32_t groups, TK_UNUSED tk_fc8_job *job)

TK_FC8_FUNCTION(tk_fc8_tiles) { TK_FC8_TILES(TK_FC8_CLAMP); }
TK_FC8_FUNCTION(tk_fc8_tiles_full) { TK_FC8_TILES(""); }

/* clang-format on */

#endif /* TK_FC8_DSP_ASM_H */
