"""What every reader returns: the blocks and findings of one document, and the heading path as it is read."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tunesmith.docs.passages import Block
from tunesmith.records import Finding


def finding(kind: str, severity: str, file: str, message: str, hint: str, **details: Any) -> Finding:
    """A document finding: the file, what is wrong (message) and what to do (hint); no line numbers."""
    return Finding(kind, severity, [], message, file=file, details={"hint": hint, **details})


@dataclass
class Parsed:
    format: str
    blocks: list[Block] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    pages: int | None = None  # PDF pages read


class Headings:
    """The current heading path, as heading levels open and close."""

    def __init__(self) -> None:
        self._stack: list[tuple[int, str]] = []

    def open(self, level: int, title: str) -> None:
        title = " ".join(title.split())
        while self._stack and self._stack[-1][0] >= level:
            self._stack.pop()
        if title:
            self._stack.append((level, title))

    @property
    def path(self) -> tuple[str, ...]:
        return tuple(t for _, t in self._stack)
