"""TensorFlow's own chatter goes to a log file, so the terminal shows tinykd's lines only.

TensorFlow, XLA and absl write from C++ straight to file descriptor 2 ("failed call to cuInit", "All log messages
before absl::InitializeLog()", oneDNN notes), some of it while `import tensorflow` runs, so no Python logging
setting can silence it. `capture(path)` points descriptor 2 at `path` for the duration of a command; Python's
stderr follows it (TF's "retracing" warnings, Keras's and tfmot's Python warnings). tinykd itself writes to stdout;
its one-line errors are printed after the capture has ended, on the real stderr. The traceback of an unexpected
failure is appended to the log file, and the exception carries that file's path (`log_of`) for the error line.
"""
from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Iterator

import click

from pipeline.errors import PipelineError

# Failures that are not bugs: the user's error (one line already says it all), click's own exits and usage errors.
EXPECTED = (PipelineError, click.ClickException, click.exceptions.Exit, click.exceptions.Abort)

LOG_NAME = "tinykd.log"  # in the run folder


def default_path() -> Path:
    """The log of commands that have no run folder (compile, inspect, ...)."""
    return Path(tempfile.gettempdir()) / f"tinykd-{os.getuid()}.log"


@contextlib.contextmanager
def capture(path: Path) -> Iterator[Path]:
    """Send descriptor 2 (and sys.stderr, when it is descriptor 2) to `path` (appended) until the block ends.
    Nested calls move the capture to the new file; leaving restores the previous target. Falls back to the
    temporary folder's log when `path` cannot be written (a read-only run folder must not hide the real error)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        log = open(path, "a", encoding="utf-8")
    except OSError:
        path = default_path()
        log = open(path, "a", encoding="utf-8")
    sys.stderr.flush()
    saved = os.dup(2)
    with log:
        log.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} tinykd {' '.join(sys.argv[1:])}\n")
        log.flush()
        os.dup2(log.fileno(), 2)
        try:
            yield path
        except Exception as e:
            if not isinstance(e, EXPECTED) and not hasattr(e, "tinykd_log"):
                traceback.print_exception(e, file=log)
                e.tinykd_log = path
            raise
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def log_of(error: BaseException) -> Path | None:
    """The log file that holds the traceback of `error` (None when it was raised outside a capture)."""
    return getattr(error, "tinykd_log", None)
