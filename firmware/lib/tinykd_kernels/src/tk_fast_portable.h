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

/* a + SMMULR(x, m): SMMLAR. */
static inline int32_t tk_smmlar(int32_t x, int32_t m, int32_t a)
{
    return (int32_t)((uint32_t)a + (uint32_t)tk_smmulr(x, m));
}

static inline int32_t tk_ssat8(int32_t x) { return x < -128 ? -128 : (x > 127 ? 127 : x); }

/* The byte-wise maximum of two words of 4 signed bytes. */
static inline int32_t tk_max4(int32_t a, int32_t b)
{
    uint32_t r = 0;
    int32_t i;
    for (i = 0; i < 4; ++i) {
        const int32_t x = (int8_t)(a >> (8 * i)), y = (int8_t)(b >> (8 * i));
        r |= ((uint32_t)(x > y ? x : y) & 0xFFu) << (8 * i);
    }
    return (int32_t)r;
}

/* Each of the 4 signed bytes of v clamped to [low, high] given in each byte of low4 / high4. */
static inline int32_t tk_clamp4(int32_t v, int32_t low4, int32_t high4)
{
    uint32_t r = 0;
    int32_t i;
    for (i = 0; i < 4; ++i) {
        const int32_t x = (int8_t)(v >> (8 * i)), lo = (int8_t)(low4 >> (8 * i)), hi = (int8_t)(high4 >> (8 * i));
        r |= ((uint32_t)(x < lo ? lo : (x > hi ? hi : x)) & 0xFFu) << (8 * i);
    }
    return (int32_t)r;
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

/* Columns of `stride` halfword pairs per group (4: two pixels, 6: three), slot `slot`, groups [first, first +
 * groups) <- src[0 .. 4 * groups) + offset. */
static inline void tk_fill_groups(void *columns, int32_t stride, int32_t slot, int32_t first, const int8_t *src,
                                  int32_t groups, int32_t offset)
{
    int16_t *col = (int16_t *)columns;
    int32_t k;
    for (k = 0; k < 4 * groups; ++k) {
        col[tk_column_index(4 * first + k, stride, slot)] = (int16_t)(src[k] + offset);
    }
}

/* Columns of stride 4 (two pixels) <- groups [0, groups) of two pixels' inputs, + offset. */
static inline void tk_fill_two(void *columns, const int8_t *src0, const int8_t *src1, int32_t groups, int32_t offset)
{
    tk_fill_groups(columns, 4, 0, 0, src0, groups, offset);
    tk_fill_groups(columns, 4, 1, 0, src1, groups, offset);
}

/* A group's words a (at col[0]) and b (col[half]) <- the 4 int8 values in `bytes` (byte 0 first) + the offset
 * pair (both halfwords the same offset). */
static inline void tk_put_bytes_group(tk_word *col, int32_t half, int32_t bytes, int32_t offsets)
{
    int32_t v[4], k;
    for (k = 0; k < 4; ++k) {
        v[k] = (int8_t)((uint32_t)bytes >> (8 * k)) + (int16_t)offsets;
    }
    col[0] = (int32_t)(((uint32_t)v[0] & 0xFFFFu) | ((uint32_t)v[2] << 16));
    col[half] = (int32_t)(((uint32_t)v[1] & 0xFFFFu) | ((uint32_t)v[3] << 16));
}

static inline void tk_zero_groups(void *columns, int32_t stride, int32_t slot, int32_t first, int32_t groups)
{
    int16_t *col = (int16_t *)columns;
    int32_t k;
    for (k = 0; k < 4 * groups; ++k) {
        col[tk_column_index(4 * first + k, stride, slot)] = 0;
    }
}

/* acc[2 p + c] += (pixel p, channel c) for `pixels` (2 or 3) pixels interleaved in columns of stride 2 * pixels. */
static inline void tk_mac_pixels(const void *columns, const int16_t *weights, int32_t groups, int32_t *acc,
                                 int32_t pixels)
{
    const int16_t *col = (const int16_t *)columns;
    int32_t g, h, p;
    for (g = 0; g < groups; ++g, col += 4 * pixels, weights += 8) {
        for (h = 0; h < 2; ++h) { /* word a (taps 0, 2), then word b (taps 1, 3) */
            const int16_t *w = weights + 4 * h;
            for (p = 0; p < pixels; ++p) {
                const int16_t *x = col + 2 * (h * pixels + p);
                acc[2 * p] += x[0] * w[0] + x[1] * w[1];
                acc[2 * p + 1] += x[0] * w[2] + x[1] * w[3];
            }
        }
    }
}

/* acc[0..3] += (pixel 0, channel 0), (p0, c1), (p1, c0), (p1, c1) over `groups` groups of 4 taps. */
static inline void tk_mac_2x2(const void *columns, const int16_t *weights, int32_t groups, int32_t *acc)
{
    tk_mac_pixels(columns, weights, groups, acc, 2);
}

/* acc[0..1] += channels 0 and 1 of one pair block times column `slot` 0 of a buffer with `stride`. */
static inline void tk_mac_1x2(const void *columns, int32_t stride, const int16_t *weights, int32_t groups, int32_t *acc)
{
    const int16_t *col = (const int16_t *)columns;
    const int32_t half = stride; /* halfwords from word a to word b of the column */
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
static inline void tk_mac_1x4(const void *column, const int16_t *weights0, const int16_t *weights1, int32_t groups,
                              int32_t *acc)
{
    tk_mac_1x2(column, 2, weights0, groups, acc);
    tk_mac_1x2(column, 2, weights1, groups, acc + 2);
}

/* Depthwise: acc[0..3] (channels 4q..4q+3) over a rows x cols window of taps; `in` and the packed weights step
 * by the given amounts (bytes; int16 values) per row and per column. */
static inline void tk_dw_window(const int8_t *in, int32_t in_row_step, int32_t in_col_step, const int16_t *weights,
                                int32_t w_row_step, int32_t w_col_step, int32_t rows, int32_t cols, int32_t offset,
                                int32_t *acc)
{
    int32_t r, c;
    for (r = 0; r < rows; ++r, in += in_row_step, weights += w_row_step) {
        const int8_t *x = in;
        const int16_t *w = weights;
        for (c = 0; c < cols; ++c, x += in_col_step, w += w_col_step) {
            acc[0] += (x[0] + offset) * w[0];
            acc[2] += (x[2] + offset) * w[1];
            acc[1] += (x[1] + offset) * w[2];
            acc[3] += (x[3] + offset) * w[3];
        }
    }
}

#endif /* TK_FAST_PORTABLE_H */
