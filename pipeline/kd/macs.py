"""Multiply-accumulates of one inference of a Keras model: convolutions and dense layers (pooling and batch norm
are not MACs). Layers are told apart by the names of their classes and bases, so a tf_keras model and a Keras 3 one
(a user's teacher: pipeline/kd/foreign_teacher.py) count alike."""
from __future__ import annotations

DEPTHWISE = {"DepthwiseConv1D", "DepthwiseConv2D"}
SEPARABLE = {"SeparableConv1D", "SeparableConv2D"}
CONV = {"Conv1D", "Conv2D"}


def count_macs(model) -> int:
    total = 0
    for layer in flat_layers(model):
        kinds = {base.__name__ for base in type(layer).__mro__}
        if hasattr(layer, "foreign_macs"):  # a wrapped teacher: counted when it was loaded
            total += layer.foreign_macs
        elif kinds & DEPTHWISE:
            out = _output_shape(layer)
            kernel = layer.depthwise_kernel.shape  # (k..., in, multiplier)
            total += _prod(out[:-1]) * _prod(kernel[:-2]) * out[-1]
        elif kinds & SEPARABLE:  # depthwise, then pointwise
            out = _output_shape(layer)
            total += _prod(out[:-1]) * (_prod(layer.depthwise_kernel.shape) + _prod(layer.pointwise_kernel.shape))
        elif kinds & CONV:
            out = _output_shape(layer)
            total += _prod(out[:-1]) * _prod(layer.kernel.shape[:-1]) * out[-1]  # kernel: (k..., in/groups, out)
        elif "Dense" in kinds:
            total += _prod(layer.kernel.shape) * _prod(_output_shape(layer)[:-1] or (1,))
    return int(total)


def _output_shape(layer) -> tuple:
    """The layer's output shape without the batch dimension (tf_keras and Keras 3 both give `output`)."""
    return tuple(layer.output.shape)[1:]


def flat_layers(model):
    """The model's layers, those of nested models in their place."""
    for layer in model.layers:
        if hasattr(layer, "layers"):  # a nested model
            yield from flat_layers(layer)
        else:
            yield layer


def _prod(values) -> int:
    result = 1
    for v in values:
        result *= int(v)
    return result
