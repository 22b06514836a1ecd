#!/usr/bin/env python3
"""Build the PDF and DOCX documents of the support-desk knowledge base (``docs/``).

Lumen Home's help centre is mostly Markdown and HTML (written by hand, in ``docs/``); its policies and handbooks
are the kind of files a company keeps as PDF and Word documents. This script writes those four files from the
text below, which states the same facts as ``generate.py``'s FACTS (the answers of ``data/support.jsonl``):

    docs/warranty-and-returns-policy.pdf    docs/lumen-device-setup-guide.pdf
    docs/customer-care-handbook.docx        docs/lumen-plus-terms-of-service.docx

The generated files are committed, so that nobody needs fpdf2 or python-docx to use the example. To rebuild them
(after changing a fact here, in generate.py and in the Markdown/HTML articles alike):

    .venv/bin/pip install fpdf2 python-docx
    python examples/support-desk/docs_build.py            # writes docs/ next to this script

The output is deterministic: fixed creation dates and metadata, and the DOCX zip entries get a fixed timestamp,
so that the same versions of fpdf2 and python-docx write byte-identical files (another version of either library
may write other bytes, with the same text).
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import sys
import zipfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DOCS = HERE / "docs"
AUTHOR = "Lumen Home Customer Care"
ISSUED = dt.datetime(2024, 9, 2, 9, 0, 0, tzinfo=dt.UTC)  # every document's fixed creation/modification date
ZIP_TIME = (2024, 9, 2, 9, 0, 0)

# A document is a list of blocks: ("h1"|"h2"|"h3"|"p"|"note", text), ("ul"|"ol", [items]),
# ("table", [header], [[row], ...]). Text is ASCII, so that PDF core fonts (latin-1) can write it.
Block = tuple[Any, ...]

WARRANTY_POLICY: list[Block] = [
    ("h1", "Warranty and Returns Policy"),
    ("p", "Lumen Home, Customer Care. Effective 2 September 2024. This policy replaces all earlier versions."),
    ("h2", "1. About this policy"),
    (
        "p",
        "This policy explains how returns, refunds, replacements of items damaged in delivery and warranty claims "
        "work for products bought from the Lumen Home online shop: the Lumen Hub, Lumen Thermostat, Lumen Doorbell, "
        "Lumen Bulb starter kit and Lumen Plug. The Lumen Plus subscription is covered by the Lumen Plus Terms of "
        "Service instead.",
    ),
    ("h3", "Summary of time limits"),
    (
        "table",
        ["What", "Time limit", "Counted from"],
        [
            [
                "Change the delivery address or cancel an order",
                "Until the order ships (usually within 24 hours)",
                "Placing the order",
            ],
            ["Return an item for a full refund", "30 days", "Delivery"],
            ["Refund after a return", "Within 5-7 business days", "The return reaching our warehouse"],
            ["Refund after a cancellation", "Within 5-7 business days", "The cancellation"],
            ["Report an item damaged in delivery", "7 days", "Delivery"],
            ["Warranty against defects", "2 years", "Delivery"],
        ],
    ),
    ("h2", "2. Cancelling an order"),
    (
        "p",
        "You can cancel an order until it ships, which is usually within 24 hours of ordering. In the Lumen app, go "
        "to Account > Orders, choose the order and tap Cancel order. Your refund arrives within 5-7 business days. "
        "Once an order has shipped it can no longer be cancelled, but you can return it within 30 days of delivery "
        "(section 3).",
    ),
    ("h2", "3. Returns"),
    (
        "p",
        "You can return any item within 30 days of delivery for a full refund. This applies to every product in "
        "section 1, including items that have been opened, set up or used, and items bought as gifts. Returns are "
        "free: we email you a free return label.",
    ),
    ("h3", "3.1 How to return an item"),
    (
        "ol",
        [
            "Open the Lumen app and go to Account > Orders > Return an item.",
            "Choose the order and the item you want to return. You can return one item from an order and keep the "
            "others.",
            "We email you a free return label.",
            "Pack the item, attach the label and hand the parcel to the carrier within the 30-day return window.",
        ],
    ),
    ("h3", "3.2 Refunds"),
    (
        "p",
        "Refunds are issued within 5-7 business days after the returned item reaches our warehouse. The refund goes "
        "back to your original payment method. We email you as soon as the refund is processed. If you have not "
        "seen your refund after 7 business days, email help@lumenhome.example with your order number.",
    ),
    ("h2", "4. Items damaged in delivery"),
    (
        "p",
        "If your order arrives damaged (for example cracked, dented, scratched, with broken parts, or a device that "
        "does not turn on out of a torn or crushed box), please email a photo of the item and the box to "
        "help@lumenhome.example within 7 days of delivery, and mention your order number.",
    ),
    (
        "p",
        "We send a free replacement right away. You do not need to return the damaged item. If you would rather "
        "have your money back than a replacement, you can return the item within 30 days of delivery for a full "
        "refund (section 3).",
    ),
    ("h2", "5. Limited warranty"),
    ("h3", "5.1 What the warranty covers"),
    (
        "p",
        "Every Lumen device is covered by our 2-year warranty against defects, starting from delivery. The warranty "
        "is the same for every product: if a device stops working or develops a fault because of a defect within 2 "
        "years of delivery, we replace it free of charge.",
    ),
    (
        "table",
        ["Product", "Warranty against defects", "Starts"],
        [
            ["Lumen Hub", "2 years", "On delivery"],
            ["Lumen Thermostat", "2 years", "On delivery"],
            ["Lumen Doorbell", "2 years", "On delivery"],
            ["Lumen Bulb starter kit", "2 years", "On delivery"],
            ["Lumen Plug", "2 years", "On delivery"],
        ],
    ),
    ("h3", "5.2 What the warranty does not cover"),
    (
        "p",
        "Accidental damage is not covered by the warranty, for example a device that was dropped, knocked over or "
        "broken by accident. Damage that happened during delivery is handled under section 4, not under the "
        "warranty.",
    ),
    ("h3", "5.3 How to make a warranty claim"),
    (
        "ol",
        [
            "Email help@lumenhome.example.",
            "Include your order number. It starts with LH- and you can find it in your order confirmation email or "
            "in the Lumen app under Account > Orders. The order number is all we need as proof of purchase.",
            "Add a short description or a video of the problem.",
        ],
    ),
    (
        "p",
        "We review every claim. If it is covered, we send you a free replacement. You can also call us on "
        "1-800-555-0199 (Monday to Friday, 8am to 8pm ET) to ask about a claim.",
    ),
    ("h2", "6. Contact"),
    (
        "table",
        ["Channel", "Details", "Availability"],
        [
            ["Phone", "1-800-555-0199", "Monday to Friday, 8am to 8pm ET"],
            ["Email", "help@lumenhome.example", "We reply within one business day"],
        ],
    ),
    ("p", "Please have your order number ready. It helps us help you faster."),
]

SETUP_GUIDE: list[Block] = [
    ("h1", "Lumen Device Setup Guide"),
    ("p", "For the Lumen Hub, Lumen Thermostat, Lumen Doorbell and Lumen Plug. Edition September 2024."),
    ("h2", "Before you start"),
    (
        "ul",
        [
            "Install the Lumen app on your smartphone and sign in to your Lumen account. Devices are set up in the "
            "app.",
            "Lumen devices connect to 2.4 GHz Wi-Fi only. They do not work on 5 GHz networks.",
            "Keep your phone on the 2.4 GHz network during setup. If your router shows two network names, choose "
            "the 2.4 GHz one.",
        ],
    ),
    ("h2", "Set up a device"),
    (
        "ol",
        [
            "Power on the device.",
            "Open the Lumen app and tap Add device.",
            "Choose the device and follow the steps on screen. Enter your Wi-Fi password when asked.",
            "When setup is complete, the device shows as online in the Lumen app.",
        ],
    ),
    ("h2", "If the device will not connect"),
    (
        "p",
        "Most setup problems happen when the phone is on a 5 GHz network. Check that your phone is on the 2.4 GHz "
        "network. If the device still will not connect, reset its Wi-Fi: hold the device's button for 10 seconds "
        "until the light blinks blue, then add it again in the Lumen app with Add device.",
    ),
    (
        "p",
        "Do the same when you change your router or your Wi-Fi password, when a device shows as disconnected after "
        "a power cut, or when a device keeps dropping off the network.",
    ),
    ("h3", "Quick reference"),
    (
        "table",
        ["Device", "Wi-Fi", "Wi-Fi reset"],
        [
            ["Lumen Hub", "2.4 GHz only", "Hold the button 10 seconds until the light blinks blue"],
            ["Lumen Thermostat", "2.4 GHz only", "Hold the button 10 seconds until the light blinks blue"],
            ["Lumen Doorbell", "2.4 GHz only", "Hold the button 10 seconds until the light blinks blue"],
            ["Lumen Plug", "2.4 GHz only", "Hold the button 10 seconds until the light blinks blue"],
        ],
    ),
    ("h2", "Firmware updates"),
    (
        "p",
        "Lumen devices update automatically between 2am and 4am local time while they are online. A device restarts "
        "during an update and may show as offline for a few minutes.",
    ),
    (
        "p",
        "To update a device now, open the Lumen app, choose the device and go to Settings > Firmware > Check for "
        "updates. The same screen shows the firmware version. An update takes about 5 minutes. Keep the device "
        "powered on until it finishes.",
    ),
    ("h2", "Lumen Doorbell: battery"),
    (
        "ul",
        [
            "The battery lasts up to 6 months on a full charge, depending on how much activity it records.",
            "Charge it with the included USB-C cable. A full charge takes about 5 hours.",
            "The Lumen app alerts you when the battery drops to 15%.",
        ],
    ),
    ("h2", "Lumen Thermostat: schedules"),
    (
        "p",
        "Open the Lumen app, choose your Lumen Thermostat and tap Schedule. Each day can have up to 6 time periods, "
        "each with its own temperature. Set up one day, then copy it to the rest of the week. Changes apply right "
        "away.",
    ),
    ("h2", "Lumen Plus"),
    (
        "p",
        "All Lumen devices work without a subscription. Lumen Plus ($4.99/month or $49.99/year) adds 60 days of "
        "doorbell video history, smart alerts that tell people from packages, and priority support. Start a 30-day "
        "free trial in the Lumen app.",
    ),
    ("h2", "Warranty and support"),
    (
        "p",
        "Your device has a 2-year warranty against defects, starting from delivery; accidental damage is not "
        "covered. For help, call 1-800-555-0199 (Monday to Friday, 8am to 8pm ET) or email help@lumenhome.example. "
        "We reply to emails within one business day.",
    ),
]

HANDBOOK: list[Block] = [
    ("h1", "Customer Care Handbook"),
    (
        "p",
        "Lumen Home Customer Care. Version 4, September 2024. For the support team and for Juno, our support "
        "assistant.",
    ),
    ("h1", "1. How we talk to customers"),
    (
        "ul",
        [
            "Be warm, brief and precise. Use plain words, no jargon.",
            "Only state Lumen Home policies that are written in this handbook or in the Help Centre. Never invent "
            "policy.",
            "If you don't know, say so and point to who can help.",
            "Don't sign your messages.",
            "Never repeat a customer's personal data back to them, and never ask for a social security number, a "
            "full card number or a bank account number. The order number (LH- and five digits) is all we need.",
        ],
    ),
    ("h2", "What we help with"),
    (
        "p",
        "We help with Lumen Home orders, devices and Lumen Plus. We do not give advice on other companies' products "
        "or services, or on medical, legal, financial or other personal matters. In that case, say politely that "
        "you don't know, that we can only help with Lumen Home orders, devices and Lumen Plus, and that a general "
        "search engine or the right professional is the best place to ask.",
    ),
    ("h1", "2. Contact channels"),
    (
        "table",
        ["Channel", "Details", "Hours and response time"],
        [
            ["Phone", "1-800-555-0199", "Monday to Friday, 8am to 8pm ET"],
            ["Email", "help@lumenhome.example", "Reply within one business day"],
            ["Lumen Plus members", "Same phone and email", "Priority support"],
        ],
    ),
    (
        "p",
        "When a customer asks for a person, give both channels and the hours, and ask them to have their order "
        "number ready.",
    ),
    ("h1", "3. Orders and delivery"),
    ("h2", "Tracking an order"),
    (
        "p",
        "The tracking link is in the shipping confirmation email and in the Lumen app under Account > Orders. "
        "Standard shipping takes 3-5 business days. If tracking hasn't moved for 3 days, the customer emails "
        "help@lumenhome.example and we look into it with the carrier.",
    ),
    ("h2", "Shipping options"),
    (
        "table",
        ["Option", "Delivery time", "Cost"],
        [
            ["Standard", "3-5 business days", "Free on orders over $50"],
            ["Express", "1-2 business days", "$14.99"],
            [
                "International (Canada, the UK and the EU)",
                "7-14 business days",
                "Shown at checkout; duties and taxes paid on delivery",
            ],
        ],
    ),
    (
        "p",
        "Orders placed before 2pm ET on a business day leave the warehouse the same day. We deliver to the United "
        "States, Canada, the UK and the EU.",
    ),
    ("h2", "Address changes and cancellations"),
    (
        "p",
        "Customers can change the delivery address or cancel an order until it ships, which is usually within 24 "
        "hours of ordering: Lumen app, Account > Orders, choose the order, then Edit address or Cancel order. If the "
        "order has shipped, we ask the carrier to redirect it (for an address change), or the customer returns it "
        "within 30 days (instead of a cancellation). Refunds for cancelled orders arrive within 5-7 business days.",
    ),
    ("h2", "Stores and pickup"),
    (
        "p",
        "Lumen Home sells online only. There are no stores, showrooms or in-store pickup, and orders can't be "
        "collected from the warehouse.",
    ),
    ("h1", "4. Returns, damage and warranty"),
    ("h2", "Returns"),
    (
        "p",
        "Any item can be returned within 30 days of delivery for a full refund: Lumen app, Account > Orders > Return "
        "an item; we email a free return label. Refunds are issued within 5-7 business days after the item reaches "
        "the warehouse, to the original payment method. If a refund hasn't arrived after 7 business days, the "
        "customer emails help@lumenhome.example.",
    ),
    (
        "note",
        "The return window is 30 days from delivery for every product, including opened items and gifts.",
    ),
    ("h2", "Damaged on arrival"),
    (
        "p",
        "The customer emails a photo of the item and the box to help@lumenhome.example within 7 days of delivery, "
        "with the order number. We send a free replacement right away; they don't need to return the damaged item.",
    ),
    ("h2", "Warranty"),
    (
        "p",
        "Every device has a 2-year warranty against defects, starting from delivery. To claim, the customer emails "
        "help@lumenhome.example with the order number and a short description or video of the problem. If it's "
        "covered, we send a free replacement. Accidental damage isn't covered.",
    ),
    ("h1", "5. Payments and billing"),
    (
        "p",
        "We accept Visa, Mastercard, American Express, PayPal, Apple Pay and Lumen gift cards. Payment is taken when "
        "the order is placed. We don't offer cash on delivery or payment in installments.",
    ),
    ("h2", "Statement descriptors"),
    (
        "table",
        ["Descriptor", "Meaning"],
        [
            ["LUMENHOME*ORDER", "A purchase from the shop"],
            ["LUMENHOME*PLUS", "The Lumen Plus subscription"],
        ],
    ),
    (
        "p",
        "A pending charge usually drops off within 3-5 business days. If a customer was charged twice or by "
        "mistake, they email help@lumenhome.example with the order number and we sort it out.",
    ),
    ("h2", "Promo codes"),
    (
        "p",
        "Codes are entered in the Promo code box at checkout before paying. One code per order; codes can't be "
        "added after an order is placed. New customers get 10% off their first order by joining our newsletter.",
    ),
    ("h1", "6. Accounts"),
    ("h2", "Password reset"),
    (
        "p",
        "On the sign-in screen of the Lumen app or website, tap Forgot password and enter the account email. The "
        "reset link works for 60 minutes. If it doesn't arrive, check the spam folder or email "
        "help@lumenhome.example.",
    ),
    ("h2", "Account deletion"),
    (
        "p",
        "Lumen app, Settings > Account > Delete account. Deletion is completed within 30 days, and the customer's "
        "devices are removed and reset. Customers with Lumen Plus should cancel it first so they aren't charged "
        "again.",
    ),
    ("h1", "7. Devices"),
    ("h2", "Wi-Fi"),
    (
        "p",
        "Lumen devices connect to 2.4 GHz Wi-Fi only; the phone must be on the 2.4 GHz network during setup. If a "
        "device won't connect, hold its button for 10 seconds until the light blinks blue, then add it again in the "
        "Lumen app with Add device.",
    ),
    ("h2", "Firmware"),
    (
        "p",
        "Devices update automatically between 2am and 4am local time while online. To update now: Lumen app, choose "
        "the device, Settings > Firmware > Check for updates. It takes about 5 minutes; keep the device powered on.",
    ),
    ("h2", "Lumen Doorbell battery"),
    (
        "p",
        "Up to 6 months on a full charge, depending on activity. Charge with the included USB-C cable; a full "
        "charge takes about 5 hours. The Lumen app alerts at 15%.",
    ),
    ("h2", "Lumen Thermostat schedules"),
    (
        "p",
        "Lumen app, choose the Lumen Thermostat, tap Schedule. Up to 6 time periods per day, each with its own "
        "temperature; a day can be copied to the rest of the week. Changes apply right away.",
    ),
    ("h1", "8. Lumen Plus"),
    (
        "p",
        "Lumen Plus costs $4.99/month or $49.99/year. It adds 60 days of doorbell video history, smart alerts that "
        "tell people from packages, and priority support. All devices work without it. There is a 30-day free trial "
        "in the Lumen app.",
    ),
    (
        "p",
        "Cancel anytime in the Lumen app under Settings > Lumen Plus > Cancel subscription. Features stay on until "
        "the end of the current billing period, and the customer won't be charged again. We don't refund partial "
        "months.",
    ),
    ("h1", "9. Key facts"),
    (
        "table",
        ["Topic", "Fact"],
        [
            ["Returns", "Within 30 days of delivery, full refund, free return label"],
            ["Refunds", "Within 5-7 business days after the return reaches the warehouse"],
            ["Standard shipping", "3-5 business days, free on orders over $50"],
            ["Express shipping", "1-2 business days, $14.99"],
            ["Same-day dispatch", "Orders before 2pm ET on a business day"],
            ["International", "Canada, the UK and the EU; 7-14 business days"],
            ["Change or cancel", "Until the order ships, usually within 24 hours"],
            ["Damaged on arrival", "Photo within 7 days of delivery; free replacement"],
            ["Warranty", "2 years against defects from delivery; accidental damage not covered"],
            ["Wi-Fi", "2.4 GHz only; hold the button 10 seconds to reset"],
            ["Firmware", "Automatic between 2am and 4am local time; about 5 minutes"],
            ["Doorbell battery", "Up to 6 months; about 5 hours to charge; alert at 15%"],
            ["Thermostat", "Up to 6 time periods per day"],
            ["Password reset link", "Works for 60 minutes"],
            ["Account deletion", "Completed within 30 days"],
            ["Lumen Plus", "$4.99/month or $49.99/year; 30-day free trial; 60 days of video history"],
            ["Newsletter", "10% off the first order for new customers"],
            ["Support", "1-800-555-0199, Monday to Friday, 8am to 8pm ET; help@lumenhome.example"],
        ],
    ),
]

PLUS_TERMS: list[Block] = [
    ("h1", "Lumen Plus Terms of Service"),
    ("p", "Lumen Home. Effective 2 September 2024."),
    ("h1", "1. The service"),
    (
        "p",
        "Lumen Plus is an optional subscription from Lumen Home. It adds 60 days of doorbell video history for the "
        "Lumen Doorbell, smart alerts that tell people from packages, and priority support. All Lumen devices work "
        "without Lumen Plus.",
    ),
    ("h1", "2. Plans and prices"),
    (
        "table",
        ["Plan", "Price", "Billing period"],
        [
            ["Monthly", "$4.99/month", "One month"],
            ["Annual", "$49.99/year", "One year"],
        ],
    ),
    ("h1", "3. Free trial"),
    ("p", "New subscribers can start a 30-day free trial in the Lumen app."),
    ("h1", "4. Billing"),
    (
        "p",
        "Your subscription renews at the start of each billing period until you cancel. Charges appear on your "
        "statement as LUMENHOME*PLUS. You can pay with Visa, Mastercard, American Express, PayPal, Apple Pay or a "
        "Lumen gift card. If you think you were charged by mistake, email help@lumenhome.example and we'll sort it "
        "out.",
    ),
    ("h1", "5. Cancellation"),
    (
        "p",
        "You can cancel Lumen Plus anytime in the Lumen app under Settings > Lumen Plus > Cancel subscription. "
        "Cancelling turns off renewal: you keep all the features until the end of your current billing period, and "
        "you won't be charged again. We don't refund partial months.",
    ),
    ("h1", "6. Closing your Lumen account"),
    (
        "p",
        "If you delete your Lumen account (Settings > Account > Delete account), cancel Lumen Plus first so you "
        "aren't charged again. Account deletion is completed within 30 days, and your devices are removed and "
        "reset.",
    ),
    ("h1", "7. Contact"),
    (
        "p",
        "Phone 1-800-555-0199, Monday to Friday, 8am to 8pm ET. Email help@lumenhome.example; we reply within one "
        "business day.",
    ),
]


# --------------------------------------------------------------------------
# PDF (fpdf2, core fonts)
# --------------------------------------------------------------------------
def build_pdf(blocks: list[Block], title: str, subject: str) -> bytes:
    from fpdf import FPDF
    from fpdf.fonts import FontFace

    class PolicyPDF(FPDF):
        def header(self) -> None:
            self.set_font("Helvetica", "B", 9)
            self.set_text_color(90, 90, 90)
            self.cell(0, 6, "Lumen Home", align="L")
            self.ln(10)
            self.set_text_color(0, 0, 0)

        def footer(self) -> None:
            self.set_y(-15)
            self.set_font("Helvetica", "", 8)
            self.set_text_color(90, 90, 90)
            self.cell(0, 10, f"{title} - page {self.page_no()} of {{nb}}", align="C")
            self.set_text_color(0, 0, 0)

    pdf = PolicyPDF(format="Letter")
    pdf.set_creation_date(ISSUED)
    pdf.set_title(title)
    pdf.set_author(AUTHOR)
    pdf.set_subject(subject)
    pdf.set_creator("docs_build.py")
    pdf.set_margins(20, 18, 20)
    pdf.set_auto_page_break(True, margin=20)
    pdf.add_page()
    sizes = {"h1": 20, "h2": 14, "h3": 12}
    for block in blocks:
        kind = block[0]
        if kind in sizes:
            pdf.ln(3 if kind != "h1" else 0)
            level = {"h1": 0, "h2": 1, "h3": 2}[kind]
            pdf.start_section(block[1], level=level)  # the PDF outline (bookmarks)
            pdf.set_font("Helvetica", "B", sizes[kind])
            pdf.multi_cell(0, sizes[kind] * 0.5, block[1], new_x="LMARGIN", new_y="NEXT")
            pdf.ln(2)
        elif kind in ("p", "note"):
            pdf.set_font("Helvetica", "I" if kind == "note" else "", 10.5)
            pdf.multi_cell(0, 5.5, ("Note: " if kind == "note" else "") + block[1], new_x="LMARGIN", new_y="NEXT")
            pdf.ln(2.5)
        elif kind in ("ul", "ol"):
            pdf.set_font("Helvetica", "", 10.5)
            for i, item in enumerate(block[1], start=1):
                mark = f"{i}." if kind == "ol" else "-"
                pdf.set_x(pdf.l_margin + 4)
                pdf.cell(6, 5.5, mark)
                pdf.multi_cell(0, 5.5, item, new_x="LMARGIN", new_y="NEXT")
                pdf.ln(1)
            pdf.ln(1.5)
        elif kind == "table":
            header, rows = block[1], block[2]
            pdf.set_font("Helvetica", "", 9.5)
            with pdf.table(
                headings_style=FontFace(emphasis="BOLD", fill_color=(225, 232, 240)),
                line_height=5.5,
                text_align="LEFT",
            ) as table:
                for row in [header, *rows]:
                    cells = table.row()
                    for text in row:
                        cells.cell(text)
            pdf.ln(4)
        else:
            raise ValueError(f"unknown block {kind!r}")
    return bytes(pdf.output())


# --------------------------------------------------------------------------
# DOCX (python-docx)
# --------------------------------------------------------------------------
def build_docx(blocks: list[Block], title: str, subject: str) -> bytes:
    import docx

    doc = docx.Document()
    props = doc.core_properties
    props.author = AUTHOR
    props.last_modified_by = AUTHOR
    props.title = title
    props.subject = subject
    props.created = ISSUED.replace(tzinfo=None)
    props.modified = ISSUED.replace(tzinfo=None)
    props.last_printed = ISSUED.replace(tzinfo=None)
    props.revision = 1
    props.comments = ""
    props.keywords = "Lumen Home; customer care"
    first = True
    for block in blocks:
        kind = block[0]
        if kind == "h1" and first:
            doc.add_heading(block[1], level=0)  # the "Title" style
            first = False
        elif kind in ("h1", "h2", "h3"):
            doc.add_heading(block[1], level=int(kind[1]))  # "Heading 1/2/3" styles
        elif kind == "p":
            doc.add_paragraph(block[1])
        elif kind == "note":
            para = doc.add_paragraph()
            para.add_run("Note: ").bold = True
            para.add_run(block[1]).italic = True
        elif kind in ("ul", "ol"):
            style = "List Number" if kind == "ol" else "List Bullet"
            for item in block[1]:
                doc.add_paragraph(item, style=style)
        elif kind == "table":
            header, rows = block[1], block[2]
            table = doc.add_table(rows=1, cols=len(header))
            table.style = "Table Grid"
            for cell, text in zip(table.rows[0].cells, header, strict=True):
                cell.text = ""
                cell.paragraphs[0].add_run(text).bold = True
            for row in rows:
                for cell, text in zip(table.add_row().cells, row, strict=True):
                    cell.text = text
            doc.add_paragraph()
        else:
            raise ValueError(f"unknown block {kind!r}")
    buf = io.BytesIO()
    doc.save(buf)
    return _fixed_zip(buf.getvalue())


def _fixed_zip(data: bytes) -> bytes:
    """Rewrite a zip (a .docx) with a fixed timestamp on every entry: python-docx stamps them with the time now."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=ZIP_TIME)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o644 << 16
            dst.writestr(fixed, src.read(info.filename))
    return out.getvalue()


# --------------------------------------------------------------------------
DOCUMENTS = [
    (
        "warranty-and-returns-policy.pdf",
        WARRANTY_POLICY,
        "Warranty and Returns Policy",
        "Returns, refunds, damaged items and the 2-year warranty",
    ),
    (
        "lumen-device-setup-guide.pdf",
        SETUP_GUIDE,
        "Lumen Device Setup Guide",
        "Wi-Fi setup, firmware updates, doorbell battery and thermostat schedules",
    ),
    (
        "customer-care-handbook.docx",
        HANDBOOK,
        "Customer Care Handbook",
        "How Lumen Home Customer Care answers customers",
    ),
    (
        "lumen-plus-terms-of-service.docx",
        PLUS_TERMS,
        "Lumen Plus Terms of Service",
        "Plans, prices, trial and cancellation of Lumen Plus",
    ),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DOCS, help=f"output folder (default {DOCS})")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, blocks, title, subject in DOCUMENTS:
        for block in blocks:  # core PDF fonts are latin-1; keep the text plain ASCII
            text = " ".join(str(x) for x in block[1:])
            if not text.isascii():
                raise ValueError(f"{name}: non-ASCII text in {block!r}")
        build = build_pdf if name.endswith(".pdf") else build_docx
        data = build(blocks, title, subject)
        (args.out / name).write_bytes(data)
        print(f"wrote {args.out / name} ({len(data):,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
