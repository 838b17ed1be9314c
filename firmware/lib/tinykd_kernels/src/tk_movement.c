/* STRIDED_SLICE, SLICE, SPLIT, SPLIT_V, UNPACK, TRANSPOSE, SPACE_TO_BATCH_ND, BATCH_TO_SPACE_ND (one strided copy
 * each: the compiler turns every one of them into a walk over the input) and RESIZE_NEAREST_NEIGHBOR (index
 * tables). Raw bytes only: input and output share their quantization. */
#include "tinykd_kernels.h"
#include "tk_walk.h"

#include <stddef.h>
#include <string.h>

tk_status tk_strided_copy_s8(const tk_strided_copy_params *params, const int8_t *input, int8_t *output)
{
    int32_t index[TK_MAX_DIMS] = {0};
    int32_t count, offset, inner, step, i;

    if (params == NULL || input == NULL || output == NULL || !tk_walk_valid(&params->walk, &count)) {
        return TK_ERR_ARGUMENT;
    }
    if (count == 0) {
        return TK_OK;
    }
    offset = params->offset;
    inner = params->walk.dims[params->walk.rank - 1];
    step = params->walk.strides[params->walk.rank - 1];
    do {
        const int8_t *row = input + offset;
        if (step == 1) {
            memcpy(output, row, (size_t)inner);
        } else {
            for (i = 0; i < inner; ++i) {
                output[i] = row[i * step];
            }
        }
        output += inner;
    } while (tk_walk_next_row(&params->walk, index, &offset));
    return TK_OK;
}

tk_status tk_resize_nearest_s8(const tk_dims *input_dims, const int8_t *input, const int32_t *rows, const int32_t *cols,
                               const tk_dims *output_dims, int8_t *output)
{
    int32_t b, y, x;

    if (input_dims == NULL || input == NULL || rows == NULL || cols == NULL || output_dims == NULL || output == NULL) {
        return TK_ERR_ARGUMENT;
    }
    if (input_dims->n != output_dims->n || input_dims->c != output_dims->c) {
        return TK_ERR_SHAPE;
    }
    for (b = 0; b < output_dims->n; ++b) {
        for (y = 0; y < output_dims->h; ++y) {
            const int8_t *row = input + (b * input_dims->h + rows[y]) * input_dims->w * input_dims->c;
            for (x = 0; x < output_dims->w; ++x) {
                memcpy(output, row + cols[x] * input_dims->c, (size_t)output_dims->c);
                output += output_dims->c;
            }
        }
    }
    return TK_OK;
}
