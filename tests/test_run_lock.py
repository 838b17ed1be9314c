"""One tinykd per run folder: a second process on the same folder stops at once with the holder's PID; the lock
of a killed process is taken over (an flock dies with its process)."""
import json
import signal
import subprocess
import sys
import time

import pytest

from conftest import TINY, _root_config, invoke
from pipeline.errors import PipelineError
from pipeline.runs import LOCK_NAME, locked

HOLDER = """
import sys, time
from pipeline.runs import locked
with locked(sys.argv[1]):
    print("held", flush=True)
    time.sleep(60)
"""


@pytest.fixture
def holder(tmp_path):
    """A process holding the lock of tmp_path/'models'/'busy'."""
    run = tmp_path / "models" / "busy"
    process = subprocess.Popen([sys.executable, "-c", HOLDER, str(run)], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "held"
    yield run, process
    process.kill()
    process.wait()


def test_a_second_process_stops_at_once_naming_the_holder(holder):
    run, process = holder
    started = time.monotonic()
    with pytest.raises(PipelineError) as e:
        with locked(run):
            pass
    assert time.monotonic() - started < 2
    assert f"PID {process.pid}" in str(e.value) and "another --run name" in str(e.value)


def test_the_cli_refuses_a_busy_run_folder_in_one_line(holder):
    run, process = holder
    result = invoke("distill", "--run", run.name, "--config", _root_config(run.parent), "--epochs", "1")
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and f"PID {process.pid}" in lines[0], result.output
    assert not (run / "run.json").exists()  # nothing ran


def test_the_lock_of_a_killed_process_is_taken_over(holder):
    run, process = holder
    process.send_signal(signal.SIGKILL)
    process.wait()
    with locked(run):  # no error: the kernel dropped the dead process's flock
        assert (run / LOCK_NAME).read_text().strip() != str(process.pid)


def test_an_unwritable_place_is_one_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(PipelineError, match="Cannot use the run folder"):
        with locked(blocker / "run"):
            pass


@pytest.mark.slow
def test_two_concurrent_runs_the_second_stops_at_once_the_first_completes(tmp_path):
    config = _root_config(tmp_path)
    first = subprocess.Popen([sys.executable, "-m", "pipeline.cli.main", "distill", "--config", str(config), "--run",
                              "dup", *TINY], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        lock = tmp_path / "dup" / LOCK_NAME
        deadline = time.monotonic() + 60
        while not (lock.exists() and lock.read_text().strip() == str(first.pid)) and time.monotonic() < deadline:
            time.sleep(0.05)
        started = time.monotonic()
        second = invoke("run", "--config", config, "--run", "dup")
        assert time.monotonic() - started < 2
        assert second.exit_code == 2 and f"PID {first.pid}" in second.stderr, second.output
        assert first.wait(timeout=600) == 0
    finally:
        first.kill()
        first.wait()
    assert "distill" in json.loads((tmp_path / "dup" / "run.json").read_text())["stages"]
