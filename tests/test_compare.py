"""`tinykd runs` and `tinykd compare`: runs side by side, every figure from their run.json, the settings that
differ named."""
from __future__ import annotations

import json
import re
import shutil

from conftest import TINY, _root_config, invoke
from test_hostile_inputs import one_line_error


def _two_runs_differing_in_t(tiny_run, tmp_path):
    """(config, root): the tiny run copied as `t4`, and as `t2` distilled again with -T 2 (nothing else changed)."""
    for name in ("t4", "t2"):
        shutil.copytree(tiny_run, tmp_path / name)
    config = _root_config(tmp_path)
    result = invoke("distill", "--config", config, "--run", "t2", *TINY, "-T", "2")
    assert result.exit_code == 0, result.output
    assert "teacher   unchanged" in result.output and "baseline  unchanged" in result.output
    return config


def test_compare_two_runs_that_differ_only_in_t(tiny_run, tmp_path):
    config = _two_runs_differing_in_t(tiny_run, tmp_path)
    result = invoke("compare", "t4", "t2", "--config", config)
    assert result.exit_code == 0, result.output
    settings = result.output.split("settings that differ:")[1]
    assert [line.split()[0] for line in settings.splitlines() if line.startswith("  ")] == ["distill.temperature"]
    assert "t4=4.0" in settings and "t2=2.0" in settings
    rows = {line.split()[0]: line.split() for line in result.output.splitlines()[1:3]}
    for name in ("t4", "t2"):
        accuracy = json.loads((tmp_path / name / "run.json").read_text())["stages"]["distill"]["metrics"]["accuracy"]
        assert rows[name][4] == f"{100 * accuracy:.2f}%"  # run, dataset, teacher, baseline, float
    html = (tmp_path / "compare.html").read_text()
    assert "distill.temperature" in html and "<td class=\"text\">2.0</td>" in html


def test_every_compared_number_comes_from_the_manifest(tiny_run, tmp_path):
    for name in ("a", "b"):
        shutil.copytree(tiny_run, tmp_path / name)
    manifest = json.loads((tmp_path / "b" / "run.json").read_text())
    manifest["stages"]["distill"]["metrics"]["accuracy"] = 0.12345
    manifest["stages"]["teacher"]["metrics"]["params"] = 987_654
    (tmp_path / "b" / "run.json").write_text(json.dumps(manifest))
    result = invoke("compare", tmp_path / "a", tmp_path / "b", "--out", tmp_path / "c.html")
    assert result.exit_code == 0, result.output
    assert "12.35%" in result.output and re.search(r"1/\d+", result.output)
    assert "12.35%" in (tmp_path / "c.html").read_text()
    assert "settings: identical" in result.output


def test_runs_lists_every_run_folder(tiny_run, tmp_path):
    for name in ("first", "second"):
        shutil.copytree(tiny_run, tmp_path / name)
    (tmp_path / "not-a-run").mkdir()
    result = invoke("runs", "--config", _root_config(tmp_path))
    assert result.exit_code == 0, result.output
    assert [line.split()[0] for line in result.output.splitlines()[1:]] == ["first", "second"]


def test_bad_runs_are_one_line(tiny_run, tmp_path):
    shutil.copytree(tiny_run, tmp_path / "only")
    config = _root_config(tmp_path)
    one_line_error(invoke("compare", "only", "ghost", "--config", config), "ghost", "not a run folder")
    one_line_error(invoke("compare", "only", "--config", config), "two runs or more")
    elsewhere = tmp_path / "elsewhere.toml"
    elsewhere.write_text(f'[run]\nroot = "{tmp_path / "nowhere"}"\n')
    one_line_error(invoke("runs", "--config", elsewhere), "does not exist")
