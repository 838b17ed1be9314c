"""Scale-out: distillation under tf.distribute, on two logical CPUs and on two workers over loopback."""
import json
import os
import socket
import subprocess
import sys

import pytest

from conftest import TINY

pytestmark = pytest.mark.slow
TINYKD = [sys.executable, "-m", "pipeline.cli.main", "distill", *TINY]


def replicas(run_dir):
    manifest = json.loads((run_dir / "run.json").read_text())
    return {stage: manifest["stages"][stage]["metrics"]["replicas"] for stage in ("baseline", "distill")}, \
        manifest["stages"]["distill"]["metrics"]["accuracy"]


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_mirrored_on_two_logical_cpus(models_root):
    root, config = models_root
    env = {**os.environ, "TINYKD_CPU_DEVICES": "2"}
    done = subprocess.run([*TINYKD, "--config", str(config), "--strategy", "mirrored"], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert replicas(root / "digits")[0] == {"baseline": 2, "distill": 2}


def test_multiworker_two_processes_on_loopback(models_root):
    root, config = models_root
    ports = free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    workers = []
    for index in range(2):
        env = {**os.environ, "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})}
        workers.append(subprocess.Popen([*TINYKD, "--config", str(config), "--run", f"worker{index}",
                                         "--strategy", "multiworker"], env=env, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE, text=True))
    try:
        errors = [w.communicate(timeout=300)[1] for w in workers]
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
                w.wait()
    assert [w.returncode for w in workers] == [0, 0], errors[0][-2000:]
    (r0, acc0), (r1, acc1) = replicas(root / "worker0"), replicas(root / "worker1")
    assert r0 == r1 == {"baseline": 2, "distill": 2}
    assert acc0 == acc1  # both workers hold the same synchronised weights


def test_bad_device_count_is_refused(tmp_path):
    env = {**os.environ, "TINYKD_CPU_DEVICES": "two"}
    done = subprocess.run([*TINYKD], env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 2 and "TINYKD_CPU_DEVICES='two'" in done.stderr
