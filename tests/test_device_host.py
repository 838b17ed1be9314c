"""The firmware's host port on a pty: bit-exact validation, ASan/UBSan, and the harness's fault handling.

The fixture model (a test double of the AOT model.h) runs in the real app and protocol; its outputs are checked
against a numpy oracle. Every fault test also checks that no wrong result was recorded.
"""
import socket
import threading
import time

import numpy as np
import pytest
import serial
from click.testing import CliRunner
from device_helpers import FIXTURE_MODEL, make_run

from pipeline.device import emulator, session
from pipeline.device import protocol as P
from pipeline.device.build import build
from pipeline.cli.main import cli
from pipeline.errors import PipelineError
from pipeline.device.link import Link


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("run")
    make_run(path, samples=200)
    return path


def assert_all_right(report, run_dir):
    golden = np.load(run_dir / "golden.npz")
    assert report["samples"] == len(golden["inputs"])
    assert report["mismatched_outputs"] == 0
    assert report["accuracy"] == pytest.approx(np.mean(np.argmax(golden["outputs"], 1) == golden["labels"]))


def test_host_port_is_bit_exact_and_fast(host_exe, run_dir):
    with emulator.host(host_exe) as emu:
        report = session.validate(emu.url, run_dir, progress=False, bye=True)
        assert emu.finish() == 0
    assert_all_right(report, run_dir)
    assert report["accuracy"] == pytest.approx(193 / 200)  # make_run mislabels 7 of 200
    assert report["device"]["engine"] == "aot" and report["device"]["board"] == "host-pty"
    assert report["link"]["retries"] == 0
    assert report["throughput_samples_per_s"] > 300  # ~1,000+/s unloaded; loose for a busy CI machine


@pytest.mark.slow
def test_host_port_under_asan_and_ubsan(tmp_path, run_dir):
    exe = build("host", FIXTURE_MODEL, out_dir=tmp_path, sanitize=True).elf
    with emulator.host(exe) as emu:
        with serial.serial_for_url(emu.url, timeout=0.05) as port:  # hostile bytes first: junk, a huge header
            port.write(bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8)))
            port.write(b"\xA5\x5A\x02\x01\xff\xff" + P.encode(0x55, 1, b"unknown type"))
        report = session.validate(emu.url, run_dir, limit=50, progress=False, bye=True)
        assert emu.finish() == 0  # a sanitizer finding exits non-zero
    assert report["mismatched_outputs"] == 0 and report["samples"] == 50


def test_device_answers_bad_requests_with_error_frames(host_exe):
    with emulator.host(host_exe) as emu, serial.serial_for_url(emu.url, timeout=0.05) as port:
        link = Link(port, emu.url, timeout=1.0, retries=1)
        link.resync()
        link.hello()
        with pytest.raises(PipelineError, match="refused INFER: bad length"):
            link.request(P.INFER, bytes(3))
        with pytest.raises(PipelineError, match="unknown type"):
            link.request(0x42)
        stats = P.Stats.decode(link.request(P.STATS).payload)
        assert stats.errors_sent == 2 and stats.inferences == 0


def invoke(*args):
    return CliRunner().invoke(cli, list(map(str, args)))


def test_wrong_port_is_a_clear_error(run_dir):
    result = invoke("validate", "--port", "/dev/ttyNOPE0", "--run-dir", run_dir)
    assert result.exit_code == 2
    assert "Cannot open serial port '/dev/ttyNOPE0'" in result.output
    assert "Serial ports here now:" in result.output or "No serial port is attached now" in result.output


def swallow(server):
    connection, _ = server.accept()
    with connection:
        while connection.recv(4096):
            pass


def test_no_answer_times_out_with_a_hint(run_dir):
    with socket.socket() as server:  # accepts, reads, never answers
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        threading.Thread(target=swallow, args=(server,), daemon=True).start()
        url = f"socket://127.0.0.1:{server.getsockname()[1]}"
        start = time.monotonic()
        result = invoke("validate", "--port", url, "--run-dir", run_dir, "--timeout", "0.2")
    assert result.exit_code == 2
    assert f"No answer from the device on '{url}'" in result.output and "firmware is flashed" in result.output
    assert time.monotonic() - start < 10


class Faulty:
    """A pyserial port that damages the link once, when the host sends its `after`-th INFER request: flips a bit in
    that request (`where="request"`) or in the 12th byte of its reply (`"reply"`), or puts the previous INFER reply
    in front of its reply (`"replay"`, a stale frame with a valid CRC), or the previous reply re-sent with this
    request's sequence number (`"forged"`: only the echoed input CRC tells it is not the answer to this input)."""

    def __init__(self, port, after, where):
        self.port, self.after, self.where = port, after, where
        self.infers, self.armed, self.done, self.since_armed = 0, False, False, 0
        self.decoder, self.last_reply = P.Decoder(), None

    def write(self, data):
        if data[:3] == b"\xA5\x5A\x02":  # an INFER request
            self.infers += 1
            self.seq = data[3]
            if self.infers == self.after and self.where == "request":
                data = bytearray(data)
                data[20] ^= 0x04
                self.done = True
            self.armed = self.infers == self.after and self.where != "request"
        return self.port.write(bytes(data))

    def read(self, n):
        data = bytearray(self.port.read(n))
        for frame in self.decoder.feed(bytes(data)):
            if frame.type == P.INFER | P.REPLY and not self.armed:
                self.last_reply = frame.encode()
        if self.armed and data:
            if self.where in ("replay", "forged"):
                stale = P.Decoder().feed(self.last_reply)[0]
                data[:0] = P.encode(stale.type, self.seq, stale.payload) if self.where == "forged" else self.last_reply
                self.armed, self.done = False, True
            else:
                index = 11 - self.since_armed
                if 0 <= index < len(data):
                    data[index] ^= 0x80
                    self.armed, self.done = False, True
                self.since_armed += len(data)
        return bytes(data)

    def __getattr__(self, name):
        return getattr(self.port, name)


@pytest.mark.parametrize("where", ["reply", "request", "replay", "forged"])
def test_damaged_or_stale_frames_are_retried_never_recorded(host_exe, run_dir, where):
    faulty = {}

    def opener(url, **kw):
        faulty["port"] = Faulty(serial.serial_for_url(url, **kw), after=17, where=where)
        return faulty["port"]

    with emulator.host(host_exe) as emu:
        report = session.validate(emu.url, run_dir, timeout=0.5, progress=False, opener=opener)
    assert faulty["port"].done and faulty["port"].infers > 17
    assert_all_right(report, run_dir)
    if where != "replay":  # a replayed old reply is simply ignored (wrong sequence number)
        assert report["link"]["retries"] >= 1


def test_other_model_hash_is_refused(host_exe, tmp_path):
    make_run(tmp_path, samples=10)
    (tmp_path / "student_int8.tflite").write_bytes(b"another model")
    with emulator.host(host_exe) as emu:
        result = invoke("validate", "--port", emu.url, "--run-dir", tmp_path)
    assert result.exit_code == 2
    assert "runs model 1fb69a188773b5bc" in result.output and "not the expected" in result.output


def test_reset_mid_run_rehandshakes_and_resumes(host_exe, run_dir):
    resync_bytes = P.MAX_PAYLOAD + 10 + 18  # zeros and a PING sent before the handshake
    reset_at = resync_bytes + 10 + 74 * 40 + 30  # in the middle of the 41st INFER request
    with emulator.host(host_exe, env={"TK_HOST_RESET_AFTER_BYTES": str(reset_at)}) as emu:
        report = session.validate(emu.url, run_dir, timeout=0.5, progress=False, bye=True)
        assert emu.finish() == 0
    assert report["link"]["resets"] == 1
    assert_all_right(report, run_dir)


class Unplugged:
    """A port that fails like a USB board re-enumerating after a reset: reads raise after `after` INFERs."""

    def __init__(self, port, after):
        self.port, self.after, self.infers = port, after, 0

    def write(self, data):
        self.infers += data[:3] == b"\xA5\x5A\x02"
        return self.port.write(data)

    def read(self, n):
        if self.infers == self.after:
            raise serial.SerialException("device reports readiness to read but returned no data")
        return self.port.read(n)

    def __getattr__(self, name):
        return getattr(self.port, name)


def test_port_that_goes_away_is_reopened_and_rehandshaken(host_exe, run_dir):
    opened = []

    def opener(url, **kw):
        opened.append(Unplugged(serial.serial_for_url(url, **kw), after=30 if not opened else -1))
        return opened[-1]

    with emulator.host(host_exe) as emu:
        report = session.validate(emu.url, run_dir, timeout=0.5, progress=False, opener=opener)
    assert len(opened) == 2 and opened[0].infers == 30
    assert report["link"]["resets"] == 1
    assert_all_right(report, run_dir)


def test_validate_refuses_bad_options(run_dir):
    result = invoke("validate", "--emulator", "host", "--run-dir", run_dir, "--limit", "-1")
    assert result.exit_code == 2 and "--limit -1" in result.output
    result = invoke("validate", "--run-dir", run_dir)
    assert result.exit_code == 2 and "exactly one of --port and --emulator" in result.output
    result = invoke("validate", "--emulator", "host", "--run-dir", run_dir / "nope", "--model-dir", FIXTURE_MODEL)
    assert result.exit_code == 2 and "nope" in result.output


def test_build_refuses_a_folder_without_a_model(tmp_path):
    result = invoke("build", "--target", "host", "--model-dir", tmp_path)
    assert result.exit_code == 2 and str(tmp_path) in result.output and "model.h" in result.output


def test_a_device_speaking_another_protocol_version_is_refused(run_dir):
    """A fake device on a socket answers HELLO with version 1 (before AUDIO)."""
    def device(server):
        connection, _ = server.accept()
        decoder = P.Decoder()
        with connection:
            while data := connection.recv(4096):
                for frame in decoder.feed(data):
                    payload = b"\x00" * 4 + frame.payload if frame.type == P.PING else b"\x01" + bytes(40)
                    connection.sendall(P.encode(frame.type | P.REPLY, frame.seq, payload))

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        threading.Thread(target=device, args=(server,), daemon=True).start()
        result = invoke("validate", "--port", f"socket://127.0.0.1:{server.getsockname()[1]}", "--run-dir", run_dir)
    assert result.exit_code == 2 and "protocol version 1" in result.output and "speaks protocol version 2" in \
        result.output


def test_a_device_output_that_differs_is_one_error_wherever_it_is_found():
    from pipeline.device.validation import check_bit_exact
    check_bit_exact({"mismatched_outputs": 0, "samples": 40}, recorded=True)  # bit-exact: nothing to say
    with pytest.raises(PipelineError, match=r"^3 of 40 device outputs differ from the host's \(recorded in run.json\)"):
        check_bit_exact({"mismatched_outputs": 3, "samples": 40}, recorded=True)
