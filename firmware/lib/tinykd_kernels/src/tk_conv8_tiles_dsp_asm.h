/* The channel loop of tk_conv2d_fast8_tiles_s8 (Cortex-M4 assembly, naked): tk_conv8_pairs_3x2u's int8 words
 * (h = w0 + 256 w1 per halfword: SMLAD with h, SXTB16, SMLAD with w0) on tiles of 4 pixels, 11 instructions per
 * 16 MACs instead of 9 per 12. The 4 column words, the weight word and the 8 accumulators take 13 registers and
 * the column pointer the 14th: the weight pointer does not fit. So the loops turn around: channel pairs outer,
 * tiles inner. A pair's weights are copied once to the stack (LDM/STM of 8 words: 2 instructions per 32 bytes)
 * and the fully unrolled sequence reads word k at [sp, #64 + 4k], an offset in the instruction, for every tile
 * of a chunk whose columns the scratch holds back to back (the column pointer runs on from one tile into the
 * next). Layers of at most TK_UNROLLED8_GROUPS groups whose group count is a multiple of 4 (whole 8-word copies)
 * take it. Included by tk_conv_fast8.c only, when TK_DSP. */
#ifndef TK_CONV8_TILES_DSP_ASM_H
#define TK_CONV8_TILES_DSP_ASM_H

#include <stdint.h>

#include "tk_arch.h"
#include "tk_conv8_unrolled_dsp_asm.h"
#include "tk_fast.h"

/* One call: every channel pair of a chunk of tiles (8 words, read with one LDM). */
typedef struct {
    const int32_t *bias;  /* a, mix per pair (pack_fc8) */
    const int32_t *quant; /* (m, s, n) channel 0, (m, s, n, 2 low) channel 1 per pair */
    int8_t *out;          /* the first tile's first pixel, channel 0 */
    int32_t step;         /* bytes from a pixel's outputs to the next (the output channels) */
    int32_t tiles;        /* >= 1, their columns back to back (8 x depth bytes each) */
    int32_t pairs;        /* >= 1 */
    int32_t low4;         /* activation min in each byte */
    int32_t high4;        /* activation max in each byte */
} tk_tile_job;

TK_ASM_OFFSET(tk_tile_job, bias, 0);
TK_ASM_OFFSET(tk_tile_job, tiles, 16);
TK_ASM_OFFSET(tk_tile_job, high4, 28);
TK_STATIC_ASSERT(sizeof(tk_tile_job) == 32, "tk_conv8_tiles_4x2u reads tk_tile_job as 8 words");

/* The assembly below is laid out by hand, one instruction per line with its comment: clang-format would join the
 * string literals and the macro calls. */
/* clang-format off */

/* Columns at r0 (per word of 2 taps the 4 pixels' words), weights r1, groups r2 (<= TK_UNROLLED8_GROUPS, a
 * multiple of 4), job r3. Stack frame of 576 bytes: [sp] the chunk's columns, [sp, #4] the MAC entry, [sp, #8]
 * bias, [sp, #12] quant (the pair's), [sp, #16] out (the tile's), [sp, #20] step, [sp, #24] the end of quant,
 * [sp, #28] 0 when the activation is all of int8, [sp, #32] low4, high4, [sp, #40] the next pair's weights (flash),
 * [sp, #44] their copy's first word, [sp, #48] the copy's entry, [sp, #52] the end of the columns, [sp, #56] the
 * pair's out in tile 0; [sp, #64 ..] the copied weights, ending at [sp, #576]. Accumulators (a, mix) of pixel 0
 * r1, r2; 1 r3, r4; 2 r5, r6; 3 r7, lr. */
TK_NAKED static void tk_conv8_tiles_4x2u(TK_UNUSED const void *columns, TK_UNUSED const int16_t *weights,
                                         TK_UNUSED int32_t groups, TK_UNUSED const tk_tile_job *job)
{
    __asm__ volatile(
        "push    {r4-r11, lr}\n\t"
        "sub     sp, sp, #576\n\t"
        "ldm     r3, {r4-r11}\n\t"             /* bias quant out step tiles pairs low4 high4 */
        "str     r0, [sp]\n\t"
        "strd    r4, r5, [sp, #8]\n\t"
        "strd    r6, r7, [sp, #16]\n\t"        /* out, step */
        "str     r6, [sp, #56]\n\t"
        "rsb     r9, r9, r9, lsl #3\n\t"
        "add     r9, r5, r9, lsl #2\n\t"       /* the end of quant: 28 bytes a pair */
        "str     r9, [sp, #24]\n\t"
        "mul     r8, r8, r2\n\t"
        "add     r8, r0, r8, lsl #5\n\t"       /* the end of the columns: 32 bytes a group per tile */
        "str     r8, [sp, #52]\n\t"
        "strd    r10, r11, [sp, #32]\n\t"
        "eor     r10, r10, #0x80808080\n\t"    /* low4 - (-128) */
        "eor     r11, r11, #0x7f7f7f7f\n\t"    /* high4 - 127 */
        "orr     r10, r10, r11\n\t"
        "str     r10, [sp, #28]\n\t"
        "str     r1, [sp, #40]\n\t"
        "add     r4, sp, #576\n\t"
        "sub     r4, r4, r2, lsl #3\n\t"       /* 8 bytes a group, ending at sp + 576 */
        "str     r4, [sp, #44]\n\t"
        "adr     r5, 6f\n\t"
        "add     r5, r5, #128\n\t"             /* the end of the 16 copy blocks (8 bytes of code each) */
        "sub     r5, r5, r2, lsl #1\n\t"       /* one block per 4 groups */
        "orr     r5, r5, #1\n\t"               /* Thumb */
        "str     r5, [sp, #48]\n\t"
        "adr     r6, 8f\n\t"
        "rsb     r7, r2, #64\n\t"              /* groups skipped */
        "mov     r8, #88\n\t"                  /* 88 bytes of code per group */
        "mla     r6, r7, r8, r6\n\t"
        "orr     r6, r6, #1\n\t"
        "str     r6, [sp, #4]\n\t"
        "4:\n\t"                               /* a channel pair: its weights to the stack */
        "ldrd    r0, r1, [sp, #40]\n\t"
        "ldr     pc, [sp, #48]\n\t"
        ".p2align 2\n\t"
        "6:\n\t"
        ".rept 16\n\t"
        "ldmia.w r0!, {r3-r10}\n\t"
        "stmia.w r1!, {r3-r10}\n\t"
        ".endr\n\t"
        "7:\n\t"
        ".if (7b - 6b) != 128\n\t"
        ".error \"a copy block is not 8 bytes\"\n\t"
        ".endif\n\t"
        "str     r0, [sp, #40]\n\t"            /* the next pair's weights */
        "ldr     r0, [sp]\n\t"                 /* tile 0's columns */
        "5:\n\t"                               /* a tile */
        "ldr     r12, [sp, #8]\n\t"
        "ldrd    r1, r2, [r12]\n\t"            /* bias: a, mix */
        "mov     r3, r1\n\t"
        "mov     r4, r2\n\t"
        "mov     r5, r1\n\t"
        "mov     r6, r2\n\t"
        "mov     r7, r1\n\t"
        "mov     lr, r2\n\t"
        "ldr     pc, [sp, #4]\n\t"
        ".p2align 2\n\t"
        "8:\n\t"
        ".set    tk_q_word, 64\n\t"
        ".rept 128\n\t"                        /* per word: the 4 pixels' columns, the weight word, 8 SMLAD */
        "ldmia.w r0!, {r8, r9, r10, r11}\n\t"
        "ldr.w   r12, [sp, #tk_q_word]\n\t"
        "smlad   r2, r8, r12, r2\n\t"
        "smlad   r4, r9, r12, r4\n\t"
        "smlad   r6, r10, r12, r6\n\t"
        "smlad   lr, r11, r12, lr\n\t"
        "sxtb16  r12, r12\n\t"
        "smlad   r1, r8, r12, r1\n\t"
        "smlad   r3, r9, r12, r3\n\t"
        "smlad   r5, r10, r12, r5\n\t"
        "smlad   r7, r11, r12, r7\n\t"
        ".set    tk_q_word, tk_q_word + 4\n\t"
        ".endr\n\t"
        "9:\n\t"
        ".if (9b - 8b) != 44 * 128\n\t"
        ".error \"a tile word is not 44 bytes\"\n\t"
        ".endif\n\t"
        "sub     r2, r2, r1\n\t"               /* 256 (T - low) per pixel */
        "sub     r4, r4, r3\n\t"
        "sub     r6, r6, r5\n\t"
        "sub     lr, lr, r7\n\t"
        "lsl     r1, r1, #1\n\t"               /* doubled channel 0 */
        "lsl     r3, r3, #1\n\t"
        "lsl     r5, r5, #1\n\t"
        "lsl     r7, r7, #1\n\t"
        "ldr     r12, [sp, #12]\n\t"
        "ldmia   r12!, {r8, r9, r10}\n\t"      /* channel 0: m, s, n (r0 runs on into the next tile) */
        TK_RESCALE_WITH("r1", "r8", "r9", "r10", "r11")
        TK_RESCALE_WITH("r3", "r8", "r9", "r10", "r11")
        TK_RESCALE_WITH("r5", "r8", "r9", "r10", "r11")
        TK_RESCALE_WITH("r7", "r8", "r9", "r10", "r11")
        "ldmia   r12, {r8, r9, r10, r11}\n\t"  /* channel 1: m, s, n, 2 low */
        "add     r2, r11, r2, lsr #7\n\t"
        "add     r4, r11, r4, lsr #7\n\t"
        "add     r6, r11, r6, lsr #7\n\t"
        "add     lr, r11, lr, lsr #7\n\t"
        TK_RESCALE_WITH("r2", "r8", "r9", "r10", "r11")
        TK_RESCALE_WITH("r4", "r8", "r9", "r10", "r11")
        TK_RESCALE_WITH("r6", "r8", "r9", "r10", "r11")
        TK_RESCALE_WITH("lr", "r8", "r9", "r10", "r11")
        "bfi     r1, r2, #8, #8\n\t"           /* pixel 0: (c0, c1) */
        "bfi     r3, r4, #8, #8\n\t"
        "bfi     r5, r6, #8, #8\n\t"
        "bfi     r7, lr, #8, #8\n\t"
        "ldr     r2, [sp, #28]\n\t"
        "cbz     r2, 1f\n\t"                   /* all of int8: nothing to clamp */
        "bfi     r1, r3, #16, #16\n\t"         /* pixels 0, 1 in r1; 2, 3 in r5 */
        "bfi     r5, r7, #16, #16\n\t"
        "ldrd    r8, r9, [sp, #32]\n\t"        /* low4, high4 */
        TK_CLAMP4("r1", "r8", "r9", "r2")
        TK_CLAMP4("r5", "r8", "r9", "r2")
        "lsr     r3, r1, #16\n\t"
        "lsr     r7, r5, #16\n\t"
        "1:\n\t"
        "ldrd    r2, r8, [sp, #16]\n\t"        /* out, step */
        "strh    r1, [r2]\n\t"
        "strh    r3, [r2, r8]\n\t"
        "add     r9, r2, r8, lsl #1\n\t"
        "strh    r5, [r9]\n\t"
        "strh    r7, [r9, r8]\n\t"
        "add     r2, r2, r8, lsl #2\n\t"       /* the next tile's */
        "str     r2, [sp, #16]\n\t"
        "ldr     r2, [sp, #52]\n\t"            /* the end of the columns */
        "cmp     r0, r2\n\t"
        "bne     5b\n\t"
        "ldr     r2, [sp, #56]\n\t"            /* the next pair: 2 bytes on in tile 0 */
        "add     r2, r2, #2\n\t"
        "str     r2, [sp, #56]\n\t"
        "str     r2, [sp, #16]\n\t"
        "ldrd    r1, r12, [sp, #8]\n\t"        /* bias, quant */
        "add     r1, r1, #8\n\t"
        "add     r12, r12, #28\n\t"
        "strd    r1, r12, [sp, #8]\n\t"
        "ldr     r2, [sp, #24]\n\t"            /* the end of quant */
        "cmp     r12, r2\n\t"
        "bne     4b\n\t"
        "add     sp, sp, #576\n\t"
        "pop     {r4-r11, pc}\n\t");
}

/* clang-format on */

#endif /* TK_CONV8_TILES_DSP_ASM_H */
