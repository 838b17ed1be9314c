/* Portable C99 inner loops of the fast kernels (host builds and cores without the DSP extension); the layouts
 * are described in tk_fast.h. Included by tk_fast.h only. */
#ifndef TK_FAST_PORTABLE_H
#define TK_FAST_PORTABLE_H

#include <stdint.h>

/* round(a * b / 2^32), halves up: SMMULR. */
static inline int32_t tk_smmulr(int32_t a, int32_t b)
{
    return (int32_t)(((int64_t)a * (int64_t)b + ((int64_t)1 << 31)) >> 32);
}

/* Index of tap k of column `slot` in a column buffer with `stride` halfword pairs per group of 4 taps. */
static inline int32_t tk_column_index(int32_t k, int32_t stride, int32_t slot)
{
    const int32_t r = k & 3;
    return (((k >> 2) * stride + (r & 1) * (stride >> 1) + slot) << 1) + (r >> 1);
}

/* Column `slot` <- src[0..depth) + offset, zeros up to the next multiple of 4. */
static inline void tk_fill_column(void *columns, int32_t stride, int32_t slot, const int8_t *src, int32_t depth,
                                  int32_t offset)
{
    int16_t *col = (int16_t *)columns;
    int32_t k;
    for (k = 0; k < depth; ++k) {
        col[tk_column_index(k, stride, slot)] = (int16_t)(src[k] + offset);
    }
    for (; k & 3; ++k) {
        col[tk_column_index(k, stride, slot)] = 0;
    }
}

/* Column `slot` <- 0 for `groups` groups of 4 taps (padding). */
static inline void tk_zero_column(void *columns, int32_t stride, int32_t slot, int32_t groups)
{
    int16_t *col = (int16_t *)columns;
    int32_t k;
    for (k = 0; k < 4 * groups; ++k) {
        col[tk_column_index(k, stride, slot)] = 0;
    }
}

/* acc[0..3] += (pixel 0, channel 0), (p0, c1), (p1, c0), (p1, c1) over `groups` groups of 4 taps. */
static inline void tk_mac_2x2(const void *columns, const int16_t *weights, int32_t groups, int32_t *acc)
{
    const int16_t *col = (const int16_t *)columns;
    int32_t g, i;
    for (g = 0; g < groups; ++g, col += 8, weights += 8) {
        for (i = 0; i < 8; i += 4) {  /* words a, then b: 2 taps each */
            acc[0] += col[i] * weights[i] + col[i + 1] * weights[i + 1];
            acc[1] += col[i] * weights[i + 2] + col[i + 1] * weights[i + 3];
            acc[2] += col[i + 2] * weights[i] + col[i + 3] * weights[i + 1];
            acc[3] += col[i + 2] * weights[i + 2] + col[i + 3] * weights[i + 3];
        }
    }
}

/* acc[0..1] += channels 0 and 1 of one pair block times column `slot` 0 of a buffer with `stride`. */
static inline void tk_mac_1x2(const void *columns, int32_t stride, const int16_t *weights, int32_t groups,
                              int32_t *acc)
{
    const int16_t *col = (const int16_t *)columns;
    const int32_t half = stride;  /* halfwords from word a to word b of the column */
    int32_t g, i;
    for (g = 0; g < groups; ++g, col += 2 * stride, weights += 8) {
        for (i = 0; i < 2; ++i) {
            const int16_t *x = col + i * half;
            const int16_t *w = weights + 4 * i;
            acc[0] += x[0] * w[0] + x[1] * w[1];
            acc[1] += x[0] * w[2] + x[1] * w[3];
        }
    }
}

/* Two pair blocks (four rows) against one compact column (stride 2). */
static inline void tk_mac_1x4(const void *column, const int16_t *weights0, const int16_t *weights1,
                              int32_t groups, int32_t *acc)
{
    tk_mac_1x2(column, 2, weights0, groups, acc);
    tk_mac_1x2(column, 2, weights1, groups, acc + 2);
}

/* Depthwise: acc[0..3] (channels 4q..4q+3) over `taps` taps along a row; `in` steps by `in_step` bytes, the
 * packed weights by `w_step` values per tap. */
static inline void tk_dw_taps(const int8_t *in, int32_t in_step, const int16_t *weights, int32_t w_step,
                              int32_t taps, int32_t offset, int32_t *acc)
{
    int32_t t;
    for (t = 0; t < taps; ++t, in += in_step, weights += w_step) {
        acc[0] += (in[0] + offset) * weights[0];
        acc[2] += (in[2] + offset) * weights[1];
        acc[1] += (in[1] + offset) * weights[2];
        acc[3] += (in[3] + offset) * weights[3];
    }
}

#endif /* TK_FAST_PORTABLE_H */
