/* CONV_2D 1x1, stride 1, over exactly 8 input channels (MobileNetV1-0.25's first pointwise layer, the students of
 * width 8), on a per-channel stream packed offline (pipeline/compiler/pack.py, pack_narrow): a pixel's 8 inputs,
 * converted once to 4 int16 words, stay in registers while every output channel streams past them in one LDM of 8
 * words (its 4 weight words, bias, multiplier, shift, nudge): 4 SMLAD, the 4-instruction rescale and a STRB per
 * output, against 2 pixels x 2 channels and an epilogue per 4 outputs in tk_conv2d_fast_s8, whose per-output costs
 * dominate when there are only 8 taps. Only layers whose activation clamps nothing take it (the compiler checks).
 * Same results as the reference kernel in tk_conv.c, bit for bit. */
#include "tinykd_kernels.h"
#include "tk_arch.h"
#include "tk_fast.h"

#include <stddef.h>

#define NARROW_WORDS 8       /* stream words per output channel */
#define NARROW_LAST (1 << 8) /* set in the last channel's shift word (ASR reads the shift's low byte only) */

#if TK_DSP
/* The loop's constants (tk_narrow_pixels copies them to its stack). */
typedef struct {
    const int8_t *end; /* the input's end: the pixel loop stops there */
    int32_t offsets;   /* the input offset in both halfwords */
    int32_t odd;       /* an odd channel count: each pixel enters the 2-channel loop at its second half */
} tk_narrow_job;

TK_ASM_OFFSET(tk_narrow_job, end, 0);
TK_ASM_OFFSET(tk_narrow_job, offsets, 4);
TK_ASM_OFFSET(tk_narrow_job, odd, 8);

/* The assembly below is laid out by hand, one instruction per line with its comment. */
/* clang-format off */

/* One output channel: x (taps 0, 2) (1, 3) (4, 6) (5, 7) in r0-r3, the stream at r12, the output at lr. */
#define TK_NARROW_CHANNEL                                 \
    "ldmia   r12!, {r4-r11}\n\t"     /* w x 4, bias, m, s, n */ \
    "smlad   r8, r0, r4, r8\n\t"                          \
    "smlad   r8, r1, r5, r8\n\t"                          \
    "smlad   r8, r2, r6, r8\n\t"                          \
    "smlad   r8, r3, r7, r8\n\t"                          \
    TK_RESCALE_WITH("r8", "r9", "r10", "r11", "r4")        \
    "strb    r8, [lr], #1\n\t"

/* Every pixel from `input` to job->end (8 bytes each, any alignment), every channel of the stream, outputs in
 * order from `output`: 11 instructions per output (two channels per loop pass, the stream's last-channel flag
 * ends it), 14 per pixel. */
TK_NAKED static void tk_narrow_pixels(TK_UNUSED const int8_t *input, TK_UNUSED const int32_t *stream,
                                      TK_UNUSED int8_t *output, TK_UNUSED const tk_narrow_job *job)
{
    __asm__ volatile(
        "push    {r4-r11, lr}\n\t"
        "ldm     r3, {r4, r5, r6}\n\t"       /* end, offsets, odd */
        "adr     r7, 2f\n\t"
        "adr     r8, 3f\n\t"
        "cmp     r6, #0\n\t"
        "it      ne\n\t"
        "movne   r7, r8\n\t"
        "orr     r7, r7, #1\n\t"             /* Thumb */
        "push    {r0, r4, r5, r7}\n\t"       /* [sp] input, [sp, #4] end, [sp, #8] offsets, [sp, #12] entry */
        "push    {r1}\n\t"                   /* [sp] stream: the others move up by 4 */
        "mov     lr, r2\n\t"
        "1:\n\t"                             /* a pixel */
        "ldr     r4, [sp, #4]\n\t"
        "ldr     r6, [r4], #4\n\t"
        "ldr     r7, [r4], #4\n\t"
        "str     r4, [sp, #4]\n\t"
        "ldr     r5, [sp, #12]\n\t"
        "sxtab16 r0, r5, r6\n\t"             /* (x0, x2) + offset */
        "sxtab16 r1, r5, r6, ror #8\n\t"     /* (x1, x3) */
        "sxtab16 r2, r5, r7\n\t"
        "sxtab16 r3, r5, r7, ror #8\n\t"
        "ldr     r12, [sp]\n\t"
        "ldr     pc, [sp, #16]\n\t"
        ".p2align 2\n\t"
        "2:\n\t"
        TK_NARROW_CHANNEL
        "3:\n\t"
        TK_NARROW_CHANNEL
        "tst     r10, #256\n\t"              /* NARROW_LAST */
        "beq     2b\n\t"
        "ldrd    r4, r5, [sp, #4]\n\t"       /* input, end */
        "cmp     r4, r5\n\t"
        "bne     1b\n\t"
        "add     sp, sp, #20\n\t"
        "pop     {r4-r11, pc}\n\t");
}
/* clang-format on */
#else
/* Portable tk_narrow_pixels: the same arithmetic in C. */
static void tk_narrow_run(const int8_t *input, const int32_t *stream, int8_t *output, int32_t pixels, int32_t offset)
{
    int32_t p, i;
    for (p = 0; p < pixels; ++p, input += 8) {
        const int32_t *s = stream;
        int32_t last;
        do {
            int32_t acc = s[4];
            int32_t quant[3];
            for (i = 0; i < 8; ++i) { /* tap i: word 2 (i / 4) + i % 2, its high half when i & 2 */
                const int32_t word = s[(i >> 2) * 2 + (i & 1)];
                const int32_t w = (i & 2) ? (int16_t)((uint32_t)word >> 16) : (int16_t)(word & 0xFFFF);
                acc += (input[i] + offset) * w;
            }
            quant[0] = s[5];
            quant[1] = s[6] & 0xFF;
            quant[2] = s[7];
            *output++ = (int8_t)tk_ssat8(tk_fast_rescaled(acc, quant));
            last = s[6] & NARROW_LAST;
            s += NARROW_WORDS;
        } while (!last);
    }
}
#endif

tk_status tk_conv2d_narrow_s8(const tk_conv_params *params, const tk_packed_filter *filter, const tk_dims *input_dims,
                              const int8_t *input, const tk_dims *filter_dims, const tk_dims *output_dims,
                              int8_t *output)
{
    int32_t pixels;
    if (params == NULL || filter == NULL || filter->quant == NULL || input_dims == NULL || input == NULL ||
        filter_dims == NULL || output_dims == NULL || output == NULL) {
        return TK_ERR_ARGUMENT;
    }
    if (params->stride_h != 1 || params->stride_w != 1 || params->pad_h != 0 || params->pad_w != 0 ||
        params->activation.min != -128 || params->activation.max != 127) {
        return TK_ERR_ARGUMENT;
    }
    if (input_dims->c != 8 || filter_dims->c != 8 || filter_dims->h != 1 || filter_dims->w != 1 ||
        filter_dims->n != output_dims->c || output_dims->c < 1 || output_dims->n != input_dims->n ||
        output_dims->h != input_dims->h || output_dims->w != input_dims->w) {
        return TK_ERR_SHAPE;
    }
    pixels = input_dims->n * input_dims->h * input_dims->w;
    if (pixels > 0) {
#if TK_DSP
        tk_narrow_job job;
        job.end = input + 8 * pixels;
        job.offsets = tk_offset_pair(params->input_offset);
        job.odd = output_dims->c & 1;
        tk_narrow_pixels(input, filter->quant, output, &job);
#else
        tk_narrow_run(input, filter->quant, output, pixels, params->input_offset);
#endif
    }
    return TK_OK;
}
