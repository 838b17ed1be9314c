"""The session loop: stream a run's int8 test set to a device over serial, one sample at a time, and collect what
it answers.

`validate(url, run_dir)` opens any pyserial URL (`/dev/ttyACM0`, `socket://127.0.0.1:P` for QEMU, a pty for the
host port) through one code path, handshakes, refuses a device that runs another model than the run's
student_int8.tflite, sends every int8 test input and returns the report of pipeline/device/validation.py. A result is
recorded only from a reply that passed the CRC, echoes the request's sequence number and the CRC of the very input
sent, and came after the latest handshake; anything else is retried.
"""
from __future__ import annotations

import time
import zlib
from pathlib import Path
from typing import Callable

import numpy as np
import serial
from tqdm import tqdm

from pipeline.device import protocol as P
from pipeline.artifacts import MODEL_INT8
from pipeline.config import DeviceConfig
from pipeline.errors import PipelineError
from pipeline.device.golden import WRITTEN_BY, load_golden
from pipeline.device.link import DeviceReset, Link
from pipeline.progress import Ticker, interactive
from pipeline.runs import sha256_file
from pipeline.device.validation import summarize

CLIP_SAMPLES = 16000  # TK_FE_CLIP_SAMPLES: one raw clip the device's front end takes
MAX_RESETS = 5  # device resets in a row without a validated sample before giving up (a crash loop)
TIMEOUT = DeviceConfig.timeout  # seconds to wait for one reply: the one default, from the settings


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
                            f"{expected_sha[:16]}… ({MODEL_INT8}).",
                            "Build and flash the firmware of this run: `tinykd build` then `tinykd flash` "
                            "(or validate the run that device was built from).")
    per_in = int(np.prod(golden["inputs"].shape[1:]))
    per_out = int(np.prod(golden["outputs"].shape[1:])) * golden["outputs"].itemsize
    if (hello.input.bytes, hello.output.bytes) != (per_in, per_out):
        raise PipelineError(f"The device's model takes {hello.input.bytes} and returns {hello.output.bytes} bytes, "
                            f"the golden data has {per_in} and {per_out}.", f"Rerun `{WRITTEN_BY}`.")


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
    model = run_dir / MODEL_INT8
    if not model.is_file():
        raise PipelineError(f"No model at '{model}'.", f"Run `{WRITTEN_BY}` first, or pass the right --run.")
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
        audio = _audio_arrays(golden, hello, url)  # raw clips: features and front-end ticks too, else None
        wrong, index, start = 0, 0, time.perf_counter()
        lines = Ticker("validate", count, log) if progress and log and not interactive() else None
        with tqdm(total=count, desc="validate", unit="sample", disable=not progress or lines is not None,
                  leave=False) as bar:
            while index < count:
                sample = golden["pcm"][index].astype("<i2").tobytes() if audio else inputs[index].tobytes()
                try:
                    reply = stream_clip(link, sample, inputs.shape[1]) if audio else \
                        P.InferReply.decode(link.request(P.INFER, sample).payload)
                except DeviceReset:
                    resets.seen()  # a reset device may run other firmware: handshake again
                    hello = handshake(link, expected_sha, golden, url, resets)
                    continue  # resend the same sample (a clip from its first chunk)
                crc = reply.clip_crc if audio else reply.input_crc
                if crc != zlib.crc32(sample) or len(reply.output) != hello.output.bytes:
                    link.retried += 1  # a reply to some other input: never record it
                    wrong += 1
                    if wrong > retries:
                        raise PipelineError(f"The device on '{url}' keeps answering sample {index} with the "
                                            "result of another input.", "Its firmware is faulty: rebuild it.")
                    continue
                wrong = 0
                resets.progress()
                outputs[index] = np.frombuffer(reply.output, dtype)
                ticks[index] = reply.model_ticks if audio else reply.ticks
                if audio:
                    audio["features"][index] = np.frombuffer(reply.features, np.int8)
                    audio["frontend_ticks"][index] = reply.frontend_ticks
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
    return summarize(golden, outputs, ticks, seconds, hello, stats, link, resets.total, icount_shift, audio)


def _audio_arrays(golden: dict, hello: P.Hello, url: str) -> dict | None:
    """Where a validation on raw clips keeps the device's features and front-end ticks; None without clips."""
    if "pcm" not in golden:
        return None
    if not hello.flags & P.FLAG_FRONTEND:
        raise PipelineError(f"The device on '{url}' has no audio front end, and this run validates raw audio clips.",
                            "Build its firmware from this run (`tinykd build`, which links the front end) and "
                            "flash it.")
    pcm = golden["pcm"]
    if pcm.dtype != np.int16 or pcm.ndim != 2 or pcm.shape[1] != CLIP_SAMPLES:
        raise PipelineError(f"The golden data's raw clips are {pcm.dtype} of shape {pcm.shape}; the device's front "
                            f"end takes int16 clips of {CLIP_SAMPLES} samples (1 s at 16 kHz).",
                            f"Rerun `{WRITTEN_BY} --force` on data from `tinykd data features`.")
    count = len(golden["pcm"])
    return {"features": np.zeros((count, int(np.prod(golden["inputs"].shape[1:]))), np.int8),
            "frontend_ticks": np.zeros(count, np.int64)}


def stream_clip(link: Link, clip: bytes, feature_bytes: int) -> P.AudioReply:
    """One raw clip to the device in AUDIO chunks (each acknowledged with the samples held); the last chunk's reply
    carries the device's features and output. A chunk the device did not take in order is a protocol error."""
    chunks = P.audio_chunks(clip, link.max_payload)
    for chunk in chunks[:-1]:
        held = P.AUDIO_CHUNK.unpack_from(link.request(P.AUDIO, chunk).payload)[0]
        expected = P.AUDIO_CHUNK.unpack_from(chunk)[0] + (len(chunk) - P.AUDIO_CHUNK.size) // 2
        if held != expected:
            raise PipelineError(f"The device on '{link.url}' holds {held} samples of the clip, not {expected}.",
                                "Its firmware is faulty: rebuild it.")
    return P.AudioReply.decode(link.request(P.AUDIO, chunks[-1]).payload, feature_bytes)


def validate_emulated(context, run_dir: str | Path, finish: bool = True, **options) -> dict:
    """Validate against the emulator that `context` (pipeline.device.emulator.qemu/host/renode) starts: BYE at the end,
    no reconnect wait (a closed emulator port means it crashed), and, with `finish`, its own exit with status 0."""
    with context as emu:
        report = validate(emu.url, run_dir, icount_shift=emu.icount_shift, bye=True, reconnect_s=0, **options)
        if finish:
            emu.finish()
    return report
