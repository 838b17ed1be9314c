"""A stage's fingerprint holds the hash of tinykd's own sources it runs (pipeline/runs.py sources_hash): after an
upgrade or an edit of that code the stage runs again instead of keeping what the old code made."""
import shutil

import pytest

from conftest import TINY, invoke
from pipeline import paths
from pipeline.runs import sources_hash


def test_sources_hash_follows_the_sources_and_nothing_else(tmp_path):
    code = tmp_path / "kd"
    code.mkdir()
    (code / "a.py").write_text("x = 1\n")
    first = sources_hash(code)
    (code / "__pycache__").mkdir()
    (code / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"compiled")
    (code / "notes.txt").write_text("not a source")
    assert sources_hash(code) == first
    (code / "a.py").write_text("x = 2\n")
    assert sources_hash(code) != first
    (code / "a.py").write_text("x = 1\n")
    (code / "b.j2").write_text("{{ x }}")  # a template is a source too
    assert sources_hash(code) != first


@pytest.mark.slow
def test_a_change_to_the_distillation_code_trains_again(tiny_run, tmp_path, monkeypatch):
    from pipeline.kd import distill, teacher
    shutil.copytree(tiny_run, tmp_path / "tiny")
    config = tmp_path / "c.toml"
    config.write_text(f'[run]\nroot = "{tmp_path}"\n')
    args = ["distill", "--config", str(config), "--run", "tiny", *TINY]
    same = invoke(*args)
    assert same.exit_code == 0 and "teacher   unchanged" in same.output and "distill   unchanged" in same.output
    code = tmp_path / "kd"  # pipeline/kd as a newer tinykd would have it
    shutil.copytree(paths.KD, code, ignore=shutil.ignore_patterns("__pycache__"))
    (code / "sizing.py").write_text((code / "sizing.py").read_text() + "\n# a newer version\n")
    monkeypatch.setattr(teacher, "KD", code)
    monkeypatch.setattr(distill, "KD", code)
    newer = invoke(*args)
    assert newer.exit_code == 0 and "teacher   unchanged" not in newer.output, newer.output
    assert "distill   unchanged" not in newer.output and "baseline  unchanged" not in newer.output
