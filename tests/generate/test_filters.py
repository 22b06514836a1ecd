"""The quality filters of generated drafts, one by one (issue 27, item 4)."""

from __future__ import annotations

from tunesmith.config import GenerateConfig
from tunesmith.generate.filters import cap_refusals, quality_filter


def draft(question: str, answer: str, *tags: str) -> dict:
    return {
        "messages": [{"role": "user", "content": question}, {"role": "assistant", "content": answer}],
        "meta": {"tags": ["generated", "needs_review", *tags]},
    }


def kept(records: list[dict], cfg: GenerateConfig | None = None, **kwargs) -> tuple[list[str], dict[str, int]]:
    options = {"existing": [], "test": [], "threshold": 0.8, **kwargs}
    result = quality_filter(records, cfg or GenerateConfig(), **options)
    return [r["messages"][0]["content"] for r in result.kept], dict(result.dropped)


def test_language_drops_only_what_is_surely_another_language() -> None:
    questions, dropped = kept(
        [
            draft("How long is the refund window?", "You can return any unused item within 45 days of delivery."),
            draft("Wie lange dauert eine Rückerstattung?", "Sie haben 45 Tage Zeit, um einen Artikel zurückzugeben."),
            draft("Open on Sunday?", "Yes, 10-4."),  # too few words to tell: kept
        ]
    )
    assert questions == ["How long is the refund window?", "Open on Sunday?"] and dropped == {"language": 1}
    assert len(kept([draft("Wie lange dauert das?", "Sie haben 45 Tage Zeit.")], GenerateConfig(language=None))[0]) == 1


def test_length_and_duplicates_of_the_test_the_data_and_each_other() -> None:
    records = [
        draft("How do I send a return back by post?", "Print the prepaid label from your account page."),
        draft("How do I send my return back by post?", "Use the prepaid label."),  # a near twin (Jaccard 0.81)
        draft("Where are your shops?", "York and Bristol."),
        draft("Do you sell gift cards?", "Yes, in every shop."),
        draft("Hi?", "Yes."),
    ]
    questions, dropped = kept(
        records, test=["How do I send a return back by post"], existing=["do you sell gift cards"]
    )
    assert questions == ["Where are your shops?"]
    assert dropped == {"in_test": 2, "in_data": 1, "length": 1}


def test_the_judge_drops_low_scores_and_the_refusals_are_capped() -> None:
    answers = [
        ("How long is the warranty on a tent?", "Three years against manufacturing defects."),
        ("Which shops accept online returns?", "Our shops in York and Bristol accept them."),
        ("When does the tracking link work?", "Within 24 hours of the parcel leaving the depot."),
        ("What is the restocking fee for kayaks?", "Fifteen percent of the price."),
    ]
    refusals = [
        "Can you give me legal advice on my lease?",
        "What is your chief executive's salary?",
        "Is my back pain covered by my health insurance?",
        "What will a competitor charge for tents?",
    ]
    records = [draft(q, a) for q, a in answers]
    records += [draft(q, "I'm sorry, I can't help with that here.", "refusal") for q in refusals]
    cfg = GenerateConfig(judge_min_score=3, max_refusal_share=0.25)

    def judge(rows: list[dict]) -> list[int]:
        return [1 if "kayaks" in r["messages"][0]["content"] else 4 for r in rows]

    questions, dropped = kept(records, cfg, judge=judge)
    assert dropped == {"judge": 1, "refusal_share": 3}  # 3 answers kept: 1 refusal is 25% of the 4 kept
    assert questions == [q for q, _ in answers[:3]] + refusals[:1]
    assert cap_refusals(records, 1.0) == (records, 0)
