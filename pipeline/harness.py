"""Validate stage: stream the quantized test set to a device over serial and compare with the host, bit for bit.

`validate(url, run_dir)` opens any pyserial URL (`/dev/ttyACM0`, `socket://127.0.0.1:P` for QEMU, a pty for the
host port) through one code path, handshakes, refuses a device that runs another model than
`run_dir/student_int8.tflite`, sends every int8 test input, and compares each int8 output with the TFLM golden
output in `run_dir/golden.npz`. A result is recorded only from a reply that passed the CRC, echoes the request's
sequence number and the CRC of the very input sent, and came after the latest handshake; anything else is retried.
"""
from __future__ import annotations

import statistics
import time
import zlib
from pathlib import Path
from typing import Callable

import numpy as np
import serial
from tqdm import tqdm

from pipeline import protocol as P
from pipeline.config import DeviceConfig
from pipeline.errors import PipelineError
from pipeline.metrics import confusion_matrix
from pipeline.link import DeviceReset, Link
from pipeline.progress import Ticker, interactive
from pipeline.runs import sha256_file

MODEL_FILE = "student_int8.tflite"  # the quantize stage's output: the model the device must run
GOLDEN_FILE = "golden.npz"  # int8 test inputs, TFLM int8 outputs and labels (export stage)
GOLDEN_KEYS = {  # accepted names of each golden array (first found wins)
    "inputs": ("inputs", "x", "x_int8"),  # (N, *input dims without batch) int8
    "outputs": ("outputs", "y_int8", "golden"),  # (N, *output dims without batch) int8 (or float32 after a final
    # DEQUANTIZE), from the TFLM runtime
    "labels": ("labels", "y", "y_test"),  # (N,) int class labels
}
MAX_RESETS = 5  # device resets in a row without a validated sample before giving up (a crash loop)


TIMEOUT = DeviceConfig.timeout  # seconds to wait for one reply: the one default, from the settings


def check_bit_exact(report: dict, recorded: bool) -> None:
    """A device output that differs from TFLM's on the host is an engine bug: one error, wherever it is found."""
    if report["mismatched_outputs"]:
        raise PipelineError(f"{report['mismatched_outputs']} of {report['samples']} device outputs differ from the "
                            f"host's{' (recorded in run.json)' if recorded else ''}.",
                            "The engine is not bit-exact with TFLM: report it with the run folder.")


def load_golden(run_dir: Path, limit: int = 0) -> dict[str, np.ndarray]:
    path = Path(run_dir) / GOLDEN_FILE
    if not path.is_file():
        raise PipelineError(f"No golden outputs at '{path}'.", "Run `tinykd export` first (it writes golden.npz).")
    with np.load(path) as data:
        golden = {}
        for name, keys in GOLDEN_KEYS.items():
            key = next((k for k in keys if k in data.files), None)
            if key is None:
                raise PipelineError(f"'{path}' has no '{name}' array (looked for {', '.join(keys)}; "
                                    f"it has {', '.join(data.files)}).", "Rerun `tinykd export`.")
            golden[name] = data[key][:limit] if limit else data[key]
    if golden["inputs"].dtype != np.int8 or golden["outputs"].dtype not in (np.int8, np.float32):
        raise PipelineError(f"'{path}' must hold int8 inputs and int8 (or float32) outputs, not "
                            f"{golden['inputs'].dtype} and {golden['outputs'].dtype}.", "Rerun `tinykd quantize`.")
    return golden


def open_port(url: str, opener=serial.serial_for_url):
    try:
        return opener(url, baudrate=115200, timeout=0.05, write_timeout=10)
    except (serial.SerialException, ValueError, OSError) as e:
        raise PipelineError(f"Cannot open serial port '{url}': {e}.", _ports_here()) from None


def _ports_here() -> str:
    """The serial ports this machine has now, for a hint that does not just repeat the value the user gave."""
    from serial.tools.list_ports import comports
    found = sorted(p.device for p in comports())
    if not found:
        return "No serial port is attached now: plug the board in (a data cable, not a charging one)."
    return f"Serial ports here now: {', '.join(found)}."


def probe(url: str, flash: bool, timeout: float = TIMEOUT, opener=serial.serial_for_url) -> None:
    """Before any training: the port opens and (unless it is about to be flashed) tinykd firmware answers HELLO
    on it, so a missing or wrong board is found in seconds rather than after the last stage. Which model the board
    runs is checked at validation, once the model exists."""
    port = open_port(url, opener)
    try:
        if not flash:
            link = Link(port, url, timeout=timeout, retries=1)
            link.resync()
            link.hello()
    finally:
        port.close()


def check_device(hello: P.Hello, expected_sha: str, golden: dict, url: str) -> None:
    """Refuse a device that runs another model, or one whose tensors do not match the golden data."""
    if hello.model_sha_prefix != expected_sha[:16]:
        raise PipelineError(f"The device on '{url}' runs model {hello.model_sha_prefix}…, not the expected "
                            f"{expected_sha[:16]}… ({MODEL_FILE}).",
                            "Build and flash the firmware of this run: `tinykd build` then `tinykd flash` "
                            "(or validate the run that device was built from).")
    per_in = int(np.prod(golden["inputs"].shape[1:]))
    per_out = int(np.prod(golden["outputs"].shape[1:])) * golden["outputs"].itemsize
    if (hello.input.bytes, hello.output.bytes) != (per_in, per_out):
        raise PipelineError(f"The device's model takes {hello.input.bytes} and returns {hello.output.bytes} bytes, "
                            f"the golden data has {per_in} and {per_out}.", "Rerun `tinykd quantize`.")


class Resets:
    """Counts device resets; too many in a row without a validated sample in between is a crash loop."""

    def __init__(self, url: str):
        self.url, self.total, self.in_a_row = url, 0, 0

    def seen(self) -> None:
        self.total += 1
        self.in_a_row += 1
        if self.in_a_row > MAX_RESETS:
            raise PipelineError(f"The device on '{self.url}' reset {self.in_a_row} times in a row without "
                                f"answering a sample ({self.total} resets in this run).",
                                "It may be crashing on an input: check its power and firmware.")

    def progress(self) -> None:
        self.in_a_row = 0


def handshake(link: Link, expected_sha: str, golden: dict, url: str, resets: Resets) -> P.Hello:
    """HELLO, then refuse a device running another model; a reset during the handshake starts it over."""
    while True:
        try:
            hello = link.hello()
            check_device(hello, expected_sha, golden, url)
            return hello
        except DeviceReset:
            resets.seen()


def validate(url: str, run_dir: str | Path, limit: int = 0, timeout: float = TIMEOUT, retries: int = 5,
             icount_shift: int | None = None, progress: bool = True, opener=serial.serial_for_url,
             bye: bool = False, reconnect_s: float = 5.0, log: Callable[[str], None] | None = None) -> dict:
    """Validate the device on `url` against `run_dir`; returns the report (see `summarize`). With `progress`, a
    bar on a terminal, or (given `log`) a progress line at least every 20 s in a log."""
    run_dir = Path(run_dir)
    model = run_dir / MODEL_FILE
    if not model.is_file():
        raise PipelineError(f"No model at '{model}'.", "Run `tinykd quantize` first, or pass the right --run-dir.")
    expected_sha = sha256_file(model)
    golden = load_golden(run_dir, limit)
    inputs = golden["inputs"].reshape(len(golden["inputs"]), -1)  # (N, input bytes) int8
    count = len(inputs)
    link = Link(open_port(url, opener), url, timeout=timeout, retries=retries,
                reopen=lambda: open_port(url, opener), reconnect_s=reconnect_s)
    resets = Resets(url)
    try:
        link.resync()  # pyserial discarded what was in flight when it opened the port: start on a frame boundary
        hello = handshake(link, expected_sha, golden, url, resets)
        dtype = golden["outputs"].dtype  # int8, or float32 after a final DEQUANTIZE
        outputs = np.zeros((count, hello.output.bytes // dtype.itemsize), dtype)  # (N, output values)
        ticks = np.zeros(count, np.int64)
        wrong, index, start = 0, 0, time.perf_counter()
        lines = Ticker("validate", count, log) if progress and log and not interactive() else None
        with tqdm(total=count, desc="validate", unit="sample", disable=not progress or lines is not None,
                  leave=False) as bar:
            while index < count:
                sample = inputs[index].tobytes()
                try:
                    reply = P.InferReply.decode(link.request(P.INFER, sample).payload)
                except DeviceReset:
                    resets.seen()  # a reset device may run other firmware: handshake again
                    hello = handshake(link, expected_sha, golden, url, resets)
                    continue  # resend the same sample
                if reply.input_crc != zlib.crc32(sample) or len(reply.output) != hello.output.bytes:
                    link.retried += 1  # a reply to some other input: never record it
                    wrong += 1
                    if wrong > retries:
                        raise PipelineError(f"The device on '{url}' keeps answering sample {index} with the "
                                            "result of another input.", "Its firmware is faulty: rebuild it.")
                    continue
                wrong = 0
                resets.progress()
                outputs[index] = np.frombuffer(reply.output, dtype)
                ticks[index] = reply.ticks
                index += 1
                bar.update(1)
                if lines:
                    lines.advance(f"{index:,} of {count:,} samples")
        seconds = time.perf_counter() - start
        while True:
            try:
                stats = P.Stats.decode(link.request(P.STATS).payload)
                break
            except DeviceReset:  # the counters are gone with the reset; the results were already checked
                resets.seen()
                handshake(link, expected_sha, golden, url, resets)
        if bye:
            link.bye()
    finally:
        link.port.close()
    return summarize(golden, outputs, ticks, seconds, hello, stats, link, resets.total, icount_shift)


def record(run_dir: str | Path, report: dict, url: str, fp: str | None = None) -> str:
    """Add the validation to the run's manifest (run.json) as stage `validate`, or `validate_host` for the x86
    host build; returns that stage's name (`fp`: the caller's fingerprint, e.g. one that covers the firmware, so an
    unchanged validation can be skipped)."""
    from pipeline.runs import HOST_BUILD, Run, fingerprint
    run = Run(run_dir)
    device = report["device"]
    metrics = {key: report[key] for key in ("samples", "accuracy", "host_accuracy", "mismatched_outputs",
                                            "mismatched_values", "latency_us", "tick_hz", "throughput_samples_per_s",
                                            "instructions_median", "confusion") if key in report}
    metrics.update(board=device["board"], engine=device["engine"], stack_used=device["stack_used"],
                   device_arena_bytes=device["arena_bytes"], firmware=report.get("firmware", {}))
    golden = sha256_file(Path(run_dir) / GOLDEN_FILE)
    # The x86 host build checks the engine but is no device: its record never replaces the emulator's or board's.
    name = HOST_BUILD if device["board"].startswith("host") else "validate"
    run.manifest.setdefault("validations", {})[device["board"]] = {**metrics, "port": url}
    run.record(name, fp or fingerprint(url, device["model_sha256_prefix"], golden), [], metrics,
               report.get("seconds", 0.0), port=url)
    return name


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
        from pipeline.emulator import ICOUNT_SHIFT
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


def validate_on_emulator(emulator: str, run_dir: str | Path, model_dir: str | Path, budget: str = "nano33ble",
                         limit: int = 0, sanitize: bool = False, timeout: float = TIMEOUT, progress: bool = True,
                         build_dir: str | Path | None = None, elf: str | Path | None = None) -> dict:
    """Build the firmware for `emulator` (qemu | host; renode takes a PlatformIO `elf`), run it, validate it and
    check that it exits by itself with status 0."""
    from pipeline import emulator as emulators
    from pipeline.build import build

    if emulator not in ("qemu", "host", "renode"):
        raise PipelineError(f"Unknown emulator '{emulator}': choose one of qemu, host, renode.",
                            "Use --emulator qemu.")
    if emulator == "renode":
        if elf is None:
            raise PipelineError("--emulator renode needs --elf (the PlatformIO nano33ble_renode firmware).",
                                "Build it with `pio run -e nano33ble_renode`, then pass "
                                "--elf .pio/build/nano33ble_renode/firmware.elf.")
        context, figures = emulators.renode(elf, log=Path(run_dir) / "renode.log"), {}
    else:
        target = "qemu-cm4" if emulator == "qemu" else "host"
        result = build(target, model_dir, budget=budget, out_dir=build_dir, sanitize=sanitize)
        figures = result.sizes
        context = emulators.qemu(result.elf) if emulator == "qemu" else emulators.host(result.elf)
    report = validate_emulated(context, run_dir, finish=emulator != "renode", limit=limit, timeout=timeout,
                               progress=progress)
    report["firmware"] = figures
    return report


def validate_emulated(context, run_dir: str | Path, finish: bool = True, **options) -> dict:
    """Validate against the emulator that `context` (pipeline.emulator.qemu/host/renode) starts: BYE at the end,
    no reconnect wait (a closed emulator port means it crashed), and, with `finish`, its own exit with status 0."""
    with context as emu:
        report = validate(emu.url, run_dir, icount_shift=emu.icount_shift, bye=True, reconnect_s=0, **options)
        if finish:
            emu.finish()
    return report
