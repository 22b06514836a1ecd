"""User-facing errors and their exit codes (DESIGN.md, "Errors").

A TunesmithError is a mistake the user can fix: it names where (file and line), what is wrong, and how to fix it.
The CLI prints it as `error: FILE:LINE: message` and `hint: ...` and exits with `exit_code`; anything else is a bug:
the CLI reports it in one line with exit code 3 (so a script can tell a crash from findings), and `--debug` shows
its traceback.
"""

from __future__ import annotations

from pathlib import Path

EXIT_FINDINGS = 1  # done, but a check found errors or a gate failed
EXIT_USAGE = 2  # the input or the usage is unusable
EXIT_INTERNAL = 3  # a bug in tunesmith: an exception that is not a TunesmithError


class TunesmithError(Exception):
    exit_code = EXIT_USAGE

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        file: str | Path | None = None,
        line: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.file = str(file) if file is not None else None
        self.line = line

    @property
    def location(self) -> str | None:
        if self.file is None:
            return None
        return f"{self.file}:{self.line}" if self.line is not None else self.file

    def __str__(self) -> str:
        where = f"{self.location}: " if self.location else ""
        return f"{where}{self.message}"


class ConfigError(TunesmithError):
    """tunesmith.yaml (or a flag) is invalid."""


class DataError(TunesmithError):
    """The input data cannot be used at all (a missing file, nothing in a known format)."""


class OutputError(TunesmithError):
    """An output path cannot be written safely: it holds someone else's files, the inputs, or is not writable."""


class ModelError(TunesmithError):
    """A model, tokenizer or chat template cannot be loaded or used."""


class GateFailed(TunesmithError):
    """Work finished, but a quality gate did not pass."""

    exit_code = EXIT_FINDINGS
