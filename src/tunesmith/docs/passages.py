"""Passages: what a reader's blocks become, cut along headings and pages within a token budget.

A reader turns a file into `Block`s in reading order, each under its heading path (or on its page, for a PDF). The
chunker never mixes two headings or two pages in one passage, so a passage's locator is always true; within a
section it packs whole blocks up to `chunk_tokens`, and cuts a block that is larger on its lines, then its sentences,
then its words. A table that is cut repeats its header row, so every piece can still be read on its own.

Tokens are counted as whitespace-separated words x 1.3, with no model tokenizer: the budget only has to keep passages
comparable and within what the embedding model reads (256 word pieces for MiniLM).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

TOKENS_PER_WORD = 1.3
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")
_PAGE = re.compile(r"p\. \d+")


@dataclass(frozen=True)
class Passage:
    id: str  # stable: f"{sha256[:12]}-{n}", n counting the document's passages in reading order
    source: str  # file path relative to the project root (cfg.root)
    locator: str  # "p. 3" for PDF pages, else the heading path "A > B", or "" if none
    text: str
    sha256: str  # of the whole source file


@dataclass(frozen=True)
class Hit:
    passage: Passage
    score: float  # fused score, higher is better


@dataclass(frozen=True)
class Block:
    """One paragraph, list item, code block or table of a document, in reading order."""

    text: str
    headings: tuple[str, ...] = ()
    page: int | None = None
    rows: tuple[str, ...] = ()  # a table's rows as "cell | cell", the header row first; `text` joins them

    @property
    def locator(self) -> str:
        return f"p. {self.page}" if self.page is not None else " > ".join(self.headings)


def table_block(rows: Sequence[str], headings: tuple[str, ...] = (), page: int | None = None) -> Block:
    rows = tuple(r for r in rows if r.strip(" |"))
    return Block("\n".join(rows), headings, page, rows)


def row_text(cells: Sequence[str]) -> str:
    """A table row as text: its cells joined by " | ", whitespace collapsed, a merged cell once."""
    out: list[str] = []
    for cell in cells:
        cell = " ".join(cell.split())
        if not out or cell != out[-1]:
            out.append(cell)
    return " | ".join(out)


def count_tokens(text: str) -> int:
    return math.ceil(len(text.split()) * TOKENS_PER_WORD)


def is_page_locator(locator: str) -> bool:
    return _PAGE.fullmatch(locator) is not None


def retrieval_text(passage: Passage) -> str:
    """What the retriever indexes: the heading path with the text (a heading names what the passage is about, and
    is often the words a question uses); a page number carries no meaning, so a PDF passage is its text alone."""
    if not passage.locator or is_page_locator(passage.locator):
        return passage.text
    return f"{passage.locator}\n{passage.text}"


def _pieces(text: str, budget: int) -> Iterator[str]:
    """`text` in pieces of at most `budget` tokens: on its lines, then its sentences, then its words."""
    if count_tokens(text) <= budget:
        yield text
        return
    for level in (lambda t: t.split("\n"), _SENTENCE_END.split):
        parts = [p for p in level(text) if p.strip()]
        if len(parts) > 1:
            yield from _pack(parts, budget, "\n" if "\n" in text else " ")
            return
    words = text.split()
    step = max(1, int(budget / TOKENS_PER_WORD))
    for start in range(0, len(words), step):
        yield " ".join(words[start : start + step])


def _pack(parts: Sequence[str], budget: int, joiner: str) -> Iterator[str]:
    """Consecutive parts joined while they fit; a part over the budget is cut on its own."""
    current: list[str] = []
    used = 0
    for part in parts:
        n = count_tokens(part)
        if current and used + n > budget:
            yield joiner.join(current)
            current, used = [], 0
        if n > budget:
            yield from _pieces(part, budget)
            continue
        current.append(part)
        used += n
    if current:
        yield joiner.join(current)


def _table_pieces(block: Block, budget: int) -> Iterator[str]:
    """A table in pieces of whole rows; each piece starts with the header row (unless the header alone takes half
    the budget)."""
    if count_tokens(block.text) <= budget:
        yield block.text
        return
    header, body = block.rows[0], block.rows[1:]
    if count_tokens(header) >= budget // 2:
        yield from _pack(block.rows, budget, "\n")
        return
    for piece in _pack(body, budget - count_tokens(header), "\n"):
        yield f"{header}\n{piece}"


def _sections(blocks: Sequence[Block]) -> Iterator[tuple[str, list[Block]]]:
    """Runs of consecutive blocks under the same locator (heading path or page)."""
    run: list[Block] = []
    for b in blocks:
        if run and b.locator != run[0].locator:
            yield run[0].locator, run
            run = []
        run.append(b)
    if run:
        yield run[0].locator, run


def chunk(blocks: Sequence[Block], *, source: str, sha256: str, budget: int) -> list[Passage]:
    """The passages of one document, in reading order, numbered from 0."""
    texts: list[tuple[str, str]] = []
    for locator, run in _sections(blocks):
        pieces: list[str] = []
        for b in run:
            if b.rows:
                pieces.extend(_table_pieces(b, budget))
            else:
                pieces.extend(_pieces(b.text.strip(), budget))
        texts.extend((locator, t) for t in _pack([p for p in pieces if p.strip()], budget, "\n\n"))
    return [
        Passage(id=f"{sha256[:12]}-{n}", source=source, locator=locator, text=text, sha256=sha256)
        for n, (locator, text) in enumerate(texts)
    ]
