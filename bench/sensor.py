"""Real multichannel sensor data through `tinykd run` with default settings, QAT and PTQ: float vs int8 (TFLM on
the host) vs the emulated Cortex-M4, and how many device outputs equal the host's. Writes
bench/results/sensor.json.

    python bench/sensor.py                      # BasicMotions and JapaneseVowels (sktime's wheel), ~3 min
    python bench/sensor.py --sets BasicMotions

The data come from the .ts files sktime ships (tests/sensor_sets.py writes them as tinykd .npz files).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import sensor_sets  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "sensor.json"


def run(npz: Path, mode: str, root: Path, extra: tuple[str, ...] = ("--layout", "series")) -> dict:
    """`tinykd run` on `npz` in the folder `root` (run folder models/<npz stem>), `extra` options added."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pipeline.cli.main", "run", "--dataset", str(npz), *extra,
                           "--mode", mode, "--run", npz.stem], cwd=root, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"tinykd run failed on {npz.stem} ({mode}):\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return {"mode": mode, "seconds": round(time.perf_counter() - started, 1), **figures(root / "models" / npz.stem)}


def figures(run_dir: Path) -> dict:
    """The headline figures of a finished run folder, from its run.json."""
    manifest = json.loads((run_dir / "run.json").read_text())
    m = {name: entry["metrics"] for name, entry in manifest["stages"].items()}
    q, v = m["quantize"], m["validate"]
    return {"teacher": m["teacher"]["accuracy"], "baseline": m["baseline"]["accuracy"],
            "student_float": m["distill"]["accuracy"], "shipped": q.get("shipped", "distilled"),
            "shipped_float": q["float_accuracy"], "int8_host": q["int8_accuracy"], "int8_drop_pp": q["drop_pp"],
            "device": v["accuracy"], "device_samples": v["samples"], "mismatched_outputs": v["mismatched_outputs"],
            "params": m["distill"]["params"], "macs": m["distill"]["macs"],
            "flash_bytes": m["build"]["flash_bytes"], "ram_bytes": m["build"]["ram_bytes"],
            "instructions": v.get("instructions_median"),
            "settings": {"teacher_width": manifest["config"]["teacher"]["width"],
                         "teacher_epochs": manifest["config"]["teacher"]["epochs"],
                         "student_epochs": manifest["config"]["distill"]["epochs"],
                         "qat_epochs": manifest["config"]["quantize"]["qat_epochs"]},
            "data": manifest["data"]["sizes"], "input_shape": manifest["data"]["input_shape"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", default=list(sensor_sets.SETS), choices=sensor_sets.SETS)
    args = parser.parse_args()
    results = {"command": " ".join(["python bench/sensor.py", *sys.argv[1:]]), "cores": os.cpu_count(), "sets": {}}
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        for name in args.sets:
            npz = sensor_sets.write_npz(name, root / f"{name}.npz")
            results["sets"][name] = [run(npz, mode, root) for mode in ("qat", "ptq")]  # ptq reuses the students
            print(json.dumps({name: results["sets"][name]}, indent=1), flush=True)
    results["load_average_1min"] = round(os.getloadavg()[0], 2)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
