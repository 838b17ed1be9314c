"""Host runs of the int8 model on TFLite Micro itself (the tflite-micro wheel), the oracle for every device.

LiteRT's interpreter is not bit-identical to TFLM (FULLY_CONNECTED differs by 1 in some outputs), so golden
outputs, int8 accuracy and the arena size all come from TFLM's own runtime. An arena that is too small can crash
the runtime (a segfault, not an exception), so each arena probe runs in a child process:
`python -m pipeline.int8.tflm MODEL.tflite ARENA_BYTES` exits 0 when the model allocates and runs with that arena.
"""
from __future__ import annotations

import functools
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from pipeline.errors import PipelineError
from pipeline.paths import REPO

ARENA_LIMIT = 64 << 20  # give up above 64 MB: no microcontroller has that much RAM
ALLOCATION_LINE = re.compile(r"Arena allocation (total|head|tail) (\d+) bytes")


def interpreter(model: bytes, arena_size: int):
    from tflite_micro.python.tflite_micro import runtime
    try:
        return runtime.Interpreter.from_bytes(model, arena_size=arena_size)
    except RuntimeError as e:
        raise PipelineError(f"TFLite Micro cannot load the model with a {arena_size:,}-byte arena ({e}).",
                            "Check its ops are supported by TFLite Micro and its tensors fit a microcontroller.")


def io_details(model: bytes) -> dict:
    """Shapes, dtypes, scales and zero points of input 0 and output 0 as TFLM sees them."""
    it = interpreter(model, _generous(model))
    return {"input": _details(it.get_input_details(0)), "output": _details(it.get_output_details(0))}


def _details(d: dict) -> dict:
    q = d["quantization_parameters"]
    return {"shape": [int(s) for s in d["shape"]], "dtype": np.dtype(d["dtype"]).name,
            "scale": float(q["scales"][0]) if len(q["scales"]) else 0.0,
            "zero_point": int(q["zero_points"][0]) if len(q["zero_points"]) else 0}


def quantize_input(x: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """float samples -> int8 as TFLite's reference AffineQuantize: x / scale in float32, rounded half away from
    zero (TfLiteRound), plus the zero point, clamped to [-128, 127]."""
    v = x.astype(np.float32) / np.float32(scale)
    whole = np.trunc(v)
    q = np.where(np.abs(v - whole) >= 0.5, whole + np.sign(v), whole)
    return np.clip(q.astype(np.int64) + zero_point, -128, 127).astype(np.int8)


def run(model: bytes, inputs: np.ndarray) -> np.ndarray:
    """Invoke TFLM once per sample: inputs (n, *input_shape) int8 -> outputs (n, *output_shape[1:]) int8.
    These are the golden outputs every engine of ours must equal, bit for bit."""
    it = interpreter(model, _generous(model))
    shape = tuple(it.get_input_details(0)["shape"])  # (1, *input_shape)
    outputs = []
    for sample in np.asarray(inputs, dtype=np.int8):
        it.set_input(sample.reshape(shape), 0)
        it.invoke()
        outputs.append(np.array(it.get_output(0))[0])
    return np.stack(outputs)


def evaluate(model: bytes, x: np.ndarray, y: np.ndarray) -> dict:
    """Quantize the float test samples with the (full-int8) model's input parameters, run TFLM on each, score the
    argmax. Returns accuracy, the predictions, the model's io_details and the golden arrays {inputs (n, ...) int8,
    outputs (n, K) int8, labels (n,) int64}."""
    info = io_details(model)
    inputs = quantize_input(x, info["input"]["scale"], info["input"]["zero_point"])
    outputs = run(model, inputs)
    predicted = np.argmax(outputs.reshape(len(y), -1), axis=-1)
    return {"accuracy": float(np.mean(predicted == y)), "predicted": predicted, "io": info, "inputs": inputs,
            "outputs": outputs, "labels": y.astype(np.int64)}


def arena_works(model_path: Path, arena_size: int) -> tuple[bool, str]:
    """Does TFLM allocate and invoke the model with `arena_size` bytes? (ok, what the runtime printed)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO),
                                                        os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-m", "pipeline.int8.tflm", str(model_path), str(arena_size)],
                          capture_output=True, text=True, env=env, timeout=120)
    return done.returncode == 0, done.stdout + done.stderr


def minimum_arena(model: bytes) -> dict:
    """The smallest arena TFLM runs the model with, found by bisection, and the recording allocator's report
    ({"minimum", "total", "head", "tail"} in bytes). The minimum sits a little above the reported total:
    preparing the kernels needs temporary space that is freed again."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.tflite"
        path.write_bytes(model)
        high = _generous(model)
        ok, report = arena_works(path, high)
        while not ok and high < ARENA_LIMIT:
            high *= 4
            ok, report = arena_works(path, high)
        if not ok:
            raise PipelineError(f"TFLite Micro cannot run the model even with a {high:,}-byte arena: "
                                f"{_last_line(report)}", "Check the model's ops are supported by TFLite Micro.")
        recorded = {k: int(v) for k, v in ALLOCATION_LINE.findall(report)}
        low = recorded.get("total", 1)  # the allocator's persistent total: nothing smaller can work
        guess = max(2 * low, 1024)  # usually works: saves most of the bisection steps
        if guess < high:
            high, low = (guess, low) if arena_works(path, guess)[0] else (high, guess + 1)
        while low < high:  # invariant: high works, everything below low fails
            middle = (low + high) // 2
            if arena_works(path, middle)[0]:
                high = middle
            else:
                low = middle + 1
    return {"minimum": high, **recorded}


@functools.lru_cache(maxsize=16)
def minimum_arena_bytes(model: bytes) -> int:
    """minimum_arena(model)["minimum"], remembered for the last models asked about (tests and benches ask twice)."""
    return minimum_arena(model)["minimum"]


def _generous(model: bytes) -> int:
    return 10 * len(model) + (4 << 20)  # more than any microcontroller has; minimum_arena goes higher if needed


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else "no message"


def _probe(model_path: str, arena_size: str) -> int:
    model = Path(model_path).read_bytes()
    try:
        it = interpreter(model, int(arena_size))
        details = it.get_input_details(0)
        it.set_input(np.zeros(details["shape"], dtype=details["dtype"]), 0)
        it.invoke()
    except (RuntimeError, PipelineError) as e:
        print(e, file=sys.stderr)
        return 1
    sys.stderr.flush()
    it.print_allocations()  # writes to the C-level stderr, which the parent captures
    return 0


if __name__ == "__main__":
    sys.exit(_probe(*sys.argv[1:3]))
