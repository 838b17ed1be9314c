"""Keyword spotting on synthetic speech, end to end: `tinykd data kws` (10,800 espeak-ng clips), `tinykd data
features` (the C front end), `tinykd run` (teacher, DS-CNN-style student from scratch and with KD, QAT int8,
AOT firmware validated in QEMU on every test clip). Accuracy is on the 14 held-out voice variants, also per voice
variant, accent, SNR and class (from the int8 outputs on TFLite Micro: golden.npz). Then raw audio to class on the
device: --device-clips test clips (evenly spread) as int16 audio through a QEMU firmware with the front end, the
feature -> input table and the run's AOT model (bench/frontend.py), compared with the host bit for bit, with the
instructions of each stage. Writes bench/results/kws.json.

    PYTHONPATH=. python bench/kws.py                       # ~30 min on 2 loaded cores; keeps models/kws-bench
    PYTHONPATH=. python bench/kws.py --data models/kws800.npz   # a raw set made before
    PYTHONPATH=. python bench/kws.py --data models/kws800.npz --features models/kws800_features.npz \
        --run-dir models/kws800      # only the figures of a finished `tinykd run --config bench/kws.toml`
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from sensor import figures, run  # noqa: E402

CONFIG = ROOT / "bench" / "kws.toml"
RESULTS = ROOT / "bench" / "results" / "kws.json"
FRONTEND = ROOT / "bench" / "results" / "frontend.json"


def tinykd(*args: str, cwd: Path) -> None:
    subprocess.run([sys.executable, "-m", "pipeline.cli.main", *args], cwd=cwd, check=True,
                   env={**os.environ, "PYTHONPATH": str(ROOT)})


def accuracy_by(keys: np.ndarray, right: np.ndarray) -> dict[str, dict]:
    groups = defaultdict(list)
    for key, ok in zip(keys, right):
        groups[str(key)].append(bool(ok))
    return {k: {"accuracy": round(float(np.mean(v)), 4), "clips": len(v)} for k, v in sorted(groups.items())}


def breakdown(features: Path, golden: Path) -> dict:
    """int8 accuracy on TFLite Micro per held-out voice variant, accent, SNR and class."""
    with np.load(features) as f, np.load(golden) as g:
        names, voices, snr = list(f["class_names"]), f["voice_test"], f["snr_test"]
        right = np.argmax(g["outputs"], axis=1) == g["labels"]
        labels = g["labels"]
    spoken = voices != ""
    variant = np.array([v.split("+")[1] for v in voices[spoken]])
    accent = np.array([v.split("+")[0] for v in voices[spoken]])
    snr_name = np.array(["clean" if np.isnan(s) else f"{s:g} dB" for s in snr])
    return {"per_voice_variant": accuracy_by(variant, right[spoken]), "per_accent": accuracy_by(accent, right[spoken]),
            "per_snr": accuracy_by(snr_name[spoken], right[spoken]),
            "per_class": accuracy_by(np.array(names)[labels], right)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="A raw set from `tinykd data kws` (default: make one under --root).")
    parser.add_argument("--root", default="models/kws-bench", help="Working folder (kept: reruns reuse it).")
    parser.add_argument("--features", help="With --run-dir: the features .npz that run trained on.")
    parser.add_argument("--run-dir", help="Summarize this finished run instead of running `tinykd run`.")
    parser.add_argument("--device-clips", type=int, default=200, help="Raw test clips through the QEMU firmware.")
    args = parser.parse_args()
    if args.run_dir:
        summarize(Path(args.data), Path(args.features), Path(args.run_dir), {"mode": "qat"}, args.device_clips)
        return
    root = Path(args.root).resolve()
    root.mkdir(parents=True, exist_ok=True)
    raw = Path(args.data).resolve() if args.data else root / "kws.npz"
    if not raw.is_file():
        tinykd("data", "kws", "--out", str(raw), "--train-per-class", "800", "--test-per-class", "100", cwd=root)
    features = root / "kws_features.npz"
    if not features.is_file() or features.stat().st_mtime < raw.stat().st_mtime:
        tinykd("data", "features", str(raw), "--out", str(features), cwd=root)
    result = run(features, "qat", root, extra=("--config", str(CONFIG)))
    summarize(raw, features, root / "models" / features.stem, result, args.device_clips)


def raw_audio_on_device(raw: Path, run_dir: Path, clips: int) -> dict:
    """`clips` raw test clips, spread over the classes, to class in QEMU against host features -> table -> TFLM."""
    import tempfile

    from frontend import TICKS_PER_INSTRUCTION, build_firmware, run_in_qemu
    from pipeline.artifacts import MODEL_INT8
    from pipeline.audio.frontend import features
    from pipeline.device.audio_input import apply, input_table
    from pipeline.compiler import compile_model
    from pipeline.int8.tflm import run as tflm_run
    model = (run_dir / MODEL_INT8).read_bytes()
    normalization = json.loads((run_dir / "run.json").read_text())["data"]["normalization"]
    table = input_table(normalization, compile_model(model).input_quant)
    with np.load(raw) as f:  # the test split is ordered by class: take clips evenly across it
        pick = np.unique(np.linspace(0, len(f["y_test"]) - 1, clips).astype(int))
        pcm, labels, classes = f["x_test"][pick], f["y_test"][pick], len(f["class_names"])
    with tempfile.TemporaryDirectory() as tmp:
        device = run_in_qemu(build_firmware(Path(tmp), run_dir / "aot", table), pcm, Path(tmp), timeout=1800,
                             output_bytes=classes)
    host_features = features(pcm)
    host_outputs = tflm_run(model, apply(table, host_features)[..., None])
    return {"clips": int(len(pcm)),
            "features_differing": int(np.sum(np.any(device["features"] != host_features, axis=(1, 2)))),
            "outputs_differing": int(np.sum(np.any(device["outputs"] != host_outputs, axis=1))),
            "accuracy": round(float(np.mean(np.argmax(device["outputs"], axis=1) == labels)), 4),
            "instructions_frontend_median": int(np.median(device["ticks"]) / TICKS_PER_INSTRUCTION),
            "instructions_model_median": int(np.median(device["model_ticks"]) / TICKS_PER_INSTRUCTION)}


def summarize(raw: Path, features: Path, run_dir: Path, result: dict, device_clips: int = 200) -> None:
    result = {**result, **figures(run_dir)}
    manifest = json.loads((run_dir / "run.json").read_text())
    with np.load(raw) as f:
        data = json.loads(str(f["manifest"]))
    frontend = json.loads(FRONTEND.read_text())["instructions_per_clip"]["median"] if FRONTEND.is_file() else None
    result.update(distilled_float=manifest["stages"]["distill"]["metrics"]["accuracy"],
                  kd_gain_pp=round(100 * (manifest["stages"]["distill"]["metrics"]["accuracy"] - result["baseline"]),
                                   2),
                  teacher_params=manifest["stages"]["teacher"]["metrics"].get("params"),
                  frontend_instructions_per_clip=frontend,
                  data_set={"clips": data["counts"]["train"]["clips"] + data["counts"]["test"]["clips"],
                            "synthesis_seconds": data["synthesis_seconds"], "audio_bytes": data["audio_bytes"],
                            "test_voices": len(data["voices"]["test"]), "synthetic_speech": data["synthetic_speech"]},
                  raw_audio_on_device=raw_audio_on_device(raw, run_dir, device_clips),
                  **breakdown(features, run_dir / "golden.npz"))
    result["load_average_1min"] = round(os.getloadavg()[0], 2)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if not k.startswith("per_")}, indent=1))


if __name__ == "__main__":
    main()
