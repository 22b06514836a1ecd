"""The support-desk example's knowledge base (examples/support-desk/docs/): Lumen Home's own help-centre articles and
policies, in the formats a company keeps them, stating the same facts as the answers of data/support.jsonl.

Offline and fast: Markdown, HTML and DOCX are read with the standard library (a .docx is a zip of XML); the PDF text
checks run where pypdf is installed, and the rebuild check where fpdf2 and python-docx are.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import re
import zipfile
from html.parser import HTMLParser
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).parents[2] / "examples" / "support-desk"
DOCS = EXAMPLE / "docs"

FILES = [
    "track-your-order.md",
    "change-your-delivery-address.md",
    "cancel-an-order.md",
    "refunds.md",
    "connect-to-wi-fi.md",
    "firmware-updates.md",
    "reset-your-password.md",
    "delete-your-account.md",
    "charges-on-your-statement.md",
    "promo-codes-and-discounts.md",
    "lumen-doorbell-battery.md",
    "thermostat-schedules.md",
    "shipping-and-delivery.html",
    "international-shipping.html",
    "returns-and-refunds.html",
    "lumen-plus.html",
    "payment-methods.html",
    "contact-us.html",
    "faq.html",
    "warranty-and-returns-policy.pdf",
    "lumen-device-setup-guide.pdf",
    "customer-care-handbook.docx",
    "lumen-plus-terms-of-service.docx",
]

# Every in-scope intent of support.jsonl, with phrases its answer gives that the documents must state too.
TOPICS = {
    "order_status": ["tracking link", "Account > Orders", "If tracking hasn't moved for 3 days"],
    "shipping_times": ["Express shipping takes 1-2 business days and costs $14.99", "free on orders over $50"],
    "international_shipping": ["Canada, the UK and the EU", "7-14 business days", "paid on delivery"],
    "change_address": ["Edit address", "redirect it"],
    "cancel_order": ["Cancel order", "until it ships, which is usually within 24 hours of ordering"],
    "return_policy": ["within 30 days of delivery for a full refund", "Return an item", "free return label"],
    "refund_status": ["within 5-7 business days after", "original payment method"],
    "damaged_item": ["photo of the item and the box", "within 7 days of delivery", "free replacement"],
    "warranty_claim": ["2-year warranty against defects", "starting from delivery", "Accidental damage"],
    "wifi_setup": ["2.4 GHz", "10 seconds until the light blinks blue", "Add device"],
    "firmware_update": ["between 2am and 4am local time", "Settings > Firmware > Check for updates", "about 5 minutes"],
    "reset_password": ["Forgot password", "60 minutes", "spam"],
    "account_delete": ["Settings > Account > Delete account", "within 30 days", "removed and reset"],
    "billing_charge": ["LUMENHOME*ORDER", "LUMENHOME*PLUS", "3-5 business days"],
    "payment_methods": ["Visa, Mastercard, American Express, PayPal, Apple Pay and Lumen gift cards", "installments"],
    "subscription_cancel": ["Settings > Lumen Plus > Cancel subscription", "end of your current billing period"],
    "subscription_features": ["$4.99/month", "$49.99/year", "60 days of doorbell video history", "30-day free trial"],
    "discount_codes": ["Promo code", "One code per order", "10% off their first order"],
    "battery_doorbell": ["up to 6 months", "USB-C", "about 5 hours", "15%"],
    "thermostat_schedule": ["up to 6 time periods", "its own temperature", "copy it to the rest of the week"],
    "store_pickup": ["online only", "in-store pickup"],
    "contact_human": ["1-800-555-0199", "Monday to Friday, 8am to 8pm ET", "help@lumenhome.example"],
}

# Names from the out-of-scope questions: the documents are Lumen Home's own and answer none of them.
OTHER_BRANDS = [
    "Ring",
    "Nest",
    "Ecobee",
    "Arlo",
    "Wyze",
    "Philips",
    "Hue",
    "Alexa",
    "Google",
    "Amazon",
    "Tesla",
    "SimpliSafe",
    "Sonos",
    "Eufy",
    "Kasa",
    "Honeywell",
    "Netflix",
    "Samsung",
    "iPhone",
    "FedEx",
    "eBay",
]


def _generator_facts() -> dict[str, object]:
    """generate.py's FACTS dict, read without running the generator."""
    tree = ast.parse((EXAMPLE / "generate.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "FACTS" for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError("generate.py has no FACTS")


class _MainText(HTMLParser):
    """The text inside <main>, without scripts and styles (the site chrome around it is not the article)."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.skip = 0
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.depth += tag == "main"
        self.skip += tag in ("script", "style")

    def handle_endtag(self, tag: str) -> None:
        self.depth -= tag == "main"
        self.skip -= tag in ("script", "style")

    def handle_data(self, data: str) -> None:
        if self.depth and not self.skip:
            self.parts.append(data)


def _html_text(path: Path) -> str:
    parser = _MainText()
    parser.feed(path.read_text(encoding="utf-8"))
    return " ".join(parser.parts)


def _docx_xml(path: Path) -> str:
    with zipfile.ZipFile(path) as z:
        return z.read("word/document.xml").decode("utf-8")


def _docx_text(path: Path) -> str:
    xml = _docx_xml(path)
    paragraphs = re.findall(r"<w:p[ >].*?</w:p>", xml, re.S)
    return "\n".join("".join(re.findall(r"<w:t(?: [^>]*)?>([^<]*)</w:t>", p)) for p in paragraphs)


def _pdf_text(path: Path) -> str:
    pypdf = pytest.importorskip("pypdf")
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(path).pages)


def _norm(text: str) -> str:
    return " ".join(text.replace("&gt;", ">").replace("&amp;", "&").split())


def _texts(with_pdf: bool = False) -> dict[str, str]:
    out = {}
    for name in FILES:
        path = DOCS / name
        if name.endswith(".md"):
            out[name] = path.read_text(encoding="utf-8").replace("**", "").replace("`", "")
        elif name.endswith(".html"):
            out[name] = _html_text(path)
        elif name.endswith(".docx"):
            out[name] = _docx_text(path)
        elif with_pdf:
            out[name] = _pdf_text(path)
    return {k: _norm(v) for k, v in out.items()}


def test_every_document_is_there_in_every_format() -> None:
    on_disk = sorted(p.name for p in DOCS.iterdir())
    assert on_disk == sorted(FILES)
    for name in FILES:
        assert (DOCS / name).stat().st_size > 500, name
    suffixes = [Path(n).suffix for n in FILES]
    for fmt in (".md", ".html", ".pdf", ".docx"):
        assert suffixes.count(fmt) >= 1, fmt
    assert 15 <= len(FILES) <= 30


def test_html_pages_have_site_chrome_around_the_article() -> None:
    tables = 0
    for name in (n for n in FILES if n.endswith(".html")):
        page = (DOCS / name).read_text(encoding="utf-8")
        for tag in ("<nav", "<header", "<footer", "<script", "<main", "<article", "<h1>", "<h2>"):
            assert tag in page, (name, tag)
        assert "cookie" in page.lower(), name
        main = _html_text(DOCS / name)
        assert "Accept all" not in main and "All rights reserved" not in main, name
        tables += "<table" in page
    assert tables >= 3


def test_pdf_and_docx_are_real_files_with_structure() -> None:
    for name in (n for n in FILES if n.endswith(".pdf")):
        data = (DOCS / name).read_bytes()
        assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF"), name
        assert len(re.findall(rb"/Type /Page\b", data)) >= 2, f"{name}: fewer than 2 pages"
    for name in (n for n in FILES if n.endswith(".docx")):
        xml = _docx_xml(DOCS / name)
        assert 'w:val="Heading1"' in xml and "<w:tbl>" in xml, name
    assert 'w:val="Heading2"' in _docx_xml(DOCS / "customer-care-handbook.docx")


def test_pdf_text_has_pages_and_tables() -> None:
    text = _pdf_text(DOCS / "warranty-and-returns-policy.pdf")
    assert "page 3 of 3" in text
    assert re.search(r"Lumen Bulb starter kit\s+2 years\s+On delivery", text)


def test_documents_cover_every_in_scope_topic_of_the_data() -> None:
    tags = set()
    for line in (EXAMPLE / "data" / "support.jsonl").read_text(encoding="utf-8").splitlines():
        tags.update(json.loads(line)["meta"]["tags"])
    assert tags - {"out_of_scope", "refusal"} == set(TOPICS)
    corpus = " ".join(_texts().values())
    missing = [(tag, p) for tag, phrases in TOPICS.items() for p in phrases if p not in corpus]
    assert not missing


def test_every_fact_of_the_generator_is_stated() -> None:
    f = _generator_facts()
    facts = [
        f"within {f['return_days']} days of delivery",
        f"within {f['refund_days']}",
        f"{f['standard_shipping']}",
        f"free on orders over {f['free_shipping_over']}",
        f"{f['express_shipping']}",
        f["express_price"],
        f"before {f['same_day_cutoff']}",
        f["intl_countries"],
        f["intl_shipping"],
        "until it ships, which is usually within 24 hours",
        f"within {f['damage_report_days']} days of delivery",
        f"{f['warranty_years']}-year warranty",
        f["plus_price"],
        f["plus_annual"],
        f"{f['plus_trial_days']}-day free trial",
        f"{f['plus_video_days']} days of doorbell video history",
        f"{f['reset_link_minutes']} minutes",
        f"within {f['account_delete_days']} days",
        f"{f['statement_name']}*ORDER",
        f"within {f['pending_days']}",
        f["payment_methods"],
        f"{f['newsletter_discount']} off",
        f"{f['wifi_band']} Wi-Fi only",
        f"{f['reset_hold_seconds']} seconds",
        f["firmware_window"],
        f"about {f['firmware_minutes']} minutes",
        f"up to {f['doorbell_battery_months']} months",
        f"about {f['doorbell_charge_hours']} hours",
        f["doorbell_low_battery"],
        f"up to {f['thermostat_periods']} time periods",
        f["phone"],
        f["email"],
        f["support_hours"],
        f"within {f['email_reply']}",
    ]
    texts = _texts()
    corpus = " ".join(texts.values())
    assert not [fact for fact in facts if fact not in corpus]
    # The headline facts are in every format a reader has to parse, not only in the Markdown.
    key = [f"{f['return_days']} days", f["phone"], f"{f['warranty_years']}-year", f["email"]]
    for fmt in (".md", ".html", ".docx"):
        text = " ".join(v for k, v in texts.items() if k.endswith(fmt))
        assert all(k in text for k in key), fmt


def test_pdf_states_the_key_facts() -> None:
    text = _norm(_pdf_text(DOCS / "warranty-and-returns-policy.pdf"))
    for fact in (
        "within 30 days of delivery for a full refund",
        "2-year warranty against defects",
        "within 5-7 business days",
        "within 7 days of delivery",
        "1-800-555-0199",
        "help@lumenhome.example",
        "Accidental damage is not covered",
    ):
        assert fact in text, fact
    guide = _norm(_pdf_text(DOCS / "lumen-device-setup-guide.pdf"))
    assert "2.4 GHz Wi-Fi only" in guide and "between 2am and 4am local time" in guide


def test_nothing_contradicts_or_goes_beyond_the_data() -> None:
    texts = _texts()
    corpus = " ".join(texts.values())
    answers = " ".join(
        m["content"]
        for line in (EXAMPLE / "data" / "support.jsonl").read_text(encoding="utf-8").splitlines()
        for m in json.loads(line)["messages"]
        if m["role"] == "assistant"
    )
    # the planted wrong answer (a 14-day return window) is the data's error, never the policy
    assert "14 days" not in corpus
    # every price in the documents is one the answers give
    assert set(re.findall(r"\$\d+(?:\.\d\d)?", corpus)) <= set(re.findall(r"\$\d+(?:\.\d\d)?", answers))
    # no other brand's products: those questions are out of scope
    assert not [b for b in OTHER_BRANDS if re.search(rf"\b{b}\b", corpus)]
    # no personal data: the only contact details are the company's own
    assert set(re.findall(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", corpus)) == {"help@lumenhome.example"}
    assert set(re.findall(r"\d[\d() -]{8,}\d", corpus)) <= {"1-800-555-0199"}


def test_docs_build_rebuilds_the_committed_files(tmp_path: Path) -> None:
    pytest.importorskip("fpdf")
    pytest.importorskip("docx")
    spec = importlib.util.spec_from_file_location("support_desk_docs_build", EXAMPLE / "docs_build.py")
    assert spec and spec.loader
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    build.main(["--out", str(tmp_path / "a")])
    build.main(["--out", str(tmp_path / "b")])
    for name in (n for n in FILES if n.endswith((".pdf", ".docx"))):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), (
            f"{name}: not deterministic"
        )
        if name.endswith(".docx"):  # the text (not the bytes: another library version may write other bytes)
            assert _docx_text(tmp_path / "a" / name) == _docx_text(DOCS / name), f"{name}: run docs_build.py"
        else:
            pytest.importorskip("pypdf")
            assert _pdf_text(tmp_path / "a" / name) == _pdf_text(DOCS / name), f"{name}: run docs_build.py"
