"""Refusal coverage (issue 24): too few "I don't know" examples for the topics the data covers is a finding with
the count and the command, and `add-refusals --near-domain` writes questions next to the domain in its voice."""

from __future__ import annotations

import json
import random
import string
from pathlib import Path

from tunesmith.cli.main import main
from tunesmith.config import DataConfig
from tunesmith.data.check import check_files
from tunesmith.data.coverage import refusal_coverage
from tunesmith.data.near_domain import near_domain_questions, project_voice
from tunesmith.data.split import SPLITS
from tunesmith.refusals import is_refusal

SYSTEM = "You are Ava, the member assistant for Harbourview Credit Union. Only state Harbourview policies you know."
TOPICS = {
    "cards": ["How do I freeze my debit card?", "Can I order a new card online?", "What is my card's daily limit?"],
    "fees": ["Is there a monthly account fee?", "What does an overdraft cost?", "Do you charge for transfers?"],
    "app": [
        "How do I reset the app password?",
        "Where are statements in the app?",
        "Can I deposit a cheque in the app?",
    ],
    "branches": ["When is the Quay Street branch open?", "Is there a branch with parking?", "Are you open Saturday?"],
}
REFUSAL = "I'm sorry, I can only help with Harbourview Credit Union accounts and services. Please ask a specialist."


def _record(question: str, answer: str, tags: list[str]) -> dict:
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": question}]
    return {"messages": [*messages, {"role": "assistant", "content": answer}], "meta": {"tags": tags}}


def _noise(rng: random.Random) -> str:
    """Random words, so that no two questions are near duplicates (prepare would merge them)."""
    return " ".join("".join(rng.choices(string.ascii_lowercase, k=6)) for _ in range(8))


def _data(refusals: int, repeats: int = 6) -> list[dict]:
    rng = random.Random(0)
    rows = []
    for topic, questions in TOPICS.items():
        for i in range(repeats):
            for q in questions:
                answer = f"At Harbourview Credit Union, {topic} work like this: see {topic} option {i} in the app."
                rows.append(_record(f"{q} {_noise(rng)}", answer, [topic]))
    rows += [
        _record(f"Which stocks should I buy? {_noise(rng)}", REFUSAL, ["refusal", "out_of_scope"])
        for _ in range(refusals)
    ]
    return rows


def _write(tmp_path: Path, rows: list[dict]) -> Path:
    path = tmp_path / "members.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_coverage_counts_topics_from_tags_and_what_is_missing():
    rows = _data(refusals=4)  # 72 in scope over 4 topics, 4 refusals
    cov = refusal_coverage(rows, [i for i, r in enumerate(rows) if is_refusal(r["messages"][-1]["content"])])
    assert (cov.examples, cov.refusals, cov.topics, cov.topics_from) == (76, 4, 4, "tags")
    # 15% of 76 is 11.4: (11.4 - 4) / 0.85 = 8.7, so 9 more; 3 per topic asks for 12 - 4 = 8.
    assert (cov.missing, cov.target) == (9, 13)


def test_data_check_reports_too_few_refusals_with_the_count_and_the_command(tmp_path):
    path = _write(tmp_path, _data(refusals=4))
    report = check_files([path], DataConfig(pii="off"))
    found = [f for f in report.findings if f.kind == "refusal_coverage"]
    assert len(found) == 1
    f = found[0]
    assert f.severity == "warning"
    assert f.details["missing"] == 9 and f.details["topics"] == 4
    assert "4 of 76" in f.message and "9 more" in f.message
    assert f"tunesmith data add-refusals --generate 9 --near-domain {path}" in f.message


def test_enough_refusals_give_no_coverage_finding(tmp_path):
    path = _write(tmp_path, _data(refusals=14))
    report = check_files([path], DataConfig(pii="off"))
    assert not [f for f in report.findings if f.kind == "refusal_coverage"]


def test_near_domain_questions_sit_next_to_the_domain_and_repeat_no_question():
    rows = _data(refusals=4)
    voice = project_voice(rows)
    assert voice.organisation == "Harbourview Credit Union"
    assert voice.refusal == REFUSAL
    questions = near_domain_questions(rows, 20, seed=3)
    assert len(questions) == len(set(questions)) == 20
    assert not any("about this" in q for q in questions)  # the data's own topic nouns fill the templates
    existing = {r["messages"][1]["content"] for r in rows}
    assert not existing & set(questions)
    assert any("Harbourview Credit Union" in q for q in questions)  # facts the data never states
    assert any("competitor" in q or "another country" in q or "legal advice" in q for q in questions)  # neighbours


def test_add_refusals_near_domain_writes_tagged_refusals_in_the_projects_voice(tmp_path):
    data = _write(tmp_path, _data(refusals=4))
    out = tmp_path / "refusals.jsonl"
    code = main(["data", "add-refusals", "--generate", "12", "--near-domain", str(data), "--out", str(out)])
    assert code == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 12
    for r in rows:
        assert r["messages"][0]["content"] == SYSTEM
        assert r["messages"][-1]["content"] == REFUSAL
        assert r["meta"]["tags"] == ["refusal", "out_of_scope", "generated", "near_domain"]


def test_prepare_tops_up_the_refusals_in_train_only_and_says_so(tmp_path):
    from tunesmith.data.prepare import prepare_dataset

    path = _write(tmp_path, _data(refusals=4))
    result = prepare_dataset([path], tmp_path / "ds", DataConfig(pii="off"), seed=0)
    rows = {s: [json.loads(x) for x in (tmp_path / "ds" / f"{s}.jsonl").read_text().splitlines()] for s in SPLITS}
    generated = {s: [r for r in rows[s] if "generated" in r["meta"].get("tags", [])] for s in SPLITS}
    assert len(generated["train"]) == 9 and not generated["val"] and not generated["test"]
    for r in generated["train"]:
        assert r["meta"]["tags"] == ["refusal", "out_of_scope", "generated", "near_domain"]
        assert r["messages"][0]["content"] == SYSTEM and r["messages"][-1]["content"] == REFUSAL
    assert any("added 9 near-domain" in w for w in result.warnings)
    assert "added 9 near-domain" in (tmp_path / "ds" / "README.md").read_text()

    off = prepare_dataset([path], tmp_path / "off", DataConfig(pii="off", refusals="off"), seed=0)
    assert off.counts["train"] == result.counts["train"] - 9
