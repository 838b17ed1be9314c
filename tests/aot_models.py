"""Shared by the AOT tests: int8 .tflite files of small Keras models, converted once per test session."""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from pipeline.artifacts import GOLDEN, MODEL_INT8
from pipeline.compiler.hostbuild import HostModel
from pipeline.compiler import compile_model
from pipeline.int8.tflm import run as tflm_run

# student("dsconv") converted once and kept (tests/fixtures/golden_model): the same model without the seconds the
# converter takes, for the tests that need any small real model.
STUDENT_DSCONV = Path(__file__).parent / "fixtures" / "golden_model" / "student_dsconv.tflite"


@functools.lru_cache(maxsize=None)
def mlperf(name: str) -> bytes:
    import mlperf_tiny
    return mlperf_tiny.int8_tflite(mlperf_tiny.randomize(mlperf_tiny.BUILDERS[name](), seed=0), seed=0)


@functools.lru_cache(maxsize=None)
def student(family: str = "dsconv", input_shape=(8, 8, 1), classes: int = 10) -> bytes:
    import mlperf_tiny
    from pipeline.config import StudentConfig
    from pipeline.kd.zoo import build_student
    model = build_student(StudentConfig(family=family), input_shape, classes, seed=0)
    return mlperf_tiny.int8_tflite(mlperf_tiny.randomize(model, seed=1), low=0.0, high=1.0)


def keras_tflite(build, input_shape, seed: int = 0) -> bytes:
    """Converts the model `build(inputs) -> outputs` with seeded random weights to full int8."""
    import mlperf_tiny
    from pipeline.kd.keras import keras
    keras.utils.set_random_seed(seed)
    inputs = keras.Input(input_shape)
    model = keras.Model(inputs, build(inputs))
    return mlperf_tiny.int8_tflite(mlperf_tiny.randomize(model, seed), seed=seed)


def function_tflite(build, input_shape, seed: int = 0) -> bytes:
    """Converts the tf.function `build(x) -> y` (x: (1, *input_shape) float32) to full int8: for ops that Keras
    layers do not emit as such (a dilated convolution, which Keras lowers to SPACE_TO_BATCH_ND)."""
    import mlperf_tiny
    from pipeline.kd.keras import tf
    function = tf.function(build, input_signature=[tf.TensorSpec((1, *input_shape), tf.float32)])
    return mlperf_tiny.int8_tflite(function, seed=seed)


def mismatches(model: bytes, samples: int, seed: int = 0, optimize: str = "balanced") -> tuple[int, int, object]:
    """(mismatching output elements, output elements, compiled model) over random int8 inputs."""
    compiled = compile_model(model, optimize=optimize)
    x = np.random.default_rng(seed).integers(-128, 128, (samples, *compiled.input_shape[1:]), dtype=np.int8)
    with HostModel(compiled) as host:
        ours = host.run(x)
    golden = tflm_run(model, x)
    return int((ours != golden).sum()), int(golden.size), compiled


def aot_run(run, model: bytes, x, labels=None, seed: int = 0, optimize: str = "balanced"):
    """A run folder for validating `model` on a device: the .tflite, its AOT C model in aot/, and golden.npz with
    the int8 inputs `x` (or that many seeded random ones), TFLM's outputs (the oracle) and `labels` (default:
    TFLM's argmax), compiled with the `optimize` policy. Returns the compiled model."""
    run.mkdir(parents=True, exist_ok=True)
    (run / MODEL_INT8).write_bytes(model)
    compiled = compile_model(model, optimize=optimize)
    compiled.write(run / "aot")
    if isinstance(x, int):
        x = np.random.default_rng(seed).integers(-128, 128, (x, *compiled.input_shape[1:]), dtype=np.int8)
    y = tflm_run(model, x)
    labels = np.argmax(y.reshape(len(x), -1), axis=1) if labels is None else labels
    np.savez(run / GOLDEN, inputs=x, outputs=y, labels=labels)
    return compiled
