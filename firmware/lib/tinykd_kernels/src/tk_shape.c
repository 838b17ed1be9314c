/* RESHAPE, PAD and CONCATENATION: data movement only, no arithmetic on values. */
#include "tinykd_kernels.h"

#include <stddef.h>
#include <string.h>

tk_status tk_reshape_s8(int32_t size, const int8_t *input, int8_t *output)
{
    if (input == NULL || output == NULL || size < 0) {
        return TK_ERR_ARGUMENT;
    }
    if (input != output) {
        memmove(output, input, (size_t)size);
    }
    return TK_OK;
}

tk_status tk_pad_s8(const tk_pad_params *params, const tk_dims *input_dims, const int8_t *input,
                    const tk_dims *output_dims, int8_t *output)
{
    int32_t b, y, x;

    if (params == NULL || input_dims == NULL || input == NULL || output_dims == NULL || output == NULL) {
        return TK_ERR_ARGUMENT;
    }
    if (output_dims->n != input_dims->n + params->before[0] + params->after[0] ||
        output_dims->h != input_dims->h + params->before[1] + params->after[1] ||
        output_dims->w != input_dims->w + params->before[2] + params->after[2] ||
        output_dims->c != input_dims->c + params->before[3] + params->after[3]) {
        return TK_ERR_SHAPE;
    }
    memset(output, (int8_t)params->value,
           (size_t)output_dims->n * (size_t)output_dims->h * (size_t)output_dims->w * (size_t)output_dims->c);
    for (b = 0; b < input_dims->n; ++b) {
        for (y = 0; y < input_dims->h; ++y) {
            for (x = 0; x < input_dims->w; ++x) {
                const int8_t *src = input + ((b * input_dims->h + y) * input_dims->w + x) * input_dims->c;
                int8_t *dst = output +
                              (((b + params->before[0]) * output_dims->h + y + params->before[1]) * output_dims->w + x +
                               params->before[2]) *
                                  output_dims->c +
                              params->before[3];
                memcpy(dst, src, (size_t)input_dims->c);
            }
        }
    }
    return TK_OK;
}

tk_status tk_concatenation_s8(int32_t num_inputs, const int8_t *const *inputs, const int32_t *copy_sizes,
                              int32_t outer_size, int8_t *output)
{
    int32_t outer, i;

    if (inputs == NULL || copy_sizes == NULL || output == NULL || num_inputs < 1 || outer_size < 0) {
        return TK_ERR_ARGUMENT;
    }
    for (outer = 0; outer < outer_size; ++outer) {
        for (i = 0; i < num_inputs; ++i) {
            memcpy(output, inputs[i] + outer * copy_sizes[i], (size_t)copy_sizes[i]);
            output += copy_sizes[i];
        }
    }
    return TK_OK;
}
