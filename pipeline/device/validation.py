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
    if report.get("mismatched_features"):
        raise PipelineError(f"{report['mismatched_features']} of {report['samples']} clips' device features differ "
                            f"from the host's front end{' (recorded in run.json)' if recorded else ''}.",
                            "The front end is not bit-exact on the device: report it with the run folder.")
    if report["mismatched_outputs"]:
        raise PipelineError(f"{report['mismatched_outputs']} of {report['samples']} device outputs differ from the "
                            f"host's{' (recorded in run.json)' if recorded else ''}.",
                            "The engine is not bit-exact with TFLM: report it with the run folder.")


def _bits(values: np.ndarray) -> np.ndarray:
    """The values as unsigned integers of their size: compared, they are equal only when bit-identical."""
    return values.view({1: np.uint8, 4: np.uint32}[values.itemsize])


def summarize(golden, outputs, ticks, seconds, hello: P.Hello, stats: P.Stats, link: Link, resets: int,
              icount_shift: int | None, audio: dict | None = None) -> dict:
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
    if audio is not None:
        report.update(_audio_figures(golden, audio, report, hello, icount_shift))
    return report


def _audio_figures(golden: dict, audio: dict, report: dict, hello: P.Hello, icount_shift: int | None) -> dict:
    """Raw clips: the device's features against the host front end's, bit for bit, and the front end's cost."""
    expected = golden["features"].reshape(len(audio["features"]), -1)
    differ = np.any(audio["features"] != expected, axis=1)
    fe_median = float(statistics.median(audio["frontend_ticks"].tolist())) if len(differ) else 0.0
    figures = {"mismatched_features": int(differ.sum()), "first_feature_mismatches": [int(i) for i in
                                                                                       np.flatnonzero(differ)[:5]],
               "frontend_ticks_median": fe_median, "frontend_latency_us": fe_median / hello.tick_hz * 1e6,
               "seconds_per_clip": report["seconds"] / len(differ) if len(differ) else 0.0}
    if icount_shift is not None:
        figures["frontend_instructions_median"] = instructions(fe_median, hello.tick_hz, icount_shift)
    return figures


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
    if "mismatched_features" in report:
        fe = report.get("frontend_instructions_median")
        lines[2:2] = [f"raw clips: features differing from the host's front end: {report['mismatched_features']}"
                      + (f" (first: {report['first_feature_mismatches']})" if report["mismatched_features"]
                         else " (bit-identical)"),
                      f"front end: {report['frontend_latency_us']:.1f} µs" + (f" = {fe:,.0f} instructions"
                                                                               if fe is not None else "")
                      + f"   {report['seconds_per_clip']:.3f} s per 1 s clip over the link"]
    return "\n".join(lines)
