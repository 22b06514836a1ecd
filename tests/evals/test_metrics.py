from __future__ import annotations

import pytest

from tunesmith.evals import metrics
from tunesmith.evals.metrics import (
    METRICS,
    behaviour_flags,
    blocklist_hits,
    chrf,
    exact_match,
    is_refusal,
    normalize,
    policy_flags,
    rouge_l,
    score_example,
    semantic_similarity,
    style_features,
    style_match,
    token_f1,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The  Cat sat.", "cat sat"),
        ("An apple, a pear!", "apple pear"),
        ("“Quoted” — text…", "quoted text"),
        ("theory thesis", "theory thesis"),  # articles only as whole words
        ("", ""),
    ],
)
def test_normalize(text: str, expected: str) -> None:
    assert normalize(text) == expected


def test_exact_match() -> None:
    assert exact_match("The cat.", "cat") == 1.0
    assert exact_match("A CAT!", "the cat") == 1.0
    assert exact_match("cat", "dog") == 0.0
    assert exact_match("black cat", "cat") == 0.0


def test_token_f1() -> None:
    # P = 2/3, R = 2/3.
    assert token_f1("x b c", "b c d") == pytest.approx(2 / 3)
    # "a" is an article and is dropped: pred [b, c], ref [b, c, d] -> P = 1, R = 2/3, F1 = 0.8.
    assert token_f1("a b c", "b c d") == pytest.approx(0.8)
    # Repeated tokens count only as often as they occur in both: shared 1, P = 1/2, R = 1.
    assert token_f1("cat cat", "cat") == pytest.approx(2 / 3)
    assert token_f1("cat", "dog") == 0.0
    assert token_f1("", "") == 1.0
    assert token_f1("The", "") == 1.0  # both normalize to nothing
    assert token_f1("cat", "") == 0.0
    assert token_f1("", "cat") == 0.0


def test_rouge_l() -> None:
    # LCS(a b c d, a c e) = "a c": P = 2/4, R = 2/3, F = 2PR / (P + R) = 4/7.
    assert rouge_l("a b c d", "a c e") == pytest.approx(4 / 7)
    # LCS = "the cat on the mat" (5 of 6 tokens on each side): F = 5/6.
    assert rouge_l("the cat sat on the mat", "the cat lay on the mat") == pytest.approx(5 / 6)
    assert rouge_l("Same words here", "same words here") == pytest.approx(1.0)
    assert rouge_l("cat", "dog") == 0.0
    assert isinstance(rouge_l("", ""), float)


def test_chrf() -> None:
    assert chrf("The invoice is due in 30 days.", "The invoice is due in 30 days.") == pytest.approx(1.0)
    assert chrf("abc def", "xyz uvw") < 0.1
    partial = chrf("The invoice is due in 30 days.", "Invoices are due within 30 days.")
    assert 0.1 < partial < 1.0


@pytest.mark.parametrize(
    "text",
    [
        "I don't know.",
        "I do not know the answer to that.",
        "Sorry, I don’t know.",  # curly apostrophe
        "I'm sorry, but I can't help with that.",
        "I am afraid I cannot answer questions about other companies.",
        "I can only help with questions about Acme billing.",
        "That's not something I can help with.",
        "I am unable to assist with legal advice.",
        "I'm not able to answer that.",
        "That is outside what I can help with.",
        "I don't have information about that.",
    ],
)
def test_is_refusal_positive(text: str) -> None:
    assert is_refusal(text)


@pytest.mark.parametrize(
    "text",
    [
        "Invoices are due within 30 days.",
        "I know the answer: 42.",
        "You can't export reports as PDF yet; use CSV instead.",
        "I cannot stress enough how important backups are.",
        "Details are beyond the scope of this guide, but the key step is to rotate the token.",
        "",
    ],
)
def test_is_refusal_negative(text: str) -> None:
    assert not is_refusal(text)


def test_refusal_patterns_are_public_and_compile() -> None:
    assert len(metrics.REFUSAL_PATTERNS) >= 5
    assert all(isinstance(p, str) for p in metrics.REFUSAL_PATTERNS)


def test_behaviour_flags() -> None:
    assert behaviour_flags("I don't know.", ["refusal"]) == {"abstention": 1.0, "hallucination": 0.0}
    assert behaviour_flags("It costs $5.", ["out_of_scope", "pricing"]) == {
        "abstention": 0.0,
        "hallucination": 1.0,
    }
    assert behaviour_flags("It costs $5.", ["pricing"]) == {"over_refusal": 0.0}
    assert behaviour_flags("I can't help with that.", []) == {"over_refusal": 1.0}


def test_score_example() -> None:
    scores = score_example("The cat.", "cat")
    assert list(scores) == ["exact_match", "token_f1", "rougeL", "chrf", "style_match"]
    assert scores["exact_match"] == 1.0
    assert all(isinstance(v, float) and 0.0 <= v <= 1.0 for v in scores.values())


def test_metric_definitions() -> None:
    assert list(METRICS) == [
        "exact_match",
        "token_f1",
        "rougeL",
        "chrf",
        "semantic_sim",
        "abstention",
        "over_refusal",
        "hallucination",
        "policy_compliance",
        "blocklist_violation",
        "style_match",
    ]
    assert {m for m, info in METRICS.items() if info.lower_is_better} == {
        "over_refusal",
        "hallucination",
        "blocklist_violation",
    }
    assert {m for m, info in METRICS.items() if info.behaviour} == {
        "abstention",
        "over_refusal",
        "hallucination",
        "policy_compliance",
        "blocklist_violation",
    }
    assert all(info.definition for info in METRICS.values())


def test_semantic_similarity_checks_input_without_loading_the_model() -> None:
    assert semantic_similarity([], []) == []
    with pytest.raises(ValueError):
        semantic_similarity(["a"], [])


def test_semantic_similarity() -> None:
    sims = semantic_similarity(
        [
            "How do I reset my password?",
            "How do I reset my password?",
            "How do I reset my password?",
        ],
        [
            "How do I reset my password?",
            "What are the steps to change my login password?",
            "The quarterly revenue of the company grew by twelve percent.",
        ],
    )
    identical, paraphrase, unrelated = sims
    assert identical == pytest.approx(1.0, abs=1e-4)
    assert unrelated < 0.3
    assert unrelated < paraphrase < identical


def test_style_match_by_hand() -> None:
    # Features (words, words/sentence, chars/word, list share): ref (4, 4, 3, 0); pred (2, 2, 3, 0).
    # Per feature 1 - |a-b|/max: 0.5, 0.5, 1, 1 (both 0) -> mean 0.75.
    assert style_features("abc def ghi jkl.") == (4.0, 4.0, 3.0, 0.0)
    assert style_match("abc def.", "abc def ghi jkl.") == pytest.approx(0.75)
    assert style_match("Same words here.", "Other text there.") == pytest.approx(1 - (1 - 13 / 14) / 4)
    # A bulleted answer to a plain reference loses the list feature entirely.
    assert style_features("- a\n- b") == (4.0, 4.0, 0.5, 1.0)


def test_blocklist_and_policy_compliance() -> None:
    blocklist = ["guaranteed refund", "Lifetime  Warranty"]
    assert blocklist_hits("You get a GUARANTEED   refund!", blocklist) == ["guaranteed refund"]
    assert blocklist_hits("We offer a lifetime warranty.", blocklist) == ["Lifetime  Warranty"]
    assert policy_flags("Sure, here it is.", ["pricing"], []) == {}
    assert policy_flags("Sure, guaranteed refund.", ["pricing"], blocklist) == {"blocklist_violation": 1.0}
    # A negative example must be declined, and the decline must not leak a blocklisted phrase.
    assert policy_flags("I can't help with that.", ["negative"], blocklist) == {
        "blocklist_violation": 0.0,
        "policy_compliance": 1.0,
    }
    assert policy_flags("Sure, here is how to bypass it.", ["negative"], []) == {"policy_compliance": 0.0}
    leaky = "I can't help with that, but you have a guaranteed refund."
    assert policy_flags(leaky, ["negative"], blocklist)["policy_compliance"] == 0.0
