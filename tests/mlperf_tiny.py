"""The four MLPerf Tiny reference architectures in Keras (random weights), and a full-int8 converter.

Used by the AOT compiler tests and by bench/memory.py to check the engine on the models the field benchmarks:
ResNet-8 (image classification), DS-CNN (keyword spotting), MobileNetV1 0.25 (visual wake words) and the fully
connected autoencoder (anomaly detection). The layer lists follow the MLPerf Tiny v1.0 reference training code.
"""
from __future__ import annotations

import numpy as np

from pipeline.kd.keras import keras
from pipeline.int8.quantize import convert_int8

layers = keras.layers


def _conv_bn(x, filters, kernel, strides=1, relu=True):
    x = layers.Conv2D(filters, kernel, strides=strides, padding="same")(x)
    x = layers.BatchNormalization()(x)
    return layers.Activation("relu")(x) if relu else x


def _separable(x, filters, strides=1):
    """A depthwise-separable block: 3x3 depthwise + BN + ReLU, then 1x1 convolution + BN + ReLU."""
    x = layers.DepthwiseConv2D(3, strides=strides, padding="same")(x)
    x = layers.Activation("relu")(layers.BatchNormalization()(x))
    return _conv_bn(x, filters, 1)


def _pooled_head(x, num_classes):
    """Average pooling over the whole feature map, then a softmax classifier."""
    x = layers.AveragePooling2D(pool_size=x.shape[1:3])(x)    # (1, 1, 1, channels)
    return layers.Dense(num_classes, activation="softmax")(layers.Flatten()(x))


def resnet8(input_shape=(32, 32, 3), num_classes=10) -> keras.Model:
    """ResNet-8 for CIFAR-10: a 16-filter stem and three residual stacks (16, 32, 64 filters)."""
    x = inputs = keras.Input(input_shape)                      # (1, 32, 32, 3)
    x = _conv_bn(x, 16, 3)
    for filters, strides in ((16, 1), (32, 2), (64, 2)):
        y = _conv_bn(x, filters, 3, strides)
        y = _conv_bn(y, filters, 3, relu=False)
        if strides != 1:                                       # projection shortcut: (1, h/2, w/2, filters)
            x = layers.Conv2D(filters, 1, strides=strides, padding="same")(x)
        x = layers.Activation("relu")(layers.Add()([x, y]))
    return keras.Model(inputs, _pooled_head(x, num_classes), name="resnet8")  # pooled from (1, 8, 8, 64)


def ds_cnn(input_shape=(49, 10, 1), num_classes=12, filters=64) -> keras.Model:
    """DS-CNN (small) for keyword spotting on 49x10 MFCC frames: a 10x4 stride-2 stem, four depthwise-separable
    blocks, average pooling."""
    x = inputs = keras.Input(input_shape)
    x = _conv_bn(x, filters, (10, 4), strides=2)               # (1, 25, 5, 64)
    for _ in range(4):
        x = _separable(x, filters)
    return keras.Model(inputs, _pooled_head(x, num_classes), name="ds_cnn")


def mobilenet_v1_025(input_shape=(96, 96, 3), num_classes=2) -> keras.Model:
    """MobileNetV1 with width multiplier 0.25 for visual wake words (96x96 RGB -> person / no person)."""
    x = inputs = keras.Input(input_shape)
    x = _conv_bn(x, 8, 3, strides=2)                           # (1, 48, 48, 8)
    blocks = ((16, 1), (32, 2), (32, 1), (64, 2), (64, 1), (128, 2),
              (128, 1), (128, 1), (128, 1), (128, 1), (128, 1), (256, 2), (256, 1))
    for filters, strides in blocks:
        x = _separable(x, filters, strides)
    return keras.Model(inputs, _pooled_head(x, num_classes), name="mobilenet_v1_025")  # from (1, 3, 3, 256)


def fc_autoencoder(inputs_dim=640) -> keras.Model:
    """The anomaly-detection autoencoder: 640 -> 4 x 128 -> 8 -> 4 x 128 -> 640, dense + batch norm + ReLU."""
    x = inputs = keras.Input((inputs_dim,))
    for units in (128, 128, 128, 128, 8, 128, 128, 128, 128):
        x = layers.Activation("relu")(layers.BatchNormalization()(layers.Dense(units)(x)))
    outputs = layers.Dense(inputs_dim)(x)
    return keras.Model(inputs, outputs, name="fc_autoencoder")


BUILDERS = {"resnet8": resnet8, "ds_cnn": ds_cnn, "mobilenet_v1_025": mobilenet_v1_025,
            "fc_autoencoder": fc_autoencoder}


def randomize(model: keras.Model, seed: int) -> keras.Model:
    """Gives batch norm layers random statistics so the folded weights are not trivially uniform."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights([rng.uniform(0.5, 1.5, gamma.shape), rng.normal(0, 0.2, beta.shape),
                               rng.normal(0, 0.2, mean.shape), rng.uniform(0.5, 1.5, var.shape)])
    return model


def int8_tflite(model, *, samples: int = 32, seed: int = 0, low: float = -1.0, high: float = 1.0) -> bytes:
    """Full-int8 TFLite flatbuffer (int8 input and output), calibrated on uniform random data in [low, high].
    `model` is a keras.Model, or a tf.function with a batch-1 input_signature (for ops Keras does not emit as
    such, e.g. a dilated CONV_2D). For tests and benchmarks; the quantize stage calibrates on real data."""
    rng = np.random.default_rng(seed)
    shape = tuple(model.input_shape[1:]) if isinstance(model, keras.Model) else \
        tuple(model.input_signature[0].shape[1:])

    def representative():
        for _ in range(samples):
            yield [rng.uniform(low, high, (1, *shape)).astype(np.float32)]

    return convert_int8(model, representative)
