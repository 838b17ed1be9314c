"""`tinykd runs` and `tinykd compare`: run folders side by side. Every figure is read from their run.json; the
settings column lists only what differs between the runs (the resolved config, auto values as chosen)."""
from __future__ import annotations

from pathlib import Path

import jinja2

from pipeline import __version__
from pipeline.errors import PipelineError
from pipeline.paths import TEMPLATES, run_folder
from pipeline.report.render import load_manifest
from pipeline.report.sections import kd_gain_pp, size_ratio
from pipeline.runs import MANIFEST, atomic_path

# (column, how it is read from a manifest's stage metrics, how it is shown)
COLUMNS = [
    ("teacher", ("teacher", "accuracy"), "pct"), ("baseline", ("baseline", "accuracy"), "pct"),
    ("float", ("distill", "accuracy"), "pct"), ("int8 host", ("quantize", "int8_accuracy"), "pct"),
    ("device", ("validate", "accuracy"), "pct"), ("device n", ("validate", "samples"), "int"),
    ("params", ("compile", "params"), "int"), ("MACs", ("compile", "macs"), "int"),
    ("flash B", ("build", "flash_bytes"), "int"), ("RAM B", ("build", "ram_bytes"), "int"),
    ("latency", ("validate", "latency_us"), "us"), ("shipped", ("quantize", "shipped"), "text"),
]
HEADERS = ["run", "dataset", *[c for c, _, _ in COLUMNS], "KD gain", "size"]  # size: student params vs teacher's
NOT_SETTINGS = {"run.name", "run.root"}  # differ between any two runs by definition


def list_runs(root: str | Path) -> list[Path]:
    root = Path(root)
    if not root.is_dir():
        raise PipelineError(f"Run root '{root}' does not exist.", "Set run.root in --config, or run `tinykd run`.")
    return sorted(p for p in root.iterdir() if (p / MANIFEST).is_file())


def row(manifest: dict, name: str) -> dict:
    """One run's headline figures, formatted; None values show as '-'."""
    stages = manifest.get("stages", {})
    cells = {"run": name, "dataset": manifest.get("data", {}).get("name", "?")}
    for column, (stage, key), kind in COLUMNS:
        value = stages.get(stage, {}).get("metrics", {}).get(key)
        cells[column] = "-" if value is None else str(value) if kind == "text" else (
            f"{100 * value:.2f}%" if kind == "pct" else
            f"{value / 1000:,.2f} ms" if kind == "us" else f"{value:,}")
    student, teacher = stages.get("distill", {}).get("metrics", {}), stages.get("teacher", {}).get("metrics", {})
    gain = kd_gain_pp(student, stages.get("baseline", {}).get("metrics", {}))
    cells["KD gain"] = "-" if gain is None else f"{gain:+.2f} pp"
    cells["size"] = size_ratio(student["params"], teacher["params"]) \
        if student.get("params") and teacher.get("params") else "-"  # the student's size against its teacher's
    return cells


def differing_settings(manifests: list[dict]) -> list[tuple[str, list[str]]]:
    """(section.key, value per run) for every setting whose value is not the same in all runs."""
    flat = [{f"{section}.{key}": value for section, values in (m.get("config") or {}).items()
             if isinstance(values, dict) for key, value in values.items()} for m in manifests]
    keys = sorted({k for f in flat for k in f} - NOT_SETTINGS)
    return [(k, [str(f.get(k, "-")) for f in flat]) for k in keys if len({repr(f.get(k)) for f in flat}) > 1]


def text_table(rows: list[dict]) -> str:
    columns = HEADERS
    widths = {c: max(len(c), *(len(r[c]) for r in rows)) for c in columns}
    line = lambda cells: "  ".join(cells[c].ljust(widths[c]) if c in ("run", "dataset") else cells[c].rjust(widths[c])
                                   for c in columns)
    return "\n".join([line({c: c for c in columns}), *(line(r) for r in rows)])


def compare(runs: list[str], root: str | Path) -> dict:
    """{"rows", "settings", "table"} for the given run names or paths (each must hold a run.json)."""
    if len(runs) < 2:
        raise PipelineError(f"Compare needs two runs or more, got {len(runs)}.", "Use `tinykd compare RUN_A RUN_B`.")
    folders = [run_folder(name, root) for name in runs]
    manifests = [load_manifest(folder) for folder in folders]
    rows = [row(m, folder.name) for m, folder in zip(manifests, folders)]
    differ = differing_settings(manifests)
    table = text_table(rows)
    if differ:
        width = max(len(k) for k, _ in differ)
        table += "\n\nsettings that differ:\n" + "\n".join(
            f"  {k.ljust(width)}  " + "  ".join(f"{r['run']}={v}" for r, v in zip(rows, values))
            for k, values in differ)
    else:
        table += "\n\nsettings: identical"
    return {"rows": rows, "settings": differ, "table": table}


def write_html(result: dict, path: Path) -> Path:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), undefined=jinja2.StrictUndefined,
                             autoescape=True, trim_blocks=True, lstrip_blocks=True)
    html = env.get_template("compare.html.j2").render(
        **result, columns=HEADERS, tool=f"tinykd {__version__}")
    with atomic_path(path) as tmp:
        tmp.write_text(html)
    return path
