"""Per-op cases for the op registry's kernels (tests/test_kernels_ops.py): small models that TensorFlow's converter
turns into full-int8 .tflite files containing the operator named, each checked to emit it.

CASES           name: (input shape, build(inputs) -> outputs with Keras layers, operator)  -> aot_models.keras_tflite
FUNCTION_CASES  name: (input shape, build(x) -> y with TF ops on x of shape (1, *shape), operator)
                                                                                        -> aot_models.function_tflite
CONVERTER_CASES name: (make() -> .tflite bytes, operator): models that need other converter settings (a float32
                output -> DEQUANTIZE; a dynamic batch -> SHAPE -> STRIDED_SLICE -> PACK on int32).
The trailing comment of each entry is the operator sequence the converter emitted (seed=len(name)). What the
converter does with each construction (fusions, quantization of operands) was established when the cases were
written: constant MUL/ADD after a Dense or Conv fold into it; a standalone RELU requantizes; PRELU's alpha is one
int8 scale with zero point 0; split outputs must all be used or the converter may leave the split in float.
"""
import numpy as np

from pipeline.kd.keras import keras, tf

L = keras.layers


def _c(shape, seed, std=0.5):
    """A seeded float32 constant."""
    return tf.constant(np.random.default_rng(seed).normal(0.0, std, shape).astype(np.float32))


def _alpha(seed, low=-0.5, high=0.5):
    """PReLU alphas (Keras's default is zeros, which the converter quantizes with scale 0.0)."""
    return keras.initializers.RandomUniform(low, high, seed=seed)


def _init(seed, std=0.3):
    return keras.initializers.RandomNormal(0.0, std, seed=seed)


def _hard_swish_keras(x):  # keras.applications.MobileNetV3's hard_swish: x * ReLU6(x + 3) * (1/6)
    return L.Multiply()([x, L.ReLU(6.0)(x + 3.0) * (1.0 / 6.0)])


def _hard_swish_keras_div(x):  # x * ReLU6(x + 3) / 6
    return L.Multiply()([x, L.ReLU(6.0)(L.Lambda(lambda t: t + 3.0)(x))]) / 6.0


def _se(x, c):  # squeeze-excite: (N,H,W,C) * sigmoid(conv(GAP)) (N,1,1,C)
    s = L.GlobalAveragePooling2D(keepdims=True)(x)
    s = L.Conv2D(c, 1, activation="sigmoid")(s)
    return L.Multiply()([x, s])


def _conv1x1(x, cout, seed):  # for tf.function builds
    return tf.nn.conv2d(x, _c((1, 1, x.shape[-1], cout), seed), 1, "VALID") + _c((cout,), seed + 100, 0.1)


def _dense(x, n, seed):  # for tf.function builds (a MatMul + bias over the last axis)
    return tf.matmul(x, _c((x.shape[-1], n), seed)) + _c((n,), seed + 100, 0.1)


def convert(model, shape, *, seed=0, samples=32, output_type=None):
    """quantize.convert_int8 calibrated on uniform [-1, 1], keeping the model's batch (None: dynamic), with a
    chosen output type (tf.float32: a final DEQUANTIZE)."""
    from pipeline.int8.quantize import convert_int8
    rng = np.random.default_rng(seed)
    return convert_int8(model, lambda: ([rng.uniform(-1.0, 1.0, (1, *shape)).astype(np.float32)]
                                        for _ in range(samples)), output_type=output_type, batch_one=False)


def keras_model(build, shape, seed=0, batch=1):
    """keras.Model(Input(shape, batch_size=batch), build(inputs)) with seeded weights; batch=None: dynamic."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input(shape, batch_size=batch, name="x")
    return keras.Model(inputs, build(inputs))


def fn_model(build, shape, batch=1):
    return tf.function(build, input_signature=[tf.TensorSpec((batch, *shape), tf.float32)])

CASES = {
    # MUL
    'mul_same': ((6, 5, 4), lambda x: L.Multiply()([L.Conv2D(4, 1)(x), L.Conv2D(4, 3, padding="same")(x)]), "MUL"),
    'mul_se': ((5, 7, 8), lambda x: _se(L.Conv2D(8, 1)(x), 8), "MUL"),  # CONV_2D MEAN CONV_2D LOGISTIC MUL
    'mul_const_scalar_input': ((7, 3), lambda x: L.Lambda(lambda t: t * 0.37)(x), "MUL"),  # MUL
    'mul_bcast_3d': ((6, 5), lambda x: L.Multiply()([L.Dense(5)(x), L.GlobalAveragePooling1D(keepdims=True)(x)]),
                     "MUL"),  # MEAN FULLY_CONNECTED MUL
    # SUB
    'sub_same': ((6, 5, 3), lambda x: L.Subtract()([L.Conv2D(3, 1)(x), L.Conv2D(3, 3, padding="same")(x)]), "SUB"),
    'sub_bcast': ((5, 7, 4), lambda x: L.Lambda(lambda t: t[0] - t[1])(
        [x, L.GlobalAveragePooling2D(keepdims=True)(L.Conv2D(4, 1)(x))]), "SUB"),  # CONV_2D MEAN SUB
    'sub_const': ((3, 5), lambda x: L.Lambda(lambda t: t - _c((5,), 3))(L.Dense(5)(x)), "SUB"),  # FULLY_CONNECTED SUB
    # ADD
    'add_bcast_layer': ((5, 7, 4), lambda x: L.Add()([L.Conv2D(4, 1)(x),
                                                       L.GlobalAveragePooling2D(keepdims=True)(x)]), "ADD"),
    'add_const_vector_input': ((4, 3, 5), lambda x: L.Lambda(lambda t: t + _c((5,), 9))(x), "ADD"),  # ADD
    # TANH
    'tanh': ((10,), lambda x: L.Activation("tanh")(L.Dense(7)(x)), "TANH"),  # FULLY_CONNECTED TANH
    'tanh_conv': ((5, 5, 2), lambda x: L.Activation("tanh")(L.Conv2D(3, 3)(x)), "TANH"),  # CONV_2D TANH
    # RELU
    "relu_after_reduce_max": ((5, 6, 4), lambda x: L.ReLU()(L.GlobalMaxPooling2D()(x)), "RELU"),  # REDUCE_MAX RELU
    'relu_after_gap': ((5, 6, 4), lambda x: L.ReLU()(L.GlobalAveragePooling2D()(L.Conv2D(4, 1)(x))), "RELU"),
    'relu_after_tconv': ((3, 4, 2), lambda x: L.ReLU()(L.Conv2DTranspose(3, 3, strides=2, padding="same")(x)),
                         "RELU"),  # TRANSPOSE_CONV RELU
    # RELU6
    'relu6_after_gap': ((5, 6, 4), lambda x: L.ReLU(6.0)(L.GlobalAveragePooling2D()(L.Conv2D(4, 1)(x))), "RELU6"),
    'relu6_after_concat': ((4, 4, 3), lambda x: L.ReLU(6.0)(L.Concatenate()([L.Conv2D(2, 1)(x), x])), "RELU6"),
    # LEAKY_RELU
    'leaky_relu': ((9,), lambda x: L.LeakyReLU(0.2)(L.Dense(6)(x)), "LEAKY_RELU"),  # FULLY_CONNECTED LEAKY_RELU
    'leaky_relu_conv': ((5, 6, 3), lambda x: L.LeakyReLU(0.1)(L.Conv2D(4, 3, padding="same")(x)), "LEAKY_RELU"),
    # PRELU
    'prelu_full': ((4, 5, 3), lambda x: L.PReLU(_alpha(1))(L.Conv2D(3, 1)(x)), "PRELU"),  # CONV_2D PRELU
    'prelu_shared_hw': ((5, 4, 6), lambda x: L.PReLU(_alpha(2), shared_axes=[1, 2])(L.Conv2D(6, 1)(x)), "PRELU"),
    'prelu_dense': ((8,), lambda x: L.PReLU(_alpha(4, 0.0, 0.5))(L.Dense(5)(x)), "PRELU"),  # FULLY_CONNECTED PRELU
    'prelu_zero_alpha': ((4, 5, 3), lambda x: L.PReLU()(L.Conv2D(3, 1)(x)), "PRELU"),  # CONV_2D PRELU
    'prelu_3d_shared_t': ((6, 4), lambda x: L.PReLU(_init(6), shared_axes=[1])(L.Dense(4)(x)), "PRELU"),
    # HARD_SWISH
    'hard_swish_keras': ((5, 5, 4), lambda x: _hard_swish_keras(L.Conv2D(4, 1)(x)), "HARD_SWISH"),  # CONV_2D HARD_SWISH
    'hard_swish_rescaling': ((5, 5, 4), lambda x: (lambda y: L.Multiply()([y, L.Rescaling(1.0 / 6.0)(
        L.ReLU(6.0)(L.Rescaling(1.0, offset=3.0)(y)))]))(L.Conv2D(4, 1)(x)), "HARD_SWISH"),  # CONV_2D HARD_SWISH
    # MAXIMUM
    'maximum': ((6, 5, 3), lambda x: L.Maximum()([L.Conv2D(3, 1)(x), L.Conv2D(3, 3, padding="same")(x)]),
                "MAXIMUM"),  # CONV_2D CONV_2D MAXIMUM
    'maximum_bcast': ((4, 5, 3), lambda x: L.Lambda(lambda t: tf.maximum(t[0], t[1]))(
        [L.Conv2D(3, 1)(x), L.GlobalAveragePooling2D(keepdims=True)(x)]), "MAXIMUM"),  # MEAN CONV_2D MAXIMUM
    # MINIMUM
    'minimum': ((11,), lambda x: L.Minimum()([L.Dense(7)(x), L.Dense(7)(x)]), "MINIMUM"),
    'minimum_const': ((9,), lambda x: L.Lambda(lambda t: tf.minimum(t, -0.1))(L.Dense(5)(x)), "MINIMUM"),
    # STRIDED_SLICE
    'ss_step2': ((8, 6, 3), lambda x: L.Lambda(lambda t: t[:, 1:5:2])(x), "STRIDED_SLICE"),  # STRIDED_SLICE
    'ss_neg_stride': ((7, 5, 2), lambda x: L.Lambda(lambda t: t[:, ::-2])(x), "STRIDED_SLICE"),  # STRIDED_SLICE
    'ss_shrink': ((6, 5, 3), lambda x: L.Lambda(lambda t: t[:, 2])(x), "STRIDED_SLICE"),  # STRIDED_SLICE
    'ss_cropping2d': ((7, 8, 2), lambda x: L.Cropping2D(((1, 2), (2, 1)))(x), "STRIDED_SLICE"),  # STRIDED_SLICE
    'ss_cropping1d': ((9, 3), lambda x: L.Cropping1D((2, 1))(x), "STRIDED_SLICE"),  # STRIDED_SLICE
    # SLICE
    'slice_layer': ((6, 5, 4), lambda x: L.Lambda(lambda t: tf.slice(t, [0, 1, 2, 0], [1, 3, 2, -1]))(x), "SLICE"),
    # SPLIT
    'split_c': ((4, 5, 6), lambda x: L.Concatenate()(tf.split(L.Conv2D(6, 1)(x), 2, axis=-1)[::-1]), "SPLIT"),
    'split_h_all': ((6, 5, 2), lambda x: L.Concatenate(axis=1)(tf.split(x, 3, axis=1)[::-1]), "SPLIT"),
    # SPLIT_V
    'split_v': ((4, 5, 6), lambda x: L.Concatenate()(tf.split(L.Conv2D(6, 1)(x), [1, 3, 2], axis=-1)[::-1]),
                "SPLIT_V"),  # CONV_2D SPLIT_V CONCATENATION
    # TRANSPOSE
    'permute_hw': ((4, 6, 3), lambda x: L.Permute((2, 1, 3))(L.Conv2D(3, 1)(x)), "TRANSPOSE"),  # CONV_2D TRANSPOSE
    'permute_chw': ((4, 6, 3), lambda x: L.Permute((3, 1, 2))(x), "TRANSPOSE"),  # TRANSPOSE
    'permute_3d': ((5, 7), lambda x: L.Permute((2, 1))(L.Dense(3)(x)), "TRANSPOSE"),  # FULLY_CONNECTED TRANSPOSE
    # TRANSPOSE_CONV
    'tconv_s2_same': ((4, 5, 3), lambda x: L.Conv2DTranspose(4, 3, strides=2, padding="same")(x), "TRANSPOSE_CONV"),
    'tconv_s2_valid': ((4, 5, 3), lambda x: L.Conv2DTranspose(4, 3, strides=2, padding="valid")(x),
                       "TRANSPOSE_CONV"),  # TRANSPOSE_CONV
    'tconv_nobias_relu': ((3, 5, 2), lambda x: L.Conv2DTranspose(5, (2, 3), strides=(2, 1), padding="same",
                                                                   use_bias=False, activation="relu")(x),
                          "TRANSPOSE_CONV"),  # TRANSPOSE_CONV RELU
    'tconv_bias_valid_relu': ((3, 4, 2), lambda x: L.Conv2DTranspose(3, (3, 2), strides=2, padding="valid",
                                                                     bias_initializer=_init(4),
                                                                     activation="relu")(x), "TRANSPOSE_CONV"),
    # MEAN
    'mean_last': ((4, 5, 6), lambda x: L.Lambda(lambda t: tf.reduce_mean(t, axis=-1))(x), "MEAN"),  # MEAN
    'mean_axis1_keep': ((4, 5, 6), lambda x: L.Lambda(lambda t: tf.reduce_mean(t, axis=1, keepdims=True))(x),
                        "MEAN"),  # MEAN
    'mean_gap1d': ((7, 5), lambda x: L.GlobalAveragePooling1D()(L.Dense(5)(x)), "MEAN"),  # FULLY_CONNECTED MEAN
    'mean_axes_13': ((4, 5, 6), lambda x: L.Lambda(lambda t: tf.reduce_mean(t, axis=[1, 3]))(x), "MEAN"),  # MEAN
    # SUM
    'sum_last': ((4, 5, 6), lambda x: L.Lambda(lambda t: tf.reduce_sum(t, axis=-1))(x), "SUM"),  # SUM
    'sum_hw_keep': ((4, 5, 3), lambda x: L.Lambda(lambda t: tf.reduce_sum(t, axis=[1, 2], keepdims=True))(x),
                    "SUM"),  # SUM
    # REDUCE_MAX
    'rmax_last': ((4, 5, 6), lambda x: L.Lambda(lambda t: tf.reduce_max(t, axis=-1))(x), "REDUCE_MAX"),  # REDUCE_MAX
    'rmax_gmp2d': ((5, 6, 4), lambda x: L.GlobalMaxPooling2D()(L.Conv2D(4, 1)(x)), "REDUCE_MAX"),  # CONV_2D REDUCE_MAX
    'rmax_gmp1d': ((7, 3), lambda x: L.GlobalMaxPooling1D()(x), "REDUCE_MAX"),  # REDUCE_MAX
    # PACK
    'pack_axis1': ((5, 3), lambda x: L.Lambda(lambda t: tf.stack([t[0], t[1]], axis=1))([L.Dense(4)(x),
                                                                                        L.Dense(4)(x)]), "PACK"),
    'pack_last': ((6,), lambda x: L.Lambda(lambda t: tf.stack(t, axis=-1))([L.Dense(5)(x), L.Dense(5)(x),
                                                                             L.Dense(5)(x)]), "PACK"),
    # UNPACK
    'unpack_axis1': ((3, 5), lambda x: L.Add()(tf.unstack(x, axis=1)), "UNPACK"),  # UNPACK ADD ADD
    'unpack_last': ((4, 3), lambda x: L.Concatenate()(tf.unstack(L.Dense(3)(x), axis=-1)[::-1]), "UNPACK"),
    # RESIZE_NEAREST_NEIGHBOR
    'upsample_23': ((3, 5, 3), lambda x: L.UpSampling2D((2, 3))(L.Conv2D(3, 1)(x)), "RESIZE_NEAREST_NEIGHBOR"),
    'resize_nn_odd': ((3, 4, 2), lambda x: L.Lambda(lambda t: tf.image.resize(t, (7, 5), "nearest"))(x),
                      "RESIZE_NEAREST_NEIGHBOR"),  # RESIZE_NEAREST_NEIGHBOR
    'resize_nn_down': ((9, 7, 2), lambda x: L.Lambda(lambda t: tf.image.resize(t, (4, 3), "nearest"))(x),
                       "RESIZE_NEAREST_NEIGHBOR"),  # RESIZE_NEAREST_NEIGHBOR
    'resize_nn_v1_align': ((4, 3, 2), lambda x: L.Lambda(lambda t: tf.compat.v1.image.resize_nearest_neighbor(
        t, (7, 9), align_corners=True))(x), "RESIZE_NEAREST_NEIGHBOR"),  # RESIZE_NEAREST_NEIGHBOR
    'resize_nn_v1_hpc': ((4, 3, 2), lambda x: L.Lambda(lambda t: tf.compat.v1.image.resize_nearest_neighbor(
        t, (7, 9), half_pixel_centers=True))(x), "RESIZE_NEAREST_NEIGHBOR"),  # RESIZE_NEAREST_NEIGHBOR
    # SPACE_TO_BATCH_ND
    # BATCH_TO_SPACE_ND
    's2b_b2s_lambda': ((6, 7, 2), lambda x: L.Lambda(lambda t: tf.batch_to_space(
        tf.space_to_batch_nd(t, [2, 2], [[0, 0], [0, 1]]) * _c((2,), 3), [2, 2], [[0, 0], [0, 1]]))(x),
                       "BATCH_TO_SPACE_ND"),  # SPACE_TO_BATCH_ND MUL BATCH_TO_SPACE_ND
    # CONV_2D
    'conv2d_keras_dil2_same': ((9, 10, 2), lambda x: L.Conv2D(3, 3, dilation_rate=2, padding="same")(x), "CONV_2D"),
    'conv1d_keras_dil2_causal': ((11, 3), lambda x: L.Conv1D(4, 3, dilation_rate=2, padding="causal")(x), "CONV_2D"),
    # DEPTHWISE_CONV_2D
    'dw_keras_dil2_same': ((9, 10, 3), lambda x: L.DepthwiseConv2D(3, dilation_rate=2, padding="same")(x),
                        "DEPTHWISE_CONV_2D"),  # DEPTHWISE_CONV_2D
    # PADV2
    'padv2_const': ((4, 5, 2), lambda x: L.Lambda(lambda t: tf.pad(t, [[0, 0], [1, 2], [0, 1], [0, 0]],
                                                                    constant_values=0.5))(x), "PADV2"),  # PADV2
    'padv2_neg': ((6, 3), lambda x: L.Lambda(lambda t: tf.pad(t, [[0, 0], [2, 0], [1, 1]],
                                                               constant_values=-0.75))(L.Dense(3)(x)), "PADV2"),
    # PAD
    'pad_zero_3d': ((6, 3), lambda x: L.ZeroPadding1D((2, 1))(L.Dense(3)(x)), "PAD"),  # FULLY_CONNECTED PAD
    # CONCATENATION
    'concat_axis1': ((3, 5, 2), lambda x: L.Concatenate(axis=1)([L.Conv2D(2, 1)(x), x]), "CONCATENATION"),
    'concat_3d_axis1': ((7, 3), lambda x: L.Concatenate(axis=1)([L.Dense(3)(x), x]), "CONCATENATION"),
    'concat_axis1_three': ((2, 5, 3), lambda x: L.Concatenate(axis=-3)([x, L.Conv2D(3, 1)(x), x]), "CONCATENATION"),
    # MAX_POOL_2D
    'maxpool_3s2_valid_odd': ((9, 7, 3), lambda x: L.MaxPool2D(3, strides=2)(x), "MAX_POOL_2D"),  # MAX_POOL_2D
    'maxpool_23_same': ((7, 9, 2), lambda x: L.MaxPool2D((2, 3), strides=(1, 2), padding="same")(x), "MAX_POOL_2D"),
    'maxpool1d': ((9, 3), lambda x: L.MaxPool1D(2)(x), "MAX_POOL_2D"),  # RESHAPE MAX_POOL_2D RESHAPE
    # AVERAGE_POOL_2D
    'avgpool_3s2_valid_odd': ((9, 7, 3), lambda x: L.AveragePooling2D(3, strides=2)(x), "AVERAGE_POOL_2D"),
    'avgpool_32_same': ((7, 5, 2), lambda x: L.AveragePooling2D((3, 2), strides=(2, 1), padding="same")(x),
                        "AVERAGE_POOL_2D"),  # AVERAGE_POOL_2D
    'avgpool1d_same': ((9, 3), lambda x: L.AveragePooling1D(3, strides=2, padding="same")(x), "AVERAGE_POOL_2D"),
}

FUNCTION_CASES = {
    # MUL
    "mul_const_relu6_fused_fn": ((6, 5), lambda x: tf.nn.relu6(x * _c((5,), 1)), "MUL"),  # MUL (fused RELU6)
    'mul_bcast_fn': ((5, 3, 6), lambda x: x * tf.reduce_mean(x, axis=[1, 2], keepdims=True), "MUL"),  # MEAN MUL
    # SUB
    "sub_bcast_relu_fused_fn": ((6, 5), lambda x: tf.nn.relu(x - tf.reduce_mean(x, axis=1, keepdims=True)),
                                "SUB"),  # MEAN SUB (fused RELU)
    'sub_const_fn': ((4, 6), lambda x: _c((6,), 2) - x, "SUB"),  # SUB
    # ADD
    'add_bcast_fn': ((4, 6), lambda x: x + tf.reduce_max(x, axis=1, keepdims=True), "ADD"),  # REDUCE_MAX ADD
    'add_bcast_4d_fn': ((3, 5, 4), lambda x: _conv1x1(x, 4, 3) + x[:, :1, :, :], "ADD"),  # CONV_2D STRIDED_SLICE ADD
    # TANH
    # RELU
    # RELU6
    # LEAKY_RELU
    # HARD_SWISH
    "hard_swish_fn_clip": ((9,), lambda x: x * tf.clip_by_value(x + 3.0, 0.0, 6.0) / 6.0, "HARD_SWISH"),  # HARD_SWISH
    'hard_swish_fn': ((5, 5, 4), lambda x: (lambda y: y * tf.nn.relu6(y + 3.0) / 6.0)(_conv1x1(x, 4, 1)),
                      "HARD_SWISH"),  # CONV_2D HARD_SWISH
    # MAXIMUM
    'maximum_const_fn': ((6, 5), lambda x: tf.maximum(x, 0.2), "MAXIMUM"),  # MAXIMUM
    # MINIMUM
    'min_max_clamp_fn': ((6, 5), lambda x: tf.minimum(tf.maximum(_dense(x, 5, 3), -0.5), 0.5), "MINIMUM"),
    # STRIDED_SLICE
    'ss_fn_neg2': ((8, 6, 3), lambda x: x[:, 6:0:-2, :, ::-1], "STRIDED_SLICE"),  # STRIDED_SLICE
    'ss_fn_shrink': ((8, 6, 3), lambda x: x[:, 3, :, 1], "STRIDED_SLICE"),  # STRIDED_SLICE
    'ss_fn_3d': ((9, 4), lambda x: x[:, -3:, ::2], "STRIDED_SLICE"),  # STRIDED_SLICE
    # a shrunk axis whose begin is masked: the mask applies first (index 0, not the begin value)
    'ss_fn_shrink_begin_mask': ((6, 5), lambda x: tf.strided_slice(x, [0, 2, 1], [1, 3, 4], [1, 1, 1], begin_mask=2,
                                                                   shrink_axis_mask=2), "STRIDED_SLICE"),
    # a full reduction to one value: a rank-1 output
    'sum_all_fn': ((4, 3), lambda x: tf.reshape(tf.reduce_sum(x), [1]), "SUM"),
    # SLICE
    'slice_fn_3d': ((9, 4), lambda x: tf.slice(x, [0, 2, 0], [-1, 5, 3]), "SLICE"),  # SLICE
    # SPLIT
    'split_fn_neg_axis': ((4, 6), lambda x: (lambda a, b: a - b)(*tf.split(x, 2, axis=-2)), "SPLIT"),  # SPLIT SUB
    # SPLIT_V
    'split_v_fn_axis1': ((7, 3), lambda x: tf.concat(tf.split(x, [2, 5], axis=1)[::-1], axis=1), "SPLIT_V"),
    # TRANSPOSE
    'transpose_fn_4d': ((3, 4, 5), lambda x: tf.transpose(x, [0, 3, 1, 2]), "TRANSPOSE"),  # TRANSPOSE
    # TRANSPOSE_CONV
    'tconv_fn_s2_same_odd': ((4, 5, 3), lambda x: tf.nn.conv2d_transpose(x, _c((3, 3, 4, 3), 1), (1, 7, 9, 4), 2,
                                                                          "SAME"), "TRANSPOSE_CONV"),  # TRANSPOSE_CONV
    # MEAN
    'mean_fn_axis2': ((4, 5, 6), lambda x: tf.reduce_mean(x, axis=2), "MEAN"),  # MEAN
    # SUM
    'sum_fn_axis1_keep': ((7, 5), lambda x: tf.reduce_sum(x, axis=1, keepdims=True), "SUM"),  # SUM
    # REDUCE_MAX
    'rmax_fn_hw_keep': ((4, 5, 3), lambda x: tf.reduce_max(x, axis=[1, 2], keepdims=True), "REDUCE_MAX"),  # REDUCE_MAX
    # PACK
    'pack_fn_last': ((4, 3), lambda x: tf.stack([x, 2.0 * x, _c((1, 4, 3), 2)], axis=-1), "PACK"),  # MUL PACK
    # UNPACK
    'unpack_fn_last': ((4, 3), lambda x: (lambda a, b, c: a * b + c)(*tf.unstack(x, axis=-1)), "UNPACK"),
    # RESIZE_NEAREST_NEIGHBOR
    'resize_nn_fn_raw_plain': ((4, 3, 2), lambda x: tf.raw_ops.ResizeNearestNeighbor(
        images=x, size=[5, 8], align_corners=False, half_pixel_centers=False), "RESIZE_NEAREST_NEIGHBOR"),
    # SPACE_TO_BATCH_ND
    's2b_conv_b2s_fn': ((8, 8, 2), lambda x: tf.batch_to_space(tf.nn.relu(tf.nn.conv2d(
        tf.space_to_batch_nd(x, [2, 2], [[2, 2], [2, 2]]), _c((3, 3, 2, 3), 1), 1, "VALID")), [2, 2], [[0, 0], [0, 0]]),
        "SPACE_TO_BATCH_ND"),  # SPACE_TO_BATCH_ND CONV_2D BATCH_TO_SPACE_ND
    # BATCH_TO_SPACE_ND
    's2b_b2s_fn': ((5, 7, 2), lambda x: tf.batch_to_space(
        tf.space_to_batch_nd(x, [2, 2], [[1, 0], [1, 0]]) * _c((2,), 1), [2, 2], [[1, 0], [1, 0]]),
        "BATCH_TO_SPACE_ND"),  # SPACE_TO_BATCH_ND MUL BATCH_TO_SPACE_ND
    'b2s_crop_fn': ((5, 7, 3), lambda x: tf.batch_to_space(tf.space_to_batch_nd(x, [2, 3], [[1, 0], [1, 1]]) * 0.5,
                                                           [2, 3], [[1, 0], [1, 1]]), "BATCH_TO_SPACE_ND"),
    'b2s_3d_fn': ((9, 2), lambda x: tf.batch_to_space(tf.space_to_batch_nd(x, [2], [[1, 0]]) * 0.5, [2], [[1, 0]]),
                  "BATCH_TO_SPACE_ND"),  # SPACE_TO_BATCH_ND MUL BATCH_TO_SPACE_ND
    # PADV2
    'padv2_fn_minus1': ((5, 4, 2), lambda x: tf.pad(x, [[0, 0], [1, 1], [2, 0], [0, 0]], constant_values=-1.0),
                        "PADV2"),  # PADV2
    # CONCATENATION
    'concat_fn_neg': ((3, 4, 2), lambda x: tf.concat([x, _conv1x1(x, 3, 3)], axis=-1), "CONCATENATION"),
}

CONVERTER_CASES = {
    # STRIDED_SLICE
    # DEQUANTIZE
    'dequantize_out_dense': (lambda: convert(keras_model(lambda x: L.Dense(5)(x), (9,)), (9,),
                                             output_type=tf.float32), "DEQUANTIZE"),  # FULLY_CONNECTED DEQUANTIZE
    'dequantize_out_conv': (lambda: convert(keras_model(lambda x: L.Conv2D(3, 3, activation="relu")(x), (6, 5, 2)),
                                            (6, 5, 2), output_type=tf.float32), "DEQUANTIZE"),  # CONV_2D DEQUANTIZE
    'dequantize_out_softmax': (lambda: convert(keras_model(lambda x: L.Softmax()(L.Dense(4)(x)), (7,)), (7,),
                                               output_type=tf.float32), "DEQUANTIZE"),
    # QUANTIZE
    # PACK
    # SHAPE
    'shape_fn_reshape_dyn': (lambda: convert(fn_model(lambda x: tf.reshape(x, [tf.shape(x)[0], -1]) * 1.0,
                                                      (4, 3, 2), batch=None), (4, 3, 2)), "SHAPE"),
    'shape_keras_reshape_dyn_2': (lambda: convert(keras_model(lambda x: L.Reshape((6, -1))(L.Conv2D(3, 1)(x)),
                                                              (4, 3, 2), batch=None), (4, 3, 2)), "SHAPE"),
}


def reshape_as_squeeze(model: bytes) -> bytes:
    """The model with its RESHAPE ops that drop size-1 dimensions written as SQUEEZE (TFLite's converter turns
    every squeeze into a RESHAPE when the shapes are known; other exporters keep SQUEEZE)."""
    import flatbuffers
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as fb

    tree = fb.ModelT.InitFromPackedBuf(bytearray(model), 0)
    codes = [c.builtinCode if c.builtinCode else c.deprecatedBuiltinCode for c in tree.operatorCodes]
    code = fb.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = fb.BuiltinOperator.SQUEEZE
    code.version = 1
    tree.operatorCodes.append(code)
    tensors = tree.subgraphs[0].tensors
    for op in tree.subgraphs[0].operators:
        if codes[op.opcodeIndex] != fb.BuiltinOperator.RESHAPE:
            continue
        before, after = list(tensors[op.inputs[0]].shape), list(tensors[op.outputs[0]].shape)
        dims = [d for d in range(len(before)) if before[d] == 1 and before[:d] + before[d + 1:] == after]
        if len(before) == len(after) + 1 and dims:
            op.opcodeIndex = len(tree.operatorCodes) - 1
            op.inputs = [op.inputs[0]]
            op.builtinOptionsType = fb.BuiltinOptions.SqueezeOptions
            op.builtinOptions = fb.SqueezeOptionsT()
            op.builtinOptions.squeezeDims = [dims[-1]]
    builder = flatbuffers.Builder(1024)
    builder.Finish(tree.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


CONVERTER_CASES.update({
    # TRANSPOSE_CONV converted with a dynamic batch: its batch comes from its data input, not the shape vector
    'tconv_dynamic_batch': (lambda: convert(keras_model(
        lambda x: L.Conv2DTranspose(3, 3, strides=2, padding="same")(x), (4, 5, 2), batch=None), (4, 5, 2)),
        "TRANSPOSE_CONV"),
    # EXPAND_DIMS: a Keras Conv1D converted with a dynamic batch keeps it before each convolution
    'expand_dims_conv1d': (lambda: convert(keras_model(lambda x: L.Conv1D(4, 3, padding="same")(x), (9, 3),
                                                       batch=None), (9, 3)), "EXPAND_DIMS"),
    'squeeze_rewritten': (lambda: reshape_as_squeeze(convert(fn_model(lambda x: tf.nn.relu(tf.squeeze(x, 2)),
                                                                      (6, 1, 4)), (6, 1, 4))), "SQUEEZE"),
})


# Whole models that run the registry's ops together in QEMU (tests/test_kernels_qemu.py).
def _conv_fn(x, cout, seed, k=1):
    return tf.nn.conv2d(x, _c((k, k, x.shape[-1], cout), seed), 1, "SAME") + _c((cout,), seed + 50, 0.1)


def op_mix(x):
    """x: (1, 8, 8, 4). Every op of the registry that tinykd's own models do not use, in one graph."""
    a = _conv_fn(x, 4, 1)
    hs = a * tf.nn.relu6(a + 3.0) / 6.0                                      # HARD_SWISH
    se = hs * tf.sigmoid(tf.reduce_mean(hs, axis=[1, 2], keepdims=True))     # MEAN, LOGISTIC, MUL (broadcast)
    t = tf.tanh(_conv_fn(se, 4, 2)) - tf.reduce_mean(x, axis=-1, keepdims=True)  # TANH, MEAN (last axis), SUB
    leaky = tf.nn.leaky_relu(_conv_fn(t, 4, 3), 0.2)                         # LEAKY_RELU
    m = tf.minimum(tf.maximum(leaky, -0.5), 0.75)                            # MAXIMUM, MINIMUM
    p, q = tf.split(m, 2, axis=-1)                                           # SPLIT
    r, s, u = tf.split(tf.transpose(m, [0, 2, 1, 3]), [1, 3, 4], axis=1)    # TRANSPOSE, SPLIT_V
    up = tf.image.resize(p[:, ::2, 1::2, :], (8, 8), "nearest")              # STRIDED_SLICE, RESIZE_NEAREST
    down = tf.nn.conv2d_transpose(q[:, :4, :4, :], _c((3, 3, 2, 2), 4), (1, 8, 8, 2), 2, "SAME")  # TRANSPOSE_CONV
    d = tf.batch_to_space(tf.nn.relu(tf.nn.conv2d(tf.space_to_batch_nd(down, [2, 2], [[2, 2], [2, 2]]),
                                                  _c((3, 3, 2, 2), 5), 1, "VALID")), [2, 2], [[0, 0], [0, 0]])
    rows = tf.unstack(tf.slice(u, [0, 1, 0, 0], [1, 3, 8, 4]), axis=1)      # SLICE, UNPACK
    packed = tf.stack(rows[::-1], axis=1)                                    # PACK (QUANTIZE before it)
    tail = tf.nn.relu(tf.concat([packed[:, :, :, :2] * 1.5, s[:, :1, :, :2]], axis=1))  # RELU
    z = tf.concat([up, d, tail, r[:, :, :, 2:]], axis=1)
    z = tf.pad(z, [[0, 0], [1, 0], [0, 1], [0, 0]], constant_values=0.25)   # PADV2
    z = tf.pad(z, [[0, 0], [0, 1], [1, 0], [0, 0]])                          # PAD
    return tf.concat([tf.reduce_sum(z, axis=[1, 2]), tf.reduce_max(z, axis=[1, 2]),
                      tf.nn.relu6(tf.reduce_mean(z, axis=1)[:, 0, :]),       # SUM, REDUCE_MAX, RELU6
                      tf.reshape(z[:, ::4, ::4, :], (1, -1))], axis=-1)


def prelu_mix(x):
    """x: (6, 5, 3) Keras inputs: PRELU with alpha per channel, shared over space, and on a flat vector."""
    a = L.PReLU(_alpha(11))(L.Conv2D(4, 3, padding="same")(x))
    b = L.PReLU(_alpha(12), shared_axes=[1, 2])(L.Conv2D(4, 1)(a))
    return L.PReLU(_alpha(13, 0.0, 0.5))(L.Dense(8)(L.Flatten()(b)))
