"""README's benchmark table is generated from bench/results/*.json, never typed by hand."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("bench_summary", ROOT / "bench" / "summary.py")
summary = importlib.util.module_from_spec(spec)
spec.loader.exec_module(summary)


@pytest.mark.parametrize("block", sorted(summary.BLOCKS))
def test_readme_figures_match_the_json(block):
    text = summary.readme_block((ROOT / "README.md").read_text(), block)
    assert text, f"README.md lacks the {block} markers"
    assert text == summary.BLOCKS[block](), f"README's {block} is stale: run `python bench/summary.py --readme`"


def test_summary_follows_the_json(tmp_path):
    """A changed figure in a result file changes the table (the table is not copied from anywhere else)."""
    device = json.loads((ROOT / "bench" / "results" / "device.json").read_text())
    device["instructions_per_mac"] = 12.345
    (tmp_path / "device.json").write_text(json.dumps(device))
    (tmp_path / "newbench.json").write_text(json.dumps({"speedup": 3.5, "label": "x", "items": 7}))
    table = summary.markdown(tmp_path)
    assert "| 12.35 |" in table and "`bench/results/device.json`" in table
    assert "| speedup | 3.5 |" in table and "| items | 7 |" in table  # a bench without its own summarizer


def test_make_bench_runs_every_benchmark():
    """A new bench/*.py is part of `make bench`, and the device bench measures a real run, not the test fixture."""
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile[makefile.index("\nbench:"):].split("\n\n")[0]
    scripts = {p.name for p in (ROOT / "bench").glob("*.py")}
    missing = sorted(name for name in scripts if f"bench/{name}" not in recipe)
    assert not missing, f"make bench does not run {missing}"
    assert "bench/device.py --run-dir" in recipe


def test_qat_learning_rate_row_names_the_validation_choice(tmp_path):
    picked = {"rates": [0.001, 0.0003], "default": 0.0003, "datasets": {"digits": {
        "by_rate": {"0.001": {"val_mean": 0.95, "test_mean": 0.9, "runs": []},
                    "0.0003": {"val_mean": 0.96, "test_mean": 0.8, "runs": []}},
        "chosen_on_validation": 0.0003}}}
    (tmp_path / "qat_lr.json").write_text(json.dumps(picked))
    table = summary.markdown(tmp_path)
    assert "| QAT learning rate chosen on validation, digits (of 0.001, 0.0003) | 0.0003 (validation 96.00%) |" in table


def test_qat_learning_rate_is_chosen_on_validation_only():
    spec = importlib.util.spec_from_file_location("bench_quantize", ROOT / "bench" / "quantize.py")
    quantize = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(quantize)
    by_rate = {"0.001": {"val_mean": 0.95, "test_mean": 0.99}, "0.0003": {"val_mean": 0.96, "test_mean": 0.80}}
    assert quantize.choose(by_rate) == 0.0003  # best validation, whatever the test accuracy says
    tie = {"0.001": {"val_mean": 0.96, "test_mean": 0.9}, "0.0003": {"val_mean": 0.96, "test_mean": 0.8}}
    assert quantize.choose(tie, default=0.0003) == 0.0003 and quantize.choose(tie, default=0.001) == 0.001
