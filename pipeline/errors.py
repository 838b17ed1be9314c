"""The one domain exception: every expected failure is a PipelineError with a message and a hint."""
from __future__ import annotations

import contextlib
import errno
from typing import Iterator


class PipelineError(Exception):
    """A failure the user can fix. The CLI prints `error: <message> <hint>` on one line and exits 2."""

    def __init__(self, message: str, hint: str = ""):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} {self.hint}".strip()


@contextlib.contextmanager
def stage(name: str) -> Iterator[None]:
    """Marks an unexpected exception raised inside with the stage it came from (the CLI's error line names it)."""
    try:
        yield
    except PipelineError:
        raise
    except Exception as e:  # noqa: BLE001 - only labelled here; the CLI reports it
        if not hasattr(e, "tinykd_stage"):
            e.tinykd_stage = name
        raise


def first_line(e: BaseException, limit: int = 160) -> str:
    """The first line of a library's exception (at most `limit` characters), or its type when it says nothing: the
    reason part of a one-line error."""
    text = str(e).strip()
    return text.splitlines()[0][:limit] if text else type(e).__name__


def stage_of(error: BaseException) -> str:
    return getattr(error, "tinykd_stage", "")


_DISK = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is used up",
         errno.EFBIG: "the file would be larger than this system allows", errno.EROFS: "the file system is read-only",
         errno.EACCES: "permission denied", errno.EPERM: "permission denied"}


def environment_error(e: BaseException) -> PipelineError | None:
    """The machine, not tinykd, failed (disk full, read-only or forbidden folder, out of memory): the one line
    that says so, or None for any other exception. Finished stages and artifacts are written atomically, so a
    rerun after freeing the resource resumes where this one stopped."""
    rerun = "Rerun the same command afterwards: finished stages are kept."
    if isinstance(e, OSError) and e.errno in _DISK:
        where = f" ({e.filename})" if e.filename else ""
        return PipelineError(f"Cannot write{where}: {_DISK[e.errno]}.",
                             f"Free space or choose a writable run.root. {rerun}")
    text = str(e)
    if type(e).__name__ == "ResourceExhaustedError" or isinstance(e, MemoryError):  # TensorFlow's, or Python's
        if "No space left" in text:
            return PipelineError("Cannot write: the disk is full.", f"Free space. {rerun}")
        return PipelineError("Out of memory: the model or batch is too large for this machine "
                             f"({' '.join(text.split())[:120] or type(e).__name__}).",
                             "Lower --width or --batch-size (teacher.width in the config for the built-in teacher).")
    return None
