/* ADD, SUB, MUL, MAXIMUM, MINIMUM and PRELU with numpy broadcasting: TFLM's per-element integer arithmetic (the
 * same with and without broadcasting), each input read along its own walk over the output's dimensions. */
#include "tinykd_kernels.h"
#include "tk_fixedpoint.h"
#include "tk_walk.h"

#include <stddef.h>

static inline int32_t binary_element(const tk_binary_params *p, int32_t a, int32_t b)
{
    int32_t result;

    switch (p->kind) {
    case TK_BINARY_ADD:
    case TK_BINARY_SUB: {
        const int32_t scaled1 = tk_requantize((a + p->input1_offset) * ((int32_t)1 << p->left_shift),
                                              p->input1.multiplier, p->input1.shift);
        const int32_t scaled2 = tk_requantize((b + p->input2_offset) * ((int32_t)1 << p->left_shift),
                                              p->input2.multiplier, p->input2.shift);
        const int32_t raw = p->kind == TK_BINARY_ADD ? scaled1 + scaled2 : scaled1 - scaled2;
        result = tk_requantize(raw, p->output.multiplier, p->output.shift) + p->output_offset;
        break;
    }
    case TK_BINARY_MUL:
        result = tk_requantize((a + p->input1_offset) * (b + p->input2_offset), p->output.multiplier, p->output.shift) +
                 p->output_offset;
        break;
    case TK_BINARY_MAXIMUM:
        return a > b ? a : b;
    case TK_BINARY_MINIMUM:
        return a < b ? a : b;
    default: { /* TK_BINARY_PRELU */
        const int32_t x = a + p->input1_offset;
        result = x >= 0 ? tk_requantize(x, p->input1.multiplier, p->input1.shift)
                        : tk_requantize(x * (b + p->input2_offset), p->output.multiplier, p->output.shift);
        result += p->output_offset;
        break;
    }
    }
    return tk_clamp32(result, p->activation.min, p->activation.max);
}

tk_status tk_binary_s8(const tk_binary_params *params, const int8_t *input1, const int8_t *input2, int8_t *output)
{
    int32_t index1[TK_MAX_DIMS] = {0}, index2[TK_MAX_DIMS] = {0};
    int32_t count1, count2, offset1 = 0, offset2 = 0, d, inner, step1, step2, i;

    if (params == NULL || input1 == NULL || input2 == NULL || output == NULL || params->kind < TK_BINARY_ADD ||
        params->kind > TK_BINARY_PRELU || params->left_shift < 0 || params->left_shift > 23 ||
        !tk_walk_valid(&params->walk1, &count1) || !tk_walk_valid(&params->walk2, &count2)) {
        return TK_ERR_ARGUMENT;
    }
    if (params->walk1.rank != params->walk2.rank) {
        return TK_ERR_SHAPE;
    }
    for (d = 0; d < params->walk1.rank; ++d) {
        if (params->walk1.dims[d] != params->walk2.dims[d]) {
            return TK_ERR_SHAPE;
        }
    }
    if (count1 == 0) {
        return TK_OK;
    }
    inner = params->walk1.dims[params->walk1.rank - 1];
    step1 = params->walk1.strides[params->walk1.rank - 1];
    step2 = params->walk2.strides[params->walk2.rank - 1];
    do {
        const int8_t *a = input1 + offset1, *b = input2 + offset2;
        for (i = 0; i < inner; ++i) { /* each element read before it is written: in place is exact */
            output[i] = (int8_t)binary_element(params, a[i * step1], b[i * step2]);
        }
        output += inner;
        (void)tk_walk_next_row(&params->walk2, index2, &offset2); /* same dimensions: ends with walk 1 */
    } while (tk_walk_next_row(&params->walk1, index1, &offset1));
    return TK_OK;
}
