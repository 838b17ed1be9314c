/* MAX_POOL_2D, AVERAGE_POOL_2D and MEAN over height and width, int8 (input and output quantization shared
 * for the pools). The pooling window is clipped at the borders: padding never enters a max or an average. */
#include "tinykd_kernels.h"
#include "tk_arch.h"
#include "tk_fast.h"
#include "tk_fixedpoint.h"

#include <stddef.h>
#include <string.h>

typedef enum { POOL_MAX, POOL_AVERAGE } pool_kind;

/* Channels per pass of the average pool's sums (window_sums). */
#define TK_POOL_CHUNK 64

/* sums[0 .. channels) <- the sums of `channels` channels (a multiple of 4, at most TK_POOL_CHUNK) over a rows x
 * cols window whose first pixel is `x`. On the DSP extension two channels share a word of int16 sums (SXTAB16:
 * one instruction per 2 values), exact for windows of at most 256 pixels (|sum| <= 256 * 128). */
static void window_sums(const int8_t *x, int32_t row_step, int32_t depth, int32_t rows, int32_t cols, int32_t channels,
                        int32_t *sums)
{
    int32_t r, c, k;
#if TK_DSP
    int32_t first;
    for (first = 0; first < channels; first += 16) { /* 16 channels in 8 registers over the whole window */
        int32_t a0 = 0, b0 = 0, a1 = 0, b1 = 0, a2 = 0, b2 = 0, a3 = 0, b3 = 0;
        const int32_t groups = tk_min32(4, (channels - first) / 4);
        const int8_t *row = x + first;
        for (r = 0; r < rows; ++r, row += row_step) {
            const int8_t *pixel = row;
            for (c = 0; c < cols; ++c, pixel += depth) {
                const int32_t v0 = tk_read_s8x4(pixel), v1 = groups > 1 ? tk_read_s8x4(pixel + 4) : 0;
                const int32_t v2 = groups > 2 ? tk_read_s8x4(pixel + 8) : 0;
                const int32_t v3 = groups > 3 ? tk_read_s8x4(pixel + 12) : 0;
                a0 = tk_sxtab16(a0, v0);
                b0 = tk_sxtab16_ror8(b0, v0);
                a1 = tk_sxtab16(a1, v1);
                b1 = tk_sxtab16_ror8(b1, v1);
                a2 = tk_sxtab16(a2, v2);
                b2 = tk_sxtab16_ror8(b2, v2);
                a3 = tk_sxtab16(a3, v3);
                b3 = tk_sxtab16_ror8(b3, v3);
            }
        }
        {
            const int32_t lanes[8] = {a0, b0, a1, b1, a2, b2, a3, b3}; /* (c0, c2) (c1, c3) per group of 4 */
            for (k = 0; k < groups; ++k) { /* the int16 sums of channels first + 4k .. + 3 */
                int32_t *sum = sums + first + 4 * k;
                sum[0] = (int16_t)lanes[2 * k];
                sum[1] = (int16_t)lanes[2 * k + 1];
                sum[2] = lanes[2 * k] >> 16;
                sum[3] = lanes[2 * k + 1] >> 16;
            }
        }
    }
#else
    for (k = 0; k < channels; ++k) {
        sums[k] = 0;
    }
    for (r = 0; r < rows; ++r, x += row_step) {
        const int8_t *pixel = x;
        for (c = 0; c < cols; ++c, pixel += depth) {
            for (k = 0; k < channels; ++k) {
                sums[k] += pixel[k];
            }
        }
    }
#endif
}

/* The max pool at one output pixel of the channels [0, depth & ~3) in fours: a byte-wise maximum per word of 4
 * channels (SSUB8 + SEL on the DSP extension) over the rows x cols window whose first pixel is `x`, started at the
 * activation min and clamped to its max. The 1-3 channels past them are the caller's. */
static void window_max4(const int8_t *x, int32_t row_step, int32_t depth, int32_t rows, int32_t cols,
                        const tk_activation *activation, int8_t *out)
{
    const int32_t low4 = tk_bytes4(activation->min), high4 = tk_bytes4(activation->max);
    int32_t channel, r, c;
    for (channel = 0; channel + 4 <= depth; channel += 4) {
        const int8_t *row = x + channel;
        int32_t m = low4;
        for (r = 0; r < rows; ++r, row += row_step) {
            for (c = 0; c < cols; ++c) {
                int32_t v;
                memcpy(&v, row + c * depth, sizeof v); /* an unaligned LDR */
                m = tk_max4(m, v);
            }
        }
        m = tk_clamp4(m, low4, high4);
        memcpy(out + channel, &m, sizeof m);
    }
}

/* window_max4 for the common 2x2 window: its 4 words per 4 channels unrolled. */
static TK_NOINLINE void window_max4_2x2(const int8_t *x, int32_t row_step, int32_t depth,
                                        const tk_activation *activation, int8_t *out)
{
    const int32_t low4 = tk_bytes4(activation->min), high4 = tk_bytes4(activation->max);
    int32_t channel;
    for (channel = 0; channel + 4 <= depth; channel += 4) {
        const int8_t *p = x + channel;
        int32_t a, b, e, f;
        memcpy(&a, p, sizeof a);
        memcpy(&b, p + depth, sizeof b);
        memcpy(&e, p + row_step, sizeof e);
        memcpy(&f, p + row_step + depth, sizeof f);
        a = tk_clamp4(tk_max4(tk_max4(a, b), tk_max4(e, f)), low4, high4);
        memcpy(out + channel, &a, sizeof a);
    }
}

/* window_max4 for a window of 2 pixels `step` bytes apart (2x1 or 1x2: series pooled in time). */
static TK_NOINLINE void window_max4_pair(const int8_t *x, int32_t step, int32_t depth, const tk_activation *activation,
                                         int8_t *out)
{
    const int32_t low4 = tk_bytes4(activation->min), high4 = tk_bytes4(activation->max);
    int32_t channel;
    for (channel = 0; channel + 4 <= depth; channel += 4) {
        int32_t a, b;
        memcpy(&a, x + channel, sizeof a);
        memcpy(&b, x + channel + step, sizeof b);
        a = tk_clamp4(tk_max4(a, b), low4, high4);
        memcpy(out + channel, &a, sizeof a);
    }
}

/* The average of a window from its sum: rounded half away from zero, then clamped. */
static int8_t average_of(int32_t sum, int32_t count, const tk_activation *activation)
{
    const int32_t average = sum > 0 ? (sum + count / 2) / count : (sum - count / 2) / count;
    return (int8_t)tk_clamp32(average, activation->min, activation->max);
}

static tk_status pool2d(pool_kind kind, const tk_pool_params *params, const tk_dims *input_dims, const int8_t *input,
                        const tk_dims *output_dims, int8_t *output)
{
    int32_t batch, out_y, out_x, channel, filter_y, filter_x;

    if (params == NULL || input_dims == NULL || input == NULL || output_dims == NULL || output == NULL ||
        params->stride_h < 1 || params->stride_w < 1 || params->filter_h < 1 || params->filter_w < 1 ||
        params->activation.min > params->activation.max) {
        return TK_ERR_ARGUMENT;
    }
    if (input_dims->n != output_dims->n || input_dims->c != output_dims->c) {
        return TK_ERR_SHAPE;
    }
    {
        const int32_t input_h = input_dims->h, input_w = input_dims->w, depth = input_dims->c;
        const int32_t output_h = output_dims->h, output_w = output_dims->w;

        for (batch = 0; batch < output_dims->n; ++batch) {
            for (out_y = 0; out_y < output_h; ++out_y) {
                const int32_t in_y_origin = out_y * params->stride_h - params->pad_h;
                const int32_t y_start = tk_max32(0, -in_y_origin);
                const int32_t y_end = tk_min32(params->filter_h, input_h - in_y_origin);
                for (out_x = 0; out_x < output_w; ++out_x) {
                    const int32_t in_x_origin = out_x * params->stride_w - params->pad_w;
                    const int32_t x_start = tk_max32(0, -in_x_origin);
                    const int32_t x_end = tk_min32(params->filter_w, input_w - in_x_origin);
                    const int32_t count = (y_end - y_start) * (x_end - x_start);
                    /* the input byte of the window's first pixel inside the input (when count > 0); the output pixel */
                    const int32_t window =
                        ((batch * input_h + in_y_origin + y_start) * input_w + in_x_origin + x_start) * depth;
                    int8_t *out = output + ((batch * output_h + out_y) * output_w + out_x) * depth;
                    if (count <= 0) {
                        return TK_ERR_SHAPE; /* a window entirely in the padding */
                    }
                    channel = 0;
                    if (kind == POOL_MAX && depth >= 4) { /* channels in fours; the 1-3 after them below */
                        if (y_end - y_start == 2 && x_end - x_start == 2) {
                            window_max4_2x2(input + window, input_w * depth, depth, &params->activation, out);
                        } else if (count == 2) {
                            window_max4_pair(input + window, x_end - x_start == 2 ? depth : input_w * depth, depth,
                                             &params->activation, out);
                        } else {
                            window_max4(input + window, input_w * depth, depth, y_end - y_start, x_end - x_start,
                                        &params->activation, out);
                        }
                        channel = depth & ~3;
                    }
                    if (kind == POOL_AVERAGE && !(depth & 3) && count <= 256) { /* channels in fours */
                        int32_t sums[TK_POOL_CHUNK];
                        for (channel = 0; channel < depth; channel += TK_POOL_CHUNK) {
                            const int32_t n = tk_min32(TK_POOL_CHUNK, depth - channel);
                            int32_t k;
                            window_sums(input + window + channel, input_w * depth, depth, y_end - y_start,
                                        x_end - x_start, n, sums);
                            for (k = 0; k < n; ++k) {
                                out[channel + k] = average_of(sums[k], count, &params->activation);
                            }
                        }
                        continue;
                    }
                    if (channel < depth && kind == POOL_MAX && y_end - y_start == 2 && x_end - x_start == 2) { /* 2x2 */
                        const int8_t *p = input + window, *q = p + input_w * depth; /* the window's two rows */
                        for (; channel < depth; ++channel) {
                            const int32_t m = tk_max32(tk_max32(p[channel], p[channel + depth]),
                                                       tk_max32(q[channel], q[channel + depth]));
                            out[channel] = (int8_t)tk_clamp32(m, params->activation.min, params->activation.max);
                        }
                    }
                    for (; channel < depth; ++channel) {
                        int32_t acc = kind == POOL_MAX ? TK_INT8_MIN : 0; /* sum: |acc| <= window * 128 */
                        for (filter_y = y_start; filter_y < y_end; ++filter_y) {
                            for (filter_x = x_start; filter_x < x_end; ++filter_x) {
                                const int32_t in_y = in_y_origin + filter_y;
                                const int32_t in_x = in_x_origin + filter_x;
                                const int32_t value =
                                    input[((batch * input_h + in_y) * input_w + in_x) * depth + channel];
                                acc = kind == POOL_MAX ? tk_max32(acc, value) : acc + value;
                            }
                        }
                        out[channel] = kind == POOL_AVERAGE
                                           ? average_of(acc, count, &params->activation)
                                           : (int8_t)tk_clamp32(acc, params->activation.min, params->activation.max);
                    }
                }
            }
        }
    }
    return TK_OK;
}

tk_status tk_max_pool2d_s8(const tk_pool_params *params, const tk_dims *input_dims, const int8_t *input,
                           const tk_dims *output_dims, int8_t *output)
{
    return pool2d(POOL_MAX, params, input_dims, input, output_dims, output);
}

tk_status tk_avg_pool2d_s8(const tk_pool_params *params, const tk_dims *input_dims, const int8_t *input,
                           const tk_dims *output_dims, int8_t *output)
{
    return pool2d(POOL_AVERAGE, params, input_dims, input, output_dims, output);
}

tk_status tk_mean_hw_s8(const tk_mean_params *params, const tk_dims *input_dims, const int8_t *input, int8_t *output)
{
    int32_t batch, channel, y, x;

    if (params == NULL || input_dims == NULL || input == NULL || output == NULL) {
        return TK_ERR_ARGUMENT;
    }
    if (input_dims->h < 1 || input_dims->w < 1) {
        return TK_ERR_SHAPE;
    }
    {
        const int32_t count = input_dims->h * input_dims->w;
        const int32_t depth = input_dims->c;
        const int simd = !(depth & 3) && count <= 256; /* window_sums' int16 lanes hold the sums exactly */
        int32_t sums[TK_POOL_CHUNK];

        for (batch = 0; batch < input_dims->n; ++batch) {
            const int8_t *image = input + batch * count * depth;
            for (channel = 0; channel < depth; ++channel) {
                int32_t sum = 0; /* |sum| <= h * w * 128 */
                int32_t result;
                if (simd) { /* the sums of the next TK_POOL_CHUNK channels at once: the image is one window */
                    if (channel % TK_POOL_CHUNK == 0) {
                        window_sums(image + channel, input_dims->w * depth, depth, input_dims->h, input_dims->w,
                                    tk_min32(TK_POOL_CHUNK, depth - channel), sums);
                    }
                    sum = sums[channel % TK_POOL_CHUNK];
                } else {
                    for (y = 0; y < input_dims->h; ++y) {
                        for (x = 0; x < input_dims->w; ++x) {
                            sum += image[(y * input_dims->w + x) * depth + channel];
                        }
                    }
                }
                if (params->divide) {
                    result = sum / count; /* same quantization: truncating integer mean */
                } else {
                    result = tk_requantize(sum - count * params->input_zero_point, params->quant.multiplier,
                                           params->quant.shift);
                    result = tk_clamp32(result + params->output_zero_point, TK_INT8_MIN, TK_INT8_MAX);
                }
                output[batch * depth + channel] = (int8_t)result;
            }
        }
    }
    return TK_OK;
}
