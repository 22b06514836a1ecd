"""Clean text and labelled names for measuring the PERSON detector: false redactions per 1,000 examples, and recall.

The clean corpus is a few hundred HR, support and banking exchanges with no personal data, written to hold what a
name model trips on: capitalised common words at the start of a sentence or on a button ("Forgotten details?",
"Bereavement leave", "Lunch", "Careers"), abbreviations ("max", "min"), weekdays, months, products and places
("Rotterdam", "Lisbon"). The labelled set holds real-looking names in the ways people write them. Deterministic
(seeded), so a figure in docs/data.md can be reproduced:

    OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 .venv/bin/python -m tests.data.pii_corpus
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

QUESTIONS = [
    "what's the max number of vacation days I can carry over?",
    "What's the min notice period for a resignation?",
    "Is there a max amount I can claim for a hotel night in {place}?",
    "How do I book {leave} leave?",
    "{Leave} leave: how many days do I get?",
    "Where is the {team} team based now, {place} or {place2}?",
    "Can I work from the {place} office on {day}s?",
    "Lunch is paid or unpaid during a {hours}-hour shift?",
    "Careers page says there's an opening in {team}, can I apply internally?",
    "I tapped Forgotten details? but no code arrived.",
    "Schedule changes for {month}: where do I see them?",
    "When does payroll run in {month}?",
    "Does the {place} branch open on {day}?",
    "How do I raise my contactless limit to the max?",
    "My card was declined at a shop in {place}, why?",
    "Standing order or direct debit: which is better for rent?",
    "Overdraft fees: what do they cost per month?",
    "Mortgage overpayments: is there a max per year?",
    "How do I reset the {product} after a power cut?",
    "The {product} keeps disconnecting from wifi, what now?",
    "Can I return a {product} bought {days} days ago?",
    "Is the {product} compatible with Alexa?",
    "Travel insurance covers {place}?",
    "Grievance procedure: who do I talk to first?",
    "Bereavement leave for a grandparent, how long?",
    "Sick pay starts from which day of absence?",
    "Expenses for a client dinner in {place}: what's the cap?",
    "Pension contributions: can I raise mine to {pct}%?",
    "Payslip shows emergency tax, what does that mean?",
    "Welcome pack: when is it sent to new starters?",
]
ANSWERS = [
    "You can carry over up to {n} days into the next year; anything beyond that lapses on {month} 1.",
    "The notice period is {n} weeks for most roles; your contract states yours.",
    "Open the staff portal, choose Leave, then New request, and pick the dates.",
    "The {team} team works from the {place} office, with two days a week at home.",
    "Lunch breaks of {n} minutes are unpaid; shorter rest breaks are paid.",
    "Yes: apply through the Careers page and tell your manager before the interview.",
    "Tap Forgotten details? again and check your spam folder; codes expire after {n} minutes.",
    "Schedule changes are posted on the rota page every {day} by noon.",
    "Payroll runs on the {n}th of each month, or the working day before.",
    "The {place} branch is open {day} to Friday, 9am to 5pm.",
    "Contactless payments are capped at the max the card scheme allows; use chip and PIN above it.",
    "The shop may have flagged the payment abroad; approve it in the app and try again.",
    "Overdraft interest is {pct}% a year, charged monthly; there is no fee for the first {n} days.",
    "You can overpay up to {pct}% of the balance each year without a charge.",
    "Hold the button on the {product} for {n} seconds until the light blinks, then pair it again.",
    "Move the {product} closer to the router and switch the router to 2.4 GHz.",
    "Returns are accepted within 30 days with the receipt; refunds take {n} working days.",
    "Bereavement leave is {n} days paid for a close family member; speak to HR for more.",
    "Statutory sick pay starts on the fourth day of absence; our scheme pays from day one.",
    "Client dinners are capped at {n} pounds a head; keep the itemised receipt.",
    "Yes, change your contribution in the pension portal; it applies from the next payroll.",
    "Emergency tax is temporary; it is corrected once HMRC sends your tax code.",
    "Welcome packs go out {n} days before the start date, by email.",
    "Mention it to your line manager first; if that does not resolve it, contact HR.",
]
FILL = {
    "place": ["Rotterdam", "Lisbon", "Denver", "Leeds", "Manchester", "Dublin", "Amsterdam", "Glasgow", "Bristol"],
    "place2": ["Utrecht", "Porto", "Boulder", "York", "Cork", "Antwerp"],
    "leave": ["bereavement", "parental", "compassionate", "annual", "study", "jury service"],
    "team": ["Payroll", "Careers", "Facilities", "Treasury", "Onboarding", "Member Services", "Lending"],
    "day": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"],
    "month": ["January", "March", "April", "June", "August", "October", "December"],
    "product": ["Lumen Hub", "smart plug", "doorbell camera", "thermostat", "Orbit router", "motion sensor"],
    "hours": ["6", "8", "10", "12"],
    "days": ["10", "20", "25"],
    "pct": ["5", "8", "10", "12"],
    "n": ["3", "5", "10", "15", "20", "30"],
}

# Labelled: every sentence holds one real-looking name, and which words of it are the name.
NAMED = [
    ("My name is {full} and my phone is 555-0193.", "full"),
    ("Hi, this is {full}. I ordered a thermostat last week.", "full"),
    ("Please update the account of {full}, she has moved.", "full"),
    ("{full} from accounts asked me to chase this invoice.", "full"),
    ("Thanks {first}, that fixed it!", "first"),
    ("Can you tell {first} that the meeting moved to Friday?", "first"),
    ("I spoke to {full} at the branch yesterday about my loan.", "full"),
    ("The card is in the name of {full}.", "full"),
    ("Dear {first}, your request has been approved.", "first"),
    ("My manager {full} signed off my leave.", "full"),
    ("hi its {lower} here, my card got blocked", "lower"),
]
FIRST = ["Priya", "James", "Maria", "Olivia", "Tomasz", "Aisha", "Liam", "Sofia", "Kwame", "Hannah", "Daniel", "Mei"]
LAST = ["Raman", "Whitaker", "Gonzalez", "Brennan", "Kowalski", "Okafor", "Murphy", "Rossi", "Mensah", "Fischer"]


def _fill(template: str, rng: random.Random) -> str:
    out = template
    for key, options in FILL.items():
        out = out.replace("{" + key.capitalize() + "}", rng.choice(options).capitalize())
        while "{" + key + "}" in out:
            out = out.replace("{" + key + "}", rng.choice(options), 1)
    return out


def clean_examples(n: int = 300, seed: int = 0) -> list[dict[str, Any]]:
    """`n` conversations with no personal data in them."""
    rng = random.Random(seed)
    return [
        {
            "messages": [
                {"role": "user", "content": _fill(rng.choice(QUESTIONS), rng)},
                {"role": "assistant", "content": _fill(rng.choice(ANSWERS), rng)},
            ]
        }
        for _ in range(n)
    ]


def named_sentences(n: int = 100, seed: int = 0) -> list[tuple[str, str]]:
    """`n` (sentence, the name in it) pairs."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        template, which = rng.choice(NAMED)
        first, last = rng.choice(FIRST), rng.choice(LAST)
        name = {"first": first, "full": f"{first} {last}", "lower": f"{first} {last}".lower()}[which]
        out.append((template.replace("{" + which + "}", name), name))
    return out


def person_hits(texts: list[str]) -> list[list[str]]:
    from tunesmith.data import pii

    return [
        [t[s.start : s.end] for s in spans]
        for t, spans in zip(texts, pii.scan(texts, entities=["PERSON"]), strict=True)
    ]


def false_per_1000(records: list[dict[str, Any]]) -> tuple[float, list[str]]:
    """PERSON values found in clean conversations, per 1,000 conversations, and the values."""
    texts = [m["content"] for r in records for m in r["messages"] if isinstance(m.get("content"), str)]
    values = [v for hits in person_hits(texts) for v in hits]
    return 1000 * len(values) / len(records), values


def recall(pairs: list[tuple[str, str]]) -> float:
    """Share of the labelled names found whole (a hit that covers the name)."""
    hits = person_hits([s for s, _ in pairs])
    return sum(any(name in h for h in found) for (_, name), found in zip(pairs, hits, strict=True)) / len(pairs)


def measure() -> dict[str, tuple[float, list[str]]]:
    """False PERSON hits per 1,000 examples of each clean file, and recall (as a rate, no values) on the names."""
    rows = {"clean corpus (tests/data/pii_corpus.py)": clean_examples()}
    for path in ["examples/credit-union/data/members.jsonl"]:
        rows[path] = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
    out = {name: false_per_1000(records) for name, records in rows.items()}
    out["names found (labelled set, %)"] = (100 * recall(named_sentences()), [])
    return out


def main() -> None:
    """Before (the name model's hits as they are) and after (without what `pii.not_a_name` rules out)."""
    from tunesmith.data import pii

    after = measure()
    kept = pii.not_a_name
    pii.not_a_name = lambda value: any(c.isdigit() for c in value)  # type: ignore[assignment]  # today's filter
    try:
        before = measure()
    finally:
        pii.not_a_name = kept  # type: ignore[assignment]
    print("| measure | before | after | false values before -> after |")
    print("|---|---|---|---|")
    for name, (rate, values) in after.items():
        old_rate, old_values = before[name]
        shown = f"{', '.join(sorted(set(old_values)))} -> {', '.join(sorted(set(values))) or 'none'}"
        print(f"| {name} | {old_rate:.1f} | {rate:.1f} | {shown if old_values else ''} |")


if __name__ == "__main__":
    main()
