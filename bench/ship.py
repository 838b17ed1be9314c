"""Which student should ship? The distilled and the baseline student of `tinykd distill` over several seeds on small
real data sets, and how each candidate rule for the choice (pipeline/kd/ship.py) would have fared on the test set.

The choice is made on the validation split, and on small sets that split is a handful of samples (BasicMotions: 4,
JapaneseVowels: 27, digits: 144), so the two students often tie on validation accuracy. Per seed this records both
students' best-epoch validation accuracy and hard-label cross-entropy (run.json's history) and their test accuracy;
per rule, the mean test accuracy of the student it ships and how often it shipped the one that was worse on test.

    python bench/ship.py                                  # 3 sets x 6 seeds, ~40 min on 2 cores
    python bench/ship.py --sets BasicMotions --seeds 0 1  # a quick look
Writes bench/results/ship.json (keeping its "before" entry: the same runs at commit 3ab156c, before the best epoch
and the ship rule ranked ties by cross-entropy).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import sensor_sets  # noqa: E402
from pipeline.kd.selection import rank  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "ship.json"
SETS = {"BasicMotions": ("--layout", "series"), "JapaneseVowels": ("--layout", "series"), "digits": ()}


def at_best(metrics: dict) -> dict:
    """A student stage's validation accuracy and cross-entropy at its best epoch, and its test accuracy."""
    epoch = metrics["history"][metrics["best_epoch"] - 1]
    return {"val_accuracy": epoch["val_accuracy"], "val_loss": epoch["val_loss"], "test": metrics["accuracy"]}


def distill(name: str, seed: int, root: Path) -> dict:
    """`tinykd distill` on set `name` with `seed` in the folder `root`; both students' figures."""
    dataset = "digits" if name == "digits" else str(root / f"{name}.npz")
    if name != "digits" and not Path(dataset).exists():
        sensor_sets.write_npz(name, Path(dataset))
    (root / "cfg.toml").write_text(f'[run]\nroot = "{root}"\n')
    run = f"{name}-s{seed}"
    done = subprocess.run([sys.executable, "-m", "pipeline.cli.main", "distill", "--config", str(root / "cfg.toml"),
                           "--dataset", dataset, *SETS[name], "--seed", str(seed), "--run", run],
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"tinykd distill failed on {run}:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    manifest = json.loads((root / run / "run.json").read_text())
    stages = manifest["stages"]
    return {"set": name, "seed": seed, "val_samples": manifest["data"]["sizes"]["val"],
            "teacher_test": stages["teacher"]["metrics"]["accuracy"],
            "baseline": at_best(stages["baseline"]["metrics"]), "distilled": at_best(stages["distill"]["metrics"])}


# Candidate rules: the student each ships, from the validation figures alone.
RULES = {
    "accuracy, ties to distilled": lambda d, b: "distilled" if d["val_accuracy"] >= b["val_accuracy"] else "baseline",
    "accuracy, ties to baseline": lambda d, b: "distilled" if d["val_accuracy"] > b["val_accuracy"] else "baseline",
    "accuracy, ties by cross-entropy": lambda d, b: (  # pipeline/kd/ship.py's
        "distilled" if rank(d["val_accuracy"], d["val_loss"]) >= rank(b["val_accuracy"], b["val_loss"])
        else "baseline"),
    "cross-entropy": lambda d, b: "distilled" if d["val_loss"] <= b["val_loss"] else "baseline",
}


def score(rows: list[dict]) -> dict:
    """Per rule: the mean test accuracy of what it ships, and how often it ships the student worse on test."""
    out = {}
    for rule, pick in RULES.items():
        shipped = [row[pick(row["distilled"], row["baseline"])]["test"] for row in rows]
        worse = sum(row[pick(row["distilled"], row["baseline"])]["test"] <
                    max(row["distilled"]["test"], row["baseline"]["test"]) for row in rows)
        out[rule] = {"mean_test": round(statistics.mean(shipped), 4), "shipped_the_worse": worse}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=list(SETS))
    parser.add_argument("--seeds", nargs="+", type=int, default=list(range(6)))
    parser.add_argument("--runs-root", type=Path, help="keep the run folders here (default: a temporary folder)")
    args = parser.parse_args()
    started = time.time()
    results = {"command": " ".join(["python bench/ship.py", *sys.argv[1:]]), "cores": os.cpu_count(), "sets": {}}
    with tempfile.TemporaryDirectory() as folder:
        root = args.runs_root or Path(folder)
        root.mkdir(parents=True, exist_ok=True)
        for name in args.sets:
            rows = [distill(name, seed, root) for seed in args.seeds]
            results["sets"][name] = {"rows": rows, "rules": score(rows)}
            print(json.dumps({name: results["sets"][name]["rules"]}, indent=1), flush=True)
    every = [row for s in results["sets"].values() for row in s["rows"]]
    results["all_sets"] = score(every)
    results["minutes"] = round((time.time() - started) / 60, 1)
    before = json.loads(RESULTS.read_text()).get("before") if RESULTS.exists() else None
    if before:  # the figures before selection.rank
        results["before"] = before
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
