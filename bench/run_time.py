"""Wall and CPU time of `tinykd run` with default settings (digits -> ... -> QEMU validation -> report), from an
empty run folder, and its final figures. Writes bench/results/run_time.json (run_time_<dataset>.json for another
data set), with the longest silence between two output lines (stdout is a pipe here, as in CI logs).

    python bench/run_time.py
    python bench/run_time.py --keep models/bench-run   # also keep the run folder (make bench's device bench uses it)
    python bench/run_time.py --dataset fashion_mnist   # the 60k-image benchmark (issue: <= 15 min on 2 cores)

CPU time counts tinykd and every child (arena bisection, compilers, QEMU). The machine may be shared, so the
1-minute load average is recorded beside the wall time: wall time grows with load, CPU time hardly does.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "run_time.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="copy the finished run folder here (replacing an earlier copy)")
    parser.add_argument("--dataset", default="digits", help="data set of the run (default: digits)")
    args = parser.parse_args()
    results = RESULTS if args.dataset == "digits" else RESULTS.with_name(f"run_time_{args.dataset}.json")
    with tempfile.TemporaryDirectory() as root:
        config = Path(root) / "default.toml"
        config.write_text(f'[run]\nroot = "{root}"\n')
        env = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "2",
               "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
        started = time.perf_counter()
        command = [sys.executable, "-m", "pipeline.cli.main", "run", "--config", str(config), "--dataset", args.dataset]
        with subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) as child:
            lines = []  # (seconds since start, line): the log a user would watch
            for line in child.stdout:
                lines.append((time.perf_counter() - started, line.rstrip("\n")))
                print(f"{lines[-1][0]:7.1f}  {lines[-1][1]}", flush=True)
            stderr = child.stderr.read()
        wall = time.perf_counter() - started
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        if child.returncode != 0:
            raise SystemExit(f"tinykd run failed:\n{stderr[-2000:]}")
        stdout = "\n".join(line for _, line in lines)
        times = [0.0] + [t for t, _ in lines]
        manifest = json.loads((Path(root) / args.dataset / "run.json").read_text())
        if args.keep:
            shutil.rmtree(args.keep, ignore_errors=True)
            shutil.copytree(Path(root) / args.dataset, args.keep)
    stages = manifest["stages"]
    result = {
        "command": f"tinykd run --dataset {args.dataset} (defaults, empty run folder)",
        "bench_command": " ".join(["python bench/run_time.py", *sys.argv[1:]]),
        "wall_seconds": round(wall, 1), "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1),
        "stage_seconds": {name: entry["seconds"] for name, entry in stages.items()},
        "load_average_1min": round(os.getloadavg()[0], 2), "cores": os.cpu_count(),
        "accuracy": {name: stages[stage]["metrics"].get(key) for name, stage, key in (
            ("teacher", "teacher", "accuracy"), ("baseline", "baseline", "accuracy"),
            ("student", "distill", "accuracy"), ("int8_host", "quantize", "int8_accuracy"))},
        "test_samples": manifest["data"]["sizes"]["test"],
        "validated_samples": stages["validate"]["metrics"]["samples"],
        "device_accuracy": stages["validate"]["metrics"]["accuracy"],
        "int8_host_accuracy": stages["quantize"]["metrics"]["int8_accuracy"],
        "mismatched_outputs": stages["validate"]["metrics"]["mismatched_outputs"],
        "val_accuracy": {name: stages[name]["metrics"].get("best_val_accuracy") for name in ("baseline", "distill")},
        "shipped": stages["quantize"]["metrics"].get("shipped", "distilled"),
        "settings": {"teacher": manifest["config"]["teacher"],
                     "distill_epochs": manifest["config"]["distill"]["epochs"],
                     "distill": {k: manifest["config"]["distill"][k] for k in ("method", "temperature", "alpha")},
                     "qat_epochs": manifest["config"]["quantize"]["qat_epochs"]},
        "longest_silence_seconds": round(max(b - a for a, b in zip(times, times[1:])), 1),
        "stderr_lines": len(stderr.splitlines()),
        "final_table": stdout.split("\n\n")[-1].strip(),
    }
    results.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
