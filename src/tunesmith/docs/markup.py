"""Text, Markdown and HTML: the formats that are text already, decoded and walked into blocks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tunesmith.config import DocsConfig
from tunesmith.docs.parsed import Headings, Parsed, finding
from tunesmith.docs.passages import Block, row_text, table_block
from tunesmith.records import Finding

# What the HTML reader drops as page chrome, not content: code, styles, navigation, banners, sidebars and forms.
HTML_CHROME = ("script", "style", "noscript", "template", "nav", "aside", "form", "iframe", "svg", "canvas", "button")
HTML_CHROME_ROLES = ("navigation", "banner", "contentinfo", "complementary", "search")
# A <header> or <footer> is the page's banner or footer unless it belongs to an article, a section or main.
HTML_SECTIONING = ("article", "section", "main")
HTML_BLOCKS = frozenset(
    "p div li ul ol section article main pre blockquote dl dt dd figure figcaption address body details summary".split()
)
HEADINGS = {f"h{n}": n for n in range(1, 7)}
# An HTML file that is more script than this share, and still has text, gets a warning: check what was kept.
SCRIPT_SHARE_WARNING = 0.5


def decode_text(raw: bytes, source: str) -> tuple[str, list[Finding]]:
    """UTF-8 (with or without a BOM); else Windows-1252, else Latin-1 (which reads any bytes), with a finding."""
    try:
        return raw.decode("utf-8-sig"), []
    except UnicodeDecodeError as e:
        where = f"byte 0x{raw[e.start]:02x} at offset {e.start}"
    for encoding, name in (("cp1252", "Windows-1252"), ("latin-1", "Latin-1")):
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        return text, [
            finding(
                "not_utf8",
                "warning",
                source,
                f"not UTF-8 ({where}): read as {name}",
                "check its accented letters in `tunesmith docs search`, or save it as UTF-8 (the read is a guess)",
                encoding=encoding,
            )
        ]
    raise AssertionError("latin-1 decodes any bytes")


def _binary(raw: bytes, source: str, fmt: str) -> Parsed | None:
    if b"\x00" in raw[:8192]:
        return Parsed(
            fmt,
            findings=[
                finding(
                    "binary",
                    "error",
                    source,
                    f"holds binary data (NUL bytes), not {fmt}: skipped",
                    "check that the file is what its name says; export it as text, PDF or DOCX",
                )
            ],
        )
    return None


def read_text(path: Path, source: str, cfg: DocsConfig) -> Parsed:
    """Paragraphs, split on blank lines; plain text has no headings, so the locator is empty."""
    raw = path.read_bytes()
    if (bad := _binary(raw, source, "text")) is not None:
        return bad
    text, findings = decode_text(raw, source)
    paragraphs = [p.strip() for p in text.replace("\r\n", "\n").split("\n\n")]
    return Parsed("text", [Block(p) for p in paragraphs if p], findings)


def _inline_text(token: Any) -> str:
    """The plain text of a markdown-it inline token: text, code and image alt text, without the markup."""
    out = []
    for child in token.children or []:
        if child.type in ("text", "code_inline", "image", "html_inline"):
            out.append(child.content if child.type != "html_inline" else "")
        elif child.type in ("softbreak", "hardbreak"):
            out.append(" " if child.type == "softbreak" else "\n")
    return "".join(out).strip()


def read_markdown(path: Path, source: str, cfg: DocsConfig) -> Parsed:
    """markdown-it-py (CommonMark with tables): ATX and setext headings, paragraphs, list items, code, tables."""
    from markdown_it import MarkdownIt

    raw = path.read_bytes()
    if (bad := _binary(raw, source, "markdown")) is not None:
        return bad
    text, findings = decode_text(raw, source)
    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    heads, blocks = Headings(), []
    rows: list[str] = []
    cells: list[str] = []
    in_heading, in_list, in_table = 0, 0, False
    for tok in tokens:
        if tok.type == "heading_open":
            in_heading = HEADINGS[tok.tag]
        elif tok.type == "heading_close":
            in_heading = 0
        elif tok.type in ("bullet_list_open", "ordered_list_open", "bullet_list_close", "ordered_list_close"):
            in_list += 1 if tok.type.endswith("_open") else -1
        elif tok.type == "table_open":
            in_table, rows = True, []
        elif tok.type == "tr_close":
            rows.append(row_text(cells))
            cells = []
        elif tok.type == "table_close":
            in_table = False
            blocks.append(table_block(rows, heads.path))
        elif tok.type == "inline":
            content = _inline_text(tok)
            if in_heading:
                heads.open(in_heading, content)
            elif in_table:
                cells.append(content)
            elif content:
                blocks.append(Block(f"- {content}" if in_list else content, heads.path))
        elif tok.type in ("fence", "code_block") and tok.content.strip():
            blocks.append(Block(tok.content.strip(), heads.path))
        elif tok.type == "html_block":
            blocks.extend(Block(b.text, heads.path) for b in _html_blocks(tok.content.encode("utf-8")).blocks)
    return Parsed("markdown", blocks, findings)


def _is_chrome(tag: Any) -> bool:
    if tag.name in HTML_CHROME or tag.get("role") in HTML_CHROME_ROLES or tag.has_attr("hidden"):
        return True
    if tag.get("aria-hidden") == "true":
        return True
    if tag.name in ("header", "footer"):
        return tag.find_parent(HTML_SECTIONING) is None
    return False


class _HtmlWalk:
    """Blocks in document order: headings open a path, tables become rows, block elements end a paragraph."""

    def __init__(self) -> None:
        self.heads = Headings()
        self.blocks: list[Block] = []
        self.buf: list[str] = []

    def flush(self) -> None:
        text = " ".join("".join(self.buf).split())
        if text:
            self.blocks.append(Block(text, self.heads.path))
        self.buf = []

    def walk(self, node: Any) -> None:
        from bs4.element import NavigableString, PreformattedString, Tag

        for child in node.children:
            if isinstance(child, NavigableString):
                if not isinstance(child, PreformattedString):  # comments, CDATA, doctype
                    self.buf.append(str(child))
            elif not isinstance(child, Tag):
                continue
            elif child.name in HEADINGS:
                self.flush()
                self.heads.open(HEADINGS[child.name], child.get_text(" ", strip=True))
            elif child.name == "table":
                self.flush()
                rows = [
                    row_text([c.get_text(" ", strip=True) for c in tr.find_all(["th", "td"])]) for tr in _rows(child)
                ]
                self.blocks.append(table_block(rows, self.heads.path))
            elif child.name == "br":
                self.buf.append(" ")
            elif child.name in HTML_BLOCKS:
                self.flush()
                if child.name == "li":
                    self.buf.append("- ")
                self.walk(child)
                self.flush()
            else:
                self.walk(child)


def _rows(table: Any) -> list[Any]:
    """The table's own rows, not those of a table nested in one of its cells."""
    return [tr for tr in table.find_all("tr") if tr.find_parent("table") is table]


@dataclass
class _Html:
    blocks: list[Block]
    script_bytes: int


def _html_blocks(raw: bytes) -> _Html:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(raw, "lxml")
    script_bytes = sum(len(t.get_text()) for t in soup.find_all(["script", "style"]))
    for tag in soup.find_all(_is_chrome):
        if not tag.decomposed:
            tag.decompose()
    walker = _HtmlWalk()
    walker.walk(soup.body or soup)
    walker.flush()
    return _Html(walker.blocks, script_bytes)


def read_html(path: Path, source: str, cfg: DocsConfig) -> Parsed:
    """BeautifulSoup over lxml (fast, and lenient with broken markup as browsers are): the page chrome is dropped
    (scripts, styles, navigation, site header and footer, sidebars, forms), h1-h6 make the heading path, tables
    become rows. BeautifulSoup finds the encoding from the BOM, the <meta charset> or the bytes."""
    raw = path.read_bytes()
    html = _html_blocks(raw)
    findings = []
    share = html.script_bytes / max(len(raw), 1)
    if not html.blocks:
        findings.append(
            finding(
                "no_text",
                "error",
                source,
                f"no text left once scripts, styles and navigation are dropped ({html.script_bytes:,} characters "
                "of script and style): the page is probably built by JavaScript",
                "open it in a browser and save the rendered page (Save as, or Print to PDF), then index that",
            )
        )
    elif share > SCRIPT_SHARE_WARNING:
        findings.append(
            finding(
                "mostly_script",
                "warning",
                source,
                f"{share:.0%} of the file is script or style (dropped); {sum(len(b.text) for b in html.blocks):,} "
                "characters of text kept",
                "check with `tunesmith docs list` and `docs search` that its passages hold the text you expect",
            )
        )
    return Parsed("html", html.blocks, findings)
