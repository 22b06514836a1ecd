"""`check_files`: one fixture per finding kind, with the defect at a known line."""

from __future__ import annotations

from pathlib import Path

import pytest

from tunesmith.config import DataConfig
from tunesmith.data.check import check_files

ASSETS = Path(__file__).parent / "assets"
RUN_OPTIONS = ("max_seq_len", "tokenizer", "diversity", "pii_scan", "test")  # the rest: keys of the data section


def findings(name: str, **kwargs):
    kwargs.setdefault("diversity", False)
    run = {k: kwargs.pop(k) for k in RUN_OPTIONS if k in kwargs}
    report = check_files([ASSETS / name], DataConfig(**kwargs), **run)
    return report, [(f.kind, f.lines) for f in report.findings]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("invalid_json.jsonl", [("invalid_json", [3])]),
        ("not_an_object.jsonl", [("not_an_object", [2]), ("not_an_object", [4])]),
        ("missing_messages.jsonl", [("missing_messages", [3])]),
        ("unrecognized_role.jsonl", [("unrecognized_role", [4])]),
        ("missing_content.jsonl", [("missing_content", [2])]),
        ("no_assistant_message.jsonl", [("no_assistant_message", [3])]),
        ("empty_content.jsonl", [("empty_content", [5])]),
        ("role_order.jsonl", [("role_order", [2]), ("role_order", [4])]),
    ],
)
def test_error_kinds_at_their_lines(name, expected):
    report, found = findings(name, pii_scan=False)
    assert [f for f in found if f[0] == expected[0][0]] == expected
    assert report.has_errors
    assert all(f.severity == "error" for f in report.findings if f.kind == expected[0][0])


def test_too_long_with_the_given_limit():
    report, found = findings("too_long.jsonl", pii_scan=False, max_seq_len=100)
    assert [f for f in found if f[0] == "too_long"] == [("too_long", [4])]
    assert "approximate" in report.stats["token_counter"]
    _, found = findings("too_long.jsonl", pii_scan=False, max_seq_len=2048)
    assert not [f for f in found if f[0] == "too_long"]


@pytest.mark.parametrize(
    ("name", "kind", "lines"),
    [
        ("exact_duplicate.jsonl", "exact_duplicate", [1, 5]),
        ("near_duplicate.jsonl", "near_duplicate", [3, 6]),
        ("conflict.jsonl", "conflict", [2, 6]),
        ("missing_system.jsonl", "missing_system", [3]),
        ("refusal_share.jsonl", "refusal_share", [2, 3, 5]),
        ("low_diversity.jsonl", "low_diversity", []),
        ("invalid_json.jsonl", "too_few_examples", []),
    ],
)
def test_warning_kinds_list_every_line_of_the_group(name, kind, lines):
    report, found = findings(name, pii_scan=False)
    assert [f for f in found if f[0] == kind] == [(kind, lines)]
    assert all(f.severity == "warning" for f in report.findings if f.kind == kind)


def test_conflict_is_not_also_a_near_duplicate_and_names_both_answers():
    report, found = findings("conflict.jsonl", pii_scan=False)
    assert not [f for f in found if f[0] in ("near_duplicate", "exact_duplicate")]
    (conflict,) = [f for f in report.findings if f.kind == "conflict"]
    assert conflict.to_json()["answers"] == [[2], [6]]


def test_clean_file_has_no_errors_and_full_stats():
    report, found = findings("near_duplicate.jsonl", pii_scan=False)
    assert not report.has_errors
    s = report.stats
    assert report.examples == 6 and report.format == "messages"
    assert set(s["tokens_per_example"]) == {"total", "system", "user", "assistant"}
    assert set(s["tokens_per_example"]["total"]) >= {"min", "p10", "median", "p90", "max"}
    assert 0 < s["assistant_token_share"] < 1
    assert s["system_prompt_coverage"] == 1.0
    assert s["default_epochs"] == 16  # OpenAI's heuristic: 100 // 6 examples
    assert s["estimated_training_tokens"] == s["estimated_training_tokens_per_epoch"] * 16


def test_json_shape():
    report, _ = findings("role_order.jsonl", pii_scan=False)
    out = report.to_json()
    assert {"format", "examples", "stats", "findings"} <= set(out)
    assert set(out["findings"][0]) >= {"kind", "severity", "lines", "message"}


def test_pii_of_every_default_type_at_its_line():
    report, _ = findings("pii.jsonl")
    by_entity = {f.entity: f.lines for f in report.findings if f.kind == "pii"}
    assert by_entity == {
        "PERSON": [1, 8],
        "EMAIL_ADDRESS": [2],
        "PHONE_NUMBER": [3],
        "CREDIT_CARD": [4],
        "IBAN_CODE": [5],
        "IP_ADDRESS": [6],
        "US_SSN": [7],
    }
    assert all("entity" in f.to_json() for f in report.findings if f.kind == "pii")


def test_pii_allow_and_entity_list():
    report, _ = findings("pii.jsonl", pii_entities=["EMAIL_ADDRESS"], pii_allow=["jane.doe@example.com"])
    assert not [f for f in report.findings if f.kind == "pii"]
