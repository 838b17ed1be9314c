"""Run folders: `models/<run>/` with its artifacts and the manifest `run.json`.

The manifest holds the resolved config, package versions, the SHA-256 of every artifact and each stage's
fingerprint and metrics. A stage whose fingerprint (its settings, the hashes of its inputs and of tinykd's own
sources it runs: `sources_hash`) is unchanged and whose outputs are intact is skipped. Every file is written to a
temporary name beside its target and renamed, so a crash never leaves a half-written artifact or manifest.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import platform
import shutil
import time
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Iterator

from pipeline import __version__
from pipeline.artifacts import MANIFEST
from pipeline.errors import PipelineError

PACKAGES = ("tensorflow", "tf-keras", "tensorflow-model-optimization", "tflite-micro", "numpy", "click")
SOURCE_SUFFIXES = (".py", ".j2", ".c", ".h", ".ld", ".S")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_path(path: Path) -> str:
    """Hash of a file, or of a folder's files and their relative names (a SavedModel, an image folder)."""
    path = Path(path)
    if path.is_file():
        return sha256_file(path)
    digest = hashlib.sha256()
    for child in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(str(child.relative_to(path)).encode() + b"\0" + sha256_file(child).encode())
    return digest.hexdigest()


def sources_hash(*folders: Path) -> str:
    """SHA-256 over the source files under `folders` (names + contents; caches and build output ignored), so a
    change to tinykd's code for a stage (an upgrade, an edit) reruns the stages it makes."""
    digest = hashlib.sha256()
    for folder in folders:
        for path in sorted(p for p in Path(folder).rglob("*") if p.is_file() and p.suffix in SOURCE_SUFFIXES
                           and "__pycache__" not in p.parts and ".pio" not in p.parts):
            digest.update(str(path.relative_to(folder.parent)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def fingerprint(*parts: Any) -> str:
    """Stable hash of JSON-serialisable settings and input hashes."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version(), "tinykd": __version__}
    for name in PACKAGES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[name] = metadata.version(name)
    return versions


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside `target` (same suffix, so savers that check it are happy); rename on success."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.stem}.tmp-{os.getpid()}{target.suffix}")
    try:
        yield tmp
        if tmp.is_dir() and target.is_dir():  # a folder artifact: swap it in (os.replace needs an empty target)
            old = target.with_name(f".{target.name}.old-{os.getpid()}")
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    finally:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp.exists():
            tmp.unlink()


def write_json_atomic(path: Path, data: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


HOST_BUILD = "validate_host"  # the stage a validation of the x86 host build is recorded as (never `validate`)
LOCK_NAME = "tinykd.lock"  # the run folder's advisory lock (holds the holder's PID); not an artifact


@contextlib.contextmanager
def locked(run_dir: str | Path) -> Iterator[None]:
    """Hold the run folder's lock for the block: a second tinykd process on the same folder stops at once with a
    one-line error naming the holder's PID. The lock is an flock, which the kernel drops when its process dies, so
    the lock of a killed run is simply taken over."""
    run_dir = Path(run_dir)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(run_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise PipelineError(f"Cannot use the run folder '{run_dir}': {e.strerror}.",
                            "Choose a writable place for it (--run NAME, or run.root in the config).") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            raise PipelineError(f"Run folder '{run_dir}' is in use by another tinykd (PID {holder}).",
                                "Wait for it to finish, or use another --run name.") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def read_manifest(file: Path) -> dict[str, Any]:
    """run.json, checked to be a tinykd manifest: one PipelineError, with one piece of advice, wherever it is read."""
    try:
        manifest = json.loads(Path(file).read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise corrupt_manifest(file, getattr(e, "msg", str(e))) from None
    if not (isinstance(manifest, dict) and isinstance(manifest.get("artifacts"), dict)
            and isinstance(manifest.get("stages"), dict)):
        raise corrupt_manifest(file, "not a tinykd run manifest: edited by hand?")
    return manifest


def corrupt_manifest(file: Path, why: str) -> PipelineError:
    return PipelineError(f"The manifest '{file}' is corrupt ({why}).",
                         f"Delete it (the artifacts beside it stay) and rerun "
                         f"`tinykd run --run {Path(file).parent.name}`: "
                         "every stage is then redone.")


class Run:
    """One run folder and its manifest."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.manifest: dict[str, Any] = {"tool": f"tinykd {__version__}", "artifacts": {}, "stages": {}}
        file = self.path / MANIFEST
        if file.exists():
            self.manifest = read_manifest(file)

    def file(self, name: str) -> Path:
        return self.path / name

    def checkpoints(self, stage: str) -> Path:
        """Where `stage` keeps its per-epoch training state until it finishes (see pipeline/kd/checkpoint.py)."""
        return self.path / ".checkpoints" / stage

    def write(self, name: str, writer: Callable[[Path], None]) -> Path:
        """Write artifact `name` through `writer(tmp_path)` atomically and record its hash."""
        target = self.file(name)
        with atomic_path(target) as tmp:
            writer(tmp)
        self.manifest["artifacts"][name] = {"sha256": sha256_path(target), "bytes": _size(target)}
        return target

    def sha(self, name: str) -> str:
        return self.manifest["artifacts"][name]["sha256"]

    def intact(self, name: str) -> bool:
        entry = self.manifest["artifacts"].get(name)
        return entry is not None and self.file(name).exists() and sha256_path(self.file(name)) == entry["sha256"]

    def is_fresh(self, stage: str, fp: str) -> bool:
        """True when `stage` ran with fingerprint `fp` and its outputs are still as it wrote them.

        Missing outputs or other settings mean "run again"; an output that exists but differs from its recorded
        SHA-256 was changed behind the pipeline's back, and is refused rather than silently rebuilt."""
        entry = self.manifest["stages"].get(stage)
        if not entry or entry.get("fingerprint") != fp:
            return False
        for name in entry["artifacts"]:
            if not self.file(name).exists():
                return False
            if not self.intact(name):
                raise PipelineError(f"Artifact '{self.file(name)}' does not match its SHA-256 in {MANIFEST}: it was "
                                    "changed after tinykd wrote it.",
                                    "Restore it, or rerun with --force to rebuild it.")
        return True

    def metrics(self, stage: str) -> dict[str, Any]:
        return self.manifest["stages"].get(stage, {}).get("metrics", {})

    def record(self, stage: str, fp: str, artifacts: list[str], metrics: dict[str, Any], seconds: float,
               **extra: Any) -> None:
        self.manifest["stages"][stage] = {"fingerprint": fp, "artifacts": artifacts, "metrics": metrics,
                                          "seconds": round(seconds, 2), "finished": time.strftime("%Y-%m-%dT%H:%M:%S"),
                                          **extra}
        self.save()
        shutil.rmtree(self.checkpoints(stage), ignore_errors=True)  # finished: nothing left to resume

    def save(self) -> None:
        self.manifest["packages"] = package_versions()
        write_json_atomic(self.file(MANIFEST), self.manifest)


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
