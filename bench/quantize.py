"""Quantization benchmark: TFLite Micro int8 accuracy after PTQ and after QAT (with the distillation loss) beside
the float student's, on digits and Fashion-MNIST, 3 seeds each. Writes bench/results/quantize.json and prints a
markdown table for the README.

    nice -n 10 python bench/quantize.py                    # both data sets, seeds 0 1 2
    python bench/quantize.py --datasets digits --seeds 0   # a quick look
    python bench/quantize.py --pick-lr 1e-3 3e-4 1e-4      # the QAT learning rate, chosen on validation

Distilled runs are reused from --runs-from (bench/kd_quality.py's fashion_mnist-s<seed> folders) when there,
copied into --work so they are never modified; otherwise a small run is distilled here (settings below).
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.config import QuantizeConfig, load_config  # noqa: E402
from pipeline.kd.distill import distill  # noqa: E402
from pipeline.int8.quantize import quantize  # noqa: E402

# Settings of the runs distilled here, sized for a 2-core CPU shared with other jobs (~30 min for everything).
SETTINGS = {
    "digits": {"data": {"dataset": "digits"}, "teacher": {"width": 32, "epochs": 20},
               "distill": {"epochs": 30}, "quantize": {"qat_epochs": 10}},
    "fashion_mnist": {"data": {"dataset": "fashion_mnist"}, "teacher": {"width": 16, "epochs": 3},
                      "distill": {"epochs": 8}, "quantize": {"qat_epochs": 3}},
}
COPIED = ("teacher.keras", "teacher_logits.npy", "student.keras", "run.json")
DEFAULT_QAT_LR = QuantizeConfig().qat_learning_rate


def distilled(source: Path) -> bool:
    manifest = source / "run.json"
    return manifest.exists() and "distill" in json.loads(manifest.read_text()).get("stages", {})


def prepare(dataset: str, seed: int, work: Path, runs_from: Path | None) -> tuple[dict, str]:
    """The run's settings, its folder in `work` made ready (the KD bench's run copied, or distilled here)."""
    name = f"{dataset}-s{seed}"
    settings = {k: dict(v) for k, v in SETTINGS[dataset].items()}
    settings["run"] = {"root": str(work), "name": name, "seed": seed}
    source = runs_from / name if runs_from else None
    if source is not None:  # the KD bench's run: take its exact data, teacher, student and loss settings
        manifest = json.loads((source / "run.json").read_text())
        for section in ("data", "teacher", "student", "distill"):
            settings[section] = manifest["config"][section]
        (work / name).mkdir(parents=True, exist_ok=True)
        for file in COPIED:
            shutil.copy2(source / file, work / name / file)
    settings["distill"] = {**settings["distill"], "baseline": False}
    if source is None:
        distill(load_config(None, settings), log=print)
    return settings, "reused " + str(source) if source is not None else "distilled here"


def bench_one(dataset: str, seed: int, work: Path, runs_from: Path | None) -> dict:
    started = time.time()
    settings, origin = prepare(dataset, seed, work, runs_from)
    result = {"dataset": dataset, "seed": seed, "run": origin}
    for mode in ("ptq", "qat"):
        cfg_mode = load_config(None, {**settings, "quantize": {**settings["quantize"], "mode": mode}})
        result[mode] = quantize(cfg_mode, force=True, log=print)
    result["seconds"] = round(time.time() - started, 1)
    return result


def choose(by_rate: dict, default: float = DEFAULT_QAT_LR) -> float:
    """The rate with the best mean validation accuracy; a tie (digits has ~180 validation images) keeps the
    configured default. Test accuracy plays no part."""
    return float(max(by_rate, key=lambda rate: (by_rate[rate]["val_mean"], float(rate) == default)))


def pick_lr(datasets: list[str], seeds: list[int], rates: list[float], work: Path, runs_from: Path) -> dict:
    """QAT with each learning rate on every seed; the choice is the best mean validation accuracy of the
    fake-quantized student (its best epoch). The int8 test accuracy is recorded beside it, never used to choose."""
    out = {"rates": rates, "default": DEFAULT_QAT_LR, "datasets": {}}
    for dataset in datasets:
        sources = [runs_from / f"{dataset}-s{seed}" for seed in seeds]
        source_root = runs_from if all(distilled(source) for source in sources) else None
        per_rate = {}
        for seed in seeds:
            settings, _ = prepare(dataset, seed, work / "lr", source_root)
            for rate in rates:
                cfg = load_config(None, {**settings, "quantize": {**settings["quantize"], "mode": "qat",
                                                                  "qat_learning_rate": rate}})
                metrics = quantize(cfg, force=True, log=print)
                per_rate.setdefault(str(rate), []).append(
                    {"seed": seed, "val": metrics["qat_best_val_accuracy"], "test": metrics["int8_accuracy"]})
        summary = {rate: {"val_mean": round(statistics.mean(r["val"] for r in runs), 5),
                          "test_mean": round(statistics.mean(r["test"] for r in runs), 5), "runs": runs}
                   for rate, runs in per_rate.items()}
        out["datasets"][dataset] = {"by_rate": summary, "chosen_on_validation": choose(summary)}
    lines = ["| data set | " + " | ".join(f"lr {r:g}: val / test" for r in rates) + " | chosen on validation |",
             "|---|" + "---|" * (len(rates) + 1)]
    for dataset, d in out["datasets"].items():
        cells = [f"{100 * d['by_rate'][str(r)]['val_mean']:.2f}% / {100 * d['by_rate'][str(r)]['test_mean']:.2f}%"
                 for r in rates]
        lines.append(f"| {dataset} | " + " | ".join(cells) + f" | {d['chosen_on_validation']:g} |")
    out["table"] = "\n".join(lines)
    return out


def table(results: list[dict]) -> str:
    rows = ["| data set | seeds | float student | int8 PTQ (TFLM) | int8 QAT (TFLM) | QAT - float | model | arena |",
            "|---|---|---|---|---|---|---|---|"]
    for dataset in dict.fromkeys(r["dataset"] for r in results):
        rs = [r for r in results if r["dataset"] == dataset]
        mean = lambda values: f"{100 * statistics.mean(values):.2f}%" + \
            (f" ± {100 * statistics.stdev(values):.2f}" if len(values) > 1 else "")
        fl = [r["qat"]["float_accuracy"] for r in rs]
        ptq = [r["ptq"]["int8_accuracy"] for r in rs]
        qat = [r["qat"]["int8_accuracy"] for r in rs]
        gap = [q - f for q, f in zip(qat, fl)]
        rows.append(f"| {dataset} | {len(rs)} | {mean(fl)} | {mean(ptq)} | {mean(qat)} | "
                    f"{100 * statistics.mean(gap):+.2f} pp (worst {100 * min(gap):+.2f}) | "
                    f"{rs[0]['qat']['model_bytes']:,} B | {rs[0]['qat']['arena_minimum']:,} B |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["digits", "fashion_mnist"], choices=list(SETTINGS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--runs-from", type=Path, default=ROOT / "models" / "bench-runs")
    parser.add_argument("--work", type=Path, default=ROOT / "models" / "bench-quantize")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "quantize.json")
    parser.add_argument("--pick-lr", nargs="+", type=float, metavar="LR",
                        help="only choose the QAT learning rate among these on validation (-> qat_lr.json)")
    args = parser.parse_args()
    if args.pick_lr:
        picked = pick_lr(args.datasets, args.seeds, args.pick_lr, args.work, args.runs_from)
        out = args.out.with_name("qat_lr.json")
        out.write_text(json.dumps(picked, indent=2) + "\n")
        print(picked["table"])
        return
    results = []
    for dataset in args.datasets:
        # Reuse the KD bench's runs only when every seed is there: one student recipe per row of the table.
        sources = [args.runs_from / f"{dataset}-s{seed}" for seed in args.seeds]
        runs_from = args.runs_from if all(distilled(source) for source in sources) else None
        for seed in args.seeds:
            results.append(bench_one(dataset, seed, args.work, runs_from))
            print(json.dumps({k: results[-1][k] for k in ("dataset", "seed", "seconds")}), flush=True)
    markdown = table(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"settings": SETTINGS, "results": results, "table": markdown}, indent=2) + "\n")
    print(markdown)


if __name__ == "__main__":
    main()
