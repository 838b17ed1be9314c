"""Wall and CPU time of `tinykd run` on the default (digits -> ... -> QEMU validation -> report), from an empty
run folder, and its final figures. Writes bench/results/run_time.json.

    python bench/run_time.py
    python bench/run_time.py --keep models/bench-run   # also keep the run folder (make bench's device bench uses it)

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
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as root:
        config = Path(root) / "default.toml"
        config.write_text(f'[run]\nroot = "{root}"\n')
        env = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "2",
               "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "pipeline.cli", "run", "--config", str(config)], env=env,
                              cwd=ROOT, capture_output=True, text=True)
        wall = time.perf_counter() - started
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        if done.returncode != 0:
            raise SystemExit(f"tinykd run failed:\n{done.stderr[-2000:]}")
        manifest = json.loads((Path(root) / "digits" / "run.json").read_text())
        if args.keep:
            shutil.rmtree(args.keep, ignore_errors=True)
            shutil.copytree(Path(root) / "digits", args.keep)
    stages = manifest["stages"]
    result = {
        "command": "tinykd run (defaults, empty run folder)",
        "wall_seconds": round(wall, 1), "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1),
        "stage_seconds": {name: entry["seconds"] for name, entry in stages.items()},
        "load_average_1min": round(os.getloadavg()[0], 2), "cores": os.cpu_count(),
        "device_accuracy": stages["validate"]["metrics"]["accuracy"],
        "int8_host_accuracy": stages["quantize"]["metrics"]["int8_accuracy"],
        "mismatched_outputs": stages["validate"]["metrics"]["mismatched_outputs"],
        "final_table": done.stdout.split("\n\n")[-1].strip(),
    }
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
