"""Quantization stage: the float student becomes `student_int8.tflite` (int8 weights, activations, input and
output), scored on TFLite Micro itself, with golden outputs for the device comparison.

Two modes (cfg.quantize.mode):
- ptq: post-training quantization; activation ranges are calibrated on a representative set of training samples.
- qat: quantization-aware training. tfmot's `quantize_model` wraps the student in fake-quant ops and the result is
  fine-tuned with the same distillation loss against the cached teacher logits, so the student learns weights that
  survive int8 rounding while still following the teacher. The converter still needs the representative set for
  a full-int8 model (the input and output quantizers).
"""
from __future__ import annotations

import re
import time
import warnings
from typing import Callable, Iterable

import numpy as np

from pipeline.artifacts import AUDIO_CLIPS, GOLDEN, MISCLASSIFIED, MODEL_INT8, QAT_WEIGHTS, STUDENT, TEACHER_LOGITS
from pipeline.audio.breakdown import audio_breakdown
from pipeline.audio.features import raw_test_clips
from pipeline.config import Config
from pipeline.kd.data import Dataset, load_dataset
from pipeline.errors import PipelineError, first_line, stage
from pipeline.metrics import confusion_matrix
from pipeline.progress import count
from pipeline.kd.keras import keras, tf
from pipeline.kd.losses import hard_labels, loss_settings, make_loss
from pipeline.paths import INT8, KD
from pipeline.runs import Run, fingerprint, sources_hash
from pipeline.kd.sizing import sized_quantize
from pipeline.kd.ship import Shipped, choose
from pipeline.kd.teacher import soft_targets
from pipeline.kd.transfer import student_arrays
from pipeline.int8 import tflm
from pipeline.int8.tflite_file import read_model, require_int8_io
from pipeline.kd.train import Schedule, Trainer, accuracy, fit, set_seed

NEEDS = [STUDENT, TEACHER_LOGITS]
ARTIFACTS = [MODEL_INT8, GOLDEN]
# A fake-quantized training step costs ~1.4x the float student's (Fashion-MNIST here: 10.6 vs 7.4 ms). The time
# estimate times the float student: cloning a tfmot model to time it changed the QAT result (a resumed QAT run was
# no longer byte-identical to an uninterrupted one).
QAT_STEP_COST = 1.4
MISCLASSIFIED_SHOWN = 16


def shipped(cfg: Config, run: Run) -> Shipped:
    """The student this stage quantizes (pipeline/kd/ship.py): the distilled one unless the baseline beat it."""
    return choose(cfg, run.metrics("distill"), run.metrics("baseline"))


def fingerprint_of(cfg: Config, run: Run | None = None, ship: Shipped | None = None) -> str:
    """What the quantize stage depends on: its settings, the loss its QAT fine-tunes with (the KD loss's own
    settings, or none for the baseline; the rest of cfg.distill does not matter here), the data, the seed, the
    student it ships, the teacher's logits and tinykd's code for them (pipeline/kd, pipeline/int8)."""
    run = run or Run(cfg.run_dir)
    ship = ship or shipped(cfg, run)  # (quantize passes the one it read: run.json once)
    loss = "" if cfg.quantize.mode != "qat" else "none" if ship.model == "baseline" else loss_settings(cfg.distill)
    return fingerprint("quantize", cfg.quantize, loss, cfg.data, cfg.run.seed, run.sha(ship.artifact),
                       run.sha(TEACHER_LOGITS), sources_hash(KD, INT8))


@stage("quantize")
def quantize(cfg: Config, *, force: bool = False, log: Callable[[str], None] = print) -> dict:
    """Write student_int8.tflite and golden.npz into the run folder; return the stage's metrics."""
    run = Run(cfg.run_dir)
    ship = shipped(cfg, run)
    missing = [name for name in dict.fromkeys([*NEEDS, ship.artifact]) if not run.intact(name)]
    if missing:
        raise PipelineError(f"Run folder '{run.path}' has no intact {' or '.join(missing)}.",
                            "Run `tinykd distill` first, with the same --run and --dataset.")
    fp = fingerprint_of(cfg, run, ship)
    if not force and run.is_fresh("quantize", fp):
        log("quantize  unchanged, skipped (--force reruns)")
        return run.metrics("quantize")

    started = time.time()
    data = load_dataset(cfg.data, cfg.run.seed)
    cfg = sized_quantize(cfg, len(data.x_train))  # auto (0) QAT epochs chosen for this data
    q = cfg.quantize
    baseline = ship.model == "baseline"  # it fine-tunes on the labels it learned from, not on the teacher's
    if baseline:
        log(f"quantize  {ship.reason}")
    representative_count = min(q.representative_samples, len(data.x_train))
    name, loss = ("baseline student", "hard labels") if baseline else ("student", cfg.distill.method)
    log(f"quantize  QAT: fine-tuning the fake-quantized {name} with {loss} for {count(q.qat_epochs, 'epoch')}"
        if q.mode == "qat" else f"quantize  PTQ: calibrating on {representative_count} training samples")
    # (x, y): the labeled samples the baseline learned from; (x, y, teacher_logits): the distilled student's
    train = student_arrays(data.x_train, data.y_train, data.labeled, data.x_unlabeled) if baseline else \
        soft_targets(data, run)
    student = keras.models.load_model(run.file(ship.artifact), compile=False)
    float_accuracy = accuracy(student, data.x_test, data.y_test)
    order = np.random.default_rng(cfg.run.seed).permutation(len(data.x_train))
    representative = data.x_train[order[:representative_count]]  # (r, *input_shape) float32

    info: dict = {}
    artifacts = list(ARTIFACTS)
    if q.mode == "qat":
        student, info = _quantization_aware(cfg, student, data, train, run=run, key=fp, log=log, hard=baseline)
    model = _convert(student, representative)
    require_int8_io(read_model(model, MODEL_INT8), MODEL_INT8)

    log("quantize  scoring the int8 model on TFLite Micro and measuring its arena")
    result = tflm.evaluate(model, data.x_test, data.y_test)
    info["layer_error"] = _layer_error(student, model, data.x_test, log)
    arena = tflm.minimum_arena(model)
    io = result["io"]
    metrics = {"mode": q.mode, "float_accuracy": round(float_accuracy, 5),
               "int8_accuracy": round(result["accuracy"], 5),
               "drop_pp": round(100 * (float_accuracy - result["accuracy"]), 3),
               "model_bytes": len(model), "arena_minimum": arena["minimum"], "arena_recorded": arena.get("total"),
               "input": io["input"], "output": io["output"], "representative_samples": len(representative),
               "int8_confusion": confusion_matrix(result["labels"], result["predicted"], data.num_classes),
               **ship.record(), **info}
    if q.mode == "qat":  # a QAT model does not round-trip through .keras: rebuild it with quantize_model(student)
        run.write(QAT_WEIGHTS, student.save_weights)  # and load these weights into it
        artifacts.append(QAT_WEIGHTS)
    wrong = np.flatnonzero(result["predicted"] != result["labels"])[:MISCLASSIFIED_SHOWN]
    run.write(MISCLASSIFIED, lambda path: np.savez(path, index=wrong, x=data.x_test[wrong],
                                                   true=result["labels"][wrong], predicted=result["predicted"][wrong]))
    artifacts.append(MISCLASSIFIED)
    audio = audio_breakdown(cfg.data.dataset, result["predicted"], result["labels"])  # None unless keyword data
    if audio:
        metrics["audio"] = audio[0]
        run.write(AUDIO_CLIPS, lambda path: np.savez(path, **audio[1]))
        artifacts.append(AUDIO_CLIPS)
    run.write(MODEL_INT8, lambda path: path.write_bytes(model))
    clips = raw_test_clips(cfg.data.dataset) or {}  # features made by the front end: the raw clips go along
    run.write(GOLDEN, lambda path: np.savez(path, inputs=result["inputs"], outputs=result["outputs"],
                                            labels=result["labels"], **clips))
    run.record("quantize", fp, artifacts, metrics, time.time() - started)
    return metrics


def _quantization_aware(cfg: Config, student, data: Dataset, train: tuple, *, run: Run, key: str,
                        log: Callable[[str], None], hard: bool = False):
    """Fake-quantize the student and fine-tune it with the distillation loss on the cached teacher logits (with
    `hard`, the baseline: on the labels it learned from). State is checkpointed after every epoch: a killed QAT
    resumes where it stopped (pipeline/kd/checkpoint.py)."""
    q = cfg.quantize
    set_seed(cfg.run.seed)
    qat = fake_quantize(student)
    trainer = Trainer(student=qat, loss_fn=hard_labels if hard else make_loss(cfg.distill))
    info = fit(trainer, train=train, val=(data.x_val, data.y_val),
               seed=cfg.run.seed, schedule=Schedule(q.qat_epochs, q.qat_batch_size, q.qat_learning_rate),
               checkpoints=run.checkpoints("quantize"), key=key, log=log, label="quantize",
               probe=student, probe_factor=QAT_STEP_COST)
    info = {"qat_" + k: v for k, v in info.items()}
    info["qat_accuracy"] = round(accuracy(qat, data.x_test, data.y_test), 5)  # fake-quant float model
    return qat, info


def _layer_error(student, model: bytes, x: np.ndarray, log) -> list[dict]:
    """Per-layer SQNR of the int8 model (pipeline/int8/layer_error.py). A diagnostic: if a model defeats it, say so
    in one line and go on, the int8 model is checked bit for bit elsewhere."""
    from pipeline.int8.layer_error import layer_errors
    try:
        return layer_errors(student, model, x)
    except Exception as e:  # noqa: BLE001 - TFLite's interpreter and Keras raise many kinds
        log(f"quantize  per-layer int8 error not measured ({type(e).__name__}: {' '.join(str(e).split())[:120]})")
        return []


UNSUPPORTED_LAYER = re.compile(r"Layer (\S+?):<class '(?:[\w.]*\.)?(\w+)'> is not supported")


def fake_quantize(model):
    """tfmot's quantize_model (int8 fake-quant wrappers on every layer), its failures as one PipelineError."""
    import tensorflow_model_optimization as tfmot
    try:
        return tfmot.quantization.keras.quantize_model(model)
    except Exception as e:  # noqa: BLE001 - tfmot raises RuntimeError, ValueError and others
        found = UNSUPPORTED_LAYER.search(str(e))
        what = f"layer '{found[1]}' ({found[2]})" if found else \
            f"{model.name} ({type(e).__name__}: {' '.join(str(e).split())[:160]})"
        raise PipelineError(f"Quantization-aware training cannot quantize {what}: tfmot has no int8 scheme for it.",
                            "Use --mode ptq (post-training quantization needs no fake-quant layers), or build "
                            "the model from Conv2D, DepthwiseConv2D, Dense, pooling and ReLU layers.")


def _convert(model, representative: np.ndarray) -> bytes:
    """Full-int8 conversion of the student; the representative samples fix the activation ranges."""
    return convert_int8(model, lambda: ([sample[None]] for sample in representative))  # (1, *input_shape) each


def convert_int8(model, representative: Callable[[], Iterable[list[np.ndarray]]], *, output_type=None,
                 batch_one: bool = True) -> bytes:
    """Full-int8 TFLite flatbuffer (int8 input, int8 output unless `output_type` says tf.float32: a final
    DEQUANTIZE) of a Keras model (or of a tf.function with an input_signature); `representative()` yields
    [batch-1 float32 sample] lists. A Keras model is converted with a batch of 1 (`batch_one`; False keeps the
    model's own, as users often convert): with every shape static the converter folds Keras's Reshape
    (SHAPE -> STRIDED_SLICE -> PACK -> RESHAPE for a dynamic batch) into one RESHAPE."""
    if isinstance(model, keras.Model) and not batch_one:
        converter = tf.lite.TFLiteConverter.from_keras_model(model)
    elif isinstance(model, keras.Model):
        # fixed names: auto-named layers ("input_7") would make the file's bytes depend on what the process built
        inputs = keras.Input(model.input_shape[1:], batch_size=1, name=model.input_names[0])
        batch_one = keras.Model(inputs, model(inputs, training=False), name=model.name)
        converter = tf.lite.TFLiteConverter.from_keras_model(batch_one)
    else:
        converter = tf.lite.TFLiteConverter.from_concrete_functions([model.get_concrete_function()], model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8 if output_type is None else output_type
    try:
        with warnings.catch_warnings():  # "Statistics for quantized inputs were expected": the converter's own
            warnings.simplefilter("ignore", UserWarning)  # input quantizer takes them from the representative set
            return bytes(converter.convert())
    except Exception as e:  # noqa: BLE001 - the converter raises ConverterError and others
        raise PipelineError(f"The TFLite converter cannot make a full-int8 model of {getattr(model, 'name', 'it')}: "
                            f"{first_line(e, 200)}.",
                            "Use a model built from int8-supported ops (tinykd's conv, dsconv and dense students).")
