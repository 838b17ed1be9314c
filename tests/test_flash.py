"""`tinykd flash` waits for the board to come back after the upload and finds it again by USB identity when it
re-enumerates under another node name (the upload resets it); a fake port list and a fake PlatformIO stand in."""
import subprocess
from types import SimpleNamespace

import pytest

from pipeline.errors import PipelineError
from pipeline.device.flash import flash, wait_for_board

NANO = (0x2341, 0x805A, "ABC123")  # Arduino Nano 33 BLE: VID 2341, PID 805A


def _port(device, identity=NANO):
    vid, pid, serial = identity if identity else (None, None, None)
    return SimpleNamespace(device=device, vid=vid, pid=pid, serial_number=serial)


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def _model(tmp_path):
    for name in ("model.h", "model.c"):
        (tmp_path / name).write_text("")
    return tmp_path


def test_the_board_is_found_again_under_its_new_name(tmp_path):
    # before the upload: ttyACM0; during the reset: gone; then back as ttyACM1 (another device holds ttyACM0)
    listings = iter([[_port("/dev/ttyACM0")], [], [], [_port("/dev/ttyACM0", (0x1234, 1, "x")), _port("/dev/ttyACM1")]])
    last = []

    def lister():
        last[:] = next(listings, last)
        return list(last)

    uploads = []
    runner = lambda command, env, check: uploads.append((command, env)) or subprocess.CompletedProcess(command, 0)
    flashed = flash("nano33ble", "/dev/ttyACM0", _model(tmp_path), runner=runner, lister=lister, timeout=5)
    assert flashed.port == "/dev/ttyACM1" and uploads[0][0] == flashed.command
    assert uploads[0][1]["TINYKD_MODEL_DIR"] == str(tmp_path.resolve())


def test_the_same_name_is_kept_when_it_comes_back_there():
    clock = Clock()
    listings = iter([[], [_port("/dev/ttyACM1"), _port("/dev/ttyACM0")]])
    port = wait_for_board("/dev/ttyACM0", NANO, lister=lambda: next(listings), sleep=clock.sleep, clock=clock)
    assert port == "/dev/ttyACM0" and clock.now == 0.25


def test_a_board_that_never_comes_back_is_a_clear_error():
    clock = Clock()
    with pytest.raises(PipelineError) as e:
        wait_for_board("/dev/ttyACM0", NANO, timeout=15, lister=lambda: [], sleep=clock.sleep, clock=clock)
    assert "USB 2341:805a" in str(e.value) and "within 15 s" in str(e.value) and clock.now >= 15


def test_a_port_without_usb_identity_is_waited_for_by_name(tmp_path):
    node = tmp_path / "ttyS9"
    clock = Clock()
    calls = []

    def lister():
        calls.append(1)
        if len(calls) == 3:
            node.write_text("")  # the node reappears
        return []

    assert wait_for_board(str(node), None, lister=lister, sleep=clock.sleep, clock=clock) == str(node)
    assert len(calls) == 3
