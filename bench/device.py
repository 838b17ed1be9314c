"""Device benchmark: the firmware's cost on QEMU's Cortex-M4 and the validation link's throughput.

    PYTHONPATH=. python bench/device.py                                   # the fixture model (a test double)
    PYTHONPATH=. python bench/device.py --run-dir models/digits --model-dir models/digits/aot   # a real run

Writes bench/results/device.json: instructions per inference and per MAC (QEMU -icount shift=7: instructions =
ticks / 3.2, exact and deterministic; these are instructions, not Cortex-M4 cycles), flash (text + rodata) and
RAM (data + bss + stack) of the firmware, and validation throughput in samples/s on QEMU and on the host port.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from device_helpers import validate_in  # noqa: E402
from pipeline.runs import Run  # noqa: E402


def version(command: list[str]) -> str:
    return subprocess.run(command, capture_output=True, text=True).stdout.splitlines()[0]


def macs_of(run_dir: Path, given: int | None) -> int | None:
    """MACs of the int8 model the device runs: the run's compile stage counted them (pipeline/device/stages.py)."""
    if given:
        return given
    return Run(run_dir).metrics("compile").get("macs") if (run_dir / "run.json").is_file() else None


def measure(run_dir: Path, model_dir: Path, budget: str, limit: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        qemu, host = (validate_in(name, run_dir, Path(tmp) / name, model_dir=model_dir, board=budget, limit=limit)
                      for name in ("qemu", "host"))
    return {"qemu": qemu, "host": host, "sizes": qemu["firmware"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", type=Path, help="run folder (student_int8.tflite, golden.npz)")
    parser.add_argument("--model-dir", type=Path, help="AOT model folder (model.h, model.c)")
    parser.add_argument("--macs", type=int, help="MACs per inference (default: the run's distill metrics)")
    parser.add_argument("--budget", default="nano33ble")
    parser.add_argument("--limit", type=int, default=200, help="samples to validate")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "device.json")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        if args.run_dir is None:  # the fixture: one int8 dense layer, 64 -> 10 (640 MACs)
            from device_helpers import FIXTURE_MODEL, make_run
            run_dir, model_dir, macs, source = Path(tmp) / "run", FIXTURE_MODEL, 640, "fixture (test double)"
            make_run(run_dir, samples=args.limit)
        else:
            run_dir, model_dir, source = args.run_dir, args.model_dir or args.run_dir / "aot", str(args.run_dir)
            macs = macs_of(run_dir, args.macs)
        started = time.time()
        m = measure(run_dir, model_dir, args.budget, args.limit)
    qemu, host, sizes = m["qemu"], m["host"], m["sizes"]
    instructions = qemu["instructions_median"]
    result = {
        "model": source,
        "model_sha256_prefix": qemu["device"]["model_sha256_prefix"],
        "budget": args.budget,
        "samples": qemu["samples"],
        "mismatched_outputs": {"qemu": qemu["mismatched_outputs"], "host": host["mismatched_outputs"]},
        "device_accuracy": qemu["accuracy"],
        "macs_per_inference": macs,
        "instructions_per_inference": round(instructions, 1),
        "instructions_per_mac": round(instructions / macs, 3) if macs else None,
        "flash_bytes": {"text": sizes["text"], "rodata": sizes["rodata"],
                        "text_plus_rodata": sizes["text"] + sizes["rodata"], "data": sizes["data"],
                        "image": sizes["flash_bytes"], "budget": sizes["flash_budget"]},
        "ram_bytes": {"data": sizes["data"], "bss": sizes["bss"], "stack": sizes["stack"],
                      "data_bss_stack": sizes["ram_bytes"], "stack_used": qemu["device"]["stack_used"],
                      "arena": qemu["device"]["arena_bytes"], "budget": sizes["ram_budget"]},
        "throughput_samples_per_s": {"qemu": round(qemu["throughput_samples_per_s"], 1),
                                     "host_port": round(host["throughput_samples_per_s"], 1)},
        "notes": "QEMU mps2-an386 -icount shift=7,sleep=off: instructions = SysTick ticks / 3.2 (checked by "
                 "tests/test_device_qemu.py). Throughput includes QEMU's emulated UART (~20-35 KB/s host to "
                 "device) and QEMU's speed on a shared machine: it varies with load.",
        "tools": {"qemu": version(["qemu-system-arm", "--version"]),
                  "gcc": version(["arm-none-eabi-gcc", "--version"])},
        "seconds": round(time.time() - started, 1),
        "load_average_1min": round(os.getloadavg()[0], 1),  # other jobs on this machine slow the throughput
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
