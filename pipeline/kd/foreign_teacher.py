"""A teacher tf_keras cannot read, run as one layer of a tf_keras model: a Keras 3 file (.keras or .h5: what
`model.save` writes on TensorFlow 2.16 and later) or a SavedModel without Keras 2's metadata (Keras 3's
`model.export`, `tf.saved_model.save`).

tinykd never trains a teacher it is given, so the layer only calls it: the loaded model is kept out of tf_keras's
sight (its variables are not the layer's), and the layer's config names the file, so a saved teacher.keras loads it
again. Its parameters, and from its graph at the data's shape its MACs and output activation, are read once, at
load, for the report and for the teacher stage's probabilities-or-logits question.
"""
from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import numpy as np

from pipeline.errors import PipelineError, first_line
from pipeline.kd.keras import keras, tf

KERAS3, SAVED_MODEL = "keras3", "saved_model"
# How Keras 3, tf_keras's .keras and its .h5 loaders name a class of the user's own code they cannot find.
CUSTOM_CLASS = re.compile(r"Could not locate (?:class|function) '([^']+)'|Cannot deserialize object of type `([^`]+)`"
                          r"|Unknown (?:layer|object): '([^']+)'")
ACTIVATIONS = ("softmax", "sigmoid")  # an output activation the teacher stage must know of; anything else: logits


def foreign_kind(file: Path) -> str | None:
    """KERAS3 for a file Keras 3 saved, SAVED_MODEL for a SavedModel folder without Keras 2's metadata, else None
    (tf_keras reads it)."""
    if file.is_dir():
        plain = (file / "saved_model.pb").exists() and not (file / "keras_metadata.pb").exists()
        return SAVED_MODEL if plain else None
    return KERAS3 if _saved_by(file).startswith("3.") else None


def _saved_by(file: Path) -> str:
    """The Keras version a .keras or .h5 file records ("" when it records none or cannot be read)."""
    try:
        if file.suffix == ".keras":
            with zipfile.ZipFile(file) as archive:
                return str(json.loads(archive.read("metadata.json")).get("keras_version", ""))
        import h5py
        with h5py.File(file, "r") as h5:
            version = h5.attrs.get("keras_version", "")
            return version.decode() if isinstance(version, bytes) else str(version)
    except Exception:  # noqa: BLE001 - unreadable: tf_keras's load_model reports it
        return ""


@keras.saving.register_keras_serializable(package="tinykd")
class ForeignTeacher(keras.layers.Layer):
    """Calls the teacher at `path` (a KERAS3 file or a SAVED_MODEL folder) on its input; no weights of its own.
    `input_dims` (the teacher's own, None where open), `foreign_params`; after `measure`, `foreign_macs` and
    `output_activation` ("softmax", "sigmoid" or "")."""

    def __init__(self, path: str, kind: str, unsafe: bool = False, **kwargs):
        super().__init__(**{**kwargs, "trainable": False})
        self.path, self.kind, self.unsafe = path, kind, unsafe
        run, dims, params = (_keras3 if kind == KERAS3 else _saved_model)(Path(path), unsafe)
        names = ("_run", "input_dims", "foreign_params", "foreign_macs", "output_activation")
        for attribute, value in zip(names, (run, dims, params, 0, "")):  # untracked: its variables stay its own
            object.__setattr__(self, attribute, value)

    def call(self, inputs):
        return self._run(inputs)

    def measure(self, dims: tuple[int, ...]) -> None:
        """Count the MACs of one sample of shape `dims` and find the output activation, in the teacher's graph."""
        macs, activation = _graph_facts(self._run, dims)
        object.__setattr__(self, "foreign_macs", macs)
        object.__setattr__(self, "output_activation", activation)

    def get_config(self):
        return {**super().get_config(), "path": self.path, "kind": self.kind, "unsafe": self.unsafe}


def foreign_model(layer: ForeignTeacher, shape: tuple) -> keras.Model:
    """The teacher as a tf_keras model: `layer` on inputs of `shape` (zoo.py's choice: the data's where the teacher's
    own leaves a dimension open), measured when that shape is fully known."""
    if None not in shape:
        layer.measure(shape)
    inputs = keras.Input(shape, name="input")
    return keras.Model(inputs, layer(inputs), name="teacher")


def _keras3(file: Path, unsafe: bool):
    """(call, input dims, parameters) of a Keras 3 model file."""
    import keras as keras3  # Keras 3, which TensorFlow installs beside tf_keras: only these files need it

    try:
        model = keras3.saving.load_model(file, compile=False, safe_mode=not unsafe)
    except Exception as e:  # noqa: BLE001 - Keras 3 raises many kinds; the first line says which
        raise custom_class_error(file, e, "model.export('teacher_saved')") or PipelineError(
            f"Cannot load teacher '{file}' (saved by Keras 3): {first_line(e)}.",
            "Check it loads with keras.saving.load_model in the Keras that saved it.") from None
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise PipelineError(f"Teacher '{file}' has {len(model.inputs)} inputs and {len(model.outputs)} outputs.",
                            "Give a model of one input and one output of class scores.")
    return (lambda x: model(x, training=False)), tuple(model.inputs[0].shape)[1:], int(model.count_params())


def _saved_model(folder: Path, unsafe: bool):
    """(call, input dims, parameters) of a SavedModel's serving signature."""
    del unsafe  # a SavedModel holds TensorFlow graphs, no Python code
    try:
        loaded = tf.saved_model.load(str(folder))
    except Exception as e:  # noqa: BLE001 - protobuf and TensorFlow errors
        raise PipelineError(f"Cannot load teacher '{folder}' (a SavedModel): {first_line(e)}.",
                            "Give the folder tf.saved_model.save or Keras 3's model.export wrote.") from None
    signature = loaded.signatures.get("serving_default")
    specs = signature.structured_input_signature[1] if signature is not None else {}
    outputs = signature.structured_outputs if signature is not None else {}
    if len(specs) != 1 or len(outputs) != 1:
        raise PipelineError(f"Teacher '{folder}' has no serving signature of one input and one output "
                            f"(inputs: {sorted(specs) or 'none'}).",
                            "Export it with one input and one output of class scores (model.export(path)).")
    (name, spec), = specs.items()
    (output, _), = outputs.items()
    if spec.dtype != tf.float32:
        raise PipelineError(f"Teacher '{folder}' takes {spec.dtype.name} inputs; tinykd gives float32.",
                            "Export it with a float32 input.")

    def run(x, loaded=loaded):  # the signature's variables live as long as the loaded object does
        return signature(**{name: x})[output]

    return run, tuple(spec.shape)[1:], sum(int(np.prod(v.shape)) for v in signature.variables)


def _graph_facts(run, dims: tuple[int, ...]) -> tuple[int, str]:
    """(MACs of one sample, output activation) read off the graph of `run` on one sample of shape `dims`, its
    variables frozen so that nested function calls are inlined: Conv2D (Conv1D is one), depthwise and MatMul ops
    count, as in tf_keras's layer count; those inside a recurrent layer's loop do not (an RNN teacher's count is
    low). (0, "") when it cannot be traced: the MACs are then not counted and the outputs taken for logits."""
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    try:
        one = tf.TensorSpec((1, *dims), tf.float32)
        traced = tf.function(run, autograph=False).get_concrete_function(one)
        graph = convert_variables_to_constants_v2(traced).graph
    except Exception:  # noqa: BLE001 - any op TensorFlow cannot freeze
        return 0, ""
    macs = 0
    for op in graph.get_operations():
        if op.type in ("Conv2D", "DepthwiseConv2dNative", "MatMul", "BatchMatMulV2"):
            out, kernel = op.outputs[0].shape, op.inputs[1].shape
            if out.rank is None or not kernel.is_fully_defined():
                continue
            if op.type == "Conv2D":  # kernel (kh, kw, in, out)
                taps = kernel[0] * kernel[1] * kernel[2]
            elif op.type == "DepthwiseConv2dNative":  # (kh, kw, in, multiplier)
                taps = kernel[0] * kernel[1]
            else:  # a product over the first input's last dimension (its rows when transposed)
                taps = op.inputs[0].shape[-2 if op.type == "MatMul" and op.get_attr("transpose_a") else -1] or 0
            macs += int(np.prod([d or 1 for d in out])) * int(taps)  # an open dimension: the batch of 1 traced
    last = graph.outputs[0].op
    while last.type == "Identity" and last.inputs:
        last = last.inputs[0].op
    return macs, _known(last.type.lower())


def custom_class_error(file: Path, e: BaseException, export: str) -> PipelineError | None:
    """The error for a model file naming a class only the user's code defines (Keras cannot rebuild it from the file
    alone), with the `export` call that saves it as a SavedModel, which loads without that code; None for others."""
    found = CUSTOM_CLASS.search(str(e))
    if found is None:
        return None
    name = next(group for group in found.groups() if group)
    return PipelineError(f"Teacher '{file}' uses '{name}', which only your code defines: the file cannot load "
                         "without it.", f"Save it as a SavedModel, which loads without your code: {export}, then "
                         "--teacher teacher_saved.")


def _known(activation: str) -> str:
    return activation if activation in ACTIVATIONS else ""
