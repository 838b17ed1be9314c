"""A reliable request/reply channel over any pyserial port (a board, QEMU's TCP UART, a pty).

Every request carries a sequence number that the reply must echo; frames whose CRC fails are dropped. On a
time-out or a damaged reply the link resynchronises (flushes the device's parser, discards stale input, pings
until the device answers) and sends the request again. A new boot id, seen in a BOOT frame or a PING reply,
raises DeviceReset: the caller re-handshakes, because a reset device may run other firmware.
"""
from __future__ import annotations

import contextlib
import os
import time

import serial

from pipeline.device import protocol as P
from pipeline.config import DeviceConfig
from pipeline.errors import PipelineError

NO_ANSWER_HINT = ("Check that the tinykd firmware is flashed and running on that port, that no other program "
                  "(a serial monitor) holds it, and press the board's reset button; raise --timeout for a slow link.")


class DeviceReset(Exception):
    """The device restarted (new boot id): re-handshake before trusting it again."""


class Retry(Exception):
    """A transient failure (time-out, damaged or refused-for-CRC reply): resynchronise and resend."""


class Link:
    def __init__(self, port, url: str, timeout: float = DeviceConfig.timeout, retries: int = 5, reopen=None,
                 reconnect_s: float = 5.0):
        self.port = port  # an open pyserial port (serial_for_url)
        self.reopen = reopen  # returns a new open port: a board on native USB re-enumerates when it resets
        self.reconnect_s = reconnect_s  # how long to try reopening a port that went away
        self.url = url  # for messages
        self.timeout = timeout  # seconds to wait for one reply
        self.retries = retries  # resends of one request before giving up
        self.decoder = P.Decoder()
        self.seq = 0
        self.boot_id: int | None = None  # set after a handshake; None = any boot id is accepted
        self.max_payload = P.MAX_PAYLOAD
        self.retried = 0  # requests sent again, over the link's life
        self.resyncs = 0  # resynchronisations

    def request(self, msg_type: int, payload: bytes = b"") -> P.Frame:
        """Send one request and return its reply frame (never an ERROR frame: those raise)."""
        reasons = []
        for attempt in range(self.retries + 1):
            if attempt:
                self.retried += 1
                self.resync()
            self.seq = (self.seq + 1) & 0xFF
            self._write(P.encode(msg_type, self.seq, payload, self.max_payload))
            try:
                return self._wait(msg_type, self.seq, self.timeout)
            except Retry as e:
                reasons.append(str(e))
        name = P.NAMES.get(msg_type, hex(msg_type))
        if all(r.startswith("no answer") for r in reasons):
            raise PipelineError(f"No answer from the device on '{self.url}' to {name} within {self.timeout:g} s "
                                f"({self.retries + 1} attempts).", NO_ANSWER_HINT)
        raise PipelineError(f"The link to '{self.url}' keeps failing: {name} failed {self.retries + 1} times "
                            f"({'; '.join(sorted(set(reasons)))}).",
                            "Check the cable and the baud rate; the device may be resetting in a loop.")

    def _wait(self, msg_type: int, seq: int, timeout: float) -> P.Frame:
        deadline = time.monotonic() + timeout
        crc_errors = self.decoder.crc_errors + self.decoder.length_errors
        while time.monotonic() < deadline:
            try:
                data = self.port.read(max(1, self.port.in_waiting))
            except (serial.SerialException, OSError) as e:
                self._reconnect(e)
            for frame in self.decoder.feed(data):
                if frame.type == P.BOOT:
                    self._check_boot(P.boot_id_of(frame))
                elif frame.seq != seq:
                    continue  # a stale reply to an earlier attempt
                elif frame.type == P.ERROR:
                    error = P.DeviceError.decode(frame.payload)
                    if error.code in (P.ERR_CRC, P.ERR_TOO_LONG):
                        raise Retry(f"the device received a damaged frame ({error})")
                    raise PipelineError(f"The device on '{self.url}' refused {P.NAMES.get(msg_type)}: {error}.",
                                        "The firmware and tinykd may speak different protocol versions.")
                elif frame.type == msg_type | P.REPLY:
                    return frame
            if self.decoder.crc_errors + self.decoder.length_errors > crc_errors:
                raise Retry("a damaged reply (CRC mismatch)")
        raise Retry("no answer")

    def _write(self, data: bytes) -> None:
        try:
            self.port.write(data)
        except (serial.SerialException, OSError) as e:
            self._reconnect(e)

    def _reconnect(self, error: Exception) -> None:
        """The port went away (a USB board resetting, an emulator ending): reopen it, or fail clearly."""
        with contextlib.suppress(Exception):
            self.port.close()
        deadline = time.monotonic() + (self.reconnect_s if self.reopen else 0)
        while time.monotonic() < deadline:
            time.sleep(0.2)
            with contextlib.suppress(PipelineError):
                self.port = self.reopen()
                self.decoder = P.Decoder(self.max_payload)
                self.boot_id = None
                raise DeviceReset("the port reconnected")
        raise PipelineError(f"The device on '{self.url}' disconnected ({error}).",
                            "Check the cable; an emulator may have crashed (see its exit status).")

    def _check_boot(self, boot_id: int) -> None:
        if self.boot_id is not None and boot_id != self.boot_id:
            self.boot_id = None
            raise DeviceReset(f"boot id {boot_id}")

    def resync(self) -> None:
        """Bring the device's parser and ours back to a frame boundary; raise DeviceReset if it restarted."""
        self.resyncs += 1
        # Zeros never contain a sync pair: they complete whatever partial frame the device holds (it then fails
        # its CRC) and are ignored afterwards.
        self._write(bytes(self.max_payload + P.HEADER.size + P.CRC.size))
        for _ in range(self.retries + 1):
            time.sleep(0.05)
            try:
                self.port.reset_input_buffer()
            except (serial.SerialException, OSError) as e:
                self._reconnect(e)
            self.decoder = P.Decoder(self.max_payload)
            nonce = os.urandom(8)
            self.seq = (self.seq + 1) & 0xFF
            self._write(P.encode(P.PING, self.seq, nonce))
            try:
                frame = self._wait(P.PING, self.seq, self.timeout)
            except Retry:
                continue
            if frame.payload[4:] == nonce:
                self._check_boot(P.boot_id_of(frame))
                return
        raise PipelineError(f"No answer from the device on '{self.url}' to PING within {self.timeout:g} s "
                            f"while resynchronising.", NO_ANSWER_HINT)

    def bye(self) -> None:
        """Tell the device the run is over (an emulator exits, closing the port; a board just acks)."""
        self.reopen = None  # the port closing now is expected
        self.seq = (self.seq + 1) & 0xFF
        with contextlib.suppress(PipelineError, DeviceReset):
            self._write(P.encode(P.BYE, self.seq))
        with contextlib.suppress(Retry, PipelineError, DeviceReset):
            self._wait(P.BYE, self.seq, self.timeout)

    def hello(self) -> P.Hello:
        """Handshake: the device describes itself; its boot id is remembered from now on."""
        self.boot_id = None
        payload = self.request(P.HELLO).payload
        version = payload[0] if payload else None
        try:
            if version != P.VERSION:
                raise P.PayloadError(f"protocol version {version}")
            hello = P.Hello.decode(payload)
        except P.PayloadError as e:
            raise PipelineError(f"The device on '{self.url}' answered HELLO in an unknown layout ({e}); tinykd "
                                f"speaks protocol version {P.VERSION}.",
                                "Rebuild and flash the firmware with this tinykd.") from None
        self.boot_id = hello.boot_id
        self.max_payload = hello.max_payload
        return hello
