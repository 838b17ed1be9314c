"""Per-layer int8 error: where quantization loses precision.

Each op of the int8 model whose output tensor came from a Keras layer (TFLite names the tensor after it) is
compared with that layer's float activation on the same samples: the int8 output is dequantized with its own
scale and zero point, and the error is reported as SQNR, 10 log10(sum float^2 / sum (int8 - float)^2) dB (higher is
better; 8-bit quantization of a well-scaled tensor gives about 40 dB, below 20 dB a layer loses much). The float
reference is the Keras model that was converted: for QAT the fake-quant model (so the figure is what conversion
loses beyond QAT's own simulation), for PTQ the float student. Intermediate tensors come from TensorFlow Lite's
interpreter with every tensor preserved (the TFLM runtime keeps no intermediates); its int8 reference kernels
compute what TFLM's do, and the model output is checked bit-exact against TFLM elsewhere.
"""
from __future__ import annotations

import warnings

import numpy as np

from pipeline.kd.keras import keras, tf
from pipeline.int8.tflm import quantize_input

SAMPLES = 32  # test samples per comparison: enough for a stable ratio, a second or two of work


def layer_errors(model, tflite: bytes, x: np.ndarray) -> list[dict]:
    """[{layer, op, shape, sqnr_db}] in execution order for the first SAMPLES samples of `x` (float, the model's
    input); layers the int8 model does not name, or whose shapes differ, are left out."""
    x = x[:SAMPLES]
    with warnings.catch_warnings():  # "preserve_all_tensors is for debugging": that is what it is used for here
        warnings.simplefilter("ignore", UserWarning)
        it = tf.lite.Interpreter(model_content=tflite, experimental_preserve_all_tensors=True,
                                 experimental_op_resolver_type=tf.lite.experimental.OpResolverType.BUILTIN_REF)
    it.allocate_tensors()
    tensors = {t["index"]: t for t in it.get_tensor_details()}
    names = {layer.name for layer in model.layers}
    output = it.get_output_details()[0]["index"]  # named after the signature, not a layer: the model's last layer
    matched = []  # (op name, layer name, output tensor index)
    for op in it._get_ops_details():  # noqa: SLF001 - the interpreter's only listing of ops and their tensors
        for index in op["outputs"]:
            layer = model.layers[-1].name if index == output else _layer_of(tensors[index]["name"], names)
            if layer and layer not in {m[1] for m in matched}:
                matched.append((op["op_name"], layer, index))
    if not matched:
        return []
    probe = keras.Model(model.inputs, [model.get_layer(layer).output for _, layer, _ in matched])
    floats = probe.predict(x, batch_size=SAMPLES, verbose=0)
    floats = floats if isinstance(floats, list) else [floats]
    detail = it.get_input_details()[0]
    scale, zero_point = detail["quantization"]
    quantized = [[] for _ in matched]
    for sample in quantize_input(x, scale, zero_point):
        it.set_tensor(detail["index"], sample.reshape(detail["shape"]))
        it.invoke()
        for k, (_, _, index) in enumerate(matched):
            q = it.get_tensor(index).astype(np.float64)
            t_scale, t_zero = tensors[index]["quantization"]
            quantized[k].append((q - t_zero) * t_scale if t_scale else q)
    rows = []
    for (op, layer, _), float_out, q_out in zip(matched, floats, quantized):
        q_out = np.concatenate(q_out)  # (samples, ...) like the float batch
        if q_out.shape != float_out.shape:
            continue
        signal = float(np.sum(np.square(float_out, dtype=np.float64)))
        noise = float(np.sum(np.square(q_out - float_out)))
        sqnr = 10 * np.log10(signal / noise) if noise > 0 and signal > 0 else None
        rows.append({"layer": layer, "op": op, "shape": list(float_out.shape[1:]),
                     "sqnr_db": None if sqnr is None else round(float(sqnr), 1)})
    return rows


def _layer_of(tensor_name: str, layers: set[str]) -> str | None:
    """The Keras layer a TFLite tensor is named after: the last path part of its first name that is a layer."""
    parts = tensor_name.split(";")[0].split("/")
    return next((part for part in reversed(parts) if part in layers), None)
