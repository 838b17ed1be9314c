/*
 * tinykd_kernels: portable C99 int8 kernels for the tinykd AOT engine.
 *
 * Every kernel computes, bit for bit, what the TensorFlow Lite Micro reference kernel of the same operator
 * computes for int8 tensors. Tensors are NHWC, row-major, owned by the caller; no kernel allocates memory
 * or keeps state. The reference kernels (tk_<op>_s8) take TFLite's weight layout and need no scratch memory
 * (TRANSPOSE_CONV's accumulators excepted). The fast kernels (tk_<op>_fast_s8) take weights the compiler packed
 * offline (pipeline/compiler/pack.py) and use the Cortex-M4 DSP extension when the compiler targets it (TK_DSP,
 * tk_arch.h: SMLAD, SXTAB16, SMMULR), portable C99 on the same layout otherwise; the conv, fully connected and
 * planar 3x3 depthwise ones take a caller-owned scratch buffer (its size from their *_scratch_size twin).
 * Rescale factors are precomputed (multiplier, shift) pairs: real ~= multiplier * 2^(shift - 31).
 * The types come first, then the functions with their contracts (layouts, ranges, scratch, return codes).
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

/*
 * Functions. Every kernel returns a tk_status:
 *   TK_OK            the output is written;
 *   TK_ERR_ARGUMENT  a NULL pointer or a parameter outside the range its documentation gives;
 *   TK_ERR_SHAPE     dimensions that do not fit together.
 * Both errors are returned before anything is written (the pools' empty-window check excepted). Only what each
 * kernel lists is checked. The rest (output heights and widths that follow from the input, the filter and the
 * padding; the sizes of the arrays behind the pointers) is the caller's: the AOT compiler computes them as TFLite
 * Micro's Prepare does. Ranges that apply to every kernel:
 *   input offsets        minus the input zero point: [-127, 128]
 *   output offsets       the output zero point: [-128, 127]
 *   tk_quant             multiplier in [2^30, 2^31) or 0, shift in [-31, 30] (TFLite's QuantizeMultiplier)
 *   tk_activation        -128 <= min <= max <= 127
 * A scratch buffer is memory the caller owns for the duration of the call, 4-byte aligned, of the size the kernel's
 * *_scratch_size function returns; its contents need not be initialised and are garbage afterwards. In the
 * generated model.c it is a slice of the static arena (pipeline/compiler/pack.py mirrors each size function).
 */

/* ---- Convolution -------------------------------------------------------------------------------------------- */

/**
 * @brief int8 CONV_2D, TFLite Micro's reference kernel (per-channel or per-tensor requantization).
 *
 * @param[in]  params       strides >= 1, dilations >= 1, pads >= 0 (rows above, columns left of the input),
 *                          input and output offsets, activation; depth_multiplier unused
 * @param[in]  quant        per output channel (per_channel = 1) or one factor for all (0)
 * @param[in]  input_dims   input shape. Format: [N, H, W, C_IN]
 * @param[in]  input        input data. Data type: int8
 * @param[in]  filter_dims  filter shape. Format: [C_OUT, KH, KW, C_IN]
 * @param[in]  filter       filter data, TFLite's layout. Data type: int8 (symmetric: zero point 0)
 * @param[in]  bias         one per output channel, or NULL for none. Data type: int32
 * @param[in]  output_dims  output shape. Format: [N, H_OUT, W_OUT, C_OUT]
 * @param[out] output       output data. Data type: int8
 *
 * @return TK_ERR_ARGUMENT for a NULL pointer (bias excepted), a stride or dilation < 1, a pad < 0 or
 *         activation min > max; TK_ERR_SHAPE when the filter's C_IN is not the input's, its C_OUT not the
 *         output's, or the batches differ; TK_OK otherwise.
 *
 * @details No scratch. The accumulator is int32: exact up to ~65,000 taps per output. Output rows are written in
 *          order and row out_y reads only input rows >= out_y * stride_h - pad_h, so the output may overlap the
 *          input when it starts far enough below it (the memory planner's overlap_shift relies on this).
 */
tk_status tk_conv2d_s8(const tk_conv_params *params, const tk_channel_quant *quant, const tk_dims *input_dims,
                       const int8_t *input, const tk_dims *filter_dims, const int8_t *filter, const int32_t *bias,
                       const tk_dims *output_dims, int8_t *output);

/**
 * @brief int8 CONV_2D on packed weights: tk_conv2d_s8's results, bit for bit, with the DSP extension's SMLAD.
 *
 * @param[in]  params       strides >= 1, dilations == 1, pads >= 0, input offset, activation (output offset
 *                          unused: it is in filter->quant)
 * @param[in]  filter       packed by pipeline/compiler/pack.py (pack_matrix of pad_rows, pack_conv_bias,
 *                          fast_quant): see tk_packed_filter. All three arrays non-NULL
 * @param[in]  input_dims   input shape. Format: [N, H, W, C_IN]
 * @param[in]  input        input data, any alignment. Data type: int8
 * @param[in]  filter_dims  shape of the filter before packing. Format: [C_OUT, KH, KW, C_IN]
 * @param[in]  output_dims  output shape. Format: [N, H_OUT, W_OUT, C_OUT]
 * @param[out] output       output data. Data type: int8
 * @param[in]  scratch      tk_conv2d_fast_scratch_size(input_dims, filter_dims) bytes, provided by the caller
 *
 * @return TK_ERR_ARGUMENT for a NULL pointer, a stride < 1, a dilation other than 1, a pad < 0 or an activation
 *         outside -128 <= min <= max <= 127; TK_ERR_SHAPE as tk_conv2d_s8; TK_OK otherwise.
 *
 * @details The scratch holds the im2col columns of up to 3 output pixels (int16, input offset added), each reused
 *          for every pair of output channels: 3 pixels per pass, or 2 when a layer has at most 32 groups of 4 taps
 *          (the fully unrolled loop); 2 or 1 for the last pixels and for an odd channel count. The compiler packs
 *          a layer only when the doubled accumulator provably fits int32 and every right shift is in [1, 24]; the
 *          others run tk_conv2d_s8. Not in place.
 */
tk_status tk_conv2d_fast_s8(const tk_conv_params *params, const tk_packed_filter *filter, const tk_dims *input_dims,
                            const int8_t *input, const tk_dims *filter_dims, const tk_dims *output_dims, int8_t *output,
                            void *scratch);

/**
 * @brief int8 CONV_2D on int8 weights packed two output channels to an int16: tk_conv2d_s8's results, bit for bit,
 *        at one byte per weight.
 *
 * @param[in]  params       as tk_conv2d_fast_s8
 * @param[in]  filter       packed by pack.py (pack_fc8 with one pair per tile: per channel pair, per group of 4
 *                          taps, h = w0 + 256 w1 for taps (k0, k2) then (k1, k3); bias a, mix per pair; quant
 *                          (m, s, n) channel 0, (m, s, n, 2 low) channel 1 per pair). All three arrays non-NULL
 * @param[in]  input_dims   input shape. Format: [N, H, W, C_IN]
 * @param[in]  input        input data, any alignment. Data type: int8
 * @param[in]  filter_dims  shape of the filter before packing. Format: [C_OUT, KH, KW, C_IN]
 * @param[in]  output_dims  output shape. Format: [N, H_OUT, W_OUT, C_OUT], C_OUT even
 * @param[out] output       output data. Data type: int8
 * @param[in]  scratch      tk_conv2d_fast_scratch_size(input_dims, filter_dims) bytes, provided by the caller
 *
 * @return as tk_conv2d_fast_s8, and TK_ERR_SHAPE for an odd C_OUT.
 *
 * @details Three output pixels per pass (the last pass repeats its last pixel), every channel pair of them per
 *          call of the assembly loop: SMLAD with h and with SXTB16(h) per input word (see
 *          tk_fully_connected_fast8_s8). Not in place.
 */
tk_status tk_conv2d_fast8_s8(const tk_conv_params *params, const tk_packed_filter *filter, const tk_dims *input_dims,
                             const int8_t *input, const tk_dims *filter_dims, const tk_dims *output_dims,
                             int8_t *output, void *scratch);

/**
 * @brief tk_conv2d_fast8_s8 with the first output pixels in tiles of 4 on the Cortex-M4: the same results, bit
 *        for bit, in 11 instructions per 16 MACs instead of 9 per 12.
 *
 * @param[in]  scratch      tk_conv2d_fast8_tiles_scratch_size(input_dims, filter_dims) bytes, provided by the
 *                          caller; the other parameters and the return as tk_conv2d_fast8_s8
 *
 * @details A layer whose columns have 16k taps, k <= 16, whose output pixels run in fewer MAC instructions as
 *          tiles of 4 (and one of 3 for the 1-3 past them) than as tiles of 3, fills the columns of a chunk of
 *          tiles (at most 10 KB) into the scratch, then runs every channel pair over the whole chunk, each pair's
 *          weights copied to the stack once per chunk (the tile needs the weight pointer's register). The pixels
 *          past the tiles, and every pixel elsewhere than on the Cortex-M4, run as in tk_conv2d_fast8_s8. Not in
 *          place.
 */
tk_status tk_conv2d_fast8_tiles_s8(const tk_conv_params *params, const tk_packed_filter *filter,
                                   const tk_dims *input_dims, const int8_t *input, const tk_dims *filter_dims,
                                   const tk_dims *output_dims, int8_t *output, void *scratch);

/**
 * @brief int8 CONV_2D 1x1, stride 1, over exactly 8 input channels, on a per-channel stream: tk_conv2d_s8's
 *        results, bit for bit, for a layer whose activation clamps nothing.
 *
 * @param[in]  params       stride 1, padding 0, activation -128 .. 127 (else TK_ERR_ARGUMENT); input_offset as
 *                          tk_conv2d_s8 (output_offset unused: it is in the stream's nudges)
 * @param[in]  filter       packed by pack.py (pack_narrow): only quant is read, the stream of 8 words per output
 *                          channel (taps (k0, k2) (k1, k3) (k4, k6) (k5, k7) as doubled int16 pairs, doubled bias,
 *                          multiplier, right shift with bit 8 set on the last channel, nudge); weights and bias
 *                          may be NULL
 * @param[in]  input_dims   input shape. Format: [N, H, W, 8]
 * @param[in]  input        input data, any alignment. Data type: int8
 * @param[in]  filter_dims  shape of the filter before packing. Format: [C_OUT, 1, 1, 8]
 * @param[in]  output_dims  output shape. Format: [N, H, W, C_OUT]
 * @param[out] output       output data. Data type: int8
 *
 * @return TK_ERR_ARGUMENT for a NULL pointer (quant), a stride other than 1, a padding or a clamping activation;
 *         TK_ERR_SHAPE for other than 8 input channels, a filter other than 1x1 or an output of another size;
 *         TK_OK otherwise.
 *
 * @details One pixel at a time: its 8 inputs stay in 4 registers while the channels stream past them (one LDM,
 *          4 SMLAD, the rescale and a byte store each). No scratch. Not in place, but its output may start
 *          below its input (the planner's row shift): each pixel's 8 bytes are loaded before its outputs are stored.
 */
tk_status tk_conv2d_narrow_s8(const tk_conv_params *params, const tk_packed_filter *filter, const tk_dims *input_dims,
                              const int8_t *input, const tk_dims *filter_dims, const tk_dims *output_dims,
                              int8_t *output);

/**
 * @brief Scratch bytes of tk_conv2d_fast_s8: 3 columns of KH * round_up(KW * C_IN, 4) int16 taps.
 *
 * @param[in]  input_dims   input shape. Format: [N, H, W, C_IN]
 * @param[in]  filter_dims  filter shape. Format: [C_OUT, KH, KW, C_IN]
 * @return     the size in bytes (a multiple of 4)
 */
int32_t tk_conv2d_fast_scratch_size(const tk_dims *input_dims, const tk_dims *filter_dims);

/**
 * @brief Scratch bytes tk_conv2d_fast8_tiles_s8 needs: tk_conv2d_fast_scratch_size's, then the columns of a chunk
 *        of tiles of 4 pixels (8 bytes per tap and tile; as many tiles as 10 KB holds, no more than the input's
 *        pixels give; none for a layer that takes no tiles).
 *
 * @param[in]  input_dims   input shape. Format: [N, H, W, C_IN]
 * @param[in]  filter_dims  filter shape. Format: [C_OUT, KH, KW, C_IN]
 * @return     the size in bytes (a multiple of 4)
 */
int32_t tk_conv2d_fast8_tiles_scratch_size(const tk_dims *input_dims, const tk_dims *filter_dims);

/**
 * @brief int8 DEPTHWISE_CONV_2D, TFLite Micro's reference kernel, any depth multiplier.
 *
 * @param[in]  params       strides >= 1, dilations >= 1, pads >= 0, depth_multiplier >= 1, offsets, activation
 * @param[in]  quant        per output channel (per_channel = 1) or one factor for all (0)
 * @param[in]  input_dims   input shape. Format: [N, H, W, C_IN]
 * @param[in]  input        input data. Data type: int8
 * @param[in]  filter_dims  filter shape. Format: [1, KH, KW, C_OUT], C_OUT = C_IN * depth_multiplier
 * @param[in]  filter       filter data. Data type: int8 (symmetric)
 * @param[in]  bias         one per output channel, or NULL for none. Data type: int32
 * @param[in]  output_dims  output shape. Format: [N, H_OUT, W_OUT, C_OUT]; output channel m + c * multiplier
 *                          comes from input channel c
 * @param[out] output       output data. Data type: int8
 *
 * @return TK_ERR_ARGUMENT for a NULL pointer (bias excepted), a stride or dilation < 1, a pad < 0, a depth
 *         multiplier < 1 or activation min > max; TK_ERR_SHAPE when C_OUT is not C_IN * depth_multiplier, the
 *         filter's channels are not C_OUT or the batches differ; TK_OK otherwise.
 *
 * @details No scratch. The output may overlap the input as for tk_conv2d_s8 (rows written in order).
 */
tk_status tk_depthwise_conv2d_s8(const tk_conv_params *params, const tk_channel_quant *quant, const tk_dims *input_dims,
                                 const int8_t *input, const tk_dims *filter_dims, const int8_t *filter,
                                 const int32_t *bias, const tk_dims *output_dims, int8_t *output);

/**
 * @brief int8 DEPTHWISE_CONV_2D on packed weights, depth multiplier 1, dilation 1: tk_depthwise_conv2d_s8's
 *        results, bit for bit.
 *
 * @param[in]  params       strides >= 1, dilations == 1, pads >= 0, depth_multiplier == 1, input offset, activation
 * @param[in]  filter       packed by pack.py (pack_depthwise: per tap, channels in groups of 4; pack_bias;
 *                          fast_quant): see tk_packed_filter. All three arrays non-NULL
 * @param[in]  input_dims   input shape. Format: [N, H, W, C]
 * @param[in]  input        input data, any alignment. Data type: int8
 * @param[in]  filter_dims  shape of the filter before packing. Format: [1, KH, KW, C]
 * @param[in]  output_dims  output shape. Format: [N, H_OUT, W_OUT, C]
 * @param[out] output       output data. Data type: int8
 *
 * @return TK_ERR_ARGUMENT for a NULL pointer, a stride < 1, a dilation or depth multiplier other than 1, a pad < 0
 *         or an activation outside -128 <= min <= max <= 127; TK_ERR_SHAPE when the filter's or the output's
 *         channels are not the input's or the batches differ; TK_OK otherwise.
 *
 * @details No scratch: four channels per pass, the filter window clipped to the input once per output pixel. A 3x3
 *          filter over a multiple of 4 channels runs whole pixels in assembly; its border pixels, up to 64 channels,
 *          are first gathered into a 576-byte buffer on the stack. Not in place.
 */
tk_status tk_depthwise_conv2d_fast_s8(const tk_conv_params *params, const tk_packed_filter *filter,
                                      const tk_dims *input_dims, const int8_t *input, const tk_dims *filter_dims,
                                      const tk_dims *output_dims, int8_t *output);

/**
 * @brief int8 DEPTHWISE_CONV_2D 3x3, stride 1, SAME padding (1 on every side), depth multiplier 1, channels a
 *        multiple of 4, on planar packed weights: tk_depthwise_conv2d_s8's results, bit for bit.
 *
 * @param[in]  params       strides == 1, dilations == 1, pads == 1, depth_multiplier == 1, input offset, activation
 * @param[in]  filter       packed by pack.py (pack_depthwise_3x3: per channel, per filter column (k0, k1)
 *                          (k1, k2); pack_bias; fast_quant): see tk_packed_filter. All three arrays non-NULL
 * @param[in]  input_dims   input shape. Format: [N, H, W, C], H >= 1, W >= 1, C >= 1 (in groups of 4: a last group
 *                          of 1-3 channels is first gathered into the scratch, a word per pixel)
 * @param[in]  input        input data, any alignment. Data type: int8
 * @param[in]  filter_dims  shape of the filter before packing. Format: [1, 3, 3, C]
 * @param[in]  output_dims  output shape: the input's. Format: [N, H, W, C]
 * @param[out] output       output data; may be `input` itself. Data type: int8
 * @param[in]  scratch      tk_depthwise_conv2d_3x3_fast_scratch_size(input_dims) bytes, provided by the caller
 *
 * @return TK_ERR_ARGUMENT for a NULL pointer, a stride, dilation, depth multiplier other than 1, a pad other
 *         than 1 or an activation outside -128 <= min <= max <= 127; TK_ERR_SHAPE for a filter other than 3x3, a
 *         channel count that is not the same in input, filter and output, an output shape
 *         other than the input's, or H or W < 1; TK_OK otherwise.
 *
 * @details Each group of 4 channels is first copied into 4 int16 planes in the scratch (input offset added, zeros
 *          in the padding), then every output of those channels is computed from the planes: so the output may
 *          be the input buffer (in place), and the compiler plans it that way.
 */
tk_status tk_depthwise_conv2d_3x3_fast_s8(const tk_conv_params *params, const tk_packed_filter *filter,
                                          const tk_dims *input_dims, const int8_t *input, const tk_dims *filter_dims,
                                          const tk_dims *output_dims, int8_t *output, void *scratch);

/**
 * @brief Scratch bytes of tk_depthwise_conv2d_3x3_fast_s8: 4 planes of ceil(H / 4) * (W + 2) * 3 words, plus one
 *        4-row block of output bytes (4 * W), plus 4 * H * W when C is not a multiple of 4.
 *
 * @param[in]  input_dims   input shape. Format: [N, H, W, C]
 * @return     the size in bytes (a multiple of 4)
 */
int32_t tk_depthwise_conv2d_3x3_fast_scratch_size(const tk_dims *input_dims);

/**
 * @brief int8 TRANSPOSE_CONV, TFLite Micro's reference scatter: every input pixel adds (input + offset) * filter
 *        into the int32 accumulators of the output pixels under the filter; then bias, rescale, clamp.
 *
 * @param[in]  params       strides >= 1, pads (output rows and columns cut at the top and left), offsets, activation
 * @param[in]  quant        per output channel (per_channel = 1) or one factor for all (0)
 * @param[in]  input_dims   input shape. Format: [N, H, W, C_IN]
 * @param[in]  input        input data. Data type: int8
 * @param[in]  filter_dims  filter shape. Format: [C_OUT, KH, KW, C_IN]
 * @param[in]  filter       filter data. Data type: int8 (symmetric)
 * @param[in]  bias         one per output channel, or NULL for none. Data type: int32
 * @param[in]  output_dims  output shape (TFLite's output_shape tensor). Format: [N, H_OUT, W_OUT, C_OUT]
 * @param[out] output       output data. Data type: int8
 * @param[in]  scratch      4 * N * H_OUT * W_OUT * C_OUT bytes (one int32 accumulator per output element),
 *                          provided by the caller; there is no size function: the compiler sizes it
 *
 * @return TK_ERR_ARGUMENT for a NULL pointer (bias excepted) or a stride < 1; TK_ERR_SHAPE when the filter's C_IN
 *         is not the input's, its C_OUT not the output's, or the batches differ; TK_OK otherwise. Not in place.
 */
tk_status tk_transpose_conv2d_s8(const tk_transpose_conv_params *params, const tk_channel_quant *quant,
                                 const tk_dims *input_dims, const int8_t *input, const tk_dims *filter_dims,
                                 const int8_t *filter, const int32_t *bias, const tk_dims *output_dims, int8_t *output,
                                 void *scratch);

/* ---- Fully connected ---------------------------------------------------------------------------------------- */

/**
 * @brief int8 FULLY_CONNECTED, TFLite Micro's reference kernel: output = rescale(filter x (input + offset) + bias).
 *
 * @param[in]  params        input, filter and output offsets (filter offset 0 for symmetric weights), activation
 * @param[in]  quant         per output row (per_channel = 1) or one factor for all (0)
 * @param[in]  batches       rows of the input, >= 1
 * @param[in]  accum_depth   values per input row, >= 1
 * @param[in]  output_depth  values per output row, >= 1
 * @param[in]  input         input data. Format: [batches, accum_depth]. Data type: int8
 * @param[in]  filter        filter data. Format: [output_depth, accum_depth]. Data type: int8
 * @param[in]  bias          one per output value, or NULL for none. Data type: int32
 * @param[out] output        output data. Format: [batches, output_depth]. Data type: int8
 *
 * @return TK_ERR_ARGUMENT for a NULL pointer (bias excepted) or activation min > max; TK_ERR_SHAPE for a size < 1;
 *         TK_OK otherwise.
 *
 * @details No scratch. The accumulator is int32: exact up to ~33,000 inputs per row. Not in place.
 */
tk_status tk_fully_connected_s8(const tk_fc_params *params, const tk_channel_quant *quant, int32_t batches,
                                int32_t accum_depth, int32_t output_depth, const int8_t *input, const int8_t *filter,
                                const int32_t *bias, int8_t *output);

/**
 * @brief int8 FULLY_CONNECTED on packed weights: tk_fully_connected_s8's results, bit for bit.
 *
 * @param[in]  params        input offset and activation (the filter offset is applied when packing, the output
 *                           offset is in filter->quant)
 * @param[in]  filter        packed by pack.py (pack_matrix: rows in pairs, taps in groups of 4; pack_bias;
 *                           fast_quant): see tk_packed_filter. All three arrays non-NULL
 * @param[in]  batches       rows of the input, >= 1
 * @param[in]  accum_depth   values per input row, >= 1
 * @param[in]  output_depth  values per output row, >= 1
 * @param[in]  input         input data, any alignment. Format: [batches, accum_depth]. Data type: int8
 * @param[out] output        output data. Format: [batches, output_depth]. Data type: int8
 * @param[in]  scratch       tk_fully_connected_fast_scratch_size(accum_depth) bytes, provided by the caller
 *
 * @return TK_ERR_ARGUMENT for a NULL pointer or activation min > max; TK_ERR_SHAPE for a size < 1; TK_OK otherwise.
 *
 * @details The scratch holds the input row as int16 with the offset added; four, then two output rows per pass
 *          share each load of it. Not in place.
 */
tk_status tk_fully_connected_fast_s8(const tk_fc_params *params, const tk_packed_filter *filter, int32_t batches,
                                     int32_t accum_depth, int32_t output_depth, const int8_t *input, int8_t *output,
                                     void *scratch);

/**
 * @brief int8 FULLY_CONNECTED on int8 weights packed two rows to an int16: tk_fully_connected_s8's results, bit
 *        for bit, at one byte per weight.
 *
 * @param[in]  params        as tk_fully_connected_fast_s8
 * @param[in]  filter        packed by pack.py (pack_fc8: rows in tiles of 4, two pairs with h = wA + 256 wB per
 *                           int16; bias words a0, mix0, a1, mix1, 2 low0, 2 low1 per tile; fast_quant per row)
 * @param[in]  batches       rows of the input, >= 1
 * @param[in]  accum_depth   values per input row, >= 1
 * @param[in]  output_depth  values per output row, >= 1
 * @param[in]  input         input data, any alignment. Format: [batches, accum_depth]. Data type: int8
 * @param[out] output        output data. Format: [batches, output_depth]. Data type: int8
 * @param[in]  scratch       tk_fully_connected_fast_scratch_size(accum_depth) bytes, provided by the caller
 *
 * @return TK_ERR_ARGUMENT for a NULL pointer or activation min > max; TK_ERR_SHAPE for a size < 1; TK_OK otherwise.
 *
 * @details Per input word, SMLAD with h gives sum x wA + 256 sum x wB, SMLAD with SXTB16(h) sum x wA; the
 *          compiler packs a layer so only when the difference is exact (pack_fc8). Four rows per pass share each
 *          load of the input. Not in place.
 */
tk_status tk_fully_connected_fast8_s8(const tk_fc_params *params, const tk_packed_filter *filter, int32_t batches,
                                      int32_t accum_depth, int32_t output_depth, const int8_t *input, int8_t *output,
                                      void *scratch);

/**
 * @brief Scratch bytes of tk_fully_connected_fast_s8: one row of round_up(accum_depth, 4) int16 values.
 *
 * @param[in]  accum_depth   values per input row
 * @return     the size in bytes (a multiple of 4)
 */
int32_t tk_fully_connected_fast_scratch_size(int32_t accum_depth);

/* ---- Pooling and reductions --------------------------------------------------------------------------------- */

/**
 * @brief int8 MAX_POOL_2D: the largest value of each window, clamped to the activation range.
 *
 * @param[in]  params       strides >= 1, window (filter_h, filter_w) >= 1, pads, activation
 * @param[in]  input_dims   input shape. Format: [N, H, W, C]
 * @param[in]  input        input data. Data type: int8
 * @param[in]  output_dims  output shape. Format: [N, H_OUT, W_OUT, C]
 * @param[out] output       output data; input and output share their quantization. Data type: int8
 *
 * @return TK_ERR_ARGUMENT for a NULL pointer, a stride or window size < 1 or activation min > max; TK_ERR_SHAPE
 *         when the batches or channels differ, or when a window lies wholly in the padding (found on the way:
 *         the outputs before it are written); TK_OK otherwise.
 *
 * @details No scratch. Windows are clipped at the borders: the padding never enters a maximum. Not in place.
 */
tk_status tk_max_pool2d_s8(const tk_pool_params *params, const tk_dims *input_dims, const int8_t *input,
                           const tk_dims *output_dims, int8_t *output);

/**
 * @brief int8 AVERAGE_POOL_2D: the mean of each window, rounded half away from zero, clamped to the activation.
 *
 * @param[in]  params       strides >= 1, window (filter_h, filter_w) >= 1, pads, activation
 * @param[in]  input_dims   input shape. Format: [N, H, W, C]
 * @param[in]  input        input data. Data type: int8
 * @param[in]  output_dims  output shape. Format: [N, H_OUT, W_OUT, C]
 * @param[out] output       output data; input and output share their quantization. Data type: int8
 *
 * @return as tk_max_pool2d_s8.
 *
 * @details No scratch. Windows are clipped at the borders and the mean is over the pixels inside. With the DSP
 *          extension, channels in fours over windows of at most 256 pixels are summed two per instruction.
 *          Not in place.
 */
tk_status tk_avg_pool2d_s8(const tk_pool_params *params, const tk_dims *input_dims, const int8_t *input,
                           const tk_dims *output_dims, int8_t *output);

/**
 * @brief int8 MEAN over height and width (global average pooling).
 *
 * @param[in]  params       divide = 1 when input and output share their quantization: sum / (H * W), truncated;
 *                          otherwise the rescale `quant` of sum - H * W * input zero point, plus the output zero
 *                          point, saturated to int8
 * @param[in]  input_dims   input shape. Format: [N, H, W, C], H >= 1, W >= 1
 * @param[in]  input        input data. Data type: int8
 * @param[out] output       output data. Format: [N, C]. Data type: int8
 *
 * @return TK_ERR_ARGUMENT for a NULL pointer; TK_ERR_SHAPE when H or W < 1; TK_OK otherwise. Not in place.
 */
tk_status tk_mean_hw_s8(const tk_mean_params *params, const tk_dims *input_dims, const int8_t *input, int8_t *output);

/**
 * @brief int8 MEAN, SUM or REDUCE_MAX over any set of axes (TFLite Micro's reference reduction: raw int32 sums,
 *        one rescale at the end).
 *
 * @param[in]  params       kind (a tk_reduce_kind); outer: the kept axes (output order); inner: the reduced axes;
 *                          strides in input elements; zero points, divide and quant as tk_mean_hw_s8 (SUM always
 *                          rescales; REDUCE_MAX takes the raw maximum)
 * @param[in]  input        input data. Data type: int8
 * @param[out] output       one value per element of the outer walk, in its order. Data type: int8
 *
 * @return TK_ERR_ARGUMENT for a NULL pointer, an unknown kind or a walk that is not well formed (rank outside
 *         1 .. TK_MAX_DIMS, a negative dimension, more than INT32_MAX elements); TK_ERR_SHAPE when the reduced axes
 *         hold no element but the output some; TK_OK otherwise (nothing written for an empty output).
 *
 * @details Sums are exact below 2^24 reduced elements. Not in place.
 */
tk_status tk_reduce_s8(const tk_reduce_params *params, const int8_t *input, int8_t *output);

/**
 * @brief int8 SOFTMAX along the innermost dimension, in TFLite Micro's fixed point (differences to the row
 *        maximum in Q5.26, exp in Q0.31, their sum in Q12.19, one reciprocal per row).
 *
 * @param[in]  params       input_multiplier and input_left_shift (>= 0): beta * input scale for Q5.26
 *                          differences; diff_min (< 0): differences below it give exp = 0
 * @param[in]  rows         rows, >= 0
 * @param[in]  depth        values per row, 1 .. 2048
 * @param[in]  input        input data. Format: [rows, depth]. Data type: int8
 * @param[out] output       output data, scale 1/256 and zero point -128; may be `input`. Format: [rows, depth].
 *                          Data type: int8
 *
 * @return TK_ERR_ARGUMENT for a NULL pointer, rows < 0, depth outside 1 .. 2048 or input_left_shift < 0; TK_OK
 *         otherwise.
 */
tk_status tk_softmax_s8(const tk_softmax_params *params, int32_t rows, int32_t depth, const int8_t *input,
                        int8_t *output);

/* ---- Element-wise ------------------------------------------------------------------------------------------- */

/**
 * @brief int8 ADD of two tensors of the same shape (TFLite Micro's: both inputs shifted left by left_shift,
 *        rescaled to a common scale, summed, rescaled to the output, clamped).
 *
 * @param[in]  params       offsets; left_shift 0 .. 24 (20 in TFLite); input1, input2 and output rescales with
 *                          shift <= 0; activation
 * @param[in]  size         elements, >= 0
 * @param[in]  input1       first input. Data type: int8
 * @param[in]  input2       second input. Data type: int8
 * @param[out] output       output data; may be input1 or input2. Data type: int8
 *
 * @return TK_ERR_ARGUMENT for a NULL pointer, size < 0, left_shift outside 0 .. 24 or activation min > max; TK_OK
 *         otherwise.
 *
 * @details With the DSP extension the rescales run on SMMULR; when one input's rescale is exactly 1/2 (the one with
 *          the larger scale, in TFLite) a shorter loop computes the same integers.
 */
tk_status tk_add_s8(const tk_add_params *params, int32_t size, const int8_t *input1, const int8_t *input2,
                    int8_t *output);

/**
 * @brief int8 ADD, SUB, MUL, MAXIMUM, MINIMUM or PRELU with numpy broadcasting: TFLite Micro's per-element
 *        integer arithmetic, each input read along its own walk over the output's dimensions.
 *
 * @param[in]  params       kind (a tk_binary_kind); offsets; left_shift 0 .. 23 (ADD, SUB); rescales and
 *                          activation as tk_binary_params describes per kind; walk1 and walk2: the same rank
 *                          and dims (the output's), strides 0 along broadcast dimensions
 * @param[in]  input1       first input (PRELU: x). Data type: int8
 * @param[in]  input2       second input (PRELU: alpha). Data type: int8
 * @param[out] output       output data, in the walks' row-major order; may be an input that has the output's
 *                          shape. Data type: int8
 *
 * @return TK_ERR_ARGUMENT for a NULL pointer, an unknown kind, left_shift outside 0 .. 23 or a walk that is not
 *         well formed; TK_ERR_SHAPE when the walks' ranks or dims differ; TK_OK otherwise.
 */
tk_status tk_binary_s8(const tk_binary_params *params, const int8_t *input1, const int8_t *input2, int8_t *output);

/**
 * @brief int8 QUANTIZE from int8 to int8: a change of scale and zero point, saturated to int8.
 *
 * @param[in]  params       zero points; quant: input scale / output scale
 * @param[in]  size         elements, >= 0
 * @param[in]  input        input data. Data type: int8
 * @param[out] output       output data; may be `input`. Data type: int8
 *
 * @return TK_ERR_ARGUMENT for a NULL pointer or size < 0; TK_OK otherwise.
 */
tk_status tk_requantize_s8(const tk_requantize_params *params, int32_t size, const int8_t *input, int8_t *output);

/**
 * @brief DEQUANTIZE int8 to float32: scale * (q - zero_point), TFLite Micro's value exactly.
 *
 * @param[in]  params       zero point and scale of the input
 * @param[in]  size         elements, >= 0
 * @param[in]  input        input data. Data type: int8
 * @param[out] output       output data. Data type: float32
 *
 * @return TK_ERR_ARGUMENT for a NULL pointer or size < 0; TK_OK otherwise.
 */
tk_status tk_dequantize_s8(const tk_dequantize_params *params, int32_t size, const int8_t *input, float *output);

/* ---- Activations (element by element: each may run in place, output == input) ------------------------------- */

/**
 * @brief int8 RELU and RELU6 as operators: the input rescaled to the output's quantization, then clamped.
 *
 * @param[in]  params       zero points; quant: input scale / output scale; activation: [output zero point, 127]
 *                          for RELU, [zero, six] in the output's domain for RELU6
 * @param[in]  size         elements, >= 0
 * @param[in]  input        input data. Data type: int8
 * @param[out] output       output data; may be `input`. Data type: int8
 *
 * @return TK_ERR_ARGUMENT for a NULL pointer or size < 0; TK_OK otherwise.
 */
tk_status tk_relu_s8(const tk_relu_params *params, int32_t size, const int8_t *input, int8_t *output);

/**
 * @brief int8 LEAKY_RELU: x >= 0 rescaled by `identity`, x < 0 by `alpha` (negated when alpha < 0), plus the
 *        output zero point, saturated to int8.
 *
 * @param[in]  params       zero points; identity: input scale / output scale; alpha: |alpha| * input scale /
 *                          output scale; alpha_negative: 1 when alpha < 0
 * @param[in]  size         elements, >= 0
 * @param[in]  input        input data. Data type: int8
 * @param[out] output       output data; may be `input`. Data type: int8
 *
 * @return TK_ERR_ARGUMENT for a NULL pointer or size < 0; TK_OK otherwise.
 */
tk_status tk_leaky_relu_s8(const tk_leaky_relu_params *params, int32_t size, const int8_t *input, int8_t *output);

/**
 * @brief int8 HARD_SWISH, x * relu6(x + 3) / 6, in TFLite Micro's int16 fixed point.
 *
 * @param[in]  params       zero points; output_multiplier / output_exponent (-31 .. 0) and reluish_multiplier /
 *                          reluish_exponent (-31 .. 15): Q15 multipliers and their powers of two
 * @param[in]  size         elements, >= 0
 * @param[in]  input        input data. Data type: int8
 * @param[out] output       output data; may be `input`. Data type: int8
 *
 * @return TK_ERR_ARGUMENT for a NULL pointer, size < 0 or an exponent outside its range; TK_OK otherwise.
 */
tk_status tk_hard_swish_s8(const tk_hard_swish_params *params, int32_t size, const int8_t *input, int8_t *output);

/**
 * @brief int8 LOGISTIC in TFLite Micro's fixed point: the input rescaled to Q4.27, gemmlowp's logistic in Q0.31.
 *
 * @param[in]  params       input zero point; input_multiplier / input_left_shift: input scale for Q4.27;
 *                          input_range_radius: |x - zero point| at or beyond it saturates to -128 or 127
 * @param[in]  size         elements, >= 0
 * @param[in]  input        input data. Data type: int8
 * @param[out] output       output data, scale 1/256 and zero point -128; may be `input`. Data type: int8
 *
 * @return TK_ERR_ARGUMENT for a NULL pointer or size < 0; TK_OK otherwise.
 */
tk_status tk_logistic_s8(const tk_logistic_params *params, int32_t size, const int8_t *input, int8_t *output);

/**
 * @brief int8 TANH in TFLite Micro's fixed point (as tk_logistic_s8, with tanh).
 *
 * @param[in]  params       as tk_logistic_s8's
 * @param[in]  size         elements, >= 0
 * @param[in]  input        input data. Data type: int8
 * @param[out] output       output data, scale 1/128 and zero point 0; may be `input`. Data type: int8
 *
 * @return TK_ERR_ARGUMENT for a NULL pointer or size < 0; TK_OK otherwise.
 */
tk_status tk_tanh_s8(const tk_tanh_params *params, int32_t size, const int8_t *input, int8_t *output);

/* ---- Data movement (raw bytes: input and output share their quantization) ----------------------------------- */

/**
 * @brief RESHAPE: the bytes copied (overlap allowed), nothing done when output == input.
 *
 * @param[in]  size         bytes, >= 0
 * @param[in]  input        input data. Data type: int8
 * @param[out] output       output data. Data type: int8
 *
 * @return TK_ERR_ARGUMENT for a NULL pointer or size < 0; TK_OK otherwise.
 */
tk_status tk_reshape_s8(int32_t size, const int8_t *input, int8_t *output);

/**
 * @brief PAD of a 4-D tensor with a constant.
 *
 * @param[in]  params       before / after: elements added per dimension (N, H, W, C), >= 0; value: the pad byte
 *                          (the output zero point, real 0.0)
 * @param[in]  input_dims   input shape. Format: [N, H, W, C]
 * @param[in]  input        input data. Data type: int8
 * @param[in]  output_dims  output shape: each dimension the input's + before + after
 * @param[out] output       output data. Data type: int8
 *
 * @return TK_ERR_ARGUMENT for a NULL pointer; TK_ERR_SHAPE when output_dims is not the padded input shape; TK_OK
 *         otherwise. Not in place.
 */
tk_status tk_pad_s8(const tk_pad_params *params, const tk_dims *input_dims, const int8_t *input,
                    const tk_dims *output_dims, int8_t *output);

/**
 * @brief CONCATENATION along one axis: outer_size rows, each the inputs' rows one after the other.
 *
 * @param[in]  num_inputs   inputs, >= 1
 * @param[in]  inputs       the inputs; input i holds outer_size * copy_sizes[i] bytes. Data type: int8
 * @param[in]  copy_sizes   bytes of a row of each input (the product of its dimensions from the axis on)
 * @param[in]  outer_size   rows (the product of the dimensions before the axis), >= 0
 * @param[out] output       output data. Data type: int8
 *
 * @return TK_ERR_ARGUMENT for a NULL pointer, num_inputs < 1 or outer_size < 0; TK_OK otherwise. Not in place.
 */
tk_status tk_concatenation_s8(int32_t num_inputs, const int8_t *const *inputs, const int32_t *copy_sizes,
                              int32_t outer_size, int8_t *output);

/**
 * @brief One strided copy: STRIDED_SLICE, SLICE, SPLIT, SPLIT_V, UNPACK, TRANSPOSE, BATCH_TO_SPACE_ND and
 *        SPACE_TO_BATCH_ND (after its PAD), each turned by the compiler into a walk over the input.
 *
 * @param[in]  params       walk over the output's elements (strides in input elements, negative to go backwards)
 *                          and the input element of output element 0
 * @param[in]  input        input data. Data type: int8
 * @param[out] output       the walk's elements, in order. Data type: int8
 *
 * @return TK_ERR_ARGUMENT for a NULL pointer or a walk that is not well formed (rank outside 1 .. TK_MAX_DIMS, a
 *         negative dimension, more than INT32_MAX elements); TK_OK otherwise. Not in place.
 */
tk_status tk_strided_copy_s8(const tk_strided_copy_params *params, const int8_t *input, int8_t *output);

/**
 * @brief RESIZE_NEAREST_NEIGHBOR: output pixel (y, x) is input pixel (rows[y], cols[x]).
 *
 * @param[in]  input_dims   input shape. Format: [N, H, W, C]
 * @param[in]  input        input data. Data type: int8
 * @param[in]  rows         H_OUT input row indices, each in [0, H) (computed by the compiler as TFLite does)
 * @param[in]  cols         W_OUT input column indices, each in [0, W)
 * @param[in]  output_dims  output shape. Format: [N, H_OUT, W_OUT, C]
 * @param[out] output       output data. Data type: int8
 *
 * @return TK_ERR_ARGUMENT for a NULL pointer; TK_ERR_SHAPE when the batches or channels differ; TK_OK otherwise.
 *         Not in place.
 */
tk_status tk_resize_nearest_s8(const tk_dims *input_dims, const int8_t *input, const int32_t *rows, const int32_t *cols,
                               const tk_dims *output_dims, int8_t *output);

#ifdef __cplusplus
}
#endif

#endif /* TINYKD_KERNELS_H */
