"""Fuzz the firmware's protocol parser and request handler with libFuzzer (ASan + UBSan).

    PYTHONPATH=. python bench/fuzz.py --seconds 600      # `make fuzz FUZZ_SECONDS=600`; writes bench/results/fuzz.json

Builds firmware/fuzz/fuzz_protocol.c with Debian's clang (-fsanitize=fuzzer,address,undefined), runs it on a working
copy of the committed seed corpus (firmware/fuzz/corpus, left unchanged; a work dir's grown corpus is reused) for
the given time, and reports the number of executions and crashes. A finding leaves its input in the work dir
(crash-/timeout-/oom-/leak-<sha1>): rerun the binary on that file.
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.errors import PipelineError  # noqa: E402

SOURCES = [ROOT / "firmware/fuzz/fuzz_protocol.c", ROOT / "firmware/src/app.c", ROOT / "firmware/src/tk_protocol.c"]
CORPUS = ROOT / "firmware/fuzz/corpus"
# The fuzz build shrinks the parser's buffer (TK_PROTO_MAX_PAYLOAD, 2048 on devices) to 256 bytes so that short
# inputs reach its edges (a full buffer, one byte over the bound) and run fast; the code is the same for any size.
MAX_PAYLOAD = 256
MAX_LEN = 4 * (MAX_PAYLOAD + 10)  # libFuzzer -max_len: a few full frames
# libFuzzer -timeout (wall clock): a unit runs in microseconds, but a niced run on a loaded machine was once stalled
# for 10 s (that input then ran in 0 ms); an endless loop still trips 60 s.
UNIT_TIMEOUT_S = 60
FLAGS = [f"-DTK_PROTO_MAX_PAYLOAD={MAX_PAYLOAD}u", "-g", "-O1", "-fsanitize=fuzzer,address,undefined",
         "-fno-sanitize-recover=all", "-Wall", "-Wextra",
         "-Werror", f"-I{ROOT / 'firmware/src'}"]


def build_fuzzer(out_dir: Path, sources: list[Path] = SOURCES) -> Path:
    clang = shutil.which("clang")
    if clang is None:
        raise PipelineError("'clang' is not installed.",
                            "Install it: apt-get install --no-install-recommends clang libclang-rt-14-dev.")
    out_dir.mkdir(parents=True, exist_ok=True)
    exe = out_dir / "fuzz_protocol"
    result = subprocess.run([clang, *FLAGS, *map(str, sources), "-o", str(exe)], capture_output=True, text=True)
    if result.returncode != 0:
        raise PipelineError(f"Building the fuzz target failed: {result.stderr.strip()[-600:]}",
                            "libFuzzer needs libclang-rt-14-dev (apt-get install --no-install-recommends).")
    return exe


def run_fuzzer(exe: Path, seconds: int, work_dir: Path) -> dict:
    """Runs `exe` for `seconds` on a working corpus seeded from CORPUS; returns executions, crashes, coverage."""
    corpus = work_dir / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    for seed in CORPUS.iterdir():
        shutil.copy(seed, corpus / seed.name)
    start = time.monotonic()
    result = subprocess.run(["nice", str(exe), f"-max_total_time={seconds}", f"-max_len={MAX_LEN}",
                             "-print_final_stats=1",
                             f"-artifact_prefix={work_dir}/", f"-timeout={UNIT_TIMEOUT_S}", str(corpus)],
                            capture_output=True, text=True, cwd=work_dir)
    log = result.stderr
    executions = re.search(r"stat::number_of_executed_units:\s+(\d+)", log)
    coverage = re.findall(r"cov: (\d+)", log)
    crashes = sorted(p.name for kind in ("crash", "leak", "timeout", "oom") for p in work_dir.glob(f"{kind}-*"))
    return {
        "executions": int(executions.group(1)) if executions else 0,
        "seconds": round(time.monotonic() - start, 1),
        "crashes": len(crashes) + (result.returncode != 0 and not crashes),
        "crash_files": crashes,
        "exit_status": result.returncode,
        "edges_covered": int(coverage[-1]) if coverage else 0,
        "corpus_files": len(list(corpus.iterdir())),
        "log_tail": log.strip().splitlines()[-12:] if result.returncode else [],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=600, help="fuzzing time (libFuzzer -max_total_time)")
    parser.add_argument("--work-dir", type=Path, default=ROOT / "build" / "fuzz")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "fuzz.json")
    args = parser.parse_args()
    exe = build_fuzzer(args.work_dir)
    figures = run_fuzzer(exe, args.seconds, args.work_dir)
    clang = subprocess.run(["clang", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    report = {"target": "firmware/fuzz/fuzz_protocol.c (tk_parser_feed + app.c request handler)",
              "sanitizers": "address,undefined (libFuzzer)", "compiler": clang, **figures}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"fuzz: {figures['executions']:,} executions in {figures['seconds']} s, {figures['crashes']} crashes, "
          f"{figures['edges_covered']} edges; {args.out}")
    if figures["crashes"]:
        raise SystemExit(f"findings in {args.work_dir}: {figures['crash_files']}\n" + "\n".join(figures["log_tail"]))


if __name__ == "__main__":
    main()
