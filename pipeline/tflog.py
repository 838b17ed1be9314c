"""TensorFlow's own chatter goes to a log file, so the terminal shows tinykd's lines only.

TensorFlow, XLA and absl write from C++ straight to file descriptor 2 ("failed call to cuInit", "All log messages
before absl::InitializeLog()", oneDNN notes), some of it while `import tensorflow` runs, so no Python logging
setting can silence it. `capture(path)` points descriptor 2 at `path` for the duration of a command; Python's
stderr follows it (TF's "retracing" warnings, Keras's and tfmot's Python warnings). tinykd itself writes to stdout,
and its one-line errors go to the terminal's stderr (`terminal()`); the traceback of an unexpected failure is
appended to the log file, and the exception carries that file's path (`log_of`) for the error line to name.
"""
from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import IO, Iterator

import click

from pipeline.errors import PipelineError

# Failures that are not bugs: the user's error (one line already says it all), click's own exits and usage errors.
EXPECTED = (PipelineError, click.ClickException, click.exceptions.Exit, click.exceptions.Abort)

LOG_NAME = "tinykd.log"  # in the run folder

_terminal: IO[str] | None = None  # the stderr the user sees while descriptor 2 is captured
_path: Path | None = None  # where descriptor 2 goes now


def default_path() -> Path:
    """The log of commands that have no run folder (compile, inspect, ...)."""
    return Path(tempfile.gettempdir()) / f"tinykd-{os.getuid()}.log"


def current() -> Path | None:
    return _path


def terminal() -> IO[str]:
    """Where messages for the user go on stderr: the real terminal even while descriptor 2 is captured."""
    return _terminal if _terminal is not None and sys.stderr is sys.__stderr__ else sys.stderr


@contextlib.contextmanager
def capture(path: Path) -> Iterator[Path]:
    """Send descriptor 2 (and sys.stderr, when it is descriptor 2) to `path` (appended) until the block ends.
    Nested calls move the capture to the new file; leaving restores the previous target. Falls back to the
    temporary folder's log when `path` cannot be written (a read-only run folder must not hide the real error)."""
    global _terminal, _path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        log = open(path, "a", encoding="utf-8")
    except OSError:
        path = default_path()
        log = open(path, "a", encoding="utf-8")
    sys.stderr.flush()
    saved = os.dup(2)
    previous_terminal, previous_path = _terminal, _path
    if _terminal is None:
        _terminal = open(os.dup(2), "w", encoding="utf-8", errors="replace", buffering=1)
    with log:
        log.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} tinykd {' '.join(sys.argv[1:])}\n")
        log.flush()
        os.dup2(log.fileno(), 2)
        _path = path
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
            if previous_terminal is None and _terminal is not None:
                _terminal.close()
            _terminal, _path = previous_terminal, previous_path


def log_of(error: BaseException) -> Path | None:
    """The log file that holds the traceback of `error` (None when it was raised outside a capture)."""
    return getattr(error, "tinykd_log", None)
