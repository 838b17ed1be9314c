"""The golden data a device is checked against: `golden.npz`, written by the quantize stage.

It holds the int8 test inputs, the TFLite Micro runtime's outputs for them (the oracle: a device output must be
bit-identical) and the labels; for data made by the audio front end also the raw test clips and their features
(the device then gets the clips and must compute the same features). Older and hand-made files name the arrays
differently: the first name found wins.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline.artifacts import GOLDEN
from pipeline.errors import PipelineError

GOLDEN_KEYS = {  # accepted names of each golden array (first found wins)
    "inputs": ("inputs", "x", "x_int8"),  # (N, *input dims without batch) int8
    "outputs": ("outputs", "y_int8", "golden"),  # (N, *output dims without batch) int8 (or float32 after a final
    # DEQUANTIZE), from the TFLM runtime
    "labels": ("labels", "y", "y_test"),  # (N,) int class labels
}
AUDIO_KEYS = ("pcm", "features")  # (N, 16000) int16 raw test clips, (N, 49, 40) int8 host front-end features
WRITTEN_BY = "tinykd quantize"  # the command whose stage writes golden.npz: the hints name it


def golden_file(run_dir: str | Path) -> Path:
    """The run's golden.npz; PipelineError naming the command that writes it when there is none."""
    path = Path(run_dir) / GOLDEN
    if not path.is_file():
        raise PipelineError(f"No golden outputs at '{path}'.", f"Run `{WRITTEN_BY}` first (it writes {GOLDEN}).")
    return path


def load_golden(run_dir: str | Path, limit: int = 0) -> dict[str, np.ndarray]:
    """{"inputs", "outputs", "labels"} (and "pcm", "features" when present) of the run's golden.npz, the first
    `limit` samples (0 = all)."""
    path = golden_file(run_dir)
    with np.load(path) as data:
        golden = {}
        for name, keys in GOLDEN_KEYS.items():
            key = next((k for k in keys if k in data.files), None)
            if key is None:
                raise PipelineError(f"'{path}' has no '{name}' array (looked for {', '.join(keys)}; "
                                    f"it has {', '.join(data.files)}).", f"Rerun `{WRITTEN_BY}`.")
            golden[name] = data[key][:limit] if limit else data[key]
        for name in AUDIO_KEYS:  # raw clips and their front-end features, when the data came from the front end
            if name in data.files:
                golden[name] = data[name][:limit] if limit else data[name]
    if golden["inputs"].dtype != np.int8 or golden["outputs"].dtype not in (np.int8, np.float32):
        raise PipelineError(f"'{path}' must hold int8 inputs and int8 (or float32) outputs, not "
                            f"{golden['inputs'].dtype} and {golden['outputs'].dtype}.", f"Rerun `{WRITTEN_BY}`.")
    return golden
