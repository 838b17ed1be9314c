"""bench/results/SUMMARY.md from the benchmarks' JSON files (and the README's figures, generated, never typed).

    python bench/summary.py                 # write bench/results/SUMMARY.md, print the table
    python bench/summary.py --readme        # also replace the README's generated blocks (between their markers)

One row per headline figure; each bench's JSON stays the source. README's generated blocks: `bench-summary` (the
table) and `run-example` (the final table of `make run` and the times of `tinykd run`, with the load they were
measured at). tests/test_bench_summary.py checks that each is exactly what this script makes of the JSON files.
"""
from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"


def markers(block: str) -> tuple[str, str]:
    return f"<!-- {block}:start (bench/summary.py --readme) -->", f"<!-- {block}:end -->"


START, END = markers("bench-summary")


def _pct(x: float) -> str:
    return f"{100 * x:.2f}%"


def device(d: dict) -> list[tuple[str, str]]:
    return [(f"instructions per MAC on QEMU Cortex-M4 ({d['model']})", f"{d['instructions_per_mac']:.2f}"),
            ("device outputs differing from TFLM (QEMU, host port)",
             f"{d['mismatched_outputs']['qemu']}, {d['mismatched_outputs']['host']} of {d['samples']}"),
            ("validation throughput over the serial link (QEMU)",
             f"{d['throughput_samples_per_s']['qemu']:.0f} samples/s")]


def memory(d: dict) -> list[tuple[str, str]]:
    return [(f"AOT vs TFLM arena, {name}", f"{m['aot_arena_bytes']:,} B vs {m['tflm_arena_bytes']:,} B "
                                          f"({m['arena_ratio']:.2f}x)") for name, m in d["models"].items()]


def quantize(d: dict) -> list[tuple[str, str]]:
    rows = []
    for dataset in sorted({r["dataset"] for r in d["results"]}):
        runs = [r for r in d["results"] if r["dataset"] == dataset]
        float_acc = statistics.mean(r["qat"]["float_accuracy"] for r in runs)
        qat = statistics.mean(r["qat"]["int8_accuracy"] for r in runs)
        ptq = statistics.mean(r["ptq"]["int8_accuracy"] for r in runs)
        rows.append((f"int8 accuracy on TFLM, {dataset} ({len(runs)} seeds): QAT / PTQ / float",
                     f"{_pct(qat)} / {_pct(ptq)} / {_pct(float_acc)}"))
    return rows


def qat_lr(d: dict) -> list[tuple[str, str]]:
    rows = []
    for dataset, r in d["datasets"].items():
        chosen = r["by_rate"][str(r["chosen_on_validation"])]  # keys are str(rate)
        rates = ", ".join(f"{x:g}" for x in d["rates"])
        rows.append((f"QAT learning rate chosen on validation, {dataset} (of {rates})",
                     f"{r['chosen_on_validation']:g} (validation {_pct(chosen['val_mean'])})"))
    return rows


def run_time(d: dict) -> list[tuple[str, str]]:
    return [("`tinykd run` on the default, fresh run folder: wall / CPU",
             f"{d['wall_seconds']:.0f} s / {d['cpu_seconds']:.0f} s (load {d['load_average_1min']:.1f} on "
             f"{d['cores']} cores)")]


def run_time_fashion_mnist(d: dict) -> list[tuple[str, str]]:
    return [("`tinykd run --dataset fashion_mnist` (defaults): wall / CPU, longest silence in the log",
             f"{d['wall_seconds'] / 60:.1f} min / {d['cpu_seconds'] / 60:.1f} min (load {d['load_average_1min']:.1f}), "
             f"{d['longest_silence_seconds']:.0f} s"),
            ("Fashion-MNIST with defaults: int8 on host (10,000) / on device (first 2,000)",
             f"{_pct(d['int8_host_accuracy'])} / {_pct(d['device_accuracy'])} ({d['mismatched_outputs']} outputs "
             "differ)")]


def sensor(d: dict) -> list[tuple[str, str]]:
    rows = []
    for name, runs in d["sets"].items():
        text = "; ".join(f"{r['mode'].upper()} {_pct(r.get('shipped_float', r['student_float']))} -> "
                         f"{_pct(r['int8_host'])} (device {r['mismatched_outputs']} of {r['device_samples']} differ"
                         + (", the baseline shipped" if r.get("shipped") == "baseline" else "") + ")" for r in runs)
        rows.append((f"{name} (real sensor series, defaults): float -> int8", text))
    return rows


def kd_quality(d: dict) -> list[tuple[str, str]]:
    t = d["teacher"]
    rows = [("Fashion-MNIST teacher (cross-fitted, bench/kd_quality.py)",
             f"{_pct(t['accuracy'])} ({t['folds']} folds, {t['params']:,} params)")]
    for scenario, e in d["summary"].items():
        n, g = len(e["seeds"]), e["gain_pp_accuracy"]
        labels = f"{e['scratch']['labeled']:,} labels"
        rows.append((f"Fashion-MNIST {scenario} ({labels}): scratch vs KD ({e['kd_method']}), {n} paired seeds",
                     f"{_pct(e['scratch']['accuracy']['mean'])} vs {_pct(e['kd']['accuracy']['mean'])} "
                     f"({e['kd']['params']:,} params)"))
        rows.append((f"KD gain, {scenario} (95% bootstrap interval; target +{e['target_pp']:g} pp)",
                     f"{g['mean']:+.2f} pp [{g['ci95'][0]:+.2f}, {g['ci95'][1]:+.2f}] "
                     f"{'met' if e['meets_target'] else 'missed'}"))
    return rows


def train_speed(d: dict) -> list[tuple[str, str]]:
    return [(f"{r['model']} epoch on {d['samples']:,} Fashion-MNIST images, width {r['width']}, batch "
             f"{r['batch_size']}", f"{r['cpu_seconds']:.1f} CPU-s ({r['params']:,} params)") for r in d["rows"]]


def kernels(d: dict) -> list[tuple[str, str]]:
    before = d["before"]
    after = {**d["after"], **d.get("optimize", {})}  # "optimize": the models measured per --optimize policy
    rows = [(f"instructions per MAC on QEMU Cortex-M4, {name}: reference / fast kernels (--optimize balanced)",
             f"{before[name]['instructions_per_mac']:.2f} / {m['instructions_per_mac']:.3f}")
            for name, m in after.items() if isinstance(m, dict) and name in before]
    rows += [(f"flash (text+rodata) on QEMU Cortex-M4, {name}, --optimize speed / balanced / size",
              " / ".join(f"{m['policies'][p]['flash_text_plus_rodata']:,}" for p in ("speed", "balanced", "size")))
             for name, m in after.items() if isinstance(m, dict) and set(m.get("policies", {})) >= {"speed", "size"}]
    estimated = {name: m for name, m in d.get("cycles", {}).items() if isinstance(m, dict) and "cycles" in m}
    rows += [(f"estimated latency on the Nano 33 BLE (Cortex-M4 cycle model, 64 MHz), {name}",
              f"{m['ms_at_64mhz']:.1f} ms ({m['ms_at_64mhz_low']:.1f}-{m['ms_at_64mhz_high']:.1f}), "
              f"{m['cycles']:,} cycles") for name, m in estimated.items()]
    rows += [(f"estimated cycles / published, {name}: {c['published']}", f"{m['cycles']:,} / {c['cycles']:,} "
              f"({c['ratio']:.2f})") for name, m in estimated.items() for c in m.get("published", [])[:1]]
    return rows


def reliability(d: dict) -> list[tuple[str, str]]:
    return [(f"validation through a faulty link ({name}, {r['faults_config']['rate']:.0%} of frames damaged)",
             f"{r['samples_validated']:,} of {r['samples_requested']:,} validated, {r['wrong_results']} wrong, "
             f"{r['faults_total']:,} faults") for name, r in d.items() if isinstance(r, dict) and "faults_total" in r]


def fuzz(d: dict) -> list[tuple[str, str]]:
    return [("libFuzzer on the firmware protocol parser (ASan+UBSan)",
             f"{d['executions']:,} executions in {d['seconds']:,} s, {d['crashes']} crashes")]


def frontend(d: dict) -> list[tuple[str, str]]:
    per_clip = d["instructions_per_clip"]
    return [("audio front end, 1 s clip -> 49x40 int8 log-mel on QEMU Cortex-M4 (instructions, median of "
             f"{d['clips']} clips)", f"{per_clip['median']:,} ({d['code_bytes']:,} B code + {d['table_bytes']:,} B "
             f"tables; {'bit-identical' if d['bit_identical_to_host'] else 'DIFFERS'} to the host build)")]


def kws(d: dict) -> list[tuple[str, str]]:
    a = d["raw_audio_on_device"]
    return [("keyword spotting, synthetic speech, 12 classes, held-out voices: teacher / scratch / KD (float)",
             f"{_pct(d['teacher'])} / {_pct(d['baseline'])} / {_pct(d['distilled_float'])} ({d['params']:,} vs "
             f"{d['teacher_params']:,} params)"),
            ("keyword spotting int8 (QAT): host TFLM, all test clips / QEMU device, outputs differing",
             f"{_pct(d['int8_host'])} / {_pct(d['device'])}, {d['mismatched_outputs']} of {d['device_samples']:,}"
             + ("" if d["device_samples"] == d["data"]["test"] else f" (the first {d['device_samples']:,} clips)")),
            ("keyword spotting, raw int16 audio to class in QEMU (front end + AOT model): clips differing from the "
             "host / accuracy", f"{a['outputs_differing']} of {a['clips']} / {_pct(a['accuracy'])}"),
            ("keyword spotting instructions per 1 s clip on QEMU Cortex-M4: front end / model",
             f"{a['instructions_frontend_median']:,} / {a['instructions_model_median']:,}")]


def kws_link(d: dict) -> list[tuple[str, str]]:
    return [("keyword spotting, raw clips over the emulated serial link (`tinykd validate`, AUDIO): features / "
             "outputs differing from the host", f"{d['mismatched_features']} / {d['mismatched_outputs']} of "
             f"{d['samples']:,} clips"),
            ("keyword spotting over the link: front end / model instructions per clip, seconds per 1 s clip",
             f"{d['frontend_instructions_median']:,.0f} / {d['instructions_median']:,.0f}, "
             f"{d['seconds_per_clip']:.2f} s")]


def generic(d) -> list[tuple[str, str]]:
    """Top-level numbers of a result file this script has no summarizer for yet."""
    if not isinstance(d, dict):
        return []
    return [(key, f"{value:,}" if isinstance(value, int) else f"{value:.4g}") for key, value in d.items()
            if isinstance(value, (int, float)) and not isinstance(value, bool)][:6]


def fm_kd_defaults(d: dict) -> list[tuple[str, str]]:
    c, was = d["chosen_on_validation"], d["previous_default"]
    gain = lambda r: f"{r['gain_val_pp']:+.2f} pp validation, {r['gain_test_pp']:+.2f} pp test"
    return [(f"Fashion-MNIST defaults chosen on validation, distilled - baseline (of {len(d['rows'])} runs)",
             f"folds {c['folds']}, T {c['temperature']:g}, alpha {c['alpha']:g}: {gain(c)} (was folds "
             f"{was['folds']}, T {was['temperature']:g}, alpha {was['alpha']:g}: {gain(was)})")]


def ship(d: dict) -> list[tuple[str, str]]:
    rule = "accuracy, ties by cross-entropy"  # pipeline/kd/selection.rank, the rule in use
    seeds = {name: len(s["rows"]) for name, s in d["sets"].items()}
    r = d["all_sets"][rule]
    rows = [(f"student shipped on small validation splits ({', '.join(f'{n} x {k}' for n, k in seeds.items())} seeds): "
             "the worse on test / mean test accuracy", f"{r['shipped_the_worse']} of {sum(seeds.values())} / "
             f"{_pct(r['mean_test'])} (ties to the distilled student: "
             f"{d['all_sets']['accuracy, ties to distilled']['shipped_the_worse']})")]
    if "BasicMotions" in d.get("before", {}).get("sets", {}) and "BasicMotions" in d["sets"]:
        rows.append(("BasicMotions, mean test accuracy of the shipped student: first top epoch kept (before) / now",
                     f"{_pct(d['before']['sets']['BasicMotions']['rules']['accuracy, ties to distilled']['mean_test'])}"
                     f" / {_pct(d['sets']['BasicMotions']['rules'][rule]['mean_test'])}"))
    return rows


SUMMARIZERS = {"device": device, "memory": memory, "quantize": quantize, "qat_lr": qat_lr, "run_time": run_time,
               "run_time_fashion_mnist": run_time_fashion_mnist, "sensor": sensor, "kd_quality": kd_quality,
               "train_speed": train_speed,
               "kernels": kernels, "reliability": reliability, "fuzz": fuzz, "frontend": frontend,
               "kws": kws, "kws_link": kws_link, "fm_kd_defaults": fm_kd_defaults, "ship": ship}


def rows(results: Path = RESULTS) -> list[tuple[str, str, str]]:
    table = []
    for path in sorted(results.glob("*.json")):
        data = json.loads(path.read_text())
        for figure, value in SUMMARIZERS.get(path.stem, generic)(data):
            table.append((figure, value, f"bench/results/{path.name}"))
    return table


def markdown(results: Path = RESULTS) -> str:
    lines = ["| figure | value | source |", "|---|---|---|"]
    lines += [f"| {figure} | {value} | `{source}` |" for figure, value, source in rows(results)]
    return "\n".join(lines)


def run_example(results: Path = RESULTS) -> str:
    """The README's example of `make run` (its final table) and how long `tinykd run` took, on which load."""
    digits = json.loads((results / "run_time.json").read_text())
    fashion = json.loads((results / "run_time_fashion_mnist.json").read_text())
    acc = {k: _pct(v) for k, v in fashion["accuracy"].items()}
    gain = 100 * (fashion["accuracy"]["student"] - fashion["accuracy"]["baseline"])
    teacher = fashion["settings"]["teacher"]
    kd = fashion["settings"].get("distill")
    loss = f" ({kd['method']}, T = {kd['temperature']:g}, alpha = {kd['alpha']:g})" if kd else ""
    folds = f", {teacher['folds']} fold{'s' if teacher['folds'] > 1 else ''}" if kd else ""
    shipped = f"; the {fashion['shipped']} student shipped" if "shipped" in fashion else ""
    return f"""```
{digits["final_table"]}
```

Times depend on the machine and its load: wall time grows with the load of other jobs, CPU time hardly does.
A fresh `tinykd run` took {digits["wall_seconds"]:.0f} s of wall time and {digits["cpu_seconds"]:.0f} s of CPU on \
{digits["cores"]} cores at a load average of {digits["load_average_1min"]:.1f} (`python bench/run_time.py`, \
bench/results/run_time.json); a second run skips every stage.

`tinykd run --dataset fashion_mnist` with the same defaults ({fashion["test_samples"]:,} test images; teacher \
width {teacher["width"]} for {teacher["epochs"]} epochs{folds}, students \
{fashion["settings"]["distill_epochs"]}{loss}, QAT {fashion["settings"]["qat_epochs"]}; the first \
{fashion["validated_samples"]:,} test images validated in QEMU, \
`--validate-limit 0` for all) took {fashion["wall_seconds"] / 60:.1f} min of wall time \
({fashion["cpu_seconds"] / 60:.1f} CPU-minutes, load average {fashion["load_average_1min"]:.1f}): teacher \
{acc["teacher"]}, baseline {acc["baseline"]}, distilled {acc["student"]} ({gain:+.2f} pp){shipped}, int8 \
{acc["int8_host"]} on the host, {fashion["validated_samples"] - fashion["mismatched_outputs"]:,} of \
{fashion["validated_samples"]:,} device outputs bit-identical; the longest gap between two lines of its log was \
{fashion["longest_silence_seconds"]:.0f} s (`python bench/run_time.py --dataset fashion_mnist`, \
bench/results/run_time_fashion_mnist.json)."""


def kd_quality_table(results: Path = RESULTS) -> str:
    """The KD benchmark's table (bench/kd_quality.py wrote it into its JSON)."""
    return json.loads((results / "kd_quality.json").read_text())["table"].strip()


def fm_kd_table(results: Path = RESULTS) -> str:
    """README's table of the Fashion-MNIST runs behind the distillation defaults (bench/experiments/fm_kd.py)."""
    d = json.loads((results / "fm_kd_defaults.json").read_text())
    lines = ["| data | teacher | T | alpha | teacher val / test | baseline val / test | distilled val / test | "
             "gain val / test |", "|---|---|---|---|---|---|---|---|"]
    seen = set()  # a setting run twice is shown once (training is deterministic: the rows are equal)
    for r in sorted(d["rows"], key=lambda r: (r["limit"] != 0, r["epochs"])):  # the full set first, then as run
        key = tuple(r[k] for k in ("limit", "epochs", "folds", "temperature", "alpha"))
        if key in seen:
            continue
        seen.add(key)
        data = f"{r['limit']:,} images" if r["limit"] else "all 54,000"
        data += f", students {r['epochs']} epochs" if r["epochs"] else ""
        pair = lambda m: f"{_pct(r[m + '_val'])} / {_pct(r[m + '_test'])}"
        lines.append(f"| {data} | {r['folds']} fold{'s' if r['folds'] > 1 else ''} | {r['temperature']:g} | "
                     f"{r['alpha']:g} | {pair('teacher')} | {pair('baseline')} | {pair('student')} | "
                     f"{r['gain_val_pp']:+.2f} / {r['gain_test_pp']:+.2f} pp |")
    return "\n".join(lines)


BLOCKS = {"bench-summary": markdown, "run-example": run_example, "kd-quality": kd_quality_table,
          "fm-kd-defaults": fm_kd_table}


def readme_block(text: str, block: str = "bench-summary") -> str:
    """The text between the README's markers of `block` ('' when the markers are missing)."""
    start, end = markers(block)
    if start not in text or end not in text:
        return ""
    return text.split(start, 1)[1].split(end, 1)[0].strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readme", action="store_true", help="Replace the README's table too.")
    args = parser.parse_args()
    table = markdown()
    sections = [f"## {p.stem}\n\n{json.loads(p.read_text())['table']}" for p in sorted(RESULTS.glob("*.json"))
                if isinstance(json.loads(p.read_text()), dict) and "table" in json.loads(p.read_text())]
    (RESULTS / "SUMMARY.md").write_text("# Benchmark summary (generated by bench/summary.py; do not edit)\n\n"
                                        + table + "\n\n" + "\n\n".join(sections) + "\n")
    if args.readme:
        readme = ROOT / "README.md"
        text = readme.read_text()
        for block, make in BLOCKS.items():
            start, end = markers(block)
            if start not in text or end not in text:
                raise SystemExit(f"README.md has no '{start}' ... '{end}' markers")
            head, rest = text.split(start, 1)
            text = head + start + "\n" + make() + "\n" + end + rest.split(end, 1)[1]
        readme.write_text(text)
    print(table)


if __name__ == "__main__":
    main()
