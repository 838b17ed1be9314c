"""What a validation found: the report of one session (`summarize`), its text, and the bit-exactness verdict.

A device output is compared with TFLite Micro's on the host bit for bit (floats as their bit patterns): any
difference is an engine bug, raised as one error wherever it is found (`check_bit_exact`).
"""
from __future__ import annotations

import statistics

import numpy as np

from pipeline.device import protocol as P
from pipeline.device.emulator import ICOUNT_SHIFT
from pipeline.errors import PipelineError
from pipeline.device.link import Link
from pipeline.metrics import confusion_matrix


def check_bit_exact(report: dict, recorded: bool) -> None:
    """A device output that differs from TFLM's on the host is an engine bug: one error, wherever it is found."""
    if report["mismatched_outputs"]:
        raise PipelineError(f"{report['mismatched_outputs']} of {report['samples']} device outputs differ from the "
                            f"host's{' (recorded in run.json)' if recorded else ''}.",
                            "The engine is not bit-exact with TFLM: report it with the run folder.")


def _bits(values: np.ndarray) -> np.ndarray:
    """The values as unsigned integers of their size: compared, they are equal only when bit-identical."""
    return values.view({1: np.uint8, 4: np.uint32}[values.itemsize])


def summarize(golden, outputs, ticks, seconds, hello: P.Hello, stats: P.Stats, link: Link, resets: int,
              icount_shift: int | None) -> dict:
    expected = golden["outputs"].reshape(len(outputs), -1)  # (N, output values)
    labels = golden["labels"].reshape(-1)
    differ = _bits(outputs) != _bits(expected)  # bit for bit, floats included
    mismatched = np.any(differ, axis=1)
    median = float(statistics.median(ticks.tolist())) if len(ticks) else 0.0
    report = {
        "samples": int(len(outputs)),
        "accuracy": float(np.mean(np.argmax(outputs, axis=1) == labels)) if len(outputs) else 0.0,
        "host_accuracy": float(np.mean(np.argmax(expected, axis=1) == labels)) if len(outputs) else 0.0,
        "mismatched_outputs": int(mismatched.sum()),  # samples whose output differs from TFLM's
        "mismatched_values": int(differ.sum()),
        "first_mismatches": [int(i) for i in np.flatnonzero(mismatched)[:5]],
        "confusion": confusion_matrix(labels, np.argmax(outputs, axis=1), outputs.shape[1]),  # device's predictions
        "throughput_samples_per_s": len(outputs) / seconds if seconds > 0 else 0.0,
        "seconds": round(seconds, 3),
        "ticks_median": median,
        "tick_hz": hello.tick_hz,
        "latency_us": median / hello.tick_hz * 1e6,  # on QEMU: virtual time
        "device": {"board": hello.board, "engine": hello.engine, "model_sha256_prefix": hello.model_sha_prefix,
                   "arena_bytes": hello.arena_bytes, "weight_bytes": hello.weight_bytes,
                   "flash_bytes": hello.flash_bytes, "ram_bytes": hello.ram_bytes,
                   "stack_bytes": hello.stack_bytes, "stack_used": stats.stack_used},
        "link": {"retries": link.retried, "resyncs": link.resyncs, "resets": resets,
                 "device_crc_errors": stats.crc_errors},
    }
    if icount_shift is None and hello.board.startswith("qemu-"):  # --port to a `tinykd emulate` QEMU
        icount_shift = ICOUNT_SHIFT
    if icount_shift is not None:
        report["instructions_median"] = instructions(median, hello.tick_hz, icount_shift)
    return report


def instructions(ticks: float, tick_hz: int, icount_shift: int) -> float:
    """Instructions executed in `ticks` device ticks under QEMU -icount (one instruction = 2**shift virtual ns)."""
    return ticks * (1e9 / tick_hz) / 2 ** icount_shift


def format_report(report: dict) -> str:
    device = report["device"]
    lines = [
        f"device: {device['board']} ({device['engine']} engine), model {device['model_sha256_prefix']}…",
        f"samples: {report['samples']}   accuracy on device: {100 * report['accuracy']:.2f}%   "
        f"on host (TFLM): {100 * report['host_accuracy']:.2f}%",
        f"outputs differing from the host: {report['mismatched_outputs']}"
        + (f" (first: {report['first_mismatches']})" if report["mismatched_outputs"] else " (bit-identical)"),
        f"latency: {report['latency_us']:.1f} µs" + (f" = {report['instructions_median']:,.0f} instructions "
                                                     "(QEMU icount)" if "instructions_median" in report else ""),
        f"throughput: {report['throughput_samples_per_s']:.1f} samples/s   link: {report['link']['retries']} "
        f"retries, {report['link']['resets']} resets",
    ]
    return "\n".join(lines)
