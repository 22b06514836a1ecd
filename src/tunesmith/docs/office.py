"""PDF and DOCX: the containers are checked before they are parsed.

PDF with pypdf (pure Python, maintained, reads page by page, so each passage keeps its page number; it says when a
file is encrypted). A PDF has no reliable headings, so its locator is the page. A page with no extractable text is a
scan: the file needs OCR, which tunesmith does not do.

DOCX with python-docx: paragraphs with their styles (Title and Heading 1-9 make the heading path) and tables, in
body order. A DOCX is a zip archive: its members' sizes are read from the archive's directory and checked before
anything is unpacked, so a zip bomb is refused without being inflated.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from typing import Any

from tunesmith.config import DocsConfig
from tunesmith.docs.parsed import Headings, Parsed, finding
from tunesmith.docs.passages import Block, row_text, table_block

# A DOCX member that inflates more than this many times over, once it is larger than BOMB_MIN_BYTES, is a zip bomb:
# Word's XML compresses 5-20x; a run of zeros, 1000x.
BOMB_RATIO, BOMB_MIN_BYTES = 100, 1 << 20
# A DOCX may unzip to at most this many times docs.max_file_bytes in all, and hold at most this many members.
UNZIPPED_PER_FILE_BYTE, MAX_MEMBERS = 4, 10_000
_HEADING_STYLE = re.compile(r"heading ([1-9])", re.IGNORECASE)


def _encrypted(reader: Any, source: str) -> Parsed | None:
    """None when the PDF can be read: unencrypted, or encrypted with an empty user password (an owner password
    only restricts printing or copying, and the text is readable)."""
    if not reader.is_encrypted:
        return None
    try:
        if reader.decrypt(""):
            return None
    except Exception:  # an encryption pypdf cannot open; the finding is the same
        pass
    return Parsed(
        "pdf",
        findings=[
            finding(
                "encrypted",
                "error",
                source,
                "encrypted with a password: skipped",
                "index an unprotected copy (open it with the password and save it without one, or "
                "`qpdf --decrypt --password=PASSWORD in.pdf out.pdf`)",
            )
        ],
    )


def _page_text(page: Any) -> str:
    lines = [" ".join(line.split()) for line in (page.extract_text() or "").splitlines()]
    return "\n".join(line for line in lines if line)


def read_pdf(path: Path, source: str, cfg: DocsConfig) -> Parsed:
    from pypdf import PdfReader

    reader = PdfReader(path)
    if (locked := _encrypted(reader, source)) is not None:
        return locked
    total = len(reader.pages)
    read = min(total, cfg.max_pages)
    parsed = Parsed("pdf", pages=read)
    blank = []
    for n in range(read):
        text = _page_text(reader.pages[n])
        if text:
            parsed.blocks.append(Block(text, page=n + 1))
        else:
            blank.append(n + 1)
    if read and len(blank) == read:
        parsed.findings.append(
            finding(
                "no_text_layer",
                "error",
                source,
                f"none of its {read} page(s) has a text layer: a scanned or image-only PDF; skipped",
                "run OCR on it (for instance `ocrmypdf in.pdf out.pdf`) and index the result",
            )
        )
    elif blank:
        shown = ", ".join(map(str, blank[:20])) + (", ..." if len(blank) > 20 else "")
        parsed.findings.append(
            finding(
                "pages_without_text",
                "warning",
                source,
                f"{len(blank)} page(s) without a text layer (p. {shown}): their content is not indexed",
                "if those pages are scans, run OCR on the file (`ocrmypdf`) and index the result",
                pages=blank,
            )
        )
    if total > read:
        parsed.findings.append(
            finding(
                "too_many_pages",
                "warning",
                source,
                f"{total} pages: only the first {read} are indexed (docs.max_pages)",
                "raise docs.max_pages, or split the file",
            )
        )
    return parsed


def _zip_problem(path: Path, cfg: DocsConfig) -> tuple[str, str] | None:
    """(kind, message) when the file is not a zip archive a DOCX reader may unpack; None when it is safe."""
    if not zipfile.is_zipfile(path):
        return "corrupt", "is not a DOCX (not a zip archive): damaged, or another format renamed"
    with zipfile.ZipFile(path) as z:
        members = z.infolist()
    limit = UNZIPPED_PER_FILE_BYTE * cfg.max_file_bytes
    total = sum(m.file_size for m in members)
    if len(members) > MAX_MEMBERS:
        return "zip_bomb", f"a zip of {len(members):,} members (a DOCX has dozens): refused unopened"
    if total > limit:
        return "zip_bomb", f"would unzip to {total:,} bytes, over {limit:,} (4 x docs.max_file_bytes): refused unopened"
    for m in members:
        if m.file_size > BOMB_MIN_BYTES and m.file_size > BOMB_RATIO * max(m.compress_size, 1):
            ratio = m.file_size / max(m.compress_size, 1)
            return "zip_bomb", (
                f"its member {m.filename[:80]} inflates {ratio:,.0f}x ({m.compress_size:,} to {m.file_size:,} bytes): "
                "a zip bomb, refused unopened"
            )
    return None


def _heading_level(paragraph: Any) -> int | None:
    name = (paragraph.style.name if paragraph.style is not None else "") or ""
    if name.lower() == "title":
        return 0  # above Heading 1: the document's title heads its path
    m = _HEADING_STYLE.fullmatch(name)
    return int(m.group(1)) if m else None


def _table_rows(table: Any) -> list[str]:
    return [row_text([cell.text for cell in row.cells]) for row in table.rows]


def read_docx(path: Path, source: str, cfg: DocsConfig) -> Parsed:
    problem = _zip_problem(path, cfg)
    if problem is not None:
        kind, message = problem
        hint = (
            "open it in Word and save it again as .docx"
            if kind == "corrupt"
            else "check where this file came from; if it is genuine, save it again from Word"
        )
        return Parsed("docx", findings=[finding(kind, "error", source, message, hint)])
    import docx
    from docx.table import Table

    document = docx.Document(str(path))
    heads, blocks = Headings(), []
    for item in document.iter_inner_content():
        if isinstance(item, Table):
            blocks.append(table_block(_table_rows(item), heads.path))
            continue
        text = item.text.strip()
        level = _heading_level(item)
        if level is not None:
            heads.open(level, text)
        elif text:
            style = (item.style.name if item.style is not None else "") or ""
            blocks.append(Block(f"- {text}" if style.lower().startswith("list") else text, heads.path))
    return Parsed("docx", blocks)
