"""Reading one document into blocks: the format by its suffix, and a finding instead of a traceback.

Every reader returns `Parsed`: the blocks in reading order and the findings (file, what is wrong, what to do). A file
that cannot be read at all gives an error finding and no blocks; the others are still indexed. Text, Markdown and
HTML are read in docs/markup.py; PDF and DOCX, whose containers are checked first, in docs/office.py.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from tunesmith.config import DocsConfig
from tunesmith.docs import markup, office
from tunesmith.docs.parsed import Parsed, finding

FORMATS = {
    ".pdf": "pdf",
    ".docx": "docx",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
    ".md": "markdown",
    ".markdown": "markdown",
    ".txt": "text",
    ".text": "text",
}


def reader_for(fmt: str) -> Callable[[Path, str, DocsConfig], Parsed]:
    readers: dict[str, Callable[[Path, str, DocsConfig], Parsed]] = {
        "pdf": office.read_pdf,
        "docx": office.read_docx,
        "html": markup.read_html,
        "markdown": markup.read_markdown,
        "text": markup.read_text,
    }
    return readers[fmt]


def read_document(path: Path, source: str, cfg: DocsConfig) -> Parsed:
    """The blocks of one document and its findings; never raises for what is in the file."""
    fmt = FORMATS[path.suffix.lower()]
    quiet = [logging.getLogger(name) for name in ("pypdf", "bs4")]
    levels = [lg.level for lg in quiet]
    for lg in quiet:
        lg.setLevel(logging.ERROR)  # the parsers' own warnings about odd files; the findings say what matters
    try:
        parsed = reader_for(fmt)(path, source, cfg)
    except (Exception, RecursionError) as e:  # a parser's failure on a hostile or broken file
        detail = (str(e).splitlines() or [""])[0][:200]
        return Parsed(
            fmt,
            findings=[
                finding(
                    "unreadable",
                    "error",
                    source,
                    f"cannot be read as {fmt}: {type(e).__name__}{': ' + detail if detail else ''}",
                    "open it in the application that made it and save it again (or export it as PDF)",
                )
            ],
        )
    finally:
        for lg, level in zip(quiet, levels, strict=True):
            lg.setLevel(level)
    if not parsed.blocks and not any(f.severity == "error" for f in parsed.findings):
        parsed.findings.append(
            finding("empty", "error", source, "holds no text", "check that this is the file you meant to index")
        )
    return parsed
