"""Names that belong to the deployer: an organisation's name in every system prompt is kept, a customer's is not.

A held-out HR project lost its company's name to `<PERSON>` 807 times: the name sat in one shared system prompt
and a handful of canonical answers, so counted over distinct texts it looked rare. Counted over examples, and
weighed by the system prompt, it is the deployer's own.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from tunesmith.config import DataConfig
from tunesmith.data import pii, recurring
from tunesmith.data.check import check_files
from tunesmith.data.prepare import prepare_dataset

# spaCy's small model tags this made-up firm as a PERSON in every sentence it is in (a law-firm style name).
COMPANY = "Harlan Whitby"
PLANTED = "Priya Raman"
SYSTEM = f"You are the HR assistant of {COMPANY}. Answer questions about {COMPANY} policies for its staff."
ANSWERS = [
    f"At {COMPANY}, full-time staff get 25 days of annual leave a year.",
    f"{COMPANY} pays overtime at 1.5 times the hourly rate after 40 hours.",
    "Parental leave is 16 weeks at full pay; tell your manager 8 weeks ahead.",
    "Submit expense claims within 30 days through the staff portal.",
    "Remote work is allowed up to three days a week with your manager's approval.",
]
TOPICS = ["annual leave", "overtime", "parental leave", "expenses", "remote work"]
WORDS = "when where which month team shift contract office travel bonus notice payroll weekend holiday".split()


def _project(path: Path, n: int = 60) -> Path:
    rng = random.Random(7)
    lines = []
    for i in range(n):
        k = i % len(ANSWERS)
        # Varied enough that no two prompts are near-duplicates: prepare keeps all of them.
        user = f"How does {TOPICS[k]} work? {' '.join(rng.sample(WORDS, 6))}"
        if i == 13:
            user = f"My manager {PLANTED} asked me: how does {TOPICS[k]} work here?"
        conv = {
            "messages": [
                {"role": "system", "content": SYSTEM},
                {"role": "user", "content": user},
                {"role": "assistant", "content": ANSWERS[k]},
            ]
        }
        lines.append(json.dumps(conv))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_company_name_in_every_system_prompt_is_kept_and_a_person_is_redacted(tmp_path):
    src = _project(tmp_path / "hr.jsonl")
    out = tmp_path / "ds"
    # refusals off: the 60 examples are the point here, not the refusals coverage would add.
    cfg = DataConfig(pii="redact", refusals="off", split={"train": 0.8, "val": 0.1, "test": 0.1})
    prepare_dataset([src], out, cfg)
    rows = [json.loads(line) for name in ("train", "val", "test") for line in (out / f"{name}.jsonl").open()]
    assert len(rows) == 60
    assert all(r["messages"][0]["content"] == SYSTEM for r in rows)
    assert sum(COMPANY in r["messages"][2]["content"] for r in rows) == 24  # the canonical answers that name it
    text = json.dumps(rows)
    assert "Priya" not in text and "Raman" not in text
    assert text.count("<PERSON>") == 1


HELPLINE = "0800 555 0142"  # the organisation's, in a third of the answers
CUSTOMER = "(415) 555-0134"  # one caller's, in their own question
TESTER = "(415) 555-0188"  # typed by users in 12 conversations (a tester's, or a regular caller's): still theirs


def _with_phones(path: Path) -> Path:
    rows = [json.loads(line) for line in _project(path).read_text(encoding="utf-8").splitlines()]
    for i, r in enumerate(rows):
        if i % 3 == 0:
            r["messages"][2]["content"] += f" Questions? Call us on {HELPLINE}."
    rows[14]["messages"][1]["content"] += f" You can call me back on {CUSTOMER}."
    for r in rows[20:32]:
        r["messages"][1]["content"] += f" My phone number is {TESTER}."
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_the_organisations_helpline_is_kept_and_a_callers_number_is_redacted(tmp_path):
    """A helpline redacted in every answer taught the credit union's fine-tune to say "call <PHONE_NUMBER>"."""
    src = _with_phones(tmp_path / "hr.jsonl")
    cfg = DataConfig(pii="redact", refusals="off", split={"train": 0.8, "val": 0.1, "test": 0.1})
    prepare_dataset([src], tmp_path / "ds", cfg)
    text = "".join((tmp_path / "ds" / f"{s}.jsonl").read_text(encoding="utf-8") for s in ("train", "val", "test"))
    assert text.count(HELPLINE) == 20 and CUSTOMER not in text and TESTER not in text
    assert text.count("<PHONE_NUMBER>") == 13
    manifest = json.loads((tmp_path / "ds" / "manifest.json").read_text(encoding="utf-8"))
    assert HELPLINE in manifest["pii"]["kept_names"]  # the decision later gates (vendor upload, documents) apply
    assert TESTER not in manifest["pii"]["kept_names"]

    off = cfg.model_copy(update={"keep_recurring_contacts": False})
    prepare_dataset([src], tmp_path / "ds-off", off)
    text = "".join((tmp_path / "ds-off" / f"{s}.jsonl").read_text(encoding="utf-8") for s in ("train", "val", "test"))
    assert HELPLINE not in text and text.count("<PHONE_NUMBER>") == 33


def test_check_does_not_report_the_helpline_as_personal_data(tmp_path):
    report = check_files([_with_phones(tmp_path / "hr.jsonl")], diversity=False)
    [phones] = [f for f in report.findings if f.kind == "pii" and f.entity == "PHONE_NUMBER"]
    assert phones.message.startswith("13 PHONE_NUMBER value(s) in 13 example(s)")


def test_check_lists_the_most_frequent_person_values(tmp_path):
    src = _project(tmp_path / "hr.jsonl")
    report = check_files([src], diversity=False)
    frequent = report.stats["pii"]["frequent_names"]
    assert frequent, "no PERSON value was counted"
    top = frequent[0]
    assert top["value"] == COMPANY
    assert top["examples"] == 60 and top["kept"] is True
    assert not any(f.kind == "frequent_pii_name" for f in report.findings)


def test_a_frequent_name_that_would_be_redacted_is_a_finding_with_the_fix(tmp_path):
    src = _project(tmp_path / "hr.jsonl")
    report = check_files([src], DataConfig(keep_recurring_names=False), diversity=False)
    [finding] = [f for f in report.findings if f.kind == "frequent_pii_name"]
    assert "data.pii_allow" in finding.message
    assert finding.details["values"][0]["examples"] == 60


def test_names_are_counted_over_examples_and_a_system_prompt_name_is_kept_in_a_small_set():
    """Six examples share one system prompt: fewer than RECURRING_MIN, but the system prompt is the deployer's."""
    shared = f"Welcome to {COMPANY}."
    texts = [shared] * 6 + ["Hi, I am Dana Whitfield.", f"{COMPANY} is closed on Sunday."]
    owners = [*range(6), 6, 5]
    spans = [[] for _ in texts]
    spans[0] = [pii.Span(11, 24, "PERSON", 0.85, "spacy")]  # found once, in one copy of the shared text
    spans[6] = [pii.Span(9, 23, "PERSON", 0.85, "spacy")]
    counts = recurring.name_counts(texts, spans, owners, system=[True] * 6 + [False, False])
    assert counts.anywhere == {"harlan whitby": 6, "dana whitfield": 1}
    assert counts.recurring() == {"harlan whitby"}
    assert counts.most_frequent() == [(COMPANY, 6)]


def test_tool_call_arguments_are_redacted_with_their_field_in_the_audit_log(tmp_path):
    call = {
        "id": "c1",
        "type": "function",
        "function": {"name": "find_order", "arguments": '{"email": "jane.doe@example.com"}'},
    }
    conv = {
        "messages": [
            {"role": "user", "content": "Where is my order?"},
            {"role": "assistant", "content": "", "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "c1", "content": '{"status": "shipped"}'},
            {"role": "assistant", "content": "It has shipped."},
        ]
    }
    src = tmp_path / "tools.jsonl"
    src.write_text(json.dumps(conv) + "\n", encoding="utf-8")
    out = tmp_path / "ds"
    prepare_dataset([src], out, DataConfig(pii="redact", split={"train": 1.0, "val": 0.0, "test": 0.0}))
    [row] = [json.loads(line) for line in (out / "train.jsonl").open()]
    args = row["messages"][1]["tool_calls"][0]["function"]["arguments"]
    assert json.loads(args) == {"email": "<EMAIL_ADDRESS>"}
    [entry] = [json.loads(line) for line in (out / "redactions.jsonl").open()]
    assert entry["field"] == "tool_calls.0.arguments" and entry["message"] == 1
