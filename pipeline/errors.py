"""The one domain exception: every expected failure is a PipelineError with a message and a hint."""


class PipelineError(Exception):
    """A failure the user can fix. The CLI prints `error: <message> <hint>` on one line and exits 2."""

    def __init__(self, message: str, hint: str = ""):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} {self.hint}".strip()
