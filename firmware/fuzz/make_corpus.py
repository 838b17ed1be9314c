"""Writes the fuzz target's seed corpus (firmware/fuzz/corpus/): one small file per frame kind the device meets.

    PYTHONPATH=. python firmware/fuzz/make_corpus.py
"""
from pathlib import Path

from pipeline.device import protocol as P

CORPUS = Path(__file__).resolve().parent / "corpus"
INPUT = bytes(range(64))  # the fuzz target's fake engine takes 64 int8 values
MAX_PAYLOAD = 256  # the fuzz build's TK_PROTO_MAX_PAYLOAD (bench/fuzz.py)


def seeds() -> dict[str, bytes]:
    bad_crc = bytearray(P.encode(P.INFER, 7, INPUT))
    bad_crc[-1] ^= 0x01
    return {
        "hello": P.encode(P.HELLO, 1),
        "infer": P.encode(P.INFER, 2, INPUT),
        "infer_engine_fails": P.encode(P.INFER, 3, b"\x7f" + bytes(62) + b"\x80"),
        "infer_bad_length": P.encode(P.INFER, 4, INPUT[:3]),
        "stats": P.encode(P.STATS, 5),
        "reset": P.encode(P.RESET, 6) + P.encode(P.HELLO, 7),
        "ping": P.encode(P.PING, 8, b"nonce123"),
        "ping_too_long": P.encode(P.PING, 9, bytes(17)),
        "bye": P.encode(P.BYE, 10),
        "unknown_type": P.encode(0x42, 11, b"?"),
        "bad_crc": bytes(bad_crc),
        "too_long": P.SYNC + bytes([P.INFER, 12]) + (MAX_PAYLOAD + 1).to_bytes(2, "little"),
        "full_buffer": P.encode(P.PING, 17, bytes(MAX_PAYLOAD), max_payload=MAX_PAYLOAD),
        "session": b"\x00junk\xa5" + P.encode(P.PING, 13, b"x") + P.encode(P.HELLO, 14)
        + P.encode(P.INFER, 15, INPUT) + P.encode(P.STATS, 16),
    }


if __name__ == "__main__":
    CORPUS.mkdir(exist_ok=True)
    for name, data in seeds().items():
        (CORPUS / name).write_bytes(data)
    print(f"wrote {len(seeds())} seeds to {CORPUS}")
