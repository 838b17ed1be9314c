/* Walking a tensor along a tk_walk (dims and strides, row-major order), shared by the data movement, broadcast
 * and reduction kernels. */
#ifndef TK_WALK_H
#define TK_WALK_H

#include "tinykd_kernels.h"

/* Whether the walk is well formed; *count: its number of elements. */
static inline int tk_walk_valid(const tk_walk *walk, int32_t *count)
{
    int32_t d;
    *count = 1;
    if (walk->rank < 1 || walk->rank > TK_MAX_DIMS) {
        return 0;
    }
    for (d = 0; d < walk->rank; ++d) {
        if (walk->dims[d] < 0) {
            return 0;
        }
    }
    for (d = 0; d < walk->rank; ++d) {
        if (walk->dims[d] == 0) {
            *count = 0;
            return 1;
        }
        if (*count > INT32_MAX / walk->dims[d]) {
            return 0; /* more elements than an int32 counts */
        }
        *count *= walk->dims[d];
    }
    return 1;
}

/* Steps `index` to the next position over dimensions 0 .. last (the last fastest), keeping *offset (elements
 * into the tensor) in step with it; returns 0 after the last position (index and offset are back at the start). */
static inline int tk_walk_advance(const tk_walk *walk, int32_t last, int32_t *index, int32_t *offset)
{
    int32_t d;
    for (d = last; d >= 0; --d) {
        *offset += walk->strides[d];
        if (++index[d] < walk->dims[d]) {
            return 1;
        }
        *offset -= walk->strides[d] * walk->dims[d];
        index[d] = 0;
    }
    return 0;
}

/* The next element of the walk. */
static inline int tk_walk_step(const tk_walk *walk, int32_t *index, int32_t *offset)
{
    return tk_walk_advance(walk, walk->rank - 1, index, offset);
}

/* The next row: every dimension but the last. */
static inline int tk_walk_next_row(const tk_walk *walk, int32_t *index, int32_t *offset)
{
    return tk_walk_advance(walk, walk->rank - 2, index, offset);
}

#endif /* TK_WALK_H */
