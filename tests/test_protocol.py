"""Frame codec: Python round trips, and the firmware's C parser/encoder against the Python codec (zlib's CRC-32)."""
import random
import subprocess
import zlib
from pathlib import Path

import pytest

from pipeline.device import protocol as P

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def parser_check(tmp_path_factory):
    exe = tmp_path_factory.mktemp("parser") / "parser_check"
    subprocess.run(["gcc", "-std=gnu11", "-O1", "-g", "-Wall", "-Wextra", "-Werror", "-fsanitize=address,undefined",
                    "-fno-sanitize-recover=undefined", f"-I{ROOT / 'firmware/src'}", "-o", str(exe),
                    str(ROOT / "tests/fixtures/parser_check.c"), str(ROOT / "firmware/src/tk_protocol.c")],
                   check=True)
    return exe


def random_payload(rng, n):  # no 0xA5, so a damaged frame never hides a sync pair (both parsers then agree)
    return bytes(rng.choice([b for b in range(256) if b != 0xA5]) for _ in range(n))


def test_encode_layout_and_crc_are_zlibs():
    frame = P.encode(P.INFER, 7, b"\x01\x02\x03")
    assert frame[:6] == b"\xA5\x5A\x02\x07\x03\x00"
    assert int.from_bytes(frame[-4:], "little") == zlib.crc32(frame[2:-4])


@pytest.mark.parametrize("length", [0, 1, 64, P.MAX_PAYLOAD])
def test_round_trip_through_noise_and_any_chunking(length):
    rng = random.Random(length)
    frames = [P.Frame(rng.randrange(256), rng.randrange(256), random_payload(rng, length)) for _ in range(5)]
    stream = b"".join(bytes([0, 0xA5, 0x17]) + f.encode() for f in frames)  # noise incl. a lone sync byte
    decoder, got, pos = P.Decoder(), [], 0
    while pos < len(stream):
        step = rng.randint(1, 100)
        got += decoder.feed(stream[pos:pos + step])
        pos += step
    assert got == frames
    assert decoder.crc_errors == 0


def test_damaged_frame_is_dropped_and_the_next_one_found():
    good, bad = P.encode(P.PING, 1, b"abc"), bytearray(P.encode(P.PING, 2, b"xyz"))
    bad[7] ^= 0x10
    decoder = P.Decoder()
    assert decoder.feed(bytes(bad) + good) == [P.Frame(P.PING, 1, b"abc")]
    assert decoder.crc_errors == 1


def test_too_long_header_is_rejected_without_waiting_for_it():
    decoder = P.Decoder(max_payload=16)
    header = b"\xA5\x5A\x02\x01" + (17).to_bytes(2, "little")
    assert decoder.feed(header + P.encode(P.PING, 3)) == [P.Frame(P.PING, 3, b"")]
    assert decoder.length_errors == 1


def test_encoder_refuses_an_oversized_payload():
    with pytest.raises(ValueError, match="2049 bytes"):
        P.encode(P.INFER, 0, bytes(P.MAX_PAYLOAD + 1))


def test_payload_decoders_refuse_short_payloads():
    with pytest.raises(P.PayloadError, match="too short"):
        P.Hello.decode(b"\x01\x00")
    with pytest.raises(P.PayloadError):
        P.InferReply.decode(b"\x00\x00\x00")


@pytest.mark.parametrize("length", [0, 5, 300, P.MAX_PAYLOAD])
def test_c_encoder_matches_python(parser_check, length):
    payload = random_payload(random.Random(length), length)
    out = subprocess.run([str(parser_check), "encode", "130", "9"], input=payload, capture_output=True, check=True)
    assert out.stdout == P.encode(130, 9, payload)


@pytest.mark.slow
def test_c_parser_agrees_with_python_on_a_noisy_stream(parser_check):
    rng = random.Random(1)
    stream, expected = bytearray(), []
    for i in range(300):
        kind = rng.random()
        frame = P.Frame(rng.randrange(256), i % 256, random_payload(rng, rng.choice([0, 1, 10, 200, 2048])))
        raw = bytearray(frame.encode())
        if kind < 0.2:  # flip one bit of type, seq, payload or CRC: the CRC must catch it. (A damaged length
            # makes the device's parser swallow the next frame too; the host's retry covers that case.)
            raw[rng.choice([2, 3] + list(range(6, len(raw))))] ^= 1 << rng.randrange(8)
        elif kind < 0.25:  # a header announcing 2049..65535 payload bytes
            raw[4:6] = rng.randrange(P.MAX_PAYLOAD + 1, 65536).to_bytes(2, "little")
            raw = raw[:6]
        else:
            expected.append(frame)
        stream += raw + random_payload(rng, rng.randrange(4))
    out = subprocess.run([str(parser_check), "parse"], input=bytes(stream), capture_output=True, check=True)
    c_frames = [tuple(map(int, line.split()[1:])) for line in out.stdout.decode().splitlines() if line[0] == "F"]
    py_frames = P.Decoder().feed(bytes(stream))
    assert py_frames == expected
    assert c_frames == [(f.type, f.seq, len(f.payload), zlib.crc32(f.payload)) for f in expected]
    assert out.stdout.decode().count("C") > 0 and out.stdout.decode().count("L") > 0


def test_c_parser_survives_random_bytes_under_sanitizers(parser_check):
    rng = random.Random(2)
    junk = bytes(rng.randrange(256) for _ in range(200_000)) + b"\xA5\x5A\xff\xff\xff\xff" + bytes(10)
    subprocess.run([str(parser_check), "parse"], input=junk, capture_output=True, check=True)


def test_a_raw_clip_goes_in_chunks_that_fit_a_frame_and_reassemble():
    clip = bytes(range(256)) * 125  # 32,000 bytes: 16,000 int16 samples
    chunks = P.audio_chunks(clip, P.MAX_PAYLOAD)
    assert len(chunks) == 16 and all(len(c) <= P.MAX_PAYLOAD and len(c) % 2 == 0 for c in chunks)
    held = bytearray(len(clip))
    for chunk in chunks:
        (offset,) = P.AUDIO_CHUNK.unpack_from(chunk)
        held[2 * offset:2 * offset + len(chunk) - 2] = chunk[2:]
    assert bytes(held) == clip and P.AUDIO_CHUNK.unpack_from(chunks[1])[0] == 1023


def test_audio_reply_splits_ticks_features_and_output():
    payload = P.AUDIO_REPLY.pack(10, 20, 30) + bytes([1]) * 1960 + bytes([2]) * 12
    reply = P.AudioReply.decode(payload, 1960)
    assert (reply.frontend_ticks, reply.model_ticks, reply.clip_crc) == (10, 20, 30)
    assert reply.features == bytes([1]) * 1960 and reply.output == bytes([2]) * 12
    with pytest.raises(P.PayloadError):
        P.AudioReply.decode(payload[:100], 1960)
