"""Cortex-M4 cycles of one inference, from a QEMU run: which code ran how often, times the TRM's cycle costs.

QEMU's `-icount` gives exact instruction counts but no cycles (DWT CYCCNT is not emulated). So the firmware runs
once more, on one test input, with `-d exec,nochain,in_asm`: QEMU prints each translation block's instructions
once, when it translates it, and one line per execution of a block ("nochain" makes every execution print). The
lines stream through a FIFO into `TraceCounter`, which keeps only counts per block (and whether its last branch
was taken, read from the next block's address) inside the window of one inference: from the first instruction
of `tk_engine_invoke` to the return address of its call in the app. Nothing is written to disk; the stream is
about one line per 20 instructions. pipeline/device/m4_timing.py then costs each block; the sum is the estimate.
"""
from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from pipeline.errors import PipelineError
from pipeline.device.m4_timing import Insn, decode, parse_insn, sequence_cycles, words_loaded

QEMU_LOG = ("-d", "exec,nochain,in_asm")  # + "-D <file>": every block translated and every block executed
INVOKE = "tk_engine_invoke"  # the app times this call with SysTick (firmware/src/app.c); the window is the same


@dataclass
class TraceCounter:
    """Counts the blocks QEMU executed between the first execution of address `start` and the next of `stop`.

    `counts[(block id, first, last, taken)]`: how often instructions `first:last` of `block` ran, and whether
    control then went elsewhere than the next instruction (a taken branch). Feed it the log's lines in order."""
    start: int
    stop: int
    blocks: dict = field(default_factory=dict)  # block id -> tuple[Insn] (one id per translation)
    counts: Counter = field(default_factory=Counter)
    state: str = "before"  # before | inside | after the window
    lines: int = 0
    bytes: int = 0
    rewinds: int = 0  # I/O instructions re-executed by QEMU inside the window (none expected in an inference)
    seconds: float = 0.0  # wall time of the traced run
    _ids: dict = field(default_factory=dict)  # QEMU's block key (host code pointer, address, flags) -> block id
    _pending: dict = field(default_factory=dict)  # address -> instructions translated, not yet executed
    _stop_at: dict = field(default_factory=dict)  # block id -> index of `stop` in it, or None
    _reading: list | None = None  # the instructions of the block being printed
    _current: tuple | None = None  # (block, first): running, its successor not yet seen
    _undo: tuple | None = None  # what the last execution line changed, for "Stopped execution"

    def feed(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.line(line)

    def line(self, line: str) -> None:
        self.lines += 1
        self.bytes += len(line)
        if self._reading is not None:  # IN: <function>, then one line per instruction, then a blank line
            insn = parse_insn(line) if line.startswith("0x") else None
            if insn is not None:
                self._reading.append(insn)
                return
            if self._reading:
                self._pending[self._reading[0].address] = tuple(self._reading)
            self._reading = None
        if line.startswith("Trace "):  # Trace 0: 0x7f9da8006980 [00800408/000048ba/00000010/ff020200] main
            slash = line.index("/")
            self._executed(line[9:line.index("]")], int(line[slash + 1:slash + 9], 16))
        elif line.startswith("IN:"):
            self._reading = []
        elif line.startswith("Stopped execution") and self.state == "inside" and self._undo is not None:
            self._stopped()
        elif line.startswith("cpu_io_recompile") and self.state == "inside":
            self._rewound(int(line.rsplit(" ", 1)[1], 16))

    def _executed(self, key: str, pc: int) -> None:
        if pc in self._pending:  # a block's first execution follows its translation: it gets a new id
            self._ids[key] = len(self.blocks)
            self.blocks[self._ids[key]] = self._pending.pop(pc)
        if self.state == "after":
            return
        block = self._ids.get(key)
        if block is None:
            if self.state == "inside":
                raise PipelineError(f"QEMU ran a block at 0x{pc:x} whose instructions it did not print.",
                                    "Run QEMU with -d exec,nochain,in_asm from the start.")
            return
        if self.state == "before":
            first = _index(self.blocks[block], self.start)
            if first is not None:
                self.state, self._current, self._undo = "inside", (block, first), ("open",)
                self._close_at_stop(block, first)
            return
        if self._current is not None:
            done, first = self._current
            insns = self.blocks[done]
            entry = (done, first, len(insns), pc != insns[-1].address + insns[-1].size)
            self.counts[entry] += 1
            self._undo = (entry, self._current)
        self._current = (block, 0)
        self._close_at_stop(block, 0)

    def _close_at_stop(self, block: int, first: int) -> None:
        """If `stop` is in this block (at or after `first`), count the instructions before it and close."""
        if block not in self._stop_at:
            self._stop_at[block] = _index(self.blocks[block], self.stop)
        end = self._stop_at[block]
        if end is not None and end >= first and self.stop != self.start:
            if end > first:
                self.counts[(block, first, end, False)] += 1
            self.state, self._current = "after", None

    def _stopped(self) -> None:
        """QEMU printed a block, then did not run it (its instruction budget ran out): forget that line."""
        if self._undo == ("open",):
            self.state, self._current = "before", None
        else:
            entry, previous = self._undo
            self.counts[entry] -= 1
            self._current = previous
        self._undo = None

    def _rewound(self, pc: int) -> None:
        """An I/O access mid-block: the block ran up to `pc`, and a new block starting there runs next."""
        self.rewinds += 1
        if self._current is not None:
            block, first = self._current
            end = _index(self.blocks[block], pc)
            if end is not None and end > first:
                self.counts[(block, first, end, False)] += 1
            self._current, self._undo = None, None


def _index(insns: tuple[Insn, ...], address: int) -> int | None:
    for i, insn in enumerate(insns):
        if insn.address == address:
            return i
    return None


@dataclass(frozen=True)
class Estimate:
    cycles: tuple[int, int, int]  # (low, nominal, high), see pipeline/device/m4_timing.py
    instructions: int  # executed in the window (the trace's count; -icount's SysTick figure should agree)
    words_loaded: int  # data words read from memory: what each flash wait state would delay
    taken_branches: int
    blocks: int  # distinct instruction sequences costed


def estimate(counter: TraceCounter, wait_states: int = 0) -> Estimate:
    """Sum the cycle cost of every block run in the window, times how often it ran."""
    if counter.state == "before":
        raise PipelineError(f"The trace never reached 0x{counter.start:x} ({INVOKE}): no inference ran.",
                            "Check that the firmware answered an INFER request.")
    totals, instructions, words, taken = [0, 0, 0], 0, 0, 0
    for (block, first, last, branched), n in counter.counts.items():
        if n <= 0:
            continue
        insns = counter.blocks[block][first:last]
        cost = sequence_cycles(insns, branched, wait_states)
        for b in range(3):
            totals[b] += n * cost[b]
        instructions += n * len(insns)
        words += n * sum(words_loaded(decode(i.mnemonic, i.operands)) for i in insns)
        taken += n * branched
    return Estimate(tuple(totals), instructions, words, taken, len(counter.counts))


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise PipelineError(f"'{name}' is not installed.",
                            "Install it: apt-get install --no-install-recommends gcc-arm-none-eabi.")
    return path


def invoke_window(elf: str | Path) -> tuple[int, int]:
    """(entry of tk_engine_invoke, return address of its one call) in the firmware `elf`."""
    listing = subprocess.run([_tool("arm-none-eabi-objdump"), "-d", str(elf)], capture_output=True, text=True,
                             check=True).stdout
    calls = re.findall(rf"^\s*([0-9a-f]+):\s+(?:[0-9a-f]{{4}} ){{2}}\s*bl\s+([0-9a-f]+) <{INVOKE}>", listing, re.M)
    if len(calls) != 1:
        raise PipelineError(f"Expected one call of {INVOKE} in '{elf}', found {len(calls)}.",
                            "Build the firmware with pipeline/device/build.py (qemu-cm4).")
    site, target = calls[0]
    return int(target, 16), int(site, 16) + 4  # BL is a 32-bit instruction


class _Reader(threading.Thread):
    """Feeds QEMU's log FIFO to a TraceCounter; after an error it keeps draining so QEMU never blocks."""

    def __init__(self, fifo: Path, counter: TraceCounter):
        super().__init__(daemon=True)
        self.fifo, self.counter, self.error = fifo, counter, None

    def run(self) -> None:
        with open(self.fifo, errors="replace") as stream:
            for line in stream:
                if self.error is None:
                    try:
                        self.counter.line(line)
                    except Exception as e:  # noqa: BLE001 - reported by trace_inference
                        self.error = e

    def finish(self) -> None:
        if self.is_alive():  # QEMU never opened the FIFO: open it ourselves so the reader's open() returns
            try:
                os.close(os.open(self.fifo, os.O_WRONLY | os.O_NONBLOCK))
            except OSError:
                pass
        self.join(timeout=30)


@contextlib.contextmanager
def _logged(counter: TraceCounter) -> Iterator[Path]:
    """A FIFO for QEMU's `-D`, read line by line into `counter` while QEMU runs; raises what the reader raised."""
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="tinykd-trace-") as tmp:
        fifo = Path(tmp) / "qemu.log"
        os.mkfifo(fifo)
        reader = _Reader(fifo, counter)
        reader.start()
        try:
            yield fifo
        finally:
            reader.finish()
    if reader.error is not None:
        raise reader.error
    counter.seconds = round(time.monotonic() - began, 1)


def trace_inference(elf: str | Path, run_dir: str | Path, timeout: float = 120.0) -> tuple[TraceCounter, dict]:
    """Run the firmware `elf` in QEMU with the execution log on, validate the first golden input of `run_dir`
    (one inference, checked against TFLM like any validation), and count that inference's blocks. Returns the
    counter and the harness report."""
    from pipeline.device import emulator, session
    counter = TraceCounter(*invoke_window(elf))
    with _logged(counter) as fifo:
        report = session.validate_emulated(emulator.qemu(elf, extra=(*QEMU_LOG, "-D", str(fifo))), run_dir,
                                           limit=1, timeout=timeout, progress=False)
    return counter, report


def trace_elf(elf: str | Path, start: int, stop: int, timeout: float = 60.0) -> TraceCounter:
    """Run a bare-metal `elf` that exits by itself (semihosting) in QEMU and count the blocks from `start` to
    `stop`: for hand-written instruction sequences (tests/test_cycles.py)."""
    counter = TraceCounter(start, stop)
    command = ["qemu-system-arm", "-M", "mps2-an386", "-cpu", "cortex-m4", "-nographic", "-monitor", "none",
               "-semihosting-config", "enable=on,target=native", "-icount", "shift=7,sleep=off"]
    with _logged(counter) as fifo:
        done = subprocess.run([*command, *QEMU_LOG, "-D", str(fifo), "-kernel", str(elf)], capture_output=True,
                              text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise PipelineError(f"QEMU exited with status {done.returncode} running '{elf}': {done.stderr[-300:]!r}.",
                            "The program must exit through semihosting SYS_EXIT_EXTENDED with status 0.")
    return counter
