/* The inner loop of tk_depthwise_conv2d_3x3_fast_s8 in Cortex-M4 assembly (tk_depthwise_3x3.c; layouts there):
 * one channel, blocks of 4 output rows, column by column. It needs all 14 registers: the channel's 9 weights as
 * 6 int16 pairs, 4 accumulators, the 3 words of an input column and the column pointer. Included by
 * tk_depthwise_3x3.c only, when TK_DSP (tk_arch.h). */
#ifndef TK_DW3X3_DSP_ASM_H
#define TK_DW3X3_DSP_ASM_H

#include "tk_arch.h"
#include "tk_fast.h"

/* The assembly below is laid out by hand, one instruction per line with its comment: clang-format would join the
 * string literals and the macro calls. */
/* clang-format off */

/* One filter column: its input column in r1 (x0, x1), r2 (x2, x3), r3 (x4, x5), weights K01 = (k0, k1) and
 * K12 = (k1, k2) of the 3 filter rows; output row i (acc r4 + i) takes x_i k0 + x_(i+1) k1 + x_(i+2) k2:
 * 8 instructions per 12 MACs. */
#define TK_DW3_COLUMN(K01, K12)                 \
    "ldmia   r0!, {r1, r2, r3}\n\t"             \
    "smlad   r4, r1, " K01 ", r4\n\t"           \
    "smlabt  r4, r2, " K12 ", r4\n\t"           \
    "smlatb  r5, r1, " K01 ", r5\n\t"           \
    "smlad   r5, r2, " K12 ", r5\n\t"           \
    "smlad   r6, r2, " K01 ", r6\n\t"           \
    "smlabt  r6, r3, " K12 ", r6\n\t"           \
    "smlatb  r7, r2, " K01 ", r7\n\t"           \
    "smlad   r7, r3, " K12 ", r7\n\t"

/* The same for the 2 rows of a last block of 1 or 2 rows: accumulators r4, r5. */
#define TK_DW3_COLUMN2(K01, K12)                \
    "ldmia   r0!, {r1, r2, r3}\n\t"             \
    "smlad   r4, r1, " K01 ", r4\n\t"           \
    "smlabt  r4, r2, " K12 ", r4\n\t"           \
    "smlatb  r5, r1, " K01 ", r5\n\t"           \
    "smlad   r5, r2, " K12 ", r5\n\t"

/* The channel loop (see tk_dw3_job, whose 16 words are copied to the stack: [sp, #4 * field]; the assembly keeps
 * the end of a block's columns in word 13 and the last weight pair in word 14). BIAS loads the accumulators;
 * an output column takes 3 input columns from r0 and moves r0 on by 12 << STRIDE_LOG2 bytes (REWIND: 36 less
 * that); NEXT_BLOCK moves r0 from the end of a block's columns to the next block's first. COLUMN multiplies one
 * input column (TK_DW3_COLUMN: 4 rows, TK_DW3_COLUMN2, TK_DW3S2_*); FINISH rescales the accumulators to bytes in
 * r4.. (r1-r3, lr scratch), clamps them if the activation needs it and stores them at r1 (out), r1 + r2 (row
 * step), ... */
#define TK_DW3_LOOP(BIAS, STRIDE_LOG2, REWIND, NEXT_BLOCK, COLUMN, FINISH)                            \
    __asm__ volatile(                                                                                 \
        "push    {r4-r11, lr}\n\t"                                                                    \
        "add     r2, r2, #32\n\t"                                                                     \
        "ldmia   r2, {r3-r10}\n\t"           /* job words 8..15 */                                     \
        "push    {r3-r10}\n\t"                                                                        \
        "ldmdb   r2, {r3-r10}\n\t"           /* job words 0..7 */                                      \
        "push    {r3-r10}\n\t"                                                                        \
        "ldm     r1, {r8-r12, lr}\n\t"       /* K01, K12 of filter columns 0, 1, 2 */                  \
        "str     lr, [sp, #56]\n\t"                                                                   \
        "1:\n\t"                             /* a block of output rows */                              \
        "ldr     r1, [sp, #40]\n\t"          /* columns */                                             \
        "add     r1, r1, r1, lsl #1\n\t"                                                              \
        "add     r1, r0, r1, lsl #2 + " STRIDE_LOG2 "\n\t" /* end of the block's output columns */       \
        "str     r1, [sp, #52]\n\t"                                                                   \
        "2:\n\t"                             /* an output column */                                    \
        BIAS                                                                                          \
        COLUMN("r8", "r9") COLUMN("r10", "r11") COLUMN("r12", "lr")                                   \
        "sub     r0, r0, #" REWIND "\n\t"     /* the next output column's first input column */         \
        "ldrd    r1, r2, [sp, #8]\n\t"       /* multiplier, right shift */                             \
        "ldr     r3, [sp, #16]\n\t"          /* nudge */                                               \
        FINISH                                                                                        \
        "ldr     r3, [sp, #36]\n\t"          /* column step */                                         \
        "add     r1, r1, r3\n\t"                                                                      \
        "str     r1, [sp, #28]\n\t"                                                                   \
        "ldr     r1, [sp, #52]\n\t"                                                                   \
        "cmp     r0, r1\n\t"                                                                          \
        "bne     2b\n\t"                                                                              \
        NEXT_BLOCK                                                                                    \
        "ldr     r1, [sp, #28]\n\t"                                                                   \
        "ldr     r3, [sp, #48]\n\t"          /* out skip: to the next block's first output */          \
        "add     r1, r1, r3\n\t"                                                                      \
        "str     r1, [sp, #28]\n\t"                                                                   \
        "ldr     r1, [sp, #44]\n\t"          /* blocks left */                                         \
        "subs    r1, r1, #1\n\t"                                                                      \
        "str     r1, [sp, #44]\n\t"                                                                   \
        "bne     1b\n\t"                                                                              \
        "add     sp, sp, #64\n\t"                                                                     \
        "pop     {r4-r11, pc}\n\t")

/* Stride 1: 4 accumulators (bias, twice, from words 0-1), output columns one input column apart, 2 padding columns
 * after a block's. */
#define TK_DW3_CHANNEL(COLUMN, FINISH)                                                                \
    TK_DW3_LOOP("ldrd    r4, r5, [sp]\n\t" "ldrd    r6, r7, [sp]\n\t", "0", "24",                      \
                "add     r0, r0, #24\n\t", COLUMN, FINISH)

/* 4 rows: rescale r4-r7 (lr scratch, then the weight pair again), optionally clamp the 4 bytes at once, store. */
#define TK_DW3_FINISH4(CLAMP)                                                                         \
    TK_RESCALE_WITH("r4", "r1", "r2", "r3", "lr") TK_RESCALE_WITH("r5", "r1", "r2", "r3", "lr")       \
    TK_RESCALE_WITH("r6", "r1", "r2", "r3", "lr") TK_RESCALE_WITH("r7", "r1", "r2", "r3", "lr")       \
    "ldr     lr, [sp, #56]\n\t"                                                                       \
    CLAMP                                                                                             \
    "ldrd    r1, r2, [sp, #28]\n\t"          /* out, row step */                                       \
    "strb    r4, [r1]\n\t"                                                                            \
    "strb    r5, [r1, r2]\n\t"                                                                        \
    "add     r3, r1, r2, lsl #1\n\t"                                                                  \
    "strb    r6, [r3]\n\t"                                                                            \
    "strb    r7, [r3, r2]\n\t"

#define TK_DW3_CLAMP4                                                                                 \
    "bfi     r4, r5, #8, #8\n\t"                                                                      \
    "bfi     r4, r6, #16, #8\n\t"                                                                     \
    "bfi     r4, r7, #24, #8\n\t"                                                                     \
    "ldrd    r1, r2, [sp, #20]\n\t"          /* low4, high4 */                                         \
    TK_CLAMP4("r4", "r1", "r2", "r3")                                                                 \
    "lsr     r5, r4, #8\n\t"                                                                          \
    "lsr     r6, r4, #16\n\t"                                                                         \
    "lsr     r7, r4, #24\n\t"

/* 2 rows: the same for r4, r5. */
#define TK_DW3_FINISH2(CLAMP)                                                                         \
    TK_RESCALE_WITH("r4", "r1", "r2", "r3", "lr") TK_RESCALE_WITH("r5", "r1", "r2", "r3", "lr")       \
    "ldr     lr, [sp, #56]\n\t"                                                                       \
    CLAMP                                                                                             \
    "ldrd    r1, r2, [sp, #28]\n\t"          /* out, row step (0 for a single row: row 0 lands last) */ \
    "strb    r5, [r1, r2]\n\t"                                                                        \
    "strb    r4, [r1]\n\t"

#define TK_DW3_CLAMP2                                                                                 \
    "bfi     r4, r5, #8, #8\n\t"                                                                      \
    "ldrd    r1, r2, [sp, #20]\n\t"          /* low4, high4 */                                         \
    TK_CLAMP4("r4", "r1", "r2", "r3")                                                                 \
    "lsr     r5, r4, #8\n\t"

/* Two input rows (r6 top, r7 bottom; 4 channels each) -> the words (x_top, x_bottom) + offset of channels 0, 1,
 * 2, 3 in r10, r11, r7, r9 (r5: the offset pair). */
#define TK_DW3_ROW_PAIR                                                                               \
    "sxtab16 r8, r5, r6, ror #8\n\t"         /* top: channels 1, 3 */                                  \
    "sxtab16 r6, r5, r6\n\t"                 /* top: channels 0, 2 */                                  \
    "sxtab16 r9, r5, r7, ror #8\n\t"                                                                  \
    "sxtab16 r7, r5, r7\n\t"                                                                          \
    "pkhbt   r10, r6, r7, lsl #16\n\t"                                                                \
    "pkhtb   r7, r7, r6, asr #16\n\t"                                                                 \
    "pkhbt   r11, r8, r9, lsl #16\n\t"                                                                \
    "pkhtb   r9, r9, r8, asr #16\n\t"

/* Row pair's 4 words to the 4 planes at r0 (r3: plane stride in bytes; lr scratch). */
#define TK_DW3_PUT                                                                                    \
    "str     r10, [r0]\n\t"                                                                          \
    "str     r11, [r0, r3]\n\t"                                                                      \
    "str     r7, [r0, r3, lsl #1]\n\t"                                                               \
    "add     lr, r0, r3, lsl #1\n\t"                                                                 \
    "str     r9, [lr, r3]\n\t"

/* tk_dw3_fill_band (see tk_dw3_fill in tk_depthwise_3x3.c): the input columns of the 4 planes for a band of blocks.
 * Per column, word 0 of block 0 takes (the row above, row 0): the zero point's word for the padding row (x + offset
 * = 0) on top, else the column's word at `above`; then the blocks whose rows are all inside (42 instructions per
 * block of 4 rows x 4 channels: rows (1, 2) to word 1, rows (3, 4) to word 2 and to the next block's word 0); then
 * the last block's 1-3 rows inside (`tail`), the zero point's word for the rows past the input. The job's 12
 * words are copied to the stack ([sp, #4 * field]: at, src and above move on per column there); r2 (row step), r3
 * (plane bytes) and r5 (offsets) stay for the whole call. */
TK_NAKED static void tk_dw3_fill_band(TK_UNUSED const tk_dw3_fill *fill)
{
    __asm__ volatile(
        "push    {r4-r11, lr}\n\t"
        "ldm     r0, {r1-r12}\n\t"
        "push    {r1-r12}\n\t"
        "mov     r2, r10\n\t"                    /* row step */
        "mov     r3, r11\n\t"                    /* plane bytes */
        "mov     r5, r12\n\t"                    /* offsets */
        "ldrd    r0, r1, [sp]\n\t"               /* at, src */
        "1:\n\t"                                 /* a column */
        "ldrd    r4, r12, [sp, #8]\n\t"          /* from a block's word 2 to the next block's word 0, blocks */
        "ldrd    r6, r7, [sp, #16]\n\t"          /* the padding row (the zero point in each byte), above */
        "cbz     r7, 4f\n\t"
        "ldr     r6, [r7], #4\n\t"               /* ... or the input row above the band; the next column's */
        "str     r7, [sp, #20]\n\t"
        "4:\n\t"
        "ldr     r7, [r1]\n\t"                   /* row 0 */
        TK_DW3_ROW_PAIR
        TK_DW3_PUT
        "add     r0, r0, #4\n\t"                 /* block 0's word 1 */
        "add     r1, r1, r2\n\t"                 /* row 1 */
        "cmp     r12, #0\n\t"
        "beq     2f\n\t"
        "5:\n\t"
        "ldr     r6, [r1]\n\t"
        "ldr     r7, [r1, r2]\n\t"
        TK_DW3_ROW_PAIR
        TK_DW3_PUT                               /* word 1: rows (1, 2) */
        "add     r1, r1, r2, lsl #1\n\t"
        "ldr     r6, [r1]\n\t"
        "ldr     r7, [r1, r2]\n\t"
        TK_DW3_ROW_PAIR
        "add     r0, r0, #4\n\t"
        TK_DW3_PUT                               /* word 2: rows (3, 4) */
        "add     r0, r0, r4\n\t"
        TK_DW3_PUT                               /* ... and the next block's word 0 */
        "add     r0, r0, #4\n\t"                 /* the next block's word 1 */
        "add     r1, r1, r2, lsl #1\n\t"
        "subs    r12, r12, #1\n\t"
        "bne     5b\n\t"
        "2:\n\t"
        "ldr     r12, [sp, #32]\n\t"             /* rows of the last block inside (0 .. 3) */
        "cmp     r12, #0\n\t"
        "ble     3f\n\t"
        "ldr     r4, [sp, #16]\n\t"              /* the zero point word */
        "ldr     r6, [r1]\n\t"
        "mov     r7, r4\n\t"
        "cmp     r12, #2\n\t"
        "it      ge\n\t"
        "ldrge   r7, [r1, r2]\n\t"
        TK_DW3_ROW_PAIR
        TK_DW3_PUT
        "mov     r6, r4\n\t"
        "cmp     r12, #3\n\t"
        "it      ge\n\t"
        "ldrge   r6, [r1, r2, lsl #1]\n\t"
        "mov     r7, r4\n\t"
        TK_DW3_ROW_PAIR
        "add     r0, r0, #4\n\t"
        TK_DW3_PUT
        "3:\n\t"                                 /* the next column: 12 bytes on in the planes */
        "ldrd    r0, r1, [sp]\n\t"
        "ldrd    r4, r12, [sp, #24]\n\t"         /* column step, the end of the columns */
        "add     r0, r0, #12\n\t"
        "add     r1, r1, r4\n\t"
        "strd    r0, r1, [sp]\n\t"
        "cmp     r0, r12\n\t"
        "bne     1b\n\t"
        "add     sp, sp, #48\n\t"
        "pop     {r4-r11, pc}\n\t");
}

/* Stride 2: a block's 6 padded rows x0 .. x5 give 2 output rows. With one padding row on top (SAME over an odd
 * height) row 0 takes x0 k0 + x1 k1 + x2 k2 and row 1 x2 .. x4 (EVEN); with none (VALID, SAME over an even
 * height) rows x1 .. x3 and x3 .. x5 (ODD). 5 instructions per 6 MACs; accumulators r4, r5. */
#define TK_DW3S2_EVEN(K01, K12)                 \
    "ldmia   r0!, {r1, r2, r3}\n\t"             \
    "smlad   r4, r1, " K01 ", r4\n\t"           \
    "smlabt  r4, r2, " K12 ", r4\n\t"           \
    "smlad   r5, r2, " K01 ", r5\n\t"           \
    "smlabt  r5, r3, " K12 ", r5\n\t"
#define TK_DW3S2_ODD(K01, K12)                  \
    "ldmia   r0!, {r1, r2, r3}\n\t"             \
    "smlatb  r4, r1, " K01 ", r4\n\t"           \
    "smlad   r4, r2, " K12 ", r4\n\t"           \
    "smlatb  r5, r2, " K01 ", r5\n\t"           \
    "smlad   r5, r3, " K12 ", r5\n\t"

/* Stride 2: 2 accumulators, output columns 2 input columns (24 bytes) apart, the input skip (job word 15) after a
 * block's columns. FINISH is TK_DW3_FINISH2. */
#define TK_DW3S2_CHANNEL(COLUMN, FINISH)                                                              \
    TK_DW3_LOOP("ldrd    r4, r5, [sp]\n\t", "1", "12", "ldr     r1, [sp, #60]\n\t" "add     r0, r0, r1\n\t", \
                COLUMN, FINISH)

#define TK_DW3_FUNCTION(name)                                                                   \
    TK_NAKED static void name(TK_UNUSED const int32_t *plane, TK_UNUSED const int16_t *weights, \
                              TK_UNUSED const tk_dw3_job *job)

TK_DW3_FUNCTION(tk_dw3_channel) { TK_DW3_CHANNEL(TK_DW3_COLUMN, TK_DW3_FINISH4("")); }
TK_DW3_FUNCTION(tk_dw3_channel_clamped) { TK_DW3_CHANNEL(TK_DW3_COLUMN, TK_DW3_FINISH4(TK_DW3_CLAMP4)); }
TK_DW3_FUNCTION(tk_dw3_channel2) { TK_DW3_CHANNEL(TK_DW3_COLUMN2, TK_DW3_FINISH2("")); }
TK_DW3_FUNCTION(tk_dw3_channel2_clamped) { TK_DW3_CHANNEL(TK_DW3_COLUMN2, TK_DW3_FINISH2(TK_DW3_CLAMP2)); }
TK_DW3_FUNCTION(tk_dw3s2_even) { TK_DW3S2_CHANNEL(TK_DW3S2_EVEN, TK_DW3_FINISH2("")); }
TK_DW3_FUNCTION(tk_dw3s2_even_clamped) { TK_DW3S2_CHANNEL(TK_DW3S2_EVEN, TK_DW3_FINISH2(TK_DW3_CLAMP2)); }
TK_DW3_FUNCTION(tk_dw3s2_odd) { TK_DW3S2_CHANNEL(TK_DW3S2_ODD, TK_DW3_FINISH2("")); }
TK_DW3_FUNCTION(tk_dw3s2_odd_clamped) { TK_DW3S2_CHANNEL(TK_DW3S2_ODD, TK_DW3_FINISH2(TK_DW3_CLAMP2)); }
/* clang-format on */

#endif /* TK_DW3X3_DSP_ASM_H */
