"""Local phone numbers found through their context words, and words the name model takes for names (issue 30).

A seven-digit number without an area code is a phone number next to "phone", "call", "tel" or "mobile", and an
order number, an amount or a year without them. `max`, `Rotterdam`, `Forgotten` and `Bereavement` are not names;
real names still are. The figures in docs/data.md come from tests/data/pii_corpus.py.
"""

from __future__ import annotations

import json

import pytest
from tests.data.pii_corpus import clean_examples, false_per_1000, named_sentences, recall

from tunesmith.config import DataConfig
from tunesmith.data import pii
from tunesmith.data.prepare import prepare_dataset


def phones(text: str) -> list[str]:
    return [text[s.start : s.end] for s in pii.scan([text])[0] if s.entity == "PHONE_NUMBER"]


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("my phone is 555-0193", "555-0193"),
        ("call me on 555 0193 after six", "555 0193"),
        ("tel. 5550193", "5550193"),
        ("Tel: 555.0193", "555.0193"),
        ("my mobile number is 555-0193", "555-0193"),
        ("you can ring me on 555 0193", "555 0193"),
    ],
)
def test_a_local_number_with_a_context_word_is_a_phone_number(text, number):
    assert phones(text) == [number]


@pytest.mark.parametrize(
    "text",
    [
        "Order LH-21502 shipped on 12 May 2023.",
        "Order 555-0193 shipped",
        "I paid 5550193 dollars",
        "in 2024 we paid 1299",
    ],
)
def test_a_number_without_a_context_word_is_not(text):
    assert phones(text) == []


def test_the_preference_pair_of_the_issue_loses_the_name_and_the_number(tmp_path):
    names = ["Dana Whitfield", "Priya Raman", "Tomasz Kowalski", "Aisha Okafor"]
    rows = [
        {
            "prompt": [
                {"role": "user", "content": f"My name is {names[i % 4]} and my phone is 555-0193. Question {i}?"}
            ],
            "chosen": [{"role": "assistant", "content": f"Happy to help with question {i}: here is the answer."}],
            "rejected": [{"role": "assistant", "content": f"No idea about {i}."}],
        }
        for i in range(12)
    ]
    src = tmp_path / "pairs.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    prepare_dataset([src], tmp_path / "out", DataConfig(pii="redact"), seed=0)
    written = "".join((tmp_path / "out" / f"{s}.jsonl").read_text() for s in ("train", "val", "test"))
    assert "555-0193" not in written and not any(n.split()[1] in written for n in names)
    assert "<PHONE_NUMBER>" in written and "<PERSON>" in written


@pytest.mark.parametrize("value", ["max", "Rotterdam", "Forgotten", "Bereavement", "Careers", "Lunch", "Dear"])
def test_common_words_and_places_are_not_names(value):
    assert pii.not_a_name(value)


@pytest.mark.parametrize("value", ["Priya Raman", "James Whitaker", "james raman", "Charlotte Evans", "Tomasz"])
def test_names_are_names(value):
    assert not pii.not_a_name(value)


def test_clean_text_has_no_person_and_names_are_still_found():
    rate, values = false_per_1000(clean_examples(120))
    assert rate == 0, values
    assert recall(named_sentences(50)) >= 0.7  # 76% of 100 when measured; the small model misses some alone
    texts = ["what's the max number of vacation days", "Our office in Rotterdam opens at nine."]
    assert pii.scan(texts, entities=["PERSON"]) == [[], []]
