"""A small handbook of a fictional outdoor-gear company in five formats, made by the tests (no binary fixtures), and
questions about it, each with a phrase that only the passage answering it holds."""

from __future__ import annotations

from pathlib import Path

RETURNS_MD = """\
# Returns and refunds

Northwind Outfitters wants every customer to be happy with their gear.

## Refund window

You can return any unused item within 45 days of delivery for a full refund. Items bought during the winter sale
can be returned until January 31.

## Refund method

Refunds go back to the original payment method within 7 business days of the return reaching our warehouse. Gift
cards are refunded as store credit.

## Restocking fees

| Item | Fee |
|---|---|
| Tents and shelters | 10% |
| Kayaks and canoes | 15% |
| Clothing | none |

## Damaged items

If your order arrives damaged, send a photo to the care team within 72 hours and we ship a replacement at no cost.

## Custom and engraved items

Engraved flasks and made-to-measure tent footprints are made for you alone and cannot be returned unless faulty.

## Returning by post

Print the prepaid label from your account page, attach it to the original box and drop the parcel at any post
office. Keep the receipt until the refund appears.

## Returns in store

Our shops in York and Bristol accept returns of online orders; bring the order confirmation on your phone.
"""

SHIPPING_HTML = """\
<!doctype html>
<html><head><title>Shipping | Northwind Outfitters</title>
<style>body { font-family: sans-serif } .promo { color: red }</style>
<script>window.analyticsQueue = []; function trackVisitor() { return "tracking-pixel-loaded"; }</script>
</head>
<body>
<header><a href="/">Northwind home</a> <a href="/cart">Your basket</a></header>
<nav><ul><li><a href="/tents">Shop tents</a></li><li><a href="/kayaks">Shop kayaks</a></li></ul></nav>
<main>
<h1>Shipping</h1>
<h2>Delivery times</h2>
<p>Orders placed before 2 pm ship the same day from our depot in Leeds.</p>
<table>
<tr><th>Service</th><th>Delivery time</th><th>Price</th></tr>
<tr><td>Standard</td><td>5-7 business days</td><td>free over 50 pounds</td></tr>
<tr><td>Express</td><td>2 business days</td><td>9 pounds</td></tr>
<tr><td>Overnight</td><td>next business day</td><td>19 pounds</td></tr>
</table>
<h2>International shipping</h2>
<p>We deliver to 31 countries in Europe. Customs duties are paid by the recipient on arrival.</p>
<h2>Click and collect</h2>
<p>Choose click and collect at checkout to pick up your order from the York or Bristol shop; we email you when it is
ready, usually the next day.</p>
<h2>Delivery problems</h2>
<p>If a courier misses you, they leave a card and try again the following business day; after three attempts the
parcel returns to our depot.</p>
<h2>Tracking</h2>
<p>A tracking link is emailed when the parcel leaves the depot; it becomes active within 24 hours.</p>
<script>trackVisitor(); document.write("secret-script-text");</script>
</main>
<aside>Sign up to our newsletter for 10% off your first order</aside>
<footer>Copyright Northwind Outfitters. Company number 0000001.</footer>
</body></html>
"""

WARRANTY_PAGES = [
    (
        "Warranty coverage",
        "Every tent, backpack and sleeping bag carries a three-year warranty against manufacturing defects. "
        "Kayaks carry a five-year hull warranty.",
    ),
    (
        "Making a warranty claim",
        "To make a claim, fill in the claim form on the website with your order number and photos of the defect. "
        "A technician replies within ten days and either repairs the item or replaces it.",
    ),
    (
        "Registering your product",
        "Register your product within 60 days of purchase to receive care tips and recall notices. Registration is "
        "optional and does not change your rights.",
    ),
    (
        "What the warranty does not cover",
        "Normal wear and tear, damage from fire, and zips broken by misuse are not covered. Items rented from our "
        "hire service are excluded from the warranty.",
    ),
]

LEAVE_DOCX = [
    ("Title", "Employee handbook"),
    ("Heading 1", "Leave"),
    ("Heading 2", "Annual leave"),
    (
        None,
        "Full-time staff get 28 days of paid annual leave a year, including bank holidays. Up to five unused days "
        "can be carried over to the next year.",
    ),
    ("Heading 2", "Sick leave"),
    (
        None,
        "Tell your manager before 9 am on the first day of sickness. A doctor's note is needed after seven "
        "calendar days off sick.",
    ),
    ("Heading 2", "Parental leave"),
    (None, "Parents receive 16 weeks of fully paid parental leave, which can start up to two weeks before the birth."),
    ("Heading 2", "Compassionate leave"),
    (None, "Up to five days of paid compassionate leave are granted on the death of a close relative."),
    ("Heading 2", "Jury service"),
    (None, "Staff called for jury service keep their full salary; give HR a copy of the summons."),
    ("Heading 1", "Expenses"),
    ("Heading 2", "Meals"),
    (None, "When travelling for work you can claim up to 25 pounds a day for meals with receipts."),
    ("Heading 2", "Travel"),
    (None, "Claim train travel at standard class; mileage in your own car is paid at 45 pence per mile."),
]
LEAVE_TABLE = [["Years of service", "Extra leave days"], ["0-2", "0"], ["3-5", "2"], ["6 or more", "4"]]

SECURITY_TXT = """\
Information security rules

Passwords must be at least 14 characters long and are changed only when a breach is suspected. Use the company
password manager for every work account.

Laptops are encrypted with full-disk encryption and lock after 5 minutes without use.

Report a phishing email with the Report button in the mail client; never forward it to colleagues.

Visitors must sign in at reception and wear a red visitor badge at all times.

Lost or stolen devices must be reported to the IT service desk within one hour, by phone on extension 4000.

USB memory sticks are blocked on company laptops; share files through the document system instead.
"""

# (question, file, a phrase only the answering passage holds)
QUESTIONS = [
    ("How many days do I have to send back something I bought?", "returns.md", "45 days"),
    ("Can I return items from the winter sale?", "returns.md", "January 31"),
    ("How long until my refund reaches my card?", "returns.md", "7 business days"),
    ("What is the restocking fee for a kayak?", "returns.md", "Kayaks and canoes | 15%"),
    ("My order came broken, what should I do?", "returns.md", "72 hours"),
    ("How long does express delivery take?", "shipping.html", "Express | 2 business days"),
    ("Do you ship to other countries?", "shipping.html", "31 countries"),
    ("Who pays customs duties?", "shipping.html", "recipient"),
    ("When does the tracking link work?", "shipping.html", "within 24 hours"),
    ("What time must I order to get same day dispatch?", "shipping.html", "2 pm"),
    ("How do I send a return back by post?", "returns.md", "prepaid label"),
    ("Can I collect my order from a shop?", "shipping.html", "click and collect"),
    ("How long is the warranty on a tent?", "warranty.pdf", "three-year warranty"),
    ("How do I claim under the warranty?", "warranty.pdf", "claim form"),
    ("Is fire damage covered by the guarantee?", "warranty.pdf", "fire"),
    ("How many days of holiday do full-time employees get?", "leave.docx", "28 days"),
    ("When do I need a doctor's note for sickness?", "leave.docx", "seven"),
    ("How long is paid parental leave?", "leave.docx", "16 weeks"),
    ("How many extra leave days after six years of service?", "leave.docx", "6 or more | 4"),
    ("What is the mileage rate for using my own car?", "leave.docx", "45 pence"),
    ("How long must a password be?", "security.txt", "14 characters"),
    ("What do I do with a suspicious phishing email?", "security.txt", "Report button"),
    ("When does my laptop lock itself?", "security.txt", "5 minutes"),
]


def make_pdf(path: Path, pages: list[tuple[str, str]], *, password: str | None = None) -> Path:
    from fpdf import FPDF

    pdf = FPDF()
    if password is not None:
        pdf.set_encryption(owner_password="owner-" + password, user_password=password)
    pdf.set_font("Helvetica", size=12)
    for title, body in pages:
        pdf.add_page()
        pdf.set_font("Helvetica", "B", 16)
        pdf.cell(0, 10, title, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", size=12)
        pdf.multi_cell(0, 7, body)
    pdf.output(str(path))
    return path


def make_pdf_with_table(path: Path) -> Path:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    pdf.add_page()
    pdf.cell(0, 10, "Opening hours", new_x="LMARGIN", new_y="NEXT")
    pdf.add_page()
    pdf.cell(0, 10, "Store hours by day", new_x="LMARGIN", new_y="NEXT")
    with pdf.table() as table:
        for cells in (("Day", "Opens", "Closes"), ("Monday", "9:00", "17:30"), ("Saturday", "10:00", "16:00")):
            row = table.row()
            for c in cells:
                row.cell(c)
    pdf.output(str(path))
    return path


def make_scanned_pdf(path: Path) -> Path:
    """A PDF whose pages are drawings only, as a scanner makes them: no text layer."""
    from fpdf import FPDF

    pdf = FPDF()
    for _ in range(2):
        pdf.add_page()
        pdf.rect(20, 20, 170, 250, style="F")
    pdf.output(str(path))
    return path


def make_docx(path: Path, paragraphs: list[tuple[str | None, str]], table: list[list[str]] | None = None) -> Path:
    import docx

    document = docx.Document()
    for style, text in paragraphs:
        document.add_paragraph(text, style=style)
        if table is not None and text.startswith("Full-time staff"):
            t = document.add_table(rows=len(table), cols=len(table[0]))
            for r, cells in enumerate(table):
                for c, value in enumerate(cells):
                    t.cell(r, c).text = value
    document.save(str(path))
    return path


def write_handbook(folder: Path) -> Path:
    """The five-format handbook in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "returns.md").write_text(RETURNS_MD, encoding="utf-8")
    (folder / "shipping.html").write_text(SHIPPING_HTML, encoding="utf-8")
    make_pdf(folder / "warranty.pdf", WARRANTY_PAGES)
    make_docx(folder / "leave.docx", LEAVE_DOCX, LEAVE_TABLE)
    (folder / "security.txt").write_text(SECURITY_TXT, encoding="utf-8")
    return folder


def project(root: Path, paths: list[str], *, pii: str = "off", extra: str = "") -> Path:
    """A tunesmith.yaml in `root` that indexes `paths`; returns its path."""
    config = root / "tunesmith.yaml"
    listed = "\n".join(f"    - {p}" for p in paths)
    config.write_text(f"data:\n  pii: {pii}\ndocs:\n  paths:\n{listed}\n{extra}", encoding="utf-8")
    return config
