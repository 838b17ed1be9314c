"""Reliability bench: validation through a fault-injecting link (pipeline/device/faults.py) must record no wrong result.

    PYTHONPATH=. python bench/reliability.py                  # 10,000 samples on the host port, 1,000 on QEMU

Writes bench/results/reliability.json. The device runs the fixture model (a test double of the AOT model.h) in the
real app and protocol; golden outputs come from its numpy oracle. Per frame, in each direction, `rate` of them get
one fault (drop, bit flip, duplicated byte, stall of up to `delay_s`); a RESET is slipped in before `reset_rate` of
the host's frames, and on the host port the device also resets once in the middle of a request (its
TK_HOST_RESET_AFTER_BYTES hook). "wrong results" = recorded outputs that differ from the oracle.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import serial

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from device_helpers import FIXTURE_MODEL, make_run  # noqa: E402

from pipeline.device import emulator, session  # noqa: E402
from pipeline.device.build import build  # noqa: E402
from pipeline.device.faults import Faults, FaultyPort, Injector  # noqa: E402


def run(emu, run_dir: Path, faults: Faults, samples: int, timeout: float) -> dict:
    injector = Injector(faults)

    def opener(url, **kw):
        return FaultyPort(serial.serial_for_url(url, **kw), faults, injector)
    start = time.monotonic()
    report = session.validate(emu.url, run_dir, limit=samples, timeout=timeout, progress=False, opener=opener,
                              bye=True, reconnect_s=0)
    emu.finish()
    frames = injector.summary()
    return {
        "samples_requested": samples,
        "samples_validated": report["samples"],
        "wrong_results": report["mismatched_outputs"],
        "accuracy_on_device": report["accuracy"],
        "accuracy_oracle": report["host_accuracy"],
        "frames": frames["frames"],
        "faults_injected": frames["faults"],
        "faults_total": frames["faults_total"],
        "link": report["link"],
        "seconds": round(time.monotonic() - start, 1),
        "faults_config": asdict(faults),
        "timeout_s": timeout,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=10_000, help="samples on the host port")
    parser.add_argument("--qemu-samples", type=int, default=1_000, help="samples on QEMU (0 = skip)")
    parser.add_argument("--rate", type=float, default=0.01, help="share of frames damaged, each direction")
    parser.add_argument("--reset-rate", type=float, default=0.001, help="share of host frames preceded by RESET")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "reliability.json")
    args = parser.parse_args()
    faults = Faults(rate=args.rate, reset_rate=args.reset_rate, delay_s=0.5, seed=args.seed)
    results = {"load_average": os.getloadavg()}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        make_run(tmp / "run", samples=max(args.samples, args.qemu_samples))
        exe = build("host", FIXTURE_MODEL, out_dir=tmp / "host").elf
        reset_at = 2_000 + 74 * (args.samples // 2) + 30  # inside an INFER request half-way through the run
        with emulator.host(exe, env={"TK_HOST_RESET_AFTER_BYTES": str(reset_at)}) as emu:
            results["host_port"] = run(emu, tmp / "run", faults, args.samples, timeout=0.5)
        if args.qemu_samples:
            elf = build("qemu-cm4", FIXTURE_MODEL, out_dir=tmp / "qemu").elf
            with emulator.qemu(elf) as emu:
                results["qemu"] = run(emu, tmp / "run", faults, args.qemu_samples, timeout=1.0)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    for name in ("host_port", "qemu"):
        if name in results:
            r = results[name]
            print(f"{name}: {r['samples_validated']}/{r['samples_requested']} samples, {r['wrong_results']} wrong, "
                  f"{r['faults_total']} faults injected into {sum(r['frames'].values())} frames, "
                  f"{r['link']['retries']} retries, {r['link']['resets']} resets, {r['seconds']} s")


if __name__ == "__main__":
    main()
