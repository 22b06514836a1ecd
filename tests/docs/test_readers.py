"""Each format keeps what users cite: headings, pages and tables survive, HTML chrome does not. Readers only (no
embeddings), so these are fast."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.docs import handbook
from tunesmith.config import DocsConfig
from tunesmith.docs.passages import Block, chunk, count_tokens, table_block
from tunesmith.docs.readers import read_document


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return handbook.write_handbook(tmp_path_factory.mktemp("handbook"))


def _read(path: Path):
    return read_document(path, path.name, DocsConfig())


def _by_locator(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for b in _read(path).blocks:
        out[b.locator] = out.get(b.locator, "") + b.text + "\n"
    return out


def test_markdown_headings_and_tables(book: Path) -> None:
    parts = _by_locator(book / "returns.md")
    assert "45 days" in parts["Returns and refunds > Refund window"]
    assert "Kayaks and canoes | 15%" in parts["Returns and refunds > Restocking fees"]
    assert "**" not in "".join(parts.values()) and "|---|" not in "".join(parts.values())


def test_html_keeps_headings_and_tables_and_drops_chrome(book: Path) -> None:
    parsed = _read(book / "shipping.html")
    text = "\n".join(b.text for b in parsed.blocks)
    parts = _by_locator(book / "shipping.html")
    assert "Express | 2 business days | 9 pounds" in parts["Shipping > Delivery times"]
    assert "31 countries" in parts["Shipping > International shipping"]
    for chrome in ("tracking-pixel", "secret-script-text", "font-family", "Shop tents", "Your basket", "newsletter"):
        assert chrome not in text, chrome
    assert "Copyright" not in text and parsed.findings == []


def test_html_header_inside_an_article_is_content(tmp_path: Path) -> None:
    page = tmp_path / "a.html"
    page.write_text(
        "<body><header>Site banner</header><article><header><h1>Gift cards</h1></header>"
        "<p>Gift cards never expire.</p></article><footer>site footer</footer></body>"
    )
    parts = _by_locator(page)
    assert parts == {"Gift cards": "Gift cards never expire.\n"}


def test_pdf_pages_survive(book: Path) -> None:
    parsed = _read(book / "warranty.pdf")
    assert parsed.pages == 4
    assert [b.page for b in parsed.blocks] == [1, 2, 3, 4]
    assert "claim form" in parsed.blocks[1].text and parsed.blocks[1].locator == "p. 2"


def test_pdf_table_is_text_on_its_page(tmp_path: Path) -> None:
    parsed = _read(handbook.make_pdf_with_table(tmp_path / "hours.pdf"))
    page2 = [b for b in parsed.blocks if b.page == 2]
    assert page2 and "Saturday" in page2[0].text and "16:00" in page2[0].text


def test_docx_heading_styles_make_the_path_and_tables_are_rows(book: Path) -> None:
    parts = _by_locator(book / "leave.docx")
    annual = parts["Employee handbook > Leave > Annual leave"]
    assert "28 days" in annual and "Years of service | Extra leave days" in annual and "6 or more | 4" in annual
    assert "45 pence" in parts["Employee handbook > Expenses > Travel"]


def test_text_is_paragraphs_without_a_locator(book: Path) -> None:
    parsed = _read(book / "security.txt")
    assert len(parsed.blocks) == 7 and {b.locator for b in parsed.blocks} == {""}


def test_chunks_stay_within_budget_and_never_mix_headings() -> None:
    words = " ".join(f"word{i}." for i in range(400))
    blocks = [Block("Intro text.", ("A",)), Block(words, ("A", "B")), Block("Short.", ("C",))]
    passages = chunk(blocks, source="x.md", sha256="f" * 64, budget=50)
    assert all(count_tokens(p.text) <= 50 for p in passages)
    assert [p.locator for p in passages][:2] == ["A", "A > B"] and passages[-1].locator == "C"
    assert [p.id for p in passages] == [f"ffffffffffff-{n}" for n in range(len(passages))]


def test_a_long_table_repeats_its_header_in_every_piece() -> None:
    rows = ["Name | Phone"] + [f"Shop {i} | 0100 {i:04d}" for i in range(60)]
    passages = chunk([table_block(rows, ("Shops",))], source="t.md", sha256="a" * 64, budget=40)
    assert len(passages) > 2 and all(p.text.startswith("Name | Phone\n") for p in passages)
    assert sum(p.text.count("Shop ") for p in passages) == 60
