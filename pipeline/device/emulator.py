"""Emulators that run the firmware behind a serial URL: QEMU mps2-an386 (TCP UART), the host port (pty), Renode.

Each is a context manager yielding an `Emulator` with the pyserial `url` to talk to. On leaving it, a process
that has not exited by itself is killed (by its PID) and reaped; `finish()` waits for a clean exit and checks
the status (the firmware exits through semihosting after a BYE request).
"""
from __future__ import annotations

import contextlib
import ctypes
import os
import select
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from pipeline.artifacts import RENODE_LOG
from pipeline.errors import PipelineError
from pipeline.paths import RENODE_SCRIPT

ICOUNT_SHIFT = 7  # -icount shift=7: 128 virtual ns per instruction; SysTick at 25 MHz -> instructions = ticks/3.2
FAULTS = {1: "HardFault", 3: "stack overflow (MPU guard)", 4: "unexpected exception", 5: "main returned",
          6: "engine init failed"}


@dataclass
class Emulator:
    name: str  # qemu | host | renode
    url: str  # pyserial URL of the device's UART
    process: subprocess.Popen
    icount_shift: int | None = None  # QEMU's -icount shift, to turn ticks into instructions

    def finish(self, timeout: float = 10.0) -> int:
        """Wait for the emulator to exit by itself; raise unless its status is 0."""
        try:
            status = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise PipelineError(f"The {self.name} emulator did not exit within {timeout:g} s after BYE.",
                                "The firmware may be stuck; it was killed.") from None
        if status != 0:
            output = _drain(self.process)
            raise PipelineError(f"The {self.name} emulator exited with status {status}"
                                f"{' (' + FAULTS[status] + ')' if status in FAULTS else ''}: {output[-400:]!r}.",
                                "A non-zero status means the firmware faulted: rebuild with a larger stack or "
                                "check the model.")
        return status


def _die_with_parent() -> None:
    """In the child, before exec: Linux kills it (SIGKILL) if tinykd dies, even by SIGKILL: no orphan emulators."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _drain(process: subprocess.Popen) -> str:
    parts = []
    for stream in (process.stdout, process.stderr):
        if stream is not None:
            with contextlib.suppress(OSError, ValueError):
                parts.append(stream.read() or "")
    return " ".join(p.strip() for p in parts if p)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.kill()  # SIGKILL to this PID only
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)
    for stream in (process.stdout, process.stderr):
        if stream is not None:
            stream.close()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def qemu_command(elf: Path, port: int, icount_shift: int = ICOUNT_SHIFT, extra: tuple[str, ...] = ()) -> list[str]:
    """`extra`: more options (pipeline/device/cycles.py adds QEMU's execution log)."""
    return ["qemu-system-arm", "-M", "mps2-an386", "-cpu", "cortex-m4", "-nographic", "-monitor", "none",
            # semihosting console (fault messages, bench/kernels.py --profile) -> QEMU's stdout
            "-chardev", "stdio,id=semihosting", "-semihosting-config", "enable=on,target=native,chardev=semihosting",
            "-icount", f"shift={icount_shift},sleep=off",
            "-serial", f"tcp:127.0.0.1:{port},server=on,wait=on,nodelay=on", *extra, "-kernel", str(elf)]


@contextlib.contextmanager
def qemu(elf: str | Path, icount_shift: int = ICOUNT_SHIFT, start_timeout: float = 10.0,
         extra: tuple[str, ...] = ()) -> Iterator[Emulator]:
    """QEMU mps2-an386 running `elf`; its UART0 is a TCP server on a free loopback port (waits for the client)."""
    if shutil.which("qemu-system-arm") is None:
        raise PipelineError("'qemu-system-arm' is not installed.",
                            "Install it: apt-get install --no-install-recommends qemu-system-arm.")
    if not Path(elf).is_file():
        raise PipelineError(f"No firmware at '{elf}'.", "Run `tinykd build --target qemu-cm4` first.")
    port = free_port()
    process = subprocess.Popen(qemu_command(Path(elf), port, icount_shift, extra), stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=_die_with_parent)
    try:
        _wait_listening(process, port, start_timeout)
        yield Emulator("qemu", f"socket://127.0.0.1:{port}", process, icount_shift)
    finally:
        _stop(process)


def _wait_listening(process: subprocess.Popen, port: int, timeout: float) -> None:
    """Wait until QEMU's UART socket accepts connections, without connecting (that would start the firmware)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise PipelineError(f"QEMU exited at start with status {process.returncode}: "
                                f"{_drain(process)[-400:]!r}.", "Check the firmware ELF and QEMU's version.")
        if _listening(port):
            return
        time.sleep(0.02)
    raise PipelineError(f"QEMU did not open its UART port {port} within {timeout:g} s.", "Retry; check the load.")


def _listening(port: int) -> bool:
    """True when a socket listens on 127.0.0.1:port (read from /proc, so no connection is made)."""
    needle = f":{port:04X} "
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if needle in fields[1] + " " and fields[3] == "0A":  # 0A = LISTEN
                    return True
    return False


@contextlib.contextmanager
def host(exe: str | Path, env: dict | None = None, start_timeout: float = 10.0) -> Iterator[Emulator]:
    """The host port (`tinykd build --target host`) on a pseudo-terminal; `env` adds test hooks."""
    if not Path(exe).is_file():
        raise PipelineError(f"No host firmware at '{exe}'.", "Run `tinykd build --target host` first.")
    process = subprocess.Popen([str(exe)], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})},
                               preexec_fn=_die_with_parent)
    try:
        ready, _, _ = select.select([process.stdout], [], [], start_timeout)
        line = process.stdout.readline() if ready else ""
        if not line.startswith("TK_PTY "):
            raise PipelineError(f"The host port did not announce its pty (got {line!r}).",
                                "Rebuild it with `tinykd build --target host`.")
        yield Emulator("host", line.split()[1], process)
    finally:
        _stop(process)


@contextlib.contextmanager
def renode(elf: str | Path, start_timeout: float = 30.0, log: str | Path | None = None) -> Iterator[Emulator]:
    """Renode's Nano 33 BLE (nRF52840) running a PlatformIO-built `elf`, UART0 on a loopback TCP port; Renode's
    own log and output go to `log` (default: renode.log beside the elf).

    Needs `renode` on PATH; this machine cannot install it, so this path is not verified here."""
    if shutil.which("renode") is None:
        raise PipelineError("'renode' is not on PATH (it cannot be installed from Debian's archive).",
                            "Install Renode from renode.io, or use --emulator qemu.")
    port = free_port()
    log = Path(log) if log is not None else Path(elf).resolve().parent / RENODE_LOG
    commands = [f"$elf=@{Path(elf).resolve()}", f"$port={port}", f"$log=@{log.resolve()}",
                f"include @{RENODE_SCRIPT}"]
    with open(log, "ab") as output:  # never a pipe nobody reads: a full pipe would stall Renode
        process = subprocess.Popen(["renode", "--disable-xwt", *[a for c in commands for a in ("-e", c)]],
                                   stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
                                   preexec_fn=_die_with_parent)
    try:
        deadline = time.monotonic() + start_timeout
        while not _listening(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise PipelineError(f"Renode did not open UART port {port} (its log: {log}).",
                                    "Run the .resc script by hand (see firmware/renode/nano33ble.resc).")
            time.sleep(0.1)
        yield Emulator("renode", f"socket://127.0.0.1:{port}", process)
    finally:
        _stop(process)
