"""The fault-injecting link (pipeline/device/faults.py) and the harness under it: damaged, dropped, duplicated, delayed
frames and device resets on the host port and in QEMU. The harness must finish with zero wrong results, or stop
with a clear error within a bounded time when recovery is impossible."""
import shutil
import time

import numpy as np
import pytest
import serial
from device_helpers import FIXTURE_MODEL, make_run

from pipeline.device import emulator, session
from pipeline.device import protocol as P
from pipeline.device.build import build
from pipeline.errors import PipelineError
from pipeline.device.faults import KINDS, FaultProxy, Faults, FaultyPort, Framer, Injector

FRAMES = [P.encode(P.INFER, 9, bytes(range(64))), P.encode(P.PING, 10, b"abc"), P.encode(P.HELLO | P.REPLY, 11)]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("run")
    make_run(path, samples=600)
    return path


def test_framer_splits_frames_from_garbage_in_any_chunking():
    stream = b"\x00\x01" + FRAMES[0] + b"\xA5" + FRAMES[1] + bytes(30) + FRAMES[2]
    for chunk in (1, 7, len(stream)):
        framer, pieces = Framer(), []
        for i in range(0, len(stream), chunk):
            pieces += framer.feed(stream[i:i + chunk], now=0.0)
        assert b"".join(p for _, p in pieces) == stream
        assert [p for is_frame, p in pieces if is_frame] == FRAMES


@pytest.mark.parametrize("kind", ["drop", "flip", "dup"])
def test_each_damaged_frame_gets_exactly_one_fault(kind):
    injector = Injector(Faults(rate=1.0, kinds=(kind,), seed=3))
    for frame in FRAMES * 20:
        (damaged,), stall = injector.damage(frame, "to_device")
        assert stall == 0.0 and damaged != frame
        if kind == "flip":
            assert len(damaged) == len(frame)
            assert sum(bin(a ^ b).count("1") for a, b in zip(damaged, frame)) == 1
        else:
            assert len(damaged) == len(frame) + (1 if kind == "dup" else -1)
        assert P.Decoder().feed(damaged) == []  # CRC-32 catches every one of them
    assert injector.summary()["faults"] == {f"to_device {kind}": 60}


def test_rate_is_honoured_and_seeded():
    def damaged(seed):
        injector = Injector(Faults(rate=0.01, seed=seed))
        return [injector.damage(FRAMES[0], "from_device") for _ in range(20_000)]
    first = damaged(1)
    assert first == damaged(1) and first != damaged(2)
    hits = sum(chunks != [FRAMES[0]] or stall > 0 for chunks, stall in first)
    assert 140 < hits < 260  # 1% of 20,000 (a delay with a zero stall is not counted: negligible)


def test_reset_is_slipped_in_before_a_host_frame():
    (reset, frame), _ = Injector(Faults(rate=0.0, reset_rate=1.0)).damage(FRAMES[0], "to_device")
    assert frame == FRAMES[0]
    (decoded,) = P.Decoder().feed(reset)
    assert decoded.type == P.RESET and decoded.seq != FRAMES[0][3]


@pytest.mark.parametrize("bad, words", [(dict(rate=1.5), "rate 1.5"), (dict(reset_rate=-0.1), "reset_rate -0.1"),
                                        (dict(kinds=("flip", "smash")), "smash"), (dict(delay_s=-1), "-1")])
def test_bad_fault_settings_are_refused_by_name(bad, words):
    with pytest.raises(PipelineError, match=words.replace(".", r"\.")):
        Faults(**bad)


class ResetBefore(Injector):
    """A device that resets when it receives a request of type `msg_type`, the first `times` times."""

    def __init__(self, msg_type, times=10**9):
        super().__init__(Faults(rate=0.0))
        self.msg_type, self.times = msg_type, times

    def damage(self, frame, direction):
        if direction == "to_device" and frame[2:3] == bytes([self.msg_type]) and self.times > 0:
            self.times -= 1
            return [P.encode(P.RESET, 200), frame], 0.0
        return [frame], 0.0


def validate_through(url, run_dir, faults, limit=0, timeout=0.2, injector=None):
    injector = injector or Injector(faults)

    def opener(u, **kw):  # the harness's one code path, with a damaging port in front of the device
        return FaultyPort(serial.serial_for_url(u, **kw), faults, injector)
    report = session.validate(url, run_dir, limit=limit, timeout=timeout, progress=False, opener=opener,
                              reconnect_s=0)
    return report, injector.summary()


def assert_no_wrong_result(report, run_dir, samples):
    golden = np.load(run_dir / "golden.npz")
    assert report["samples"] == samples and report["mismatched_outputs"] == 0
    assert report["accuracy"] == pytest.approx(np.mean(np.argmax(golden["outputs"][:samples], 1) ==
                                                       golden["labels"][:samples]))


@pytest.mark.slow
def test_host_port_under_all_faults_and_resets_records_no_wrong_result(host_exe, run_dir):
    """600 samples, 3% of frames damaged each way, a reset before ~2% of requests (more than MAX_RESETS in all:
    only resets in a row without progress stop a run)."""
    with emulator.host(host_exe) as emu:
        report, faults = validate_through(emu.url, run_dir, Faults(rate=0.03, reset_rate=0.02, delay_s=0.3, seed=5),
                                          timeout=0.3)
    assert_no_wrong_result(report, run_dir, 600)
    assert all(faults["faults"].get(f"to_device {k}", 0) + faults["faults"].get(f"from_device {k}", 0) > 0
               for k in KINDS)
    assert faults["faults_total"] >= 20
    assert report["link"]["resets"] > session.MAX_RESETS
    assert report["link"]["retries"] >= faults["faults_total"] // 4


@pytest.mark.slow
def test_total_corruption_stops_with_a_clear_error_not_a_hang(host_exe, run_dir):
    start = time.monotonic()
    with emulator.host(host_exe) as emu, pytest.raises(PipelineError) as error:
        validate_through(emu.url, run_dir, Faults(rate=1.0, kinds=("flip", "drop"), seed=1), limit=5)
    assert emu.url in str(error.value) and "PING" in str(error.value)
    assert time.monotonic() - start < 15


def test_a_device_resetting_before_every_request_is_a_crash_loop(host_exe, run_dir):
    with emulator.host(host_exe) as emu, pytest.raises(PipelineError, match="reset 6 times in a row"):
        validate_through(emu.url, run_dir, None, limit=5, injector=ResetBefore(P.INFER))


def test_resets_while_reading_the_final_stats_are_survived(host_exe, run_dir):
    """Two resets in a row around STATS (after the samples): each is followed by a new handshake, not a traceback."""
    with emulator.host(host_exe) as emu:
        report, _ = validate_through(emu.url, run_dir, None, limit=20, injector=ResetBefore(P.STATS, times=2))
    assert_no_wrong_result(report, run_dir, 20)
    assert report["link"]["resets"] == 2


@pytest.mark.slow
def test_loopback_proxy_in_front_of_the_host_port(host_exe, run_dir):
    """Users stress their own board the same way: the harness only sees a socket:// URL."""
    with emulator.host(host_exe) as emu, FaultProxy(emu.url, Faults(rate=0.03, reset_rate=0.01, seed=7)) as proxy:
        report = session.validate(proxy.url, run_dir, limit=300, timeout=0.3, progress=False, reconnect_s=0)
        faults = proxy.injector.summary()
    assert_no_wrong_result(report, run_dir, 300)
    assert faults["faults_total"] >= 5 and report["link"]["retries"] > 0


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None,
                    reason="needs qemu-system-arm and gcc-arm-none-eabi (make install)")
def test_qemu_under_faults_and_resets_records_no_wrong_result(tmp_path, run_dir):
    firmware = build("qemu-cm4", FIXTURE_MODEL, out_dir=tmp_path)
    with emulator.qemu(firmware.elf) as emu:
        report, faults = validate_through(emu.url, run_dir, Faults(rate=0.05, reset_rate=0.02, seed=2), limit=150,
                                          timeout=0.5)
    assert_no_wrong_result(report, run_dir, 150)
    assert faults["faults_total"] >= 5 and report["link"]["retries"] > 0
