"""The TFLite Micro runtime (the tflite-micro wheel) as the oracle: golden int8 outputs and the smallest arena
with which TFLM runs a model. (LiteRT's interpreter is not bit-identical to TFLM, so it is never the oracle.)"""
from __future__ import annotations

import faulthandler
import functools
import os

import numpy as np

# Arena sizes the bisection tries: from 1 KB up to this many bytes.
MAX_ARENA = 64 << 20


def _interpreter(model: bytes, arena_size: int):
    from tflite_micro.python.tflite_micro import runtime
    return runtime.Interpreter.from_bytes(model, arena_size=arena_size)


def tflm_outputs(model: bytes, inputs: np.ndarray, arena_size: int | None = None) -> np.ndarray:
    """Runs each input (batch, *input_shape) int8 through TFLM; returns (batch, *output_shape) int8."""
    interpreter = _interpreter(model, arena_size or tflm_arena_bytes(model) + 1024)
    shape = tuple(interpreter.get_input_details(0)["shape"])
    outputs = []
    for x in np.asarray(inputs, dtype=np.int8):
        interpreter.set_input(x.reshape(shape), 0)
        interpreter.invoke()
        outputs.append(np.array(interpreter.get_output(0)))
    return np.stack(outputs).reshape(len(outputs), *outputs[0].shape[1:])


def _runs(model: bytes, arena_size: int) -> bool:
    """Whether TFLM allocates and invokes the model in arena_size bytes. Probed in a forked child: with some
    too-small arenas the runtime crashes (a size underflow in its tail allocator) instead of failing."""
    pid = os.fork()
    if pid == 0:  # child: silence TFLM's allocation messages, report through the exit status
        status = 1
        try:
            faulthandler.disable()
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            interpreter = _interpreter(model, arena_size)
            shape = tuple(interpreter.get_input_details(0)["shape"])
            interpreter.set_input(np.zeros(shape, dtype=np.int8), 0)
            interpreter.invoke()
            status = 0
        finally:
            os._exit(status)
    _, status = os.waitpid(pid, 0)
    return os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


@functools.lru_cache(maxsize=16)
def tflm_arena_bytes(model: bytes) -> int:
    """The smallest arena (bytes) with which TFLM allocates and invokes the model, found by bisection (a few
    dozen forked runs: remembered for the last models asked about)."""
    low, high = 0, 1024
    while not _runs(model, high):
        low, high = high, high * 2
        if high > MAX_ARENA:
            raise RuntimeError(f"TFLM does not run the model even with a {MAX_ARENA}-byte arena")
    while high - low > 16:
        middle = (low + high) // 2
        low, high = (low, middle) if _runs(model, middle) else (middle, high)
    return high
