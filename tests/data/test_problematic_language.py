"""`problematic_language`: offensive or blocklisted answers in training data, found by line, dropped or kept.

The classifier (alt-profanity-check) loads once per process; every test here shares it."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from tunesmith import blocklist
from tunesmith.config import DataConfig
from tunesmith.data.check import check_files
from tunesmith.data.language import flag, offensive_scores
from tunesmith.data.prepare import prepare_dataset

ASSETS = Path(__file__).parent / "assets"
EXAMPLES = Path(__file__).parents[2] / "src" / "tunesmith" / "examples"
PLANTED = ASSETS / "problematic_language.jsonl"
LABELLED = ASSETS / "language" / "labelled.jsonl"
FAST = {"pii_scan": False, "diversity": False}


def _flagged(report) -> dict[int, dict]:
    return {f.lines[0]: f.to_json() for f in report.findings if f.kind == "problematic_language"}


def test_every_planted_answer_is_found_and_at_most_one_clean_line_in_50_is_flagged():
    """The acceptance of issue 31: abusive answers planted among clean ones (support answers, and clean lines a
    naive word list gets wrong: "kill the process", "Scunthorpe", "cocktail")."""
    rows = [json.loads(line) for line in PLANTED.read_text(encoding="utf-8").splitlines()]
    planted = {n for n, r in enumerate(rows, 1) if r["meta"].get("planted")}
    found = _flagged(check_files([PLANTED], DataConfig(), **FAST))
    assert planted <= set(found), f"missed planted lines {sorted(planted - set(found))}"
    clean = len(rows) - len(planted)
    false_positives = set(found) - planted
    assert len(false_positives) <= clean // 50, sorted(false_positives)
    assert all(f["file"] == str(PLANTED) and f["categories"] == ["offensive"] for f in found.values())
    assert all(f["severity"] == "warning" for f in found.values())


def test_measured_precision_and_recall_on_the_labelled_set_hold():
    """The figures docs/data.md gives for the default thresholds; a change of classifier or threshold that makes
    them worse fails here."""
    rows = [json.loads(line) for line in LABELLED.read_text(encoding="utf-8").splitlines()]
    items = [{"messages": [{"role": "assistant", "content": r["text"]}]} for r in rows]
    flagged = {f.index for f in flag(items, DataConfig(language_check=["offensive"]))}
    found = Counter(rows[i]["category"] for i in flagged)
    total = Counter(r["category"] for r in rows)
    assert total == {"clean": 80, "abusive": 23, "hateful": 10, "disallowed": 7}
    assert found["abusive"] >= 21
    assert found["clean"] <= 2
    assert found["hateful"] + found["disallowed"] >= 7


@pytest.mark.parametrize("example", ["support-desk", "credit-union"])
def test_the_bundled_examples_have_no_false_positive(example):
    files = sorted((EXAMPLES / example / "data").glob("*.jsonl"))
    assert not _flagged(check_files(files, DataConfig(), **FAST))


def test_a_sentence_is_scored_alone_so_one_insult_in_a_long_answer_is_found():
    polite = "Thanks for reaching out. Your order shipped on Monday and should arrive by Friday. "
    answer = polite * 3 + "Stop bothering us, you idiot."
    [(whole, sentence)] = offensive_scores([answer])
    assert sentence > DataConfig().language_sentence_threshold > whole


def test_blocklisted_phrases_are_flagged_with_the_phrase_and_the_eval_list_is_the_one_used(tmp_path):
    data = tmp_path / "data.jsonl"
    answers = ["We offer guaranteed  Returns on every plan.", "Your order ships today.", "It\u2019s a sure thing."]
    data.write_text(
        "".join(
            json.dumps({"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": a}]}) + "\n"
            for i, a in enumerate(answers)
        ),
        encoding="utf-8",
    )
    found = _flagged(check_files([data], DataConfig(), blocklist=["guaranteed returns", "it's a sure thing"], **FAST))
    assert {n: f["phrases"] for n, f in found.items()} == {1: ["guaranteed returns"], 3: ["it's a sure thing"]}
    assert found[1]["categories"] == ["blocklist"]
    off = DataConfig(language_check=[])
    assert not _flagged(check_files([data], off, blocklist=["guaranteed returns"], **FAST))
    strict = check_files([data], DataConfig(language_severity="error"), blocklist=["guaranteed returns"], **FAST)
    assert strict.has_errors


def test_only_the_chosen_answer_of_a_preference_pair_is_read(tmp_path):
    pairs = tmp_path / "pairs.jsonl"
    rows = [
        {
            "prompt": [{"role": "user", "content": "Where is my parcel?"}],
            "chosen": [{"role": "assistant", "content": "It arrives tomorrow."}],
            "rejected": [{"role": "assistant", "content": "Find it yourself, you stupid idiot."}],
        },
        {
            "prompt": [{"role": "user", "content": "Can I cancel?"}],
            "chosen": [{"role": "assistant", "content": "Shut up, moron, and cancel it yourself."}],
            "rejected": [{"role": "assistant", "content": "No."}],
        },
    ]
    pairs.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    assert set(_flagged(check_files([pairs], DataConfig(), **FAST))) == {2}


def _card(out: Path) -> str:
    return (out / "README.md").read_text(encoding="utf-8")


def test_prepare_drops_flagged_examples_by_default_and_the_card_counts_them(tmp_path):
    out = tmp_path / "ds"
    result = prepare_dataset([PLANTED], out, DataConfig(pii="off", refusals="off"))
    assert result.counts["dropped"]["problematic_language"] == result.counts["problematic_language"] >= 12
    kept = "\n".join((out / f"{s}.jsonl").read_text(encoding="utf-8") for s in ("train", "val", "test"))
    assert "planted-" not in kept
    assert "answers with offensive or blocklisted language" in _card(out)


def test_prepare_keeps_them_when_told_and_the_card_says_so(tmp_path):
    out = tmp_path / "ds"
    cfg = DataConfig(pii="off", refusals="off", problematic_language="keep")
    result = prepare_dataset([PLANTED], out, cfg)
    assert "problematic_language" not in result.counts["dropped"]
    assert result.counts["problematic_language"] >= 12
    kept = "\n".join((out / f"{s}.jsonl").read_text(encoding="utf-8") for s in ("train", "val", "test"))
    assert "planted-" in kept  # those that no duplicate or conflict removed
    assert "were **kept** and trained on" in _card(out)
    assert any("problematic language" in w for w in result.warnings)


def test_blocklist_matching_and_redaction():
    text = "We GUARANTEE  returns. It\u2019s a sure thing, guarantee returns!"
    assert blocklist.hits(text, ["guarantee returns", "it's a sure thing", "never"]) == [
        "guarantee returns",
        "it's a sure thing",
    ]
    assert blocklist.redact(text, ["guarantee returns", "sure thing"]) == (
        f"We {blocklist.REDACTED}. It\u2019s a {blocklist.REDACTED}, {blocklist.REDACTED}!"
    )
    assert blocklist.redact("abcdef", ["abcd", "cdef"]) == blocklist.REDACTED  # overlapping phrases: one span


def test_without_the_classifier_installed_the_check_says_how_to_get_it(monkeypatch):
    import sys

    from tunesmith.data import language
    from tunesmith.errors import ConfigError

    language._classifier.cache_clear()
    monkeypatch.setitem(sys.modules, "profanity_check", None)  # as if it were not installed
    try:
        with pytest.raises(ConfigError) as e:
            language.offensive_scores(["hello"])
        assert "pip install alt-profanity-check" in (e.value.hint or "")
    finally:
        language._classifier.cache_clear()
