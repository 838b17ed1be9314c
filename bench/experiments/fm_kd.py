"""Fashion-MNIST distillation experiments behind the teacher and distillation defaults (README "Fashion-MNIST"): an
experiment record, not part of `make bench`.

    python bench/experiments/fm_kd.py --root /tmp/fmruns --limit 3000 --folds 2 1 --alpha 0.9 0.5 -T 4 2

Every combination of the grid runs `pipeline.kd.distill.distill` (the code `tinykd distill` calls) on the default
settings with those overrides, in grid order; the variants that share a student schedule share one run folder, so
a teacher trains once per teacher setting, the baseline once per schedule, and only the distilled student retrains.
Appends one JSON line per variant to --out: its settings, the validation (best epoch) and test accuracies of
teacher, baseline and distilled student, seconds.
Choose by the validation columns; the test columns are what gets reported.

    python bench/experiments/fm_kd.py --record bench/results/fm_kd_defaults.json --out rows.jsonl

writes the JSON record of README's choice from the rows: every row with its command, and the full-data variant with
the best validation accuracy of the distilled student.
"""
import argparse
import itertools
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from pipeline.config import load_config  # noqa: E402
from pipeline.kd.distill import distill  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", required=True, help="Where the run folders go (outside the repository).")
    parser.add_argument("--dataset", default="fashion_mnist")
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--folds", type=int, nargs="+", default=[2])
    parser.add_argument("--teacher-epochs", type=int, nargs="+", default=[0], help="0 = auto")
    parser.add_argument("--epochs", type=int, nargs="+", default=[0], help="student epochs; 0 = auto")
    parser.add_argument("--alpha", type=float, nargs="+", default=[0.9])
    parser.add_argument("-T", "--temperature", type=float, nargs="+", default=[4.0])
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "fm_kd_experiments.jsonl"))
    parser.add_argument("--record", help="Write the JSON record of the rows in --out here instead of training.")
    parser.add_argument("--note", action="append", default=[], help="--record: a remark to keep with the rows.")
    args = parser.parse_args()
    if args.record:
        return record(Path(args.out), Path(args.record), args.note)

    grid = itertools.product(args.folds, args.teacher_epochs, args.epochs, args.alpha, args.temperature)
    for folds, teacher_epochs, epochs, alpha, temperature in grid:
        # one folder per schedule: a new teacher replaces the last one there (its rows are written already) and
        # the baseline, which does not depend on the teacher, trains once
        name = f"{Path(args.dataset).stem}_l{args.limit}_s{args.seed}_e{epochs}"
        overrides = {"run": {"name": name, "root": args.root, "seed": args.seed},
                     "data": {"dataset": args.dataset, "limit": args.limit},
                     "teacher": {"folds": folds, "epochs": teacher_epochs},
                     "distill": {"epochs": epochs, "alpha": alpha, "temperature": temperature}}
        started = time.time()
        result = distill(load_config(None, overrides))
        row = {"command": " ".join(sys.argv), "run": name, "seed": args.seed, "limit": args.limit, "folds": folds,
               "teacher_epochs": teacher_epochs, "epochs": epochs, "alpha": alpha, "temperature": temperature,
               "seconds": round(time.time() - started, 1)}
        for model in ("teacher", "baseline", "student"):
            row[f"{model}_val"] = result[model]["best_val_accuracy"]
            row[f"{model}_test"] = result[model]["accuracy"]
        row["gain_val_pp"] = round(100 * (row["student_val"] - row["baseline_val"]), 2)
        row["gain_test_pp"] = round(100 * (row["student_test"] - row["baseline_test"]), 2)
        print(json.dumps(row), flush=True)
        with open(args.out, "a") as f:
            f.write(json.dumps(row) + "\n")



def record(rows_file: Path, out: Path, notes: list[str]) -> None:
    """The experiment record: every row, and the full-data choice (best distilled validation accuracy)."""
    rows = [json.loads(line) for line in rows_file.read_text().splitlines() if line.strip()]
    full = [r for r in rows if r["limit"] == 0 and r["epochs"] == 0]
    chosen = max(full, key=lambda r: r["student_val"])
    was = next(r for r in full if (r["folds"], r["alpha"], r["temperature"]) == (2, 0.9, 4.0))
    keys = ("folds", "alpha", "temperature", "student_val", "student_test", "gain_val_pp", "gain_test_pp")
    result = {"what": "Fashion-MNIST: teacher folds, hinton alpha and T for the default dsconv width-8 student, "
                      "chosen on the validation split (6,000 training images held out); seed 0, one run each",
              "script": "bench/experiments/fm_kd.py", "run_as": "PYTHONPATH=<repo> nice -n 10 python <command>",
              "commands": list(dict.fromkeys(r["command"] for r in rows)), "notes": notes,
              "chosen_on_validation": {k: chosen[k] for k in keys}, "previous_default": {k: was[k] for k in keys},
              "rows": rows}
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result["chosen_on_validation"]))


if __name__ == "__main__":
    main()
