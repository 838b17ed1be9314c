"""libFuzzer on the firmware's protocol parser and request handler (ASan + UBSan): a short run in the suite;
`make fuzz` runs it for FUZZ_SECONDS and records bench/results/fuzz.json."""
import importlib.util
import subprocess
from pathlib import Path

import pytest

from pipeline.device import protocol as P

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("bench_fuzz", ROOT / "bench" / "fuzz.py")
fuzz = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fuzz)


@pytest.fixture(scope="module")
def fuzzer(tmp_path_factory):
    return fuzz.build_fuzzer(tmp_path_factory.mktemp("fuzz"))


def test_committed_corpus_is_the_generator_output():
    import importlib
    import sys
    sys.path.insert(0, str(ROOT / "firmware" / "fuzz"))
    make_corpus = importlib.import_module("make_corpus")
    committed = {p.name: p.read_bytes() for p in fuzz.CORPUS.iterdir()}
    assert committed == make_corpus.seeds()
    assert sum(map(len, committed.values())) < 2048  # a handful of small frames


@pytest.mark.slow
def test_every_seed_runs_clean(fuzzer, tmp_path):
    """Each seed alone through the target (parser and app checks) without a finding."""
    result = subprocess.run([str(fuzzer), *map(str, sorted(fuzz.CORPUS.iterdir()))], capture_output=True,
                            text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stderr.count("Executed ") == len(list(fuzz.CORPUS.iterdir()))


@pytest.mark.slow
def test_a_parser_without_its_length_bound_is_caught(fuzzer, tmp_path):
    """The checks can fail: the same target built over a parser whose length bound is off by 8 (and without its
    defensive check) overflows its buffer on one crafted frame, and a sanitizer reports it."""
    source = (ROOT / "firmware/src/tk_protocol.c").read_text()
    broken = source.replace("length > TK_PROTO_MAX_PAYLOAD)", "length > TK_PROTO_MAX_PAYLOAD + 8u)")
    broken = broken.replace("parser->needed > sizeof parser->buf)", "0)")
    assert broken.count("+ 8u)") == 1 and broken != source
    (tmp_path / "tk_protocol.c").write_text(broken)
    exe = fuzz.build_fuzzer(tmp_path, [fuzz.SOURCES[0], fuzz.SOURCES[1], tmp_path / "tk_protocol.c"])
    frame = tmp_path / "long_frame"
    frame.write_bytes(P.SYNC + bytes([P.INFER, 1]) + (fuzz.MAX_PAYLOAD + 8).to_bytes(2, "little")
                      + bytes(fuzz.MAX_PAYLOAD + 12))
    result = subprocess.run([str(exe), str(frame)], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode != 0 and "Sanitizer" in result.stderr
    assert "out of bounds" in result.stderr or "buffer-overflow" in result.stderr
    assert subprocess.run([str(fuzzer), str(frame)], capture_output=True,
                          cwd=tmp_path).returncode == 0  # the real parser drops that frame


@pytest.mark.slow
def test_short_fuzz_run_finds_no_crash(fuzzer, tmp_path):
    figures = fuzz.run_fuzzer(fuzzer, 20, tmp_path)
    assert figures["crashes"] == 0 and figures["exit_status"] == 0, figures["log_tail"]
    assert figures["executions"] > 1_000  # ~6,000-20,000/s on a free core; a niced run on a loaded machine far less
    assert figures["edges_covered"] > 60  # parser and handler: ~100 edges in all
