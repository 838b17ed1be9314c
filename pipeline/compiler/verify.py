"""`verify`: the compiled model, built for the host, against the TFLite Micro runtime, element by element."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from pipeline.compiler.codegen import compile_model
from pipeline.compiler.hostbuild import HostModel
from pipeline.int8 import tflm
from pipeline.errors import PipelineError
from pipeline.int8.tflite_file import model_bytes


def verify(model: str | Path | bytes, *, samples: int = 200, run_dir: str | Path | None = None, seed: int = 0,
           log=lambda message: None) -> dict:
    """Runs `samples` random int8 inputs (plus the run folder's test set, when given) through both engines.
    Returns counts and memory figures; `mismatches` is the number of output elements that differ."""
    if samples < 0:
        raise PipelineError(f"--samples {samples} is negative.", "Use --samples 200.")
    data, name = model_bytes(model)
    started = time.time()
    compiled = compile_model(model)  # by path when given one: its errors name the file
    rng = np.random.default_rng(seed)
    inputs = [rng.integers(-128, 128, (samples, *compiled.input_shape[1:]), dtype=np.int8)]
    if run_dir is not None:
        test = _test_set(Path(run_dir), compiled)
        log(f"run folder {run_dir}: {len(test)} test samples")
        inputs.append(test)
    x = np.concatenate(inputs)
    if len(x) == 0:
        raise PipelineError("Nothing to verify: --samples 0 and no run folder.", "Use --samples 200.")
    tflm_arena = tflm.minimum_arena_bytes(data)
    with HostModel(compiled) as host:
        ours = host.run(x)
    golden = tflm.run(data, x)
    differ = ours != golden
    return {
        "model": name, "sha256": compiled.sha256, "inputs": int(len(x)), "elements": int(golden.size),
        "mismatches": int(differ.sum()), "mismatching_inputs": int(differ.reshape(len(x), -1).any(axis=1).sum()),
        "max_abs_diff": int(np.abs(ours.astype(np.int16) - golden).max()) if golden.size else 0,
        "aot_arena_bytes": compiled.arena_bytes, "tflm_arena_bytes": tflm_arena,
        "arena_ratio": round(compiled.arena_bytes / tflm_arena, 3), "weight_bytes": compiled.weight_bytes,
        "seconds": round(time.time() - started, 2),
    }


def _test_set(run_dir: Path, compiled) -> np.ndarray:
    """The run's test split, quantized with the model's input scale and zero point: (n, *input_shape) int8."""
    from pipeline.config import DataConfig
    from pipeline.kd.data import load_dataset
    from pipeline.runs import Run

    run = Run(run_dir)
    config = run.manifest.get("config")
    if not config or "data" not in config:
        raise PipelineError(f"Run folder {str(run_dir)!r} has no recorded data config (run.json).",
                            "Run `tinykd distill` first, or leave out --run.")
    dataset = load_dataset(DataConfig(**config["data"]), config.get("run", {}).get("seed", 0))
    if tuple(dataset.input_shape) != tuple(compiled.input_shape[1:]):
        raise PipelineError(f"Run folder {str(run_dir)!r} holds samples of shape {tuple(dataset.input_shape)}; "
                            f"the model takes {tuple(compiled.input_shape[1:])}.",
                            "Give the run folder the model was made from, or leave out --run.")
    x = dataset.x_test.reshape(len(dataset.x_test), *compiled.input_shape[1:])  # (n, *input_shape) float32
    return tflm.quantize_input(x, *compiled.input_quant)  # as the quantize stage makes golden.npz
