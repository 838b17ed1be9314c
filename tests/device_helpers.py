"""Shared by the device tests: the fixture model (a test double of the AOT model.h), its numpy oracle, run
folders with golden data made from that oracle, and the validate stage on such a folder."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from pipeline.artifacts import GOLDEN, MODEL_INT8
from pipeline.config import load_config

FIXTURE_MODEL = Path(__file__).parent / "fixtures" / "fixture_model"  # model.h + model.c (test double)
FIXTURE_TFLITE = FIXTURE_MODEL / "fixture_model.tflite"  # placeholder whose SHA-256 model.h carries


def fixture_reference(x: np.ndarray) -> np.ndarray:
    """The fixture's dense layer, computed independently of its C code. x: (N, 8, 8, 1) int8 -> (N, 10) int8."""
    w = np.array([[((7 * i + 13 * j) % 15) - 7 for i in range(64)] for j in range(10)], np.int64)  # (10, 64)
    bias = np.array([((37 * j) % 200) - 100 for j in range(10)], np.int64)  # (10,)
    acc = (x.reshape(len(x), 64).astype(np.int64) + 128) @ w.T + bias  # (N, 10), input zero point -128
    return np.clip(((acc * 93 + 2048) >> 12) + 3, -128, 127).astype(np.int8)  # floor shift, output zero point 3


def make_run(path: Path, samples: int = 200, seed: int = 0, wrong_labels: int = 7) -> dict:
    """A run folder like the export stage's: student_int8.tflite + golden.npz (inputs, outputs, labels). The first
    `wrong_labels` labels are changed so the expected accuracy is not 100%."""
    path.mkdir(parents=True, exist_ok=True)
    shutil.copy(FIXTURE_TFLITE, path / MODEL_INT8)
    rng = np.random.default_rng(seed)
    x = rng.integers(-128, 128, (samples, 8, 8, 1), dtype=np.int8)  # (N, 8, 8, 1) int8
    y = fixture_reference(x)  # (N, 10) int8
    labels = np.argmax(y, axis=1)
    labels[:wrong_labels] = (labels[:wrong_labels] + 1) % 10
    np.savez(path / GOLDEN, inputs=x, outputs=y, labels=labels)
    return {"inputs": x, "outputs": y, "labels": labels, "accuracy": float(np.mean(np.argmax(y, 1) == labels))}


def validate_in(emulator: str, run: Path, build_dir: Path, model_dir: Path | None = None, board: str | None = None,
                limit: int = 0, **device) -> dict:
    """`tinykd validate --emulator EMULATOR --run RUN`: the validate stage on `run` (every sample unless `limit`),
    its firmware built from `model_dir` (default: RUN/aot) into `build_dir` on `board`'s budget; returns the
    device's report."""
    from pipeline.device.stages import validate_stage
    cfg = load_config(None, {"run": {"root": str(Path(run).parent), "name": Path(run).name},
                             "export": {"board": board}, "device": {"limit": limit, **device}})
    return validate_stage(cfg, emulator=emulator, model_dir=model_dir, build_dir=build_dir, progress=False,
                          log=lambda message: None)
