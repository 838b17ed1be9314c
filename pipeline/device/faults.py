"""Fault injection for the serial link: a pyserial-compatible port and a loopback TCP proxy that damage frames.

Use it to stress the session loop (pipeline/device/session.py; tests, bench/reliability.py) or your own board:

    port = FaultyPort(serial.serial_for_url(url, timeout=0.05), Faults(rate=0.01, seed=1))
    session.validate(url, run_dir, opener=lambda u, **kw: FaultyPort(serial.serial_for_url(u, **kw), faults))

    python -m pipeline.device.faults --port /dev/ttyACM0 --rate 0.01    # prints socket://127.0.0.1:P: validate that

Each frame (either direction) is damaged with probability `rate` by one fault drawn from `kinds`: `drop` (a byte
goes missing), `flip` (one bit flips), `dup` (a byte arrives twice), `delay` (the link stalls up to `delay_s`
before this frame; order is kept, as on a wire). Independently, with probability `reset_rate` a RESET request is
slipped in before a host frame: the device acks it (with a sequence number the host is not waiting for), restarts
and sends BOOT, as a brown-out would. Frames are found by their sync bytes and length field; the host's resync
zeros pass through untouched. One seeded RNG drives everything, so a run is repeatable up to thread timing.
"""
from __future__ import annotations

import argparse
import random
import select
import socket
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass

import serial

from pipeline.device import protocol as P
from pipeline.errors import PipelineError

KINDS = ("drop", "flip", "dup", "delay")
STALE_S = 1.0  # a partial frame held this long is passed on as it is (a device that stopped mid-frame)


@dataclass(frozen=True)
class Faults:
    rate: float = 0.01  # probability that a frame (either direction) is damaged, 0..1
    kinds: tuple[str, ...] = KINDS  # the faults to draw from, uniformly
    delay_s: float = 0.3  # a `delay` stalls the link for uniform(0, delay_s) seconds
    reset_rate: float = 0.0  # probability that a RESET request is slipped in before a host frame, 0..1
    seed: int = 0  # seeds the RNG that picks frames, faults and positions

    def __post_init__(self):
        for name in ("rate", "reset_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise PipelineError(f"Fault {name} {value} is not a probability.", f"Give a {name} in 0..1.")
        unknown = [k for k in self.kinds if k not in KINDS]
        if unknown or not self.kinds:
            raise PipelineError(f"Unknown fault kinds {unknown or '(none given)'}: choose from {', '.join(KINDS)}.",
                                "E.g. kinds=('flip', 'drop').")
        if self.delay_s < 0:
            raise PipelineError(f"Fault delay_s {self.delay_s} is negative.", "Give seconds >= 0.")


class Injector:
    """Damages frames of both directions with one RNG; counts what it did (`counts`, `frames`)."""

    def __init__(self, faults: Faults):
        self.faults = faults
        self.rng = random.Random(faults.seed)
        self.lock = threading.Lock()  # the proxy's two pump threads share the RNG
        self.counts = Counter()  # "<direction> <kind>" -> faults injected
        self.frames = Counter()  # direction -> frames seen ("to_device", "from_device")

    def damage(self, frame: bytes, direction: str) -> tuple[list[bytes], float]:
        """Returns the byte chunks to deliver in its place (a RESET frame may come first) and a stall in seconds."""
        with self.lock:
            self.frames[direction] += 1
            chunks, stall, data = [], 0.0, bytearray(frame)
            if direction == "to_device" and self.rng.random() < self.faults.reset_rate:
                chunks.append(P.encode(P.RESET, (frame[3] + 128) & 0xFF if len(frame) > 3 else 0))
                self.counts[f"{direction} reset"] += 1
            if self.rng.random() < self.faults.rate:
                kind = self.rng.choice(self.faults.kinds)
                self.counts[f"{direction} {kind}"] += 1
                # a byte doubled at either end leaves a valid frame (A5 A5 5A is a sync pair): not a fault
                at = self.rng.randrange(1, len(data) - 1) if kind == "dup" else self.rng.randrange(len(data))
                if kind == "drop":
                    del data[at]
                elif kind == "flip":
                    data[at] ^= 1 << self.rng.randrange(8)
                elif kind == "dup":
                    data.insert(at, data[at])
                else:
                    stall = self.rng.uniform(0.0, self.faults.delay_s)
            chunks.append(bytes(data))
            return chunks, stall

    def summary(self) -> dict:
        return {"frames": dict(self.frames), "faults": dict(sorted(self.counts.items())),
                "faults_total": sum(self.counts.values())}


class Framer:
    """Splits a byte stream into frames (by sync pair and length field) and other bytes, without checking CRCs."""

    def __init__(self, max_payload: int = P.MAX_PAYLOAD):
        self.max_payload = max_payload
        self.buffer = bytearray()
        self.since = 0.0  # when the buffer's partial frame started

    def feed(self, data: bytes, now: float) -> list[tuple[bool, bytes]]:
        """Returns (is_frame, bytes) pieces in stream order."""
        if data and not self.buffer:
            self.since = now
        self.buffer += data
        pieces = []
        while self.buffer:
            start = self.buffer.find(P.SYNC)
            if start != 0:
                keep = 1 if start < 0 and self.buffer[-1:] == P.SYNC[:1] else 0
                cut = len(self.buffer) - keep if start < 0 else start
                if cut:
                    pieces.append((False, bytes(self.buffer[:cut])))
                    del self.buffer[:cut]
                if start < 0:
                    break
                continue
            if len(self.buffer) < P.HEADER.size:
                break
            length = P.HEADER.unpack_from(self.buffer)[3]
            if length > self.max_payload:
                pieces.append((False, bytes(self.buffer[:2])))
                del self.buffer[:2]
                continue
            end = P.HEADER.size + length + P.CRC.size
            if len(self.buffer) < end:
                break
            pieces.append((True, bytes(self.buffer[:end])))
            del self.buffer[:end]
            self.since = now
        if self.buffer and now - self.since > STALE_S:
            pieces.append((False, bytes(self.buffer)))
            self.buffer.clear()
        return pieces


class Direction:
    """One direction of the link: frames in, damaged chunks out when their (order-keeping) release time comes."""

    def __init__(self, injector: Injector, name: str):
        self.injector, self.name = injector, name
        self.framer = Framer()
        self.queue: deque[tuple[float, bytes]] = deque()  # (release time, bytes), release times non-decreasing

    def push(self, data: bytes, frames: bool = True) -> None:
        now = time.monotonic()
        pieces = self.framer.feed(data, now) if frames else [(False, data)]
        for is_frame, piece in pieces:
            chunks, stall = self.injector.damage(piece, self.name) if is_frame else ([piece], 0.0)
            release = max(now, self.queue[-1][0] if self.queue else now) + stall
            self.queue.extend((release, c) for c in chunks if c)

    def pop(self) -> bytes:
        """All bytes due now (later ones wait behind a stall)."""
        now, out = time.monotonic(), bytearray()
        while self.queue and self.queue[0][0] <= now:
            out += self.queue.popleft()[1]
        return bytes(out)

    def next_release(self) -> float | None:
        return self.queue[0][0] if self.queue else None


class FaultyPort:
    """Wraps an open pyserial port; what goes through it in either direction is damaged as `faults` says.

    The harness writes one frame per write() (or the resync zeros, passed on untouched)."""

    def __init__(self, port, faults: Faults, injector: Injector | None = None):
        self.port = port
        self.injector = injector or Injector(faults)  # share one between reopened ports to keep one RNG and count
        self.out = Direction(self.injector, "to_device")
        self.back = Direction(self.injector, "from_device")
        self.ready = bytearray()  # received bytes, due, not yet read

    def write(self, data: bytes) -> int:
        self.out.push(bytes(data), frames=bytes(data[:2]) == P.SYNC)
        self._flush()
        return len(data)

    def _flush(self) -> None:
        due = self.out.pop()
        if due:
            self.port.write(due)

    def _receive(self, block: bool) -> None:
        waiting = self.port.in_waiting
        if waiting or (block and self.back.next_release() is None):
            self.back.push(self.port.read(max(1, waiting)))
        elif block:  # bytes are held back by a stall: wait for them, not longer than the port's timeout
            time.sleep(max(0.0, min(self.back.next_release() - time.monotonic(), self.port.timeout or 0.05)))
        self.ready += self.back.pop()

    @property
    def in_waiting(self) -> int:
        self._flush()
        self._receive(block=False)
        return len(self.ready)

    def read(self, size: int = 1) -> bytes:
        self._flush()
        if len(self.ready) < size:
            self._receive(block=not self.ready)
        data = bytes(self.ready[:size])
        del self.ready[:size]
        return data

    def reset_input_buffer(self) -> None:
        """Discards what has arrived; frames still stalled on the 'wire' arrive later, as on a real link."""
        self.port.reset_input_buffer()
        self.ready.clear()
        self.back.framer.buffer.clear()

    def close(self) -> None:
        self.port.close()

    def __getattr__(self, name):  # timeout, is_open, baudrate, ...
        return getattr(self.port, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class FaultProxy:
    """A loopback TCP proxy in front of a device: clients of `url` (socket://127.0.0.1:P) reach the device through
    the faults. One client at a time; a new client gets a fresh link (the device stays open)."""

    def __init__(self, device_url: str, faults: Faults, listen_port: int = 0, opener=serial.serial_for_url):
        self.injector = Injector(faults)
        self.device = opener(device_url, baudrate=115200, timeout=0)  # non-blocking: the pump polls
        self.server = socket.create_server(("127.0.0.1", listen_port))
        self.url = f"socket://127.0.0.1:{self.server.getsockname()[1]}"
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, name="fault-proxy", daemon=True)

    def __enter__(self) -> "FaultProxy":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopping.set()
        self.thread.join(timeout=2)
        self.server.close()
        self.device.close()

    def _serve(self) -> None:
        while not self.stopping.is_set():
            if select.select([self.server], [], [], 0.1)[0]:
                connection, _ = self.server.accept()
                with connection:
                    self._pump(connection)

    def _pump(self, connection: socket.socket) -> None:
        out, back = Direction(self.injector, "to_device"), Direction(self.injector, "from_device")
        while not self.stopping.is_set():
            if select.select([connection], [], [], 0.002)[0]:
                data = connection.recv(65536)
                if not data:
                    return  # the client closed
                out.push(data)
            due = out.pop()
            if due:
                self.device.write(due)
            waiting = self.device.in_waiting
            if waiting:
                back.push(self.device.read(waiting))
            due = back.pop()
            if due:
                connection.sendall(due)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve a device through a fault-injecting loopback proxy.")
    parser.add_argument("--port", required=True, help="the device: /dev/ttyACM0, socket://127.0.0.1:P, a pty")
    parser.add_argument("--rate", type=float, default=0.01, help="share of frames damaged, each direction")
    parser.add_argument("--reset-rate", type=float, default=0.0, help="share of host frames preceded by RESET")
    parser.add_argument("--delay", type=float, default=0.3, help="longest stall in seconds")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--listen", type=int, default=0, help="loopback TCP port (0 = a free one)")
    args = parser.parse_args(argv)
    from pipeline.serial_url import check_port
    faults = Faults(rate=args.rate, reset_rate=args.reset_rate, delay_s=args.delay, seed=args.seed)
    with FaultProxy(check_port(args.port), faults, args.listen) as proxy:
        print(f"validate through the faults: tinykd validate --port {proxy.url}  (Ctrl-C stops)", flush=True)
        try:
            while proxy.thread.is_alive():
                time.sleep(1)
        except KeyboardInterrupt:
            pass
        print(proxy.injector.summary())


if __name__ == "__main__":
    main()
