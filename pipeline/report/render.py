"""Report stage: models/<run>/report.md and a self-contained report.html, from the manifest (and the test samples
the int8 model gets wrong, misclassified.npz, and for keyword data audio_clips.npz: artifacts the quantize stage
lists in it; the audio section is report/audio.py).

Every number shown is read from run.json (the stages recorded it when they measured it); this module only
selects, formats and draws. Derived figures are plain arithmetic on recorded ones (a share of a budget, a
count of agreeing outputs) and say what they derive from. A stage that has not run shows as "not run".
`summary_table` is the final table `tinykd run` prints.
"""
from __future__ import annotations

from pathlib import Path

import jinja2
import numpy as np

from pipeline import __version__
from pipeline.artifacts import AUDIO_CLIPS, MISCLASSIFIED, MODEL_INT8, REPORTS
from pipeline.errors import PipelineError, stage
from pipeline.device.latency import rows as latency_rows
from pipeline.paths import TEMPLATES
from pipeline.report.audio import audio_images, audio_view
from pipeline.report.sections import kd_gain_pp, kd_verdict, per_class, settings, size_ratio
from pipeline.runs import MANIFEST, atomic_path, corrupt_manifest, read_manifest

ORDER = ("teacher", "baseline", "distill", "quantize", "export", "compile", "build", "validate", "cycles")


def load_manifest(run_dir: str | Path) -> dict:
    path = Path(run_dir) / MANIFEST
    if not path.is_file():
        raise PipelineError(f"No manifest at '{path}': '{run_dir}' is not a run folder.",
                            "Give a run name under models/ (e.g. digits) or a run folder path; `tinykd run` makes one.")
    return read_manifest(path)


def _pct(x) -> str:
    return "not run" if x is None else f"{100 * x:.2f}%"


def _b(n) -> str:
    return "-" if n is None else f"{n:,} B"


def _share(part, whole) -> str:
    return f"{100 * part / whole:.1f}%" if part is not None and whole else "-"


def share_of_teacher(student_params: int, teacher_params: int) -> str:
    """`1/187 of the teacher's parameters`; `1.30x the teacher's parameters` for a student that is not smaller."""
    ratio = size_ratio(student_params, teacher_params)
    return f"{ratio} of the teacher's parameters" if ratio.startswith("1/") else f"{ratio} the teacher's parameters"


def _latency_note(val: dict) -> str:
    board = str(val.get("board", ""))
    if not board.startswith("qemu"):
        return "the board's own timer"
    note = "QEMU virtual time (-icount): Cortex-M4 instructions, not a board's clock"
    if board.endswith("esp32"):
        note += "; the ESP32's Xtensa core runs other code, so this is not its latency"
    return note


def _per_class(confusion, names) -> list[dict]:
    if not confusion:
        return []
    fmt = lambda x: "-" if x is None else f"{100 * x:.1f}%"
    return [{**row, "precision": fmt(row["precision"]), "recall": fmt(row["recall"]), "f1": fmt(row["f1"])}
            for row in per_class(confusion, names)]


def _misclassified(samples: dict | None, classes: list[str]) -> list[dict]:
    """(test index, true class, predicted class) of the samples shown, for the markdown table."""
    if samples is None:
        return []
    name = lambda k: classes[k] if k < len(classes) else str(k)
    return [{"index": int(i), "true": name(int(t)), "predicted": name(int(p))}
            for i, t, p in zip(samples["index"], samples["true"], samples["predicted"])]


def _count(n) -> str:
    return f"{n:,}" if n else "-"


def _time(us: float) -> str:
    return f"{us / 1000:,.2f} ms" if us >= 1000 else f"{us:,.1f} µs"


def _tensor(name: str) -> str:
    """A readable tensor name: the first of TFLite's fused names, its last two path parts."""
    return "/".join(name.split(";")[0].split("/")[-2:])


def _buffer(b: dict, ops: list[str]) -> dict:
    """A memory-plan buffer with readable names; a kernel's scratch buffer (no tensors) named by its op."""
    scratch = not b["tensors"]
    op = f" ({ops[b['first']]})" if b["first"] < len(ops) else ""
    names = [f"scratch of op {b['first']}{op}"] if scratch else [_tensor(t) for t in b["tensors"]]
    return {**b, "tensors": names, "scratch": scratch}


def view(manifest: dict) -> dict:
    """Everything the templates and the final table show, selected from the manifest and formatted."""
    stages = manifest.get("stages", {})
    m = {name: stages.get(name, {}).get("metrics", {}) for name in ORDER}
    data = manifest.get("data", {})
    teacher, baseline, student, q, ex = m["teacher"], m["baseline"], m["distill"], m["quantize"], m["export"]
    comp, build, val = m["compile"], m["build"], m["validate"]
    samples, mismatched = val.get("samples"), val.get("mismatched_outputs")
    test_size = data.get("sizes", {}).get("test") or samples
    partial = bool(samples) and samples < test_size  # the device row then scores fewer samples than the host rows
    device_note = f"{val.get('board', '')} ({val.get('engine', '')} engine)" if val else ""
    host_n = test_size if q.get("int8_accuracy") is not None else None
    # whose int8 model the last rows score (labels fit the table's 36 columns)
    who = "baseline" if q.get("shipped") == "baseline" else "student,"
    accuracy = [  # (label, accuracy, test samples, params, MACs, color key, note)
        ("teacher", teacher.get("accuracy"), test_size, teacher.get("params"), teacher.get("macs"), "teacher",
         teacher.get("source", "")),
        ("baseline student (labels only)", baseline.get("accuracy"), test_size, baseline.get("params"),
         baseline.get("macs"), "baseline", "same student, no teacher"),
        ("student, float (distilled)", student.get("accuracy"), test_size, student.get("params"), student.get("macs"),
         "float", student.get("method", "")),
        (f"{who} int8 on host (TFLM)", q.get("int8_accuracy"), host_n, comp.get("params"), comp.get("macs"), "int8",
         (q.get("mode") or "").upper()),
    ]
    if partial and val.get("host_accuracy") is not None:  # the device's samples scored on the host too
        accuracy.append((f"{who} int8 on host, first {samples:,}", val["host_accuracy"], samples,
                         comp.get("params"), comp.get("macs"), "int8", "the samples validated on the device"))
    accuracy.append((f"{who} int8 on device" + (f", first {samples:,}" if partial else ""), val.get("accuracy"),
                     samples, comp.get("params"), comp.get("macs"), "device", device_note))
    agreement = None if samples is None else {
        "samples": samples, "agree": samples - mismatched, "mismatched": mismatched,
        "values": val.get("mismatched_values"),
        "text": f"{samples - mismatched:,} of {samples:,} device outputs bit-identical with TFLM on the host"
                + (" (all)" if not mismatched else f"; {mismatched} differ")
                + (f"; validated: the first {samples:,} of {test_size:,} test samples" if partial else "")}
    others = [_other_validation(board, record) for board, record in manifest.get("validations", {}).items()
              if board != val.get("board")]  # every device validated once stays on record, one entry per board
    fw = build or val.get("firmware", {})
    engine = "AOT" if (val.get("engine") or "aot") == "aot" else "TFLite Micro"
    memory = []
    if fw:
        memory = [
            {"item": f"flash: {engine} firmware image as built (text + rodata + data)", "bytes": fw["flash_bytes"],
             "budget": fw["flash_budget"]},
            {"item": f"RAM: {engine} firmware (data + bss + stack)", "bytes": fw["ram_bytes"],
             "budget": fw["ram_budget"]},
        ]
    memory += [row for row in (
        {"item": "int8 model file (.tflite)", "bytes": q.get("model_bytes"), "budget": fw.get("flash_budget")},
        {"item": "AOT constant data (weights, biases, requant params)", "bytes": comp.get("weight_bytes"),
         "budget": fw.get("flash_budget")},
        {"item": "AOT arena (activations)", "bytes": comp.get("arena_bytes"), "budget": fw.get("ram_budget")},
        {"item": "TFLM arena (measured minimum on host)", "bytes": q.get("arena_minimum"),
         "budget": fw.get("ram_budget")},
        {"item": "flash with TFLite Micro instead (export's estimate: model + TFLM code)",
         "bytes": ex.get("flash_needed"), "budget": ex.get("flash_budget")},
        {"item": "stack used on device (high-water mark)", "bytes": val.get("stack_used"),
         "budget": fw.get("stack")},
    ) if row["bytes"] is not None]
    for row in memory:
        row.update(bytes_text=_b(row["bytes"]), budget_text=_b(row["budget"]),
                   share=_share(row["bytes"], row["budget"]))
    total_macs = comp.get("macs") or 0
    layers = [{**layer, "output_text": "x".join(map(str, layer["output"])),
               "share": _share(layer["macs"], total_macs)} for layer in comp.get("layers", [])]
    instructions = val.get("instructions_median")
    latency = [row for row in (
        ("latency per inference", _time(val["latency_us"]) if "latency_us" in val else None, _latency_note(val)),
        ("instructions per inference", f"{instructions:,.0f}" if instructions else None, "QEMU -icount (exact)"),
        ("instructions per MAC", f"{instructions / total_macs:.2f}" if instructions and total_macs else None,
         "instructions / MACs of the int8 model"),
        ("throughput incl. serial link", f"{val['throughput_samples_per_s']:,.1f} samples/s"
         if "throughput_samples_per_s" in val else None, "host wall clock"),
    ) if row[1] is not None] + latency_rows(m["cycles"])
    verdict, gain = kd_verdict(student, baseline, test_size, q.get("ship_reason")), kd_gain_pp(student, baseline)
    headline = []
    if student.get("accuracy") is not None and teacher.get("params") and student.get("params"):
        headline.append(f"The distilled student reaches {_pct(student['accuracy'])} with "
                        f"{share_of_teacher(student['params'], teacher['params'])}")
    if "drop_pp" in q:
        whose = "the baseline's" if who == "baseline" else "its"
        headline.append(f"int8 changes {whose} accuracy by {-q['drop_pp']:+.2f} pp")
    if agreement:
        headline.append(f"the device matches the host on {agreement['agree']:,} of {samples:,} outputs")
    return {
        "headline": " ".join(filter(None, [verdict, ("; ".join(headline) + ".") if headline else ""])),
        "verdict": verdict, "settings": settings(manifest),
        "layer_error": [{**row, "shape_text": "x".join(map(str, row["shape"])),
                         "sqnr": "exact" if row["sqnr_db"] is None else f"{row['sqnr_db']:.1f} dB"}
                        for row in q.get("layer_error", [])],
        "curves": [(label, color, history) for label, color, history in (
            ("teacher", "teacher", teacher.get("history")), ("baseline", "baseline", baseline.get("history")),
            ("distilled", "float", student.get("history")), ("QAT", "int8", q.get("qat_history"))) if history],
        "per_class": _per_class(q.get("int8_confusion") or student.get("confusion"), data.get("class_names") or []),
        "per_class_model": "int8 on host (TFLM)" if q.get("int8_confusion") else "float student",
        "tool": f"tinykd {__version__}", "run": manifest.get("config", {}).get("run", {}).get("name") or
        data.get("name", "run"), "dataset": data.get("name", "?"), "classes": data.get("class_names", []),
        "input_shape": "x".join(map(str, data.get("input_shape", []))), "sizes": data.get("sizes", {}),
        "device": f"{val['board']} ({val['engine']} engine)" if val else "not validated",
        "model_sha": manifest.get("artifacts", {}).get(MODEL_INT8, {}).get("sha256", "")[:16],
        "accuracy": [{"label": a[0], "accuracy": _pct(a[1]), "samples": _count(a[1] is not None and a[2]),
                      "params": _count(a[3]), "macs": _count(a[4]), "note": a[6], "value": a[1], "color": a[5]}
                     for a in accuracy],
        "kd_gain": None if gain is None else f"{gain:+.2f} pp", "shipped": q.get("ship_reason"),
        "agreement": agreement, "other_validations": others, "firmware": fw, "memory": memory, "layers": layers,
        "total_macs": total_macs,
        "plan": [_buffer(b, comp.get("ops", [])) for b in comp.get("memory_plan", [])],
        "ops": comp.get("ops", []), "arena": comp.get("arena_bytes"), "latency": latency,
        "confusions": [(title, m_[key]) for title, m_, key in (
            ("student, float", student, "confusion"), (f"{who} int8 on host", q, "int8_confusion"),
            (f"{who} int8 on device", val, "confusion")) if m_.get(key)],
        "stages": [{"name": name, "seconds": stages[name].get("seconds", 0),
                    "finished": stages[name].get("finished", "")} for name in ORDER if name in stages],
        "missing": [name for name in ORDER if name not in stages],
        "packages": manifest.get("packages", {}),
    }


def _other_validation(board: str, m: dict) -> str:
    what = "the x86 host build on a pty (not a device)" if board.startswith("host") else \
        f"{board} ({m['engine']} engine)"
    return (f"{what}: {m['samples'] - m['mismatched_outputs']:,} of {m['samples']:,} outputs bit-identical with TFLM, "
            f"accuracy {_pct(m['accuracy'])} (host on the same samples {_pct(m['host_accuracy'])})")


def summary_table(manifest: dict) -> str:
    """The final table of `tinykd run`: accuracies, agreement, flash/RAM vs budget, latency (all from run.json)."""
    return _summary(view(manifest))


def _summary(v: dict) -> str:
    lines = [f"tinykd run '{v['run']}': {v['dataset']} ({v['sizes'].get('test', '?')} test samples) -> {v['device']}",
             f"{'model':<36}{'accuracy':>9}{'samples':>9}{'params':>10}{'MACs':>12}"]
    lines += [f"{a['label']:<36}{a['accuracy']:>9}{a['samples']:>9}{a['params']:>10}{a['macs']:>12}"
              for a in v["accuracy"]]
    if v["kd_gain"]:
        lines.append(f"distillation gain over the baseline: {v['kd_gain']}")
    if v["shipped"]:
        lines.append(f"shipped: {v['shipped']}")
    lines.append("agreement: " + (v["agreement"]["text"] if v["agreement"] else "not validated"))
    lines += [f"also validated: {other}" for other in v["other_validations"]]
    fw = v["firmware"]
    if fw:
        flash, ram = _share(fw["flash_bytes"], fw["flash_budget"]), _share(fw["ram_bytes"], fw["ram_budget"])
        lines.append(f"flash: {fw['flash_bytes']:,} of {fw['flash_budget']:,} B ({flash})   RAM: "
                     f"{fw['ram_bytes']:,} of {fw['ram_budget']:,} B ({ram})   [{fw.get('budget', '')} budget]")
    for what, value, how in v["latency"]:
        lines.append(f"{what}: {value}  ({how})")
    return "\n".join(lines)


def _images(v: dict) -> dict[str, str]:
    from pipeline.report import plots
    images = {}
    bars = [(a["label"], a["value"], a["color"]) for a in v["accuracy"] if a["value"] is not None]
    if bars:
        images["accuracy"] = plots.accuracy_bars(bars)
    if v["curves"]:
        images["curves"] = plots.training_curves(v["curves"])
    if v["confusions"]:
        images["confusion"] = plots.confusion_grid(v["confusions"], v["classes"] or [str(i) for i in range(99)])
    fw = v["firmware"]
    if fw:
        images["budget"] = plots.budget_bars([
            ("flash", [("code", fw["text"]), ("constants (rodata)", fw["rodata"]), ("data init", fw["data"])],
             fw["flash_budget"]),
            ("RAM", [("data", fw["data"]), ("bss (incl. arena)", fw["bss"]), ("stack", fw["stack"])],
             fw["ram_budget"])])
    if v["layers"]:
        images["macs"] = plots.layer_macs(v["layers"])
    if v["plan"]:
        images["plan"] = plots.memory_plan(v["plan"], v["ops"], v["arena"])
    samples = v.get("misclassified_samples")
    if samples is not None and len(samples["x"]):
        images["misclassified"] = plots.misclassified_grid(samples["x"], samples["true"], samples["predicted"],
                                                           v["classes"])
    return images


def render(manifest: dict, misclassified: dict | None = None, audio_clips: dict | None = None) -> tuple[str, str]:
    """(report.md, report.html) text for a manifest (and the quantize stage's misclassified test samples and, for
    keyword data, its audio_clips.npz)."""
    v = view(manifest)
    v["audio"] = audio_view(manifest, audio_clips)
    v["misclassified"] = _misclassified(misclassified, v["classes"])
    v["misclassified_samples"] = misclassified
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
                             autoescape=jinja2.select_autoescape(["html.j2"]))
    markdown = env.get_template("report.md.j2").render(**v, summary=_summary(v))
    images = {**_images(v), **audio_images(v["audio"], audio_clips)}
    html = env.get_template("report.html.j2").render(**v, images=images)
    return markdown, html


@stage("report")
def write_report(run_dir: str | Path) -> list[Path]:
    """Write report.md and report.html into the run folder (atomically); returns their paths."""
    run_dir = Path(run_dir)
    manifest = load_manifest(run_dir)
    arrays = {}
    for name in (MISCLASSIFIED, AUDIO_CLIPS):  # the quantize stage's arrays for the report, when it listed them
        if name in manifest.get("artifacts", {}) and (run_dir / name).is_file():
            with np.load(run_dir / name) as f:
                arrays[name] = {k: f[k] for k in f.files}
    try:
        markdown, html = render(manifest, arrays.get(MISCLASSIFIED), arrays.get(AUDIO_CLIPS))
    except (TypeError, ValueError, KeyError, AttributeError, IndexError) as e:  # a hand-edited value
        raise corrupt_manifest(run_dir / MANIFEST, f"{type(e).__name__}: {e}") from None
    paths = []
    for name, text in zip(REPORTS, (markdown, html)):
        with atomic_path(run_dir / name) as tmp:
            tmp.write_text(text)
        paths.append(run_dir / name)
    return paths
