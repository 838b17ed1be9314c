/*
 * tinykd_kernels: portable C99 int8 kernels for the tinykd AOT engine.
 *
 * Every kernel computes, bit for bit, what the TensorFlow Lite Micro reference kernel of the same operator
 * computes for int8 tensors. Tensors are NHWC, row-major, owned by the caller; no kernel allocates memory
 * or keeps state. The reference kernels (tk_<op>_s8) take TFLite's weight layout and need no scratch memory.
 * The fast kernels (tk_<op>_fast_s8) take weights the compiler packed offline (pipeline/compiler/pack.py) and
 * use the Cortex-M4 DSP extension when the compiler targets it (TK_DSP, tk_arch.h: SMLAD, SXTAB16, SMMULR),
 * portable C99 on the same layout otherwise; convolution and fully connected take a caller-owned scratch
 * buffer of `*_scratch_size()` bytes (4-byte aligned).
 * Rescale factors are precomputed (multiplier, shift) pairs: real ~= multiplier * 2^(shift - 31).
 */
#ifndef TINYKD_KERNELS_H
#define TINYKD_KERNELS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Result of every kernel. */
typedef enum {
    TK_OK = 0,            /* done */
    TK_ERR_ARGUMENT = -1, /* a NULL pointer or a parameter out of range (stride < 1, ...) */
    TK_ERR_SHAPE = -2     /* tensor dimensions that do not fit together */
} tk_status;

/* Dimensions of a 4-D NHWC tensor (a filter uses n for its output channels). */
typedef struct {
    int32_t n; /* batch (or output channels of a CONV_2D filter) */
    int32_t h; /* height */
    int32_t w; /* width */
    int32_t c; /* channels (innermost, contiguous) */
} tk_dims;

/* Output clamp of a fused activation (NONE, RELU, RELU6), in the output's int8 domain. */
typedef struct {
    int32_t min; /* smallest output value, >= -128 */
    int32_t max; /* largest output value, <= 127 */
} tk_activation;

/* One rescale factor. */
typedef struct {
    int32_t multiplier; /* Q31 mantissa in [2^30, 2^31), or 0 */
    int32_t shift;      /* power of two: > 0 shifts left, < 0 shifts right */
} tk_quant;

/* Rescale factors of an output with channels. */
typedef struct {
    const int32_t *multiplier; /* one Q31 mantissa per output channel (or a single one) */
    const int32_t *shift;      /* one shift per output channel (or a single one) */
    int32_t per_channel;       /* 1: index by output channel; 0: entry 0 serves every channel */
} tk_channel_quant;

/* CONV_2D and DEPTHWISE_CONV_2D. */
typedef struct {
    int32_t input_offset;     /* minus the input zero point, added to every input value */
    int32_t output_offset;    /* the output zero point, added after the rescale */
    int32_t stride_h;         /* vertical stride, >= 1 */
    int32_t stride_w;         /* horizontal stride, >= 1 */
    int32_t dilation_h;       /* vertical dilation, >= 1 */
    int32_t dilation_w;       /* horizontal dilation, >= 1 */
    int32_t pad_h;            /* rows of implicit padding at the top (SAME); 0 for VALID */
    int32_t pad_w;            /* columns of implicit padding on the left (SAME); 0 for VALID */
    int32_t depth_multiplier; /* DEPTHWISE_CONV_2D only: output channels per input channel */
    tk_activation activation; /* fused activation clamp */
} tk_conv_params;

/* FULLY_CONNECTED. */
typedef struct {
    int32_t input_offset;     /* minus the input zero point */
    int32_t filter_offset;    /* minus the filter zero point (0 for symmetric int8 weights) */
    int32_t output_offset;    /* the output zero point */
    tk_activation activation; /* fused activation clamp */
} tk_fc_params;

/* MAX_POOL_2D and AVERAGE_POOL_2D (input and output share their quantization). */
typedef struct {
    int32_t stride_h;         /* vertical stride, >= 1 */
    int32_t stride_w;         /* horizontal stride, >= 1 */
    int32_t filter_h;         /* window height, >= 1 */
    int32_t filter_w;         /* window width, >= 1 */
    int32_t pad_h;            /* rows of padding at the top (SAME); the window is clipped, not padded */
    int32_t pad_w;            /* columns of padding on the left (SAME) */
    tk_activation activation; /* fused activation clamp */
} tk_pool_params;

/* MEAN over height and width of an NHWC tensor (global average pooling). */
typedef struct {
    int32_t input_zero_point;  /* zero point of the input */
    int32_t output_zero_point; /* zero point of the output */
    int32_t divide;            /* 1: same quantization in and out: output = sum / count (truncating) */
    tk_quant quant;            /* divide == 0: rescale of (sum - count * input_zero_point), 1/count folded in */
} tk_mean_params;

/* ADD of two tensors of the same shape. */
typedef struct {
    int32_t input1_offset;    /* minus the zero point of input 1 */
    int32_t input2_offset;    /* minus the zero point of input 2 */
    int32_t output_offset;    /* the output zero point */
    int32_t left_shift;       /* headroom bits given to both inputs before their rescale (20) */
    tk_quant input1;          /* rescale of input 1 to the common scale (shift <= 0) */
    tk_quant input2;          /* rescale of input 2 to the common scale (shift <= 0) */
    tk_quant output;          /* rescale of the sum to the output scale (shift <= 0) */
    tk_activation activation; /* fused activation clamp */
} tk_add_params;

/* SOFTMAX over the innermost dimension; the output has scale 1/256 and zero point -128. */
typedef struct {
    int32_t input_multiplier; /* beta * input scale as a Q31 mantissa, for differences in Q5.26 */
    int32_t input_left_shift; /* its power of two (>= 0) */
    int32_t diff_min;         /* differences to the row maximum below this give exp() = 0 */
} tk_softmax_params;

/* LOGISTIC; the output has scale 1/256 and zero point -128. */
typedef struct {
    int32_t input_zero_point;   /* zero point of the input */
    int32_t input_range_radius; /* |input - zero point| at or beyond this saturates to -128 / 127 */
    int32_t input_multiplier;   /* input scale as a Q31 mantissa, for inputs in Q4.27 */
    int32_t input_left_shift;   /* its power of two */
} tk_logistic_params;

/* QUANTIZE from int8 to int8 (a change of scale and zero point). */
typedef struct {
    int32_t input_zero_point;  /* zero point of the input */
    int32_t output_zero_point; /* zero point of the output */
    tk_quant quant;            /* input scale / output scale */
} tk_requantize_params;

/* PAD of a 4-D NHWC tensor with a constant. */
typedef struct {
    int32_t before[4]; /* elements added before the data, per dimension (n, h, w, c) */
    int32_t after[4];  /* elements added after the data, per dimension */
    int32_t value;     /* the pad value: the output zero point (real 0.0) */
} tk_pad_params;

/* Most dimensions of a walk over a tensor. */
#define TK_MAX_DIMS 6

/* A walk over the elements of a tensor in row-major order of `dims`: step i along dimension d moves
 * strides[d] elements in the tensor read (0: that dimension is broadcast; negative: backwards). */
typedef struct {
    int32_t rank;                 /* dimensions in use, 1 .. TK_MAX_DIMS */
    int32_t dims[TK_MAX_DIMS];    /* sizes, outermost first */
    int32_t strides[TK_MAX_DIMS]; /* elements of the tensor read per step along each dimension */
} tk_walk;

/* STRIDED_SLICE, SLICE, SPLIT, SPLIT_V, UNPACK, TRANSPOSE, BATCH_TO_SPACE_ND, SPACE_TO_BATCH_ND (after its PAD):
 * the output, in order, is the input read along `walk` from element `offset`. */
typedef struct {
    tk_walk walk;   /* over the output's elements; strides in input elements */
    int32_t offset; /* input element of output element 0 */
} tk_strided_copy_params;

/* What tk_binary_s8 computes per element. */
typedef enum {
    TK_BINARY_ADD = 0,     /* the ADD rescale of both inputs, summed, rescaled (left_shift, input1/2, output) */
    TK_BINARY_SUB = 1,     /* the same with the difference */
    TK_BINARY_MUL = 2,     /* (a + offset1) * (b + offset2), rescaled by `output` */
    TK_BINARY_MAXIMUM = 3, /* the larger raw value (shared quantization) */
    TK_BINARY_MINIMUM = 4, /* the smaller raw value */
    TK_BINARY_PRELU = 5    /* x = a + offset1: x >= 0 ? x rescaled by input1 : x * (b + offset2) by output */
} tk_binary_kind;

/* Element-wise operators of two tensors with numpy broadcasting: ADD, SUB, MUL, MAXIMUM, MINIMUM, PRELU. */
typedef struct {
    int32_t kind;             /* a tk_binary_kind */
    int32_t input1_offset;    /* minus the zero point of input 1 */
    int32_t input2_offset;    /* minus the zero point of input 2 (PRELU: of alpha) */
    int32_t output_offset;    /* the output zero point */
    int32_t left_shift;       /* ADD, SUB: headroom bits given to both inputs (20) */
    tk_quant input1;          /* ADD, SUB: rescale of input 1; PRELU: of x >= 0 */
    tk_quant input2;          /* ADD, SUB: rescale of input 2 */
    tk_quant output;          /* ADD, SUB: of the sum; MUL: of the product; PRELU: of x * alpha */
    tk_activation activation; /* fused activation clamp */
    tk_walk walk1;            /* input 1 over the output's dimensions */
    tk_walk walk2;            /* input 2 over the output's dimensions */
} tk_binary_params;

/* RELU (a rescale, then the clamp) and RELU6 (the clamp in the input's domain: unit rescale). */
typedef struct {
    int32_t input_zero_point;
    int32_t output_zero_point;
    tk_quant quant;           /* input scale / output scale */
    tk_activation activation; /* [output zero point, 127] for RELU; [zero, six] for RELU6 */
} tk_relu_params;

/* LEAKY_RELU: x >= 0 rescaled by `identity`, x < 0 by |alpha| * scale (negated when alpha < 0). */
typedef struct {
    int32_t input_zero_point;
    int32_t output_zero_point;
    tk_quant identity;      /* input scale / output scale */
    tk_quant alpha;         /* |input scale * alpha / output scale| */
    int32_t alpha_negative; /* 1 when alpha < 0 */
} tk_leaky_relu_params;

/* HARD_SWISH in int16 fixed point: x * relu6(x + 3) / 6. */
typedef struct {
    int32_t input_zero_point;
    int32_t output_zero_point;
    int32_t output_multiplier;  /* Q15 multiplier of (input scale / 128) / output scale */
    int32_t output_exponent;    /* its power of two (<= 0) */
    int32_t reluish_multiplier; /* Q15 multiplier of (input scale / 128) / (3 / 32768) */
    int32_t reluish_exponent;   /* its power of two */
} tk_hard_swish_params;

/* TANH; the output has scale 1/128 and zero point 0 (same fields as LOGISTIC). */
typedef struct {
    int32_t input_zero_point;
    int32_t input_range_radius; /* |input - zero point| at or beyond this saturates to -128 / 127 */
    int32_t input_multiplier;   /* input scale as a Q31 mantissa, for inputs in Q4.27 */
    int32_t input_left_shift;   /* its power of two */
} tk_tanh_params;

/* DEQUANTIZE int8 -> float: scale * (q - zero_point). */
typedef struct {
    int32_t zero_point;
    float scale;
} tk_dequantize_params;

/* What tk_reduce_s8 computes over the reduced axes. */
typedef enum {
    TK_REDUCE_MEAN = 0, /* sum / count: truncating when `divide`, else rescaled with 1/count folded in */
    TK_REDUCE_SUM = 1,  /* sum rescaled */
    TK_REDUCE_MAX = 2   /* the largest raw value (shared quantization) */
} tk_reduce_kind;

/* MEAN, SUM and REDUCE_MAX over any axes: for each output element (`outer`, the kept axes) the elements of
 * `inner` (the reduced axes) from there. */
typedef struct {
    int32_t kind;  /* a tk_reduce_kind */
    tk_walk outer; /* kept axes, strides in input elements; the output is written in this order */
    tk_walk inner; /* reduced axes */
    int32_t input_zero_point;
    int32_t output_zero_point;
    int32_t divide; /* MEAN with the same quantization in and out: output = sum / count */
    tk_quant quant; /* rescale of (sum - count * input zero point) */
} tk_reduce_params;

/* TRANSPOSE_CONV: each input pixel scatters input * filter into the int32 accumulators of the output. */
typedef struct {
    int32_t input_offset;     /* minus the input zero point */
    int32_t output_offset;    /* the output zero point */
    int32_t stride_h;         /* >= 1 */
    int32_t stride_w;         /* >= 1 */
    int32_t pad_h;            /* output rows cut at the top */
    int32_t pad_w;            /* output columns cut on the left */
    tk_activation activation; /* fused activation clamp */
} tk_transpose_conv_params;

/* Weights of a fast kernel, packed by pipeline/compiler/pack.py (all arrays 4-byte aligned). */
typedef struct {
    const int16_t *weights; /* int16, doubled; CONV/FC: channel pairs x groups of 4 taps; DW: taps x 4 channels;
                             * DW 3x3 planar: per channel, per filter column (k0, k1) (k1, k2) */
    const int32_t *bias;    /* doubled bias per padded output channel (zeros when the op has none); CONV:
                             * (b0, b1, b0, b1) per channel pair, what the 2 or 3 pixels' accumulators start at */
    const int32_t *quant;   /* per padded output channel: multiplier, right shift (>= 1), nudge (rounding +
                             * output zero point << right shift): out = (t + (acc < 0 ? -1 : 0) + nudge) >> shift
                             * with t = round(acc * multiplier / 2^32) */
} tk_packed_filter;

tk_status tk_conv2d_s8(const tk_conv_params *params, const tk_channel_quant *quant, const tk_dims *input_dims,
                       const int8_t *input, const tk_dims *filter_dims, const int8_t *filter, const int32_t *bias,
                       const tk_dims *output_dims, int8_t *output);

/* CONV_2D on packed weights (dilation 1); filter_dims as for tk_conv2d_s8. The output channel loop reuses each
 * input column (im2col, int16, input offset added) for every channel pair, three output pixels per pass (two or
 * one for the last pixels and for an odd channel count); scratch: tk_conv2d_fast_scratch_size bytes. */
tk_status tk_conv2d_fast_s8(const tk_conv_params *params, const tk_packed_filter *filter, const tk_dims *input_dims,
                            const int8_t *input, const tk_dims *filter_dims, const tk_dims *output_dims, int8_t *output,
                            void *scratch);
int32_t tk_conv2d_fast_scratch_size(const tk_dims *input_dims, const tk_dims *filter_dims);

/* filter_dims: (1, kh, kw, input channels * depth multiplier). */
tk_status tk_depthwise_conv2d_s8(const tk_conv_params *params, const tk_channel_quant *quant, const tk_dims *input_dims,
                                 const int8_t *input, const tk_dims *filter_dims, const int8_t *filter,
                                 const int32_t *bias, const tk_dims *output_dims, int8_t *output);

/* input: (batches, accum_depth); filter: (output_depth, accum_depth); output: (batches, output_depth). */
tk_status tk_fully_connected_s8(const tk_fc_params *params, const tk_channel_quant *quant, int32_t batches,
                                int32_t accum_depth, int32_t output_depth, const int8_t *input, const int8_t *filter,
                                const int32_t *bias, int8_t *output);

/* FULLY_CONNECTED on packed weights (filter offset applied when packing): four, then two rows per pass share
 * each load of the input row (int16, input offset added, in `scratch`). */
tk_status tk_fully_connected_fast_s8(const tk_fc_params *params, const tk_packed_filter *filter, int32_t batches,
                                     int32_t accum_depth, int32_t output_depth, const int8_t *input, int8_t *output,
                                     void *scratch);
int32_t tk_fully_connected_fast_scratch_size(int32_t accum_depth);

/* DEPTHWISE_CONV_2D, depth multiplier 1, dilation 1, on packed weights: four channels per pass, padding
 * handled by clipping the filter window once per output pixel (a 3x3 border pixel of up to 64 channels is
 * gathered into a 576-byte stack buffer instead). No arena scratch. */
tk_status tk_depthwise_conv2d_fast_s8(const tk_conv_params *params, const tk_packed_filter *filter,
                                      const tk_dims *input_dims, const int8_t *input, const tk_dims *filter_dims,
                                      const tk_dims *output_dims, int8_t *output);

/* DEPTHWISE_CONV_2D 3x3, stride 1, padding 1 on every side (SAME), depth multiplier 1, channels a multiple of 4,
 * on weights packed by pack_depthwise_3x3 (per channel, per filter column: (k0, k1) (k1, k2)): each group of 4
 * channels converted to int16 planes, two taps per SMLAD, 4 output rows per pass (tk_depthwise_3x3.c); scratch:
 * tk_depthwise_conv2d_3x3_fast_scratch_size bytes. */
tk_status tk_depthwise_conv2d_3x3_fast_s8(const tk_conv_params *params, const tk_packed_filter *filter,
                                          const tk_dims *input_dims, const int8_t *input, const tk_dims *filter_dims,
                                          const tk_dims *output_dims, int8_t *output, void *scratch);
int32_t tk_depthwise_conv2d_3x3_fast_scratch_size(const tk_dims *input_dims);

tk_status tk_max_pool2d_s8(const tk_pool_params *params, const tk_dims *input_dims, const int8_t *input,
                           const tk_dims *output_dims, int8_t *output);

tk_status tk_avg_pool2d_s8(const tk_pool_params *params, const tk_dims *input_dims, const int8_t *input,
                           const tk_dims *output_dims, int8_t *output);

/* output: (n, c). */
tk_status tk_mean_hw_s8(const tk_mean_params *params, const tk_dims *input_dims, const int8_t *input, int8_t *output);

/* In place allowed: output may equal input1 or input2. */
tk_status tk_add_s8(const tk_add_params *params, int32_t size, const int8_t *input1, const int8_t *input2,
                    int8_t *output);

/* rows x depth, softmax along depth. In place allowed. */
tk_status tk_softmax_s8(const tk_softmax_params *params, int32_t rows, int32_t depth, const int8_t *input,
                        int8_t *output);

/* In place allowed. */
tk_status tk_logistic_s8(const tk_logistic_params *params, int32_t size, const int8_t *input, int8_t *output);

/* In place allowed. */
tk_status tk_requantize_s8(const tk_requantize_params *params, int32_t size, const int8_t *input, int8_t *output);

/* RESHAPE: a copy (nothing when output == input). */
tk_status tk_reshape_s8(int32_t size, const int8_t *input, int8_t *output);

tk_status tk_pad_s8(const tk_pad_params *params, const tk_dims *input_dims, const int8_t *input,
                    const tk_dims *output_dims, int8_t *output);

/* CONCATENATION along one axis: the output is outer_size rows, each the inputs' rows
 * (copy_sizes[i] elements of input i) one after the other. */
tk_status tk_concatenation_s8(int32_t num_inputs, const int8_t *const *inputs, const int32_t *copy_sizes,
                              int32_t outer_size, int8_t *output);

/* output: the walk's elements in order (see tk_strided_copy_params). Not in place. */
tk_status tk_strided_copy_s8(const tk_strided_copy_params *params, const int8_t *input, int8_t *output);

/* RESIZE_NEAREST_NEIGHBOR: output pixel (y, x) is input pixel (rows[y], cols[x]) (tables from the compiler). */
tk_status tk_resize_nearest_s8(const tk_dims *input_dims, const int8_t *input, const int32_t *rows, const int32_t *cols,
                               const tk_dims *output_dims, int8_t *output);

/* output: the walks' dimensions (walk1.dims). In place allowed when an input has the output's shape. */
tk_status tk_binary_s8(const tk_binary_params *params, const int8_t *input1, const int8_t *input2, int8_t *output);

/* In place allowed (the four below). */
tk_status tk_relu_s8(const tk_relu_params *params, int32_t size, const int8_t *input, int8_t *output);
tk_status tk_leaky_relu_s8(const tk_leaky_relu_params *params, int32_t size, const int8_t *input, int8_t *output);
tk_status tk_hard_swish_s8(const tk_hard_swish_params *params, int32_t size, const int8_t *input, int8_t *output);
tk_status tk_tanh_s8(const tk_tanh_params *params, int32_t size, const int8_t *input, int8_t *output);

tk_status tk_dequantize_s8(const tk_dequantize_params *params, int32_t size, const int8_t *input, float *output);

tk_status tk_reduce_s8(const tk_reduce_params *params, const int8_t *input, int8_t *output);

/* filter: (output channels, kh, kw, input channels); scratch: 4 bytes per output element (int32), aligned. */
tk_status tk_transpose_conv2d_s8(const tk_transpose_conv_params *params, const tk_channel_quant *quant,
                                 const tk_dims *input_dims, const int8_t *input, const tk_dims *filter_dims,
                                 const int8_t *filter, const int32_t *bias, const tk_dims *output_dims, int8_t *output,
                                 void *scratch);

#ifdef __cplusplus
}
#endif

#endif /* TINYKD_KERNELS_H */
