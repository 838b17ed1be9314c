"""Host side of the tinykd serial protocol: frame codec and payload layouts (firmware/PROTOCOL.md).

A frame is `A5 5A | type u8 | seq u8 | length u16 | payload | crc32 u32` (little-endian), the CRC being zlib's
CRC-32 of type..payload; the C side is firmware/src/tk_protocol.c. `Decoder` is a byte-stream parser with the
same rules as the device's: it hunts for the sync bytes, bounds the length and drops frames whose CRC fails.
"""
from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

SYNC = b"\xA5\x5A"
VERSION = 2  # 2: AUDIO (raw clips through the device's front end) and HELLO's front-end flag
MAX_PAYLOAD = 2048  # TK_PROTO_MAX_PAYLOAD; the device reports its own in HELLO
HEADER = struct.Struct("<2sBBH")  # sync, type, seq, length
CRC = struct.Struct("<I")
INFER_REPLY = struct.Struct("<II")  # ticks, input CRC: the header of an INFER reply, before the output tensor
AUDIO_CHUNK = struct.Struct("<H")  # offset of the chunk's first sample in the clip: the header of an AUDIO request
AUDIO_REPLY = struct.Struct("<III")  # front-end ticks, model ticks, CRC of the clip: before features and output
FLAG_FRONTEND = 0x01  # HELLO flags: the firmware runs the audio front end (answers AUDIO)
REPLY = 0x80

HELLO, INFER, STATS, RESET, PING, BYE, AUDIO, BOOT, ERROR = 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x7E, 0x7F
NAMES = {HELLO: "HELLO", INFER: "INFER", STATS: "STATS", RESET: "RESET", PING: "PING", BYE: "BYE", AUDIO: "AUDIO",
         BOOT: "BOOT", ERROR: "ERROR"}
ERRORS = {1: "unknown type", 2: "bad length", 3: "engine failed", 4: "CRC mismatch", 5: "payload too long"}
ERR_CRC, ERR_TOO_LONG = 4, 5


@dataclass(frozen=True)
class Frame:
    type: int  # message type; | 0x80 for a reply
    seq: int  # 0..255, chosen by the host, echoed by the device
    payload: bytes = b""

    def encode(self) -> bytes:
        return encode(self.type, self.seq, self.payload)


def encode(msg_type: int, seq: int, payload: bytes = b"", max_payload: int = MAX_PAYLOAD) -> bytes:
    if len(payload) > max_payload:
        raise ValueError(f"payload of {len(payload)} bytes exceeds the maximum of {max_payload}")
    body = struct.pack("<BBH", msg_type & 0xFF, seq & 0xFF, len(payload)) + bytes(payload)
    return SYNC + body + CRC.pack(zlib.crc32(body))


class Decoder:
    """Feed bytes, get complete frames whose CRC matched; counts what it dropped."""

    def __init__(self, max_payload: int = MAX_PAYLOAD):
        self.max_payload = max_payload
        self.buffer = bytearray()
        self.crc_errors = 0  # frames dropped for a bad CRC
        self.length_errors = 0  # headers announcing more than max_payload

    def feed(self, data: bytes) -> list[Frame]:
        self.buffer += data
        frames = []
        while True:
            start = self.buffer.find(SYNC)
            if start < 0:  # keep a trailing A5: it may be the first half of the next sync
                del self.buffer[:-1 if self.buffer[-1:] == SYNC[:1] else len(self.buffer)]
                return frames
            del self.buffer[:start]
            if len(self.buffer) < HEADER.size:
                return frames
            _, msg_type, seq, length = HEADER.unpack_from(self.buffer)
            if length > self.max_payload:
                self.length_errors += 1
                del self.buffer[:2]  # resync after this sync pair
                continue
            end = HEADER.size + length + CRC.size
            if len(self.buffer) < end:
                return frames
            body = bytes(self.buffer[2:HEADER.size + length])
            (crc,) = CRC.unpack_from(self.buffer, HEADER.size + length)
            if zlib.crc32(body) != crc:
                self.crc_errors += 1
                del self.buffer[:2]  # a real frame may start inside the damaged one
                continue
            frames.append(Frame(msg_type, seq, body[4:]))
            del self.buffer[:end]


class PayloadError(ValueError):
    """A payload whose CRC matched but whose layout is wrong (a protocol bug, never line noise)."""


class _Reader:
    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def take(self, fmt: str):
        size = struct.calcsize("<" + fmt)
        if self.pos + size > len(self.data):
            raise PayloadError(f"payload too short: needed {self.pos + size} bytes, got {len(self.data)}")
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += size
        return values if len(values) > 1 else values[0]

    def text(self) -> str:
        n = self.take("B")
        return self.take(f"{n}s").decode("utf-8", "replace") if n else ""

    def tensor(self) -> "TensorInfo":
        rank = self.take("B")
        dims = tuple(self.take("H") for _ in range(rank))
        nbytes, scale, zero_point = self.take("I"), self.take("f"), self.take("i")
        return TensorInfo(dims, nbytes, scale, zero_point)


@dataclass(frozen=True)
class TensorInfo:
    dims: tuple[int, ...]  # e.g. (1, 8, 8, 1)
    bytes: int  # int8 elements
    scale: float  # real = scale * (q - zero_point)
    zero_point: int


@dataclass(frozen=True)
class Hello:
    version: int  # protocol version
    max_payload: int  # the device's TK_PROTO_MAX_PAYLOAD
    boot_id: int  # changes at every boot: a new value means the device was reset
    tick_hz: int  # ticks per (virtual) second of the elapsed-ticks counter
    model_sha_prefix: str  # first 16 hex digits of the model's SHA-256
    engine: str  # aot | tflm
    board: str  # e.g. qemu-mps2-an386, host-pty, nano33ble
    input: TensorInfo
    output: TensorInfo
    arena_bytes: int
    weight_bytes: int
    flash_bytes: int  # firmware text + rodata + data (0 if the port cannot tell)
    ram_bytes: int  # data + bss + stack (0 if the port cannot tell)
    stack_bytes: int
    flags: int = 0  # FLAG_FRONTEND: the device answers AUDIO

    @classmethod
    def decode(cls, payload: bytes) -> "Hello":
        r = _Reader(payload)
        version, flags, max_payload, boot_id, tick_hz = r.take("BBHII")
        sha = r.take("8s").hex()
        engine, board = r.text(), r.text()
        tin, tout = r.tensor(), r.tensor()
        arena, weights, flash, ram, stack = r.take("IIIII")
        return cls(version, max_payload, boot_id, tick_hz, sha, engine, board, tin, tout, arena, weights, flash,
                   ram, stack, flags)


@dataclass(frozen=True)
class InferReply:
    ticks: int  # elapsed ticks of the inference
    input_crc: int  # zlib.crc32 of the input the device computed on
    output: bytes  # int8 output tensor

    @classmethod
    def decode(cls, payload: bytes) -> "InferReply":
        ticks, input_crc = _Reader(payload).take(INFER_REPLY.format.lstrip("<"))
        return cls(ticks, input_crc, payload[INFER_REPLY.size:])


@dataclass(frozen=True)
class AudioReply:
    frontend_ticks: int  # elapsed ticks of the front end on the clip
    model_ticks: int  # elapsed ticks of the model on the clip's features (through the input table)
    clip_crc: int  # zlib.crc32 of the clip's int16 samples as the device held them
    features: bytes  # int8 front-end features (49 x 40)
    output: bytes  # int8 output tensor

    @classmethod
    def decode(cls, payload: bytes, feature_bytes: int) -> "AudioReply":
        fe_ticks, model_ticks, crc = _Reader(payload).take(AUDIO_REPLY.format.lstrip("<"))
        end = AUDIO_REPLY.size + feature_bytes
        if len(payload) < end:
            raise PayloadError(f"AUDIO reply too short: needed {end} bytes, got {len(payload)}")
        return cls(fe_ticks, model_ticks, crc, payload[AUDIO_REPLY.size:end], payload[end:])


def audio_chunks(clip: bytes, max_payload: int) -> list[bytes]:
    """AUDIO request payloads carrying `clip` (int16 little-endian samples): offset u16 + as many samples as fit."""
    per = (max_payload - AUDIO_CHUNK.size) // 2 * 2
    return [AUDIO_CHUNK.pack(start // 2) + clip[start:start + per] for start in range(0, len(clip), per)]


@dataclass(frozen=True)
class Stats:
    frames_ok: int
    crc_errors: int
    length_errors: int
    errors_sent: int
    inferences: int
    last_ticks: int
    stack_used: int
    uptime_ticks: int

    @classmethod
    def decode(cls, payload: bytes) -> "Stats":
        return cls(*_Reader(payload).take("IIIIIIII"))


@dataclass(frozen=True)
class DeviceError:
    code: int  # 1..5, see ERRORS
    request: int  # the request type it answers
    message: str

    @classmethod
    def decode(cls, payload: bytes) -> "DeviceError":
        r = _Reader(payload)
        code, request = r.take("BB")
        return cls(code, request, r.text())

    def __str__(self) -> str:
        return f"{ERRORS.get(self.code, f'error {self.code}')} ({self.message})"


def boot_id_of(frame: Frame) -> int:
    """Boot id carried by a BOOT frame or a PING reply."""
    return _Reader(frame.payload).take("I")
