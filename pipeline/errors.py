"""The one domain exception: every expected failure is a PipelineError with a message and a hint."""
from __future__ import annotations

import contextlib
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


def stage_of(error: BaseException) -> str:
    return getattr(error, "tinykd_stage", "")
