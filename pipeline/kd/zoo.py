"""Model zoo: the built-in teacher, MCU-friendly student families, user teachers, and parameter / MAC counts.

Students are built from ops every int8 MCU runtime supports (CONV_2D, DEPTHWISE_CONV_2D, MAX_POOL_2D, MEAN,
FULLY_CONNECTED); batch norm folds into the convolutions when converting. All models output logits.

Series (T, C) run as images one pixel wide: the model reshapes its input to (T, 1, C) and convolves with (k, 1)
kernels. The int8 model is then the same ops as an image model (plus one RESHAPE that costs no arithmetic),
which tfmot's QAT quantizes and the AOT engine runs; Keras's Conv1D would fail both (tfmot has no QuantizeConfig
for it, and TFLite converts it into EXPAND_DIMS + CONV_2D + SQUEEZE around every layer).
"""
from __future__ import annotations

import re
import zipfile
from pathlib import Path
from typing import Callable

from pipeline.config import StudentConfig, TeacherConfig
from pipeline.errors import PipelineError, first_line
from pipeline.kd.keras import keras
from pipeline.kd.foreign_teacher import ForeignTeacher, custom_class_error, foreign_kind, foreign_model
from pipeline.kd.macs import count_macs, flat_layers

layers = keras.layers


def _pooling_blocks(input_shape: tuple[int, ...], limit: int) -> int:
    """How many times the spatial size can halve while staying >= 2 (at most `limit`)."""
    size, blocks = min(input_shape[:-1]) if len(input_shape) == 3 else input_shape[0], 0
    while size >= 4 and blocks < limit:
        size //= 2
        blocks += 1
    return max(blocks, 1)


class _Layout:
    """Kernel, pool and input handling for images (H, W, C) and series (T, C) seen as (T, 1, C)."""

    def __init__(self, input_shape: tuple[int, ...]):
        self.series = len(input_shape) == 2
        self.input_shape = input_shape

    def kernel(self, k: int):
        return (k, 1) if self.series else k  # (k, 1): along time only

    def stem(self, inputs):
        if self.series:
            steps, channels = self.input_shape
            return layers.Reshape((steps, 1, channels), name="series_as_image")(inputs)  # (batch, T, 1, C)
        return inputs


def build_teacher(cfg: TeacherConfig, input_shape: tuple[int, ...], num_classes: int, *, seed: int = 0,
                  name: str = "teacher"):
    """A wide CNN: two 3x3 convs per block (3x1 along time for series), doubling filters, max-pool between."""
    grid = _Layout(input_shape)
    init = keras.initializers.HeUniform(seed=seed)
    inputs = keras.Input(input_shape, name="input")
    x = grid.stem(inputs)
    for block in range(_pooling_blocks(input_shape, limit=3)):
        filters = cfg.width * 2 ** block
        for i in range(2):
            x = _conv_bn_relu(layers.Conv2D(filters, grid.kernel(3), padding="same", use_bias=False,
                                            kernel_initializer=init, name=f"conv{block}_{i}"), x)
        x = layers.MaxPool2D(grid.kernel(2), name=f"pool{block}")(x)
    x = layers.GlobalAveragePooling2D(name="global_pool")(x)
    x = layers.Dense(4 * cfg.width, activation="relu", kernel_initializer=init, name="dense")(x)
    x = layers.Dropout(0.3, seed=seed, name="dropout")(x)
    outputs = layers.Dense(num_classes, kernel_initializer=keras.initializers.GlorotUniform(seed=seed),
                           name="logits")(x)
    return keras.Model(inputs, outputs, name=name)


def build_student(cfg: StudentConfig, input_shape: tuple[int, ...], num_classes: int, *, seed: int = 0):
    """A tiny student. conv: 3x3 conv blocks; dsconv: a 3x3 stem then depthwise 3x3 + pointwise 1x1 blocks;
    dense: an MLP with depth hidden layers of 8 x width units. Filters double per block; max-pool between
    blocks; global average pooling and one dense layer to the logits. Series use 3x1 kernels along time."""
    init = keras.initializers.HeUniform(seed=seed)
    x = inputs = keras.Input(input_shape, name="input")
    if cfg.family == "dense":
        x = layers.Flatten(name="flatten")(x)
        for i in range(cfg.depth):
            x = layers.Dense(8 * cfg.width, activation="relu", kernel_initializer=init, name=f"dense{i}")(x)
    else:
        grid = _Layout(input_shape)
        x = grid.stem(x)
        pools = _pooling_blocks(input_shape, limit=cfg.depth)
        for block in range(cfg.depth):
            filters = cfg.width * 2 ** block
            if cfg.family == "dsconv" and block > 0:
                x = _conv_bn_relu(layers.DepthwiseConv2D(grid.kernel(3), padding="same", use_bias=False,
                                                         depthwise_initializer=init, name=f"depthwise{block}"), x)
                conv = layers.Conv2D(filters, 1, use_bias=False, kernel_initializer=init, name=f"pointwise{block}")
            else:
                conv = layers.Conv2D(filters, grid.kernel(3), padding="same", use_bias=False,
                                     kernel_initializer=init, name=f"conv{block}")
            x = _conv_bn_relu(conv, x)
            if block < pools and block < cfg.depth - 1:
                x = layers.MaxPool2D(grid.kernel(2), name=f"pool{block}")(x)
        x = layers.GlobalAveragePooling2D(name="global_pool")(x)
    outputs = layers.Dense(num_classes, kernel_initializer=keras.initializers.GlorotUniform(seed=seed),
                           name="logits")(x)
    return keras.Model(inputs, outputs, name=f"student_{cfg.family}_w{cfg.width}_d{cfg.depth}")


def _conv_bn_relu(conv, x):
    """conv -> batch norm -> ReLU, the norm and activation named after the conv. Every layer of the built-in
    models has a fixed name, so a model's .tflite bytes do not depend on how many models the process built
    before (Keras numbers unnamed layers per process: conv2d_7)."""
    x = layers.BatchNormalization(momentum=0.9, name=f"{conv.name}_bn")(conv(x))
    return layers.ReLU(name=f"{conv.name}_relu")(x)


def describe(model) -> dict:
    """Parameters (a wrapped teacher's own included) and MACs of one inference."""
    params = model.count_params() + sum(getattr(layer, "foreign_params", 0) for layer in flat_layers(model))
    return {"params": int(params), "macs": count_macs(model)}


def load_teacher(path: str, input_shape: tuple[int, ...], num_classes: int, *, unsafe: bool = False,
                 log: Callable[[str], None] = print):
    """Load a user's teacher and check it fits the data. Returns (model, outputs_probabilities). tf_keras reads
    what Keras 2 saved; a Keras 3 file or a plain SavedModel is wrapped (foreign_teacher.py).

    A Lambda layer stores Python bytecode that runs when the model loads, so a teacher with one is refused
    unless `unsafe` (the user trusts the file); `.keras` files also load in Keras safe mode. A binary teacher
    with one output (a sigmoid's probability of class 1, or one logit) on 2-class data gets two logits
    (BinaryLogits)."""
    file = Path(path)
    if not file.exists():
        raise PipelineError(f"Teacher file '{path}' does not exist.",
                            "Give a .keras or .h5 file or a SavedModel folder.")
    if file.is_file() and file.suffix not in (".keras", ".h5", ".hdf5"):
        raise PipelineError(f"Teacher file '{path}' has the suffix '{file.suffix}'.",
                            "Allowed: .keras, .h5, or a SavedModel folder.")
    if not unsafe and _has_lambda(file):
        raise PipelineError(f"Teacher '{path}' contains a Lambda layer, whose Python code would run on load.",
                            "Replace it with a built-in layer, or pass --unsafe if you trust the file.")
    if kind := foreign_kind(file):  # Keras 3 or a plain SavedModel: one layer, run at the shape chosen below
        layer = ForeignTeacher(str(file.resolve()), kind, unsafe, name="teacher_file")
        got_in = layer.input_dims
    else:
        model = _load_keras2(file, unsafe)
        if not isinstance(model, keras.Model) or len(model.inputs) != 1 or len(model.outputs) != 1:
            raise PipelineError(f"Teacher '{path}' is not a single-input, single-output Keras model.",
                                "Wrap it so it maps one input to class scores.")
        got_in = tuple(model.input_shape[1:])
    runs_at = _input_for(got_in, input_shape)
    if runs_at is None:
        raise PipelineError(f"Teacher '{path}' takes inputs of shape {got_in}, the data has {input_shape}.",
                            "Use a teacher trained on this data's shape.")
    if kind:
        model = foreign_model(layer, runs_at)
    elif None in got_in:  # variable length: fixed to the data's shape, so its MACs and layer shapes are known
        model = _fixed_input(model, runs_at)
    if runs_at != input_shape:
        log(f"teacher   '{path}' takes samples of shape {got_in}: given the data's {input_shape} without the "
            "channel axis (if they are series, time x channels, pass --layout series)")
        model = _without_channel_axis(model, input_shape)
    if len(model.output_shape) != 2:
        raise PipelineError(f"Teacher '{path}' outputs {model.output_shape} per batch, not one vector of "
                            f"{num_classes} class scores per sample.",
                            "End it with pooling or Flatten and a Dense layer of one unit per class.")
    got_out = model.output_shape[-1]
    if got_out == 1 and num_classes == 2:
        return _binary(model, input_shape, path, log), False
    if got_out != num_classes:
        raise PipelineError(f"Teacher '{path}' has {got_out} output classes, the data has {num_classes}.",
                            "Use a teacher trained on the same classes.")
    return model, _output_activation(model) == "softmax"


def _load_keras2(file: Path, unsafe: bool):
    try:
        kwargs = {"safe_mode": not unsafe} if file.suffix == ".keras" else {}
        return keras.models.load_model(file, compile=False, **kwargs)
    except Exception as e:  # noqa: BLE001 - h5py, zipfile, protobuf and Keras all raise their own kinds
        raise custom_class_error(file, e, "model.save('teacher_saved', save_format='tf')") or PipelineError(
            f"Cannot load teacher '{file}': {first_line(e)}.",
            "Give a file Keras saved (model.save('teacher.keras')) or a SavedModel folder.") from None


def _output_activation(model) -> str:
    """The name of the activation that ends the model ("softmax", "sigmoid", ...; "" for none known)."""
    last = model.layers[-1]
    if isinstance(last, layers.Softmax):
        return "softmax"
    return getattr(last, "output_activation", "") or getattr(getattr(last, "activation", None), "__name__", "")


@keras.saving.register_keras_serializable(package="tinykd")
class BinaryLogits(layers.Layer):
    """(batch, 1) -> (batch, 2) logits (0, z) of a binary classifier's one output: z = logit(p) of a sigmoid's
    probability p of class 1 (p clipped to [EPS, 1 - EPS], so p = 0 or 1 stays finite: |z| <= 16.1), or z itself
    when the output is a logit. softmax((0, z)) = (1 - sigmoid(z), sigmoid(z)): the classifier's own probabilities."""

    EPS = 1e-7

    def __init__(self, from_probability: bool, **kwargs):
        super().__init__(**kwargs)
        self.from_probability = from_probability

    def call(self, out):  # (batch, 1) float32
        z = out
        if self.from_probability:
            p = keras.backend.clip(out, self.EPS, 1 - self.EPS)
            z = keras.backend.log(p) - keras.backend.log(1 - p)
        return keras.backend.concatenate([keras.backend.zeros_like(z), z], axis=-1)  # (batch, 2)

    def get_config(self):
        return {**super().get_config(), "from_probability": self.from_probability}


def _binary(model, input_shape: tuple[int, ...], path: str, log: Callable[[str], None]):
    """The teacher with its one output turned into the two logits of BinaryLogits."""
    sigmoid = _output_activation(model) == "sigmoid"
    what = "a sigmoid: its output p is the probability of class 1, the logits (0, logit(p))" if sigmoid else \
        "no sigmoid: its output z is the logit of class 1, the logits (0, z)"
    log(f"teacher   '{path}' has 1 output for 2 classes and {what}")
    inputs = keras.Input(input_shape, name="input")
    return keras.Model(inputs, BinaryLogits(sigmoid, name="binary_logits")(model(inputs)), name="teacher")


def _input_for(got: tuple, shape: tuple[int, ...]) -> tuple[int, ...] | None:
    """The shape a teacher whose input shape is `got` (None where open) runs at on samples of `shape`: `shape`, or
    `shape` without its channel axis of 1 for a teacher of (H, W) samples (MNIST arrays as loaded); None when it
    takes neither."""
    fits = lambda target: len(got) == len(target) and all(g in (None, w) for g, w in zip(got, target))
    return shape if fits(shape) else shape[:-1] if shape[-1:] == (1,) and fits(shape[:-1]) else None


def _without_channel_axis(model, input_shape: tuple[int, ...]):
    """The teacher on samples of `input_shape` (H, W, 1), reshaped to the (H, W) it takes."""
    inputs = keras.Input(input_shape, name="input")
    return keras.Model(inputs, model(layers.Reshape(input_shape[:-1], name="no_channel_axis")(inputs)), name="teacher")


def _fixed_input(model, input_shape: tuple[int, ...]):
    """The same teacher and weights with every input dimension fixed (a subclassed model stays as it is)."""
    try:
        fixed = keras.models.clone_model(model, input_tensors=keras.Input(input_shape))
    except Exception:  # noqa: BLE001 - a model Keras cannot clone still runs on the data's shape
        return model
    fixed.set_weights(model.get_weights())
    return fixed


LAMBDA = re.compile(rb'"class_name":\s*"Lambda"')


def _has_lambda(file: Path) -> bool:
    """Look for a Lambda layer in the saved architecture without deserializing it."""
    try:
        if file.is_dir():  # SavedModel: the Keras architecture is in keras_metadata.pb
            meta = file / "keras_metadata.pb"
            return meta.exists() and bool(LAMBDA.search(meta.read_bytes()))
        if file.suffix == ".keras":
            with zipfile.ZipFile(file) as archive:
                return bool(LAMBDA.search(archive.read("config.json")))
        import h5py
        with h5py.File(file, "r") as h5:
            config = h5.attrs.get("model_config", b"")
            return bool(LAMBDA.search(config.encode() if isinstance(config, str) else bytes(config)))
    except Exception:  # noqa: BLE001 - unreadable: load_model reports it with a clear message
        return False
