"""KD quality benchmark: does distillation make a tiny MCU student better than training it alone?

For each seed: train the teacher once (or reuse an earlier bench's, --teachers), then the same student (same
architecture, epochs, schedule) several ways: from scratch on hard labels (`method none`, the baseline), Hinton KD,
and the modern methods chosen with --modern (DIST by default, DKD on request), all from that seed's teacher.
Reports test accuracy as mean ± sample sd over the seeds, params, MACs and training time, writes
bench/results/kd_quality.json and kd_quality.md, and prints the table.

    python bench/kd_quality.py                          # bench/fashion_mnist.toml, seeds 0 1 2
    python bench/kd_quality.py --seeds 0 --runs-root /tmp/kd-try
    python bench/kd_quality.py --teachers models/bench-runs --modern dist dkd   # reuse teachers, add DKD

Run folders (one teacher per seed, reused by every method):
    <runs-root>/fashion_mnist-s<seed>/        teacher.keras, teacher_logits.npy, baseline.keras (scratch),
                                              student.keras (Hinton KD), run.json  <- later stages start here
    <runs-root>/fashion_mnist-s<seed>-dkd/    the same teacher (teacher.path), student.keras (DKD)
    <runs-root>/fashion_mnist-s<seed>-dist/   the same teacher (teacher.path), student.keras (DIST)
Stages whose inputs are unchanged are skipped, so an interrupted bench resumes where it stopped (--force reruns).
The test set is only read for the final numbers; settings were chosen on the validation split.
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's `pipeline`, not another tree's editable install

from pipeline.config import Config, load_config  # noqa: E402
from pipeline.distill import distill  # noqa: E402
from pipeline.runs import Run, package_versions, write_json_atomic  # noqa: E402

METHODS = ("teacher", "scratch", "hinton", "dkd", "dist")  # table order
MODERN = ("dkd", "dist")  # each runs in its own folder with the seed's teacher
TARGET_GAIN_PP = 0.5  # issue 3: KD beats scratch by >= 0.5 pp on the mean
TARGET_RATIO = 20  # issue 3: student <= 1/20 of the teacher's parameters


def _entry(metrics: dict, seconds: float) -> dict:
    keep = ("accuracy", "params", "macs", "best_val_accuracy", "best_epoch")
    return {**{k: metrics[k] for k in keep if k in metrics}, "seconds": seconds}


def _seconds(run_dir: str | Path, stage: str) -> float:
    return Run(run_dir).manifest["stages"][stage]["seconds"]


def bench_seed(config: Path, seed: int, runs_root: Path, force: bool, modern: tuple[str, ...] = MODERN,
               teachers: Path | None = None) -> dict:
    """Teacher, scratch and Hinton in fashion_mnist-s<seed>; DKD and DIST beside it with the same teacher.

    With `teachers`, the seed's teacher is not trained but loaded from <teachers>/fashion_mnist-s<seed>/teacher.keras
    (an earlier bench's, trained with this config's [teacher] settings); its training time is taken from there."""
    reused = teachers / f"fashion_mnist-s{seed}" if teachers else None

    def cfg_for(name: str, method: str, **teacher) -> Config:
        return load_config(config, {"run": {"root": str(runs_root), "name": name, "seed": seed},
                                    "teacher": teacher, "distill": {"method": method, "baseline": method == "hinton"}})

    cfg = cfg_for(f"fashion_mnist-s{seed}", "hinton", **({"path": str(reused / "teacher.keras")} if reused else {}))
    log = lambda line: print(f"[seed {seed}] {line}", flush=True)  # noqa: E731
    main = distill(cfg, force=force, log=log)
    results = {"teacher": _entry(main["teacher"], _seconds(reused or main["run"], "teacher")),
               "scratch": _entry(main["baseline"], _seconds(main["run"], "baseline")),
               "hinton": _entry(main["student"], _seconds(main["run"], "distill"))}
    teacher_file = Path(main["run"]) / "teacher.keras"
    for method in modern:
        out = distill(cfg_for(f"fashion_mnist-s{seed}-{method}", method, path=str(teacher_file)),
                      force=force, log=log)
        results[method] = _entry(out["student"], _seconds(out["run"], "distill"))
    return {"seed": seed, "runs": {"main": main["run"], **{m: str(runs_root / f"fashion_mnist-s{seed}-{m}")
                                                            for m in modern}},
            "results": results}


def _mean_sd(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def summarize(per_seed: list[dict]) -> dict:
    """Mean and sample sd (n-1) of test accuracy per method; paired KD - scratch gains in pp."""
    summary, ran = {}, [m for m in METHODS if m in per_seed[0]["results"]]
    for method in ran:
        rows = [s["results"][method] for s in per_seed]
        mean, sd = _mean_sd([r["accuracy"] for r in rows])
        summary[method] = {"accuracy_mean": round(mean, 5), "accuracy_sd": round(sd, 5),
                           "params": rows[0]["params"], "macs": rows[0]["macs"],
                           "seconds_mean": round(statistics.fmean(r["seconds"] for r in rows), 1)}
    gains = {}
    for method in ran[2:]:  # hinton and the modern methods that ran
        diffs = [100 * (s["results"][method]["accuracy"] - s["results"]["scratch"]["accuracy"]) for s in per_seed]
        mean, sd = _mean_sd(diffs)
        gains[method] = {"mean_pp": round(mean, 2), "sd_pp": round(sd, 2), "per_seed_pp": [round(d, 2) for d in diffs],
                         "meets_target": mean >= TARGET_GAIN_PP}
    ratio = summary["teacher"]["params"] / summary["scratch"]["params"]
    return {"methods": summary, "gain_over_scratch": gains,
            "param_ratio": {"teacher_over_student": round(ratio, 1), "meets_target": ratio >= TARGET_RATIO}}


def table(report: dict) -> str:
    n = len(report["settings"]["seeds"])
    s = report["summary"]
    names = {"teacher": "teacher", "scratch": "student from scratch (hard labels)", "hinton": "student, Hinton KD",
             "dkd": "student, DKD", "dist": "student, DIST"}
    lines = [f"| model | test accuracy, mean ± sd (n={n}) | gain over scratch | params | MACs | train s/seed |",
             "|---|---|---|---|---|---|"]
    for method in s["methods"]:
        m = s["methods"][method]
        gain = s["gain_over_scratch"].get(method)
        gain_text = f"{gain['mean_pp']:+.2f} ± {gain['sd_pp']:.2f} pp" if gain else ""
        lines.append(f"| {names[method]} | {100 * m['accuracy_mean']:.2f} ± {100 * m['accuracy_sd']:.2f} % | "
                     f"{gain_text} | {m['params']:,} | {m['macs']:,} | {m['seconds_mean']:.0f} |")
    st = report["settings"]
    ratio = s["param_ratio"]["teacher_over_student"]
    lines += ["", f"Fashion-MNIST (54k train / 6k val / 10k test), seeds {st['seeds']}, every student "
              f"`{st['student']['family']}` width {st['student']['width']} depth {st['student']['depth']}, "
              f"{st['distill']['epochs']} epochs; teacher width {st['teacher']['width']}, "
              f"{st['teacher']['epochs']} epochs; T = {st['distill']['temperature']:g}, "
              f"Hinton α = {st['distill']['alpha']:g}. The student has 1/{ratio:.0f} of the teacher's parameters. "
              f"sd is the sample standard deviation over seeds; gains are paired per seed. "
              f"{st['machine']['cores']} CPU cores shared with other jobs, {st['jobs']} seeds in parallel processes "
              f"(so train s/seed is time under contention), wall time {report['wall_seconds'] / 60:.1f} min"
              + (" (teachers reused from an earlier bench; their s/seed is that bench's training time)."
                 if st.get("teachers_reused_from") else ".")]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=ROOT / "bench" / "fashion_mnist.toml")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--runs-root", type=Path, default=ROOT / "models" / "bench-runs")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results",
                        help="folder for kd_quality.json and kd_quality.md")
    parser.add_argument("--force", action="store_true", help="retrain even the stages that are up to date")
    parser.add_argument("--jobs", type=int, default=3,
                        help="seeds trained in parallel processes (default 3): the tiny students are bound by "
                             "per-step overhead, so on 2 cores 3 processes finish ~2x sooner than 1")
    parser.add_argument("--modern", nargs="*", choices=MODERN, default=["dist"],
                        help="modern methods to run beside Hinton KD (default: dist; dkd is the other choice)")
    parser.add_argument("--teachers", type=Path,
                        help="reuse the teachers of an earlier bench (DIR/fashion_mnist-s<seed>/teacher.keras, "
                             "trained with this config's [teacher] settings) instead of training them again")
    args = parser.parse_args(argv)

    started = time.time()
    base = load_config(args.config)
    resolved = base.to_dict()
    if args.jobs > 1 and len(args.seeds) > 1:
        spawn = multiprocessing.get_context("spawn")  # a fresh TensorFlow in each worker
        with ProcessPoolExecutor(min(args.jobs, len(args.seeds)), mp_context=spawn) as pool:
            per_seed = list(pool.map(bench_seed, *zip(*[(args.config, s, args.runs_root, args.force,
                                                           tuple(args.modern), args.teachers) for s in args.seeds])))
    else:
        per_seed = [bench_seed(args.config, seed, args.runs_root, args.force, tuple(args.modern), args.teachers)
                    for seed in args.seeds]
    report = {
        "settings": {"dataset": base.data.dataset, "config": str(args.config.resolve().relative_to(ROOT))
                     if args.config.resolve().is_relative_to(ROOT) else str(args.config),
                     "seeds": args.seeds, "data": resolved["data"], "teacher": resolved["teacher"],
                     "student": resolved["student"],
                     "distill": {k: v for k, v in resolved["distill"].items() if k not in ("method", "baseline")},
                     "runs_root": str(args.runs_root),
                     "teachers_reused_from": str(args.teachers) if args.teachers else None,
                     "jobs": args.jobs,
                     "machine": {"cores": os.cpu_count(), "platform": platform.platform(),
                                 "processor": platform.processor() or platform.machine()},
                     "packages": package_versions()},
        "per_seed": per_seed,
        "summary": summarize(per_seed),
        "wall_seconds": round(time.time() - started, 1),  # of this call: stages skipped as up to date take ~0 s
        "train_seconds_total": round(sum(r["seconds"] for s in per_seed for r in s["results"].values()), 1),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(args.out / "kd_quality.json", report)
    text = table(report)
    (args.out / "kd_quality.md").write_text("# KD quality on Fashion-MNIST (bench/kd_quality.py)\n\n" + text)
    print("\n" + text)
    return report


if __name__ == "__main__":
    main()
