"""KD quality benchmark: does distillation make a tiny MCU student better than training it alone?

One cross-fitted teacher (bench/fashion_mnist.toml), then the same student from scratch and distilled, in two
scenarios, for every seed of --seeds (paired: the scratch and KD students of a seed share the initial weights, the
batch order and, in scenario a, the labeled subset):
  scarce  the students get 10% of the labels (stratified, drawn per seed); scratch trains on those, KD on those
          plus the other 90% as an unlabeled transfer set (only the teacher's soft targets). The teacher learned
          from all labels: a teacher trained elsewhere on a large labeled set, the case of a device that records
          far more than anyone labels.
  full    every label; scratch vs the KD method that won the pilot.
The KD method is chosen before any test number exists: each candidate of --methods trains once on the full labels
with --pilot-seed (not among the reported seeds) and the best validation accuracy wins.

Reports per scenario: test accuracy (best-validation epoch and final epoch) mean ± sd, the paired gains with a
bootstrap 95% interval, params; writes bench/results/kd_quality.json and kd_quality.md.

    python bench/kd_quality.py                                   # 10 seeds, ~80 min on 2 busy cores
    python bench/kd_quality.py --seeds 0 1 --methods hinton --runs-root /tmp/kd-try   # a quick look
Run folders under --runs-root: teacher/ (trained once, reused: stages whose inputs are unchanged are skipped, so
an interrupted bench resumes), and one folder per student (<scenario>-<method>-s<seed>).
"""
from __future__ import annotations

import argparse
import dataclasses
import multiprocessing
import os
import platform
import shutil
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's `pipeline`, not another tree's editable install

from pipeline.config import load_config  # noqa: E402
from pipeline.runs import MANIFEST, Run, package_versions, write_json_atomic  # noqa: E402

SCARCE_FRACTION = 0.1  # scenario a: the students' share of the labels
SCARCE_SCRATCH_EPOCHS = 50  # 5x the KD epochs on 1/10 of the samples: half the samples KD sees (best-val kept)
TARGETS = {"scarce": 3.0, "full": 0.5}  # issue 21: the paired gain (pp) each scenario should reach
BOOTSTRAP = 10_000  # resamples of the paired gains for the 95% interval


def _log(tag: str):
    return lambda line: print(f"[{tag}] {line}", flush=True)


def teacher(config: Path, runs_root: Path) -> dict:
    """Train (or find up to date) the cross-fitted teacher in <runs_root>/teacher; return its metrics."""
    from pipeline.kd.data import load_dataset
    from pipeline.kd.sizing import sized
    from pipeline.kd.teacher import teacher_stage
    cfg = load_config(config, {"run": {"root": str(runs_root)}})
    data = load_dataset(cfg.data, cfg.run.seed)
    cfg = sized(cfg, data)
    run = Run(cfg.run_dir)
    metrics = teacher_stage(cfg, data, run, log=_log("teacher"))
    return {**metrics, "seconds": run.manifest["stages"]["teacher"]["seconds"]}


def student(config: Path, runs_root: Path, scenario: str, method: str, seed: int,
            scarce_scratch_epochs: int = SCARCE_SCRATCH_EPOCHS) -> dict:
    """One student in its own folder, with the teacher's artifacts copied in: test accuracy and timing."""
    from pipeline.kd.data import load_dataset
    from pipeline.kd.distill import student_stage
    from pipeline.kd.transfer import labeled_subset
    name = f"{scenario}-{method}-s{seed}"
    scratch = method == "none"
    epochs = {"epochs": scarce_scratch_epochs} if scenario == "scarce" and scratch else {}
    cfg = load_config(config, {"run": {"root": str(runs_root), "name": name, "seed": seed},
                               "distill": {"method": method, **epochs}})
    base = load_config(config)
    data = load_dataset(base.data, base.run.seed)  # the teacher's split: its logits follow this sample order
    if scenario == "scarce":
        data = dataclasses.replace(data, labeled=labeled_subset(data.y_train, SCARCE_FRACTION, seed))
    source = runs_root / base.run.name
    cfg.run_dir.mkdir(parents=True, exist_ok=True)
    if not (cfg.run_dir / MANIFEST).exists():
        for file in ("teacher.keras", "teacher_logits.npy", MANIFEST):
            shutil.copy2(source / file, cfg.run_dir / file)
    metrics = student_stage("baseline" if scratch else "distill", cfg, data, Run(cfg.run_dir), log=_log(name))
    seconds = Run(cfg.run_dir).manifest["stages"]["baseline" if scratch else "distill"]["seconds"]
    keep = ("accuracy", "final_accuracy", "best_val_accuracy", "best_epoch", "params", "macs")
    return {"scenario": scenario, "method": method, "seed": seed, "seconds": seconds,
            "labeled": len(data.labeled), **{k: metrics[k] for k in keep}}


def int8_check(config: Path, runs_root: Path, method: str, seed: int) -> dict:
    """Scenario a's KD student of `seed` as a full-int8 model (post-training quantization: it needs no labels),
    scored on TFLite Micro beside its float self."""
    from pipeline.int8.quantize import quantize
    name = f"scarce-{method}-s{seed}"
    base = load_config(config)
    cfg = load_config(config, {"run": {"root": str(runs_root), "name": name, "seed": base.run.seed},
                               "distill": {"method": method}, "quantize": {"mode": "ptq"}})
    m = quantize(cfg, log=_log(name))
    return {"run": name, **{k: m[k] for k in ("mode", "float_accuracy", "int8_accuracy", "drop_pp", "model_bytes")}}


def _parallel(jobs: list[tuple], workers: int) -> list[dict]:
    if workers <= 1:
        return [student(*job) for job in jobs]
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        return list(pool.map(student, *zip(*jobs)))


def bootstrap_interval(gains: list[float], seed: int = 0) -> tuple[float, float]:
    """95% percentile interval of the mean of `gains`, resampled with replacement."""
    rng = np.random.default_rng(seed)
    values = np.asarray(gains)
    means = values[rng.integers(0, len(values), (BOOTSTRAP, len(values)))].mean(axis=1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def _mean_sd(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def summarize(results: list[dict], method: str) -> dict:
    """Per scenario: scratch and KD accuracy (best-validation and final epoch) and the paired gains."""
    out = {}
    for scenario in TARGETS:
        by = {(r["method"], r["seed"]): r for r in results if r["scenario"] == scenario}
        seeds = sorted(s for m, s in by if m == "none" and (method, s) in by)
        if not seeds:
            continue
        entry = {"seeds": seeds, "kd_method": method}
        for name, m in (("scratch", "none"), ("kd", method)):
            rows = [by[(m, s)] for s in seeds]
            entry[name] = {"params": rows[0]["params"], "macs": rows[0]["macs"], "labeled": rows[0]["labeled"],
                           "seconds_mean": round(statistics.fmean(r["seconds"] for r in rows), 1)}
            for key in ("accuracy", "final_accuracy"):
                mean, sd = _mean_sd([r[key] for r in rows])
                entry[name][key] = {"mean": round(mean, 5), "sd": round(sd, 5)}
        for key in ("accuracy", "final_accuracy"):
            gains = [100 * (by[(method, s)][key] - by[("none", s)][key]) for s in seeds]
            mean, sd = _mean_sd(gains)
            low, high = bootstrap_interval(gains)
            entry[f"gain_pp_{key}"] = {"mean": round(mean, 2), "sd": round(sd, 2), "ci95": [round(low, 2),
                                       round(high, 2)], "per_seed": [round(g, 2) for g in gains]}
        gain = entry["gain_pp_accuracy"]
        entry["target_pp"] = TARGETS[scenario]
        entry["meets_target"] = gain["mean"] >= TARGETS[scenario] and gain["ci95"][0] > 0
        out[scenario] = entry
    return out


def table(report: dict) -> str:
    t, s = report["teacher"], report["summary"]
    lines = ["| scenario | student | labels | test acc, best-val epoch (n) | final epoch | paired gain, 95% CI | "
             "params |", "|---|---|---|---|---|---|---|"]
    for scenario, e in s.items():
        n = len(e["seeds"])
        for name in ("scratch", "kd"):
            m = e[name]
            who = "from scratch" if name == "scratch" else f"KD ({e['kd_method']})"
            gain = ""
            if name == "kd":
                g = e["gain_pp_accuracy"]
                gain = (f"{g['mean']:+.2f} pp [{g['ci95'][0]:+.2f}, {g['ci95'][1]:+.2f}] "
                        f"({'met' if e['meets_target'] else 'missed'}: target ≥ +{e['target_pp']:g})")
            unlabeled = " + transfer set" if name == "kd" and scenario == "scarce" else ""
            lines.append(f"| {scenario} | {who} | {m['labeled']:,}{unlabeled} | "
                         f"{100 * m['accuracy']['mean']:.2f} ± {100 * m['accuracy']['sd']:.2f} % ({n}) | "
                         f"{100 * m['final_accuracy']['mean']:.2f} ± {100 * m['final_accuracy']['sd']:.2f} % | "
                         f"{gain} | {m['params']:,} |")
    pilot = ", ".join(f"{m} {100 * v:.2f}" for m, v in report["pilot"]["val_accuracy"].items())
    q = report.get("int8")
    if q:
        lines += ["", f"int8: the scarce KD student of seed {report['settings']['seeds'][0]} as a full-int8 model "
                  f"({q['mode'].upper()}, {q['model_bytes']:,} B) scores {100 * q['int8_accuracy']:.2f} % on TFLite "
                  f"Micro vs {100 * q['float_accuracy']:.2f} % float ({-q['drop_pp']:+.2f} pp)."]
    lines += ["", f"Teacher: {t['folds']} cross-fitted CNNs averaged, {100 * t['accuracy']:.2f} % test, "
              f"{t['params']:,} params, trained in {t['seconds'] / 60:.1f} min. Pilot (seed "
              f"{report['pilot']['seed']}, validation accuracy, full labels): {pilot}; chosen: "
              f"{report['pilot']['chosen']}. Wall time {report['wall_seconds'] / 60:.1f} min, "
              f"{report['settings']['jobs']} students in parallel on {report['settings']['machine']['cores']} cores."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=ROOT / "bench" / "fashion_mnist.toml")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(10)))
    parser.add_argument("--pilot-seed", type=int, default=100)
    parser.add_argument("--methods", nargs="+", default=["hinton", "lskd", "dist"],
                        choices=["hinton", "lskd", "dkd", "dist"], help="KD candidates of the pilot")
    parser.add_argument("--scenarios", nargs="+", default=list(TARGETS), choices=list(TARGETS))
    parser.add_argument("--runs-root", type=Path, default=ROOT / "models" / "kd-bench")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--jobs", type=int, default=2, help="students trained in parallel processes")
    parser.add_argument("--scarce-scratch-epochs", type=int, default=SCARCE_SCRATCH_EPOCHS,
                        help="epochs of the scratch student on the 10%% labeled subset")
    args = parser.parse_args(argv)

    started = time.time()
    taught = teacher(args.config, args.runs_root)
    pilot = _parallel([(args.config, args.runs_root, "full", m, args.pilot_seed) for m in args.methods], args.jobs)
    val = {r["method"]: r["best_val_accuracy"] for r in pilot}
    chosen = max(val, key=val.get)
    jobs = [(args.config, args.runs_root, scenario, method, seed, args.scarce_scratch_epochs) for seed in args.seeds
            for scenario in args.scenarios for method in ("none", chosen)]
    results = _parallel(jobs, args.jobs)
    int8 = int8_check(args.config, args.runs_root, chosen, args.seeds[0]) if "scarce" in args.scenarios else None
    cfg = load_config(args.config).to_dict()
    report = {
        "settings": {"config": str(args.config), "seeds": args.seeds, "scenarios": args.scenarios,
                     "scarce_fraction": SCARCE_FRACTION, "scarce_scratch_epochs": args.scarce_scratch_epochs,
                     **{k: cfg[k] for k in ("data", "teacher", "student", "distill")}, "jobs": args.jobs,
                     "machine": {"cores": os.cpu_count(), "platform": platform.platform()},
                     "packages": package_versions()},
        "teacher": {k: taught[k] for k in ("accuracy", "params", "folds", "fold_val_accuracy", "seconds")},
        "pilot": {"seed": args.pilot_seed, "val_accuracy": val, "chosen": chosen, "runs": pilot},
        "per_student": results,
        "summary": summarize(results, chosen),
        "int8": int8,
        "wall_seconds": round(time.time() - started, 1),
        "command": "python bench/kd_quality.py " + " ".join(argv if argv is not None else sys.argv[1:]),
    }
    text = report["table"] = table(report)  # README's kd-quality block (bench/summary.py --readme)
    args.out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(args.out / "kd_quality.json", report)
    (args.out / "kd_quality.md").write_text("# KD quality on Fashion-MNIST (bench/kd_quality.py)\n\n" + text)
    print("\n" + text)
    return report


if __name__ == "__main__":
    main()
