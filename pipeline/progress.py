"""Long work a person can follow: the time a training schedule will take, said before it starts, then a bar on a
terminal or a line at least every PERIOD seconds in a log (CI, nohup, a pipe) with what is done and the time left.
No TensorFlow here (the device commands use it too); the Keras callback is pipeline.kd.train.Progress."""
from __future__ import annotations

import sys
import time
from typing import Callable

PERIOD = 20.0  # seconds between progress lines when stdout is not a terminal
EPOCH_OVERHEAD_S = 0.05  # validation, checkpoint and callbacks per epoch, beyond the training steps


def interactive() -> bool:
    """A person watches stdout (a bar redraws in place); otherwise it is a log (lines every PERIOD seconds)."""
    return sys.stdout.isatty()


def estimate_seconds(step_seconds: float, epochs: int, steps_per_epoch: int) -> float:
    return epochs * (steps_per_epoch * step_seconds + EPOCH_OVERHEAD_S)


def duration(seconds: float) -> str:
    """'42 s', '3.5 min', '1.2 h'."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 else \
        f"{seconds // 60}:{seconds % 60:02d}"


class Ticker:
    """For logs that are not a terminal: a line through `log` whenever PERIOD seconds have passed since the last,
    `LABEL  <before>  41%  <after>  2:10 left`, the time left extrapolated from the pace so far."""

    def __init__(self, label: str, total: int, log: Callable[[str], None]):
        self.label, self.total, self.log = label, max(total, 1), log
        self.done = 0
        self.started = self.last = time.perf_counter()

    def restart(self) -> None:
        self.started = self.last = time.perf_counter()

    def advance(self, before: str = "", after: str = "") -> None:
        self.done += 1
        if time.perf_counter() - self.last >= PERIOD:
            self.say(before, after)

    def due(self) -> bool:
        return time.perf_counter() - self.last >= PERIOD

    def say(self, before: str = "", after: str = "") -> None:
        now = time.perf_counter()
        self.last = now
        left = (now - self.started) / max(self.done, 1) * (self.total - self.done)
        parts = [before, f"{100 * self.done / self.total:3.0f}%", after, f"{_clock(left)} left"]
        self.log(f"{self.label:<9} " + "  ".join(part for part in parts if part))


def count(n: int, noun: str) -> str:
    """`1 epoch`, `12 epochs`, `1,200 samples`."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"
