"""The scope guard and the guarded arm, on a domain of their own (a public library's help desk), not the examples.

The guard is calibrated on the validation split only; these tests pin that, the trade-off curve, the arm that
reuses the fine-tune's answers, and what serving needs from the evaluation.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from tunesmith.config import EvalConfig
from tunesmith.data.scope_guard import ScopeGuard, curve
from tunesmith.errors import ConfigError
from tunesmith.evals.cases import TestCase as Case
from tunesmith.evals.guarded import guard_plan, guarded_arm, reanswer, served_guard
from tunesmith.evals.report import render_report, render_summary_md
from tunesmith.evals.results import EvalResults
from tunesmith.evals.stats import aggregate
from tunesmith.models.generation import Prediction

REFUSAL = "I'm sorry, I can only help with Riverside Library's loans, cards and events."
IN_SCOPE = [
    ("How many books can I borrow at once?", "You can borrow up to 12 items on one library card."),
    ("How long is the loan period for books?", "Books are lent for three weeks and can be renewed twice."),
    ("Can I renew my loans online?", "Yes: sign in to your account on the catalogue and choose Renew."),
    ("What are the late fees for overdue books?", "Overdue books cost 20p a day, up to £5 per item."),
    ("How do I get a library card?", "Bring photo ID and proof of address to any branch; the card is free."),
    ("Where can I return books after hours?", "Use the book drop by the main entrance; it is open all night."),
    ("Can I reserve a book that is on loan?", "Yes, reserve it in the catalogue for 50p and we email you."),
    ("Do you lend e-books?", "Yes, through the Libby app with your library card number and PIN."),
    ("How do I book a study room?", "Study rooms can be booked online up to a week ahead, two hours a day."),
    ("Are there children's storytime sessions?", "Storytime runs every Saturday at 10am in the children's area."),
]
OUT_OF_SCOPE = [
    "What is the price of bitcoin today?",
    "Can you recommend a good car insurance policy?",
    "Should I take paracetamol or ibuprofen for a headache?",
    "What will the weather be like this weekend?",
    "Can you help me write my tax return?",
]
VAL = [
    ("How many items can I take out on my card?", "You can borrow up to 12 items on one library card."),
    ("What does it cost if I return a book late?", "Overdue books cost 20p a day, up to £5 per item."),
    ("Is it possible to get e-books from you?", "Yes, through the Libby app with your library card number and PIN."),
    ("Which stocks should I buy this year?", REFUSAL),
    ("Is it going to rain tomorrow?", REFUSAL),
]


def _row(question: str, answer: str, tags: list[str] | None = None) -> dict[str, Any]:
    messages = [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
    return {"messages": messages, "meta": {"tags": tags or []}}


TRAIN = [_row(q, a) for q, a in IN_SCOPE] + [_row(q, REFUSAL, ["refusal"]) for q in OUT_OF_SCOPE]


@pytest.fixture(scope="module")
def guard() -> ScopeGuard:
    return ScopeGuard.from_records(TRAIN)


def test_calibration_picks_a_threshold_between_the_validation_classes(guard: ScopeGuard) -> None:
    calibration = guard.calibrate([_row(q, a) for q, a in VAL], 0.025)
    margins = guard.margins([q for q, _ in VAL])
    in_scope, out = margins[:3], margins[3:]
    assert out.max() < in_scope.min()  # MiniLM separates this domain's validation questions
    assert calibration.threshold is not None
    assert out.max() < calibration.threshold < in_scope.min()
    # Calibrated on validation and on training, each training question scored against the others: 3 + 10 in scope
    assert (calibration.in_scope, calibration.out_of_scope) == (13, 7)
    assert "at most 2.5% of the 13 in-scope calibration questions (3 of validation" in calibration.note
    assert guard.refusal == REFUSAL  # the data's own refusal, not a template


def test_the_guard_declines_new_out_of_scope_questions_and_keeps_paraphrases(guard: ScopeGuard) -> None:
    threshold = guard.calibrate([_row(q, a) for q, a in VAL], 0.025).threshold
    assert threshold is not None
    margins = guard.margins(["What's the exchange rate of the euro today?", "Can I renew my books on the website?"])
    assert margins[0] < threshold < margins[1]


def test_the_threshold_bounds_over_refusal_on_held_in_questions_not_the_few_validation_refusals(
    guard: ScopeGuard,
) -> None:
    """A validation split without refusals still calibrates (the training refusals, each left out, are there);
    a larger budget moves the threshold up past exactly that share of the in-scope calibration margins."""
    no_val_refusals = guard.calibrate([_row(q, a) for q, a in VAL[:3]], 0.025)
    assert no_val_refusals.threshold is not None and no_val_refusals.out_of_scope == 5
    train_in, _ = guard._left_out_margins()
    in_margins = np.sort(np.concatenate([train_in, guard.margins([q for q, _ in VAL[:3]])]))
    assert no_val_refusals.threshold < in_margins[0]  # 2.5% of 13 questions: none may be declined
    budget = guard.calibrate([_row(q, a) for q, a in VAL[:3]], 0.2)  # 20% of 13: two may be
    assert budget.threshold is not None and in_margins[1] < budget.threshold < in_margins[2]
    assert budget.curve and "declines 15.4% of them" in budget.note


def test_without_training_refusals_to_compare_the_guard_is_off_and_says_why() -> None:
    no_refusals = ScopeGuard.from_records(TRAIN[: len(IN_SCOPE)])
    assert not no_refusals.usable
    calibration = no_refusals.calibrate([_row(q, a) for q, a in VAL], 0.025)
    assert calibration.threshold is None and calibration.curve == []
    assert "training split has no refusals" in calibration.note
    one = ScopeGuard.from_records(TRAIN[: len(IN_SCOPE) + 1])
    assert "a single refusal" in one.calibrate([_row(q, a) for q, a in VAL], 0.025).note


def test_curve_runs_from_the_models_own_refusals_to_declining_everything() -> None:
    margins = np.array([0.3, 0.1, -0.2, 0.05])
    out = np.array([False, False, True, True])
    alone = curve(margins, out)
    assert (alone[0].abstention, alone[0].over_refusal) == (0.0, 0.0)
    assert (alone[-1].abstention, alone[-1].over_refusal) == (1.0, 1.0)
    assert all(a.threshold < b.threshold for a, b in zip(alone, alone[1:], strict=False))
    model_declined = np.array([True, False, False, False])  # the model over-refuses the first question itself
    guarded = curve(margins, out, model_declined)
    assert (guarded[0].abstention, guarded[0].over_refusal) == (0.0, 0.5)


def _dataset(tmp_path: Path, val: list[tuple[str, str]], train: list[dict[str, Any]] = TRAIN) -> Path:
    for name, rows in (("train", train), ("val", [_row(q, a) for q, a in val])):
        (tmp_path / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return tmp_path


def _plan(dataset: Path, **eval_fields: Any):
    return guard_plan(dataset, CASES, EvalConfig(**eval_fields))


CASES = [
    Case("in-1", ["loans"], [{"role": "user", "content": "How many books may I borrow?"}], IN_SCOPE[0][1]),
    Case("in-2", ["fees"], [{"role": "user", "content": "What's the fine for a late book?"}], IN_SCOPE[3][1]),
    Case("oos-1", ["out_of_scope"], [{"role": "user", "content": "What's the price of gold?"}], REFUSAL),
    Case("oos-2", ["out_of_scope"], [{"role": "user", "content": "Can I borrow 12 books?"}], REFUSAL),
]


def test_guarded_arm_declines_below_the_threshold_and_keeps_the_fine_tunes_other_answers(tmp_path: Path) -> None:
    fine_tuned = [Prediction(f"answer {i}", 10, 5, 100.0) for i in range(len(CASES))]
    preds, wall_s, summary = guarded_arm(_plan(_dataset(tmp_path, VAL)), CASES, fine_tuned, 2.0)
    assert summary.threshold is not None and summary.declined == 1
    assert preds[2].text == REFUSAL and (preds[2].prompt_tokens, preds[2].completion_tokens) == (0, 0)
    assert [p.text for i, p in enumerate(preds) if i != 2] == ["answer 0", "answer 1", "answer 3"]
    assert all(p.latency_ms >= 100.0 for p in preds) and wall_s >= 2.0  # the guard's time is the arm's
    # oos-2 looks in scope to the guard (it is a loan question): the test curve shows it, never moves the threshold
    assert summary.test_curve[-1].abstention == 1.0 and len(summary.validation_curve) == 13 + 7 + 1


class _Tokens:
    """First token of a text: its first word, numbered; enough to check which openings are suppressed."""

    def __call__(self, text: str, add_special_tokens: bool = False) -> dict[str, list[int]]:
        return {"input_ids": [len(text.split()[0])] if text.split() else []}


def test_the_guard_asks_again_only_refusals_of_questions_it_is_sure_are_in_scope(tmp_path: Path) -> None:
    """in-1 and in-2 sit well inside the domain: the fine-tune's refusal of in-1 is asked again with the data's
    refusal openings suppressed; its refusal of the loan-like out-of-scope oos-2 is asked again too only if the
    guard is that sure of it, and the declined oos-1 never reaches the model."""
    plan = _plan(_dataset(tmp_path, VAL))
    above = plan.calibration.reanswer_above
    assert above is not None and plan.calibration.threshold is not None
    assert above >= plan.calibration.threshold and "is asked again" in plan.calibration.note
    fine_tuned = [Prediction(t, 10, 5, 100.0) for t in (REFUSAL, "12 items.", REFUSAL, REFUSAL)]
    convs = [c.prompt for c in CASES]
    asked: list[tuple[list[str], list[int]]] = []

    def answer(conversations: list[list[dict[str, str]]], *, suppress_first: list[int], label: str) -> list:
        asked.append(([c[-1]["content"] for c in conversations], suppress_first))
        return [Prediction(f"again {k}", 3, 4, 50.0) for k in range(len(conversations))]

    again, _ = reanswer(plan, fine_tuned, convs, _Tokens(), answer)
    sure = [i for i in (0, 3) if plan.margins[i] >= above]
    assert 0 in sure and sorted(again) == sure
    assert asked == [([convs[i][-1]["content"] for i in sure], [len("I'm")])]
    preds, _, summary = guarded_arm(plan, CASES, fine_tuned, 2.0, again, 1.0)
    assert preds[0].text == "again 0" and (preds[0].prompt_tokens, preds[0].completion_tokens) == (13, 9)
    assert preds[1].text == "12 items." and preds[2].text == REFUSAL  # declined by the guard: the house refusal
    assert summary.reanswered == len(sure) and summary.reanswer_above == above
    off = _plan(_dataset(tmp_path, VAL), guard_reanswer_quantile=None)
    assert off.calibration.reanswer_above is None and reanswer(off, fine_tuned, convs, _Tokens(), answer)[0] == {}


def test_generation_can_forbid_the_first_token(tiny_model_dir) -> None:
    """What asking again relies on: with its greedy first token suppressed, the model starts with another one."""
    from tunesmith.models.chat import end_of_turn_ids, render
    from tunesmith.models.generation import generate, greedy
    from tunesmith.models.loading import load_model, load_tokenizer

    model, tokenizer = load_model(str(tiny_model_dir)), load_tokenizer(str(tiny_model_dir))
    conv = [{"role": "user", "content": "How many books can I borrow?"}]
    eos = end_of_turn_ids(tokenizer, None)
    enc = tokenizer([render(tokenizer, conv, add_generation_prompt=True)], return_tensors="pt")
    first = int(greedy(model, tokenizer, enc, max_new_tokens=1, eos_ids=eos)[0, -1])
    kwargs = {"max_new_tokens": 6, "batch_size": 1, "eos_ids": eos}
    plain = generate(model, tokenizer, [conv], **kwargs)[0].text
    other = generate(model, tokenizer, [conv], suppress_first=[first], **kwargs)[0].text
    assert plain.startswith(tokenizer.decode([first]).strip()) and other != plain


def test_guarded_arm_is_the_fine_tune_itself_when_nothing_calibrates_it(tmp_path: Path) -> None:
    fine_tuned = [Prediction(f"answer {i}", 10, 5, 100.0) for i in range(len(CASES))]
    one_refusal = TRAIN[: len(IN_SCOPE) + 1]
    dataset = _dataset(tmp_path, VAL, one_refusal)
    preds, _, summary = guarded_arm(_plan(dataset), CASES, fine_tuned, 2.0)
    assert [p.text for p in preds] == [p.text for p in fine_tuned]
    assert summary.threshold is None and summary.declined == 0 and summary.test_curve == []


def test_the_guarded_arm_needs_the_fine_tuned_arm() -> None:
    with pytest.raises(ValidationError, match="guarded arm is the fine_tuned arm's answers"):
        EvalConfig(arms=["base", "guarded"])
    assert "guarded" in EvalConfig().arms  # a default: it costs no generation


def _results_with_guard(tmp_path: Path) -> EvalResults:
    fine_tuned = [Prediction(REFUSAL if i == 3 else f"answer {i}", 10, 5, 100.0) for i in range(len(CASES))]
    preds, _, summary = guarded_arm(_plan(_dataset(tmp_path, VAL)), CASES, fine_tuned, 2.0)
    examples = [
        {
            "id": c.id,
            "tags": c.tags,
            "prompt": c.prompt[-1]["content"],
            "reference": c.reference,
            "arms": {
                arm: {"prediction": p.text, "metrics": {"rougeL": float(p.text == c.reference)}}
                for arm, p in (("fine_tuned", f), ("guarded", g))
            },
        }
        for c, f, g in zip(CASES, fine_tuned, preds, strict=True)
    ]
    stats = aggregate(examples, ["fine_tuned", "guarded"], "fine_tuned")
    return EvalResults.model_validate(
        {
            "title": "library",
            "created_at": "2026-12-07T00:00:00+00:00",
            "reference_arm": "fine_tuned",
            "headline_metric": "rougeL",
            "metrics": ["rougeL"],
            "arms": {arm: {**s, "description": arm} for arm, s in stats.items()},
            "slices": {},
            "examples": examples,
            "dataset": {"path": "test.jsonl", "sha256": "0" * 64, "n_test": len(CASES)},
            "lineage": {"dataset_dir": str(tmp_path)},
            "guard": summary.model_dump(),
            "gates": [],
        }
    )


def test_report_shows_the_threshold_its_origin_and_the_curve(tmp_path: Path) -> None:
    results = _results_with_guard(tmp_path)
    render_report(results, tmp_path / "report.html")
    page = (tmp_path / "report.html").read_text()
    assert "<h2>Scope guard</h2>" in page and "in-scope calibration questions (3 of validation" in page
    assert 'alt="abstention against over-refusal over the scope guard' in page
    assert "scope guard (the guarded arm): threshold" in render_summary_md(results)


def test_serving_takes_the_threshold_of_the_last_evaluation(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no evaluation"):
        served_guard(tmp_path / "eval")
    results = _results_with_guard(tmp_path)
    (tmp_path / "eval").mkdir()
    (tmp_path / "eval" / "results.json").write_text(json.dumps(results.to_json()))
    served = served_guard(tmp_path / "eval")
    assert served.threshold == results.guard.threshold  # type: ignore[union-attr]
    assert served.refusal_for("What's the price of gold?") == REFUSAL
    assert served.refusal_for("How many books may I borrow?") is None
    off = results.model_copy(update={"guard": results.guard.model_copy(update={"threshold": None})})  # type: ignore[union-attr]
    (tmp_path / "eval" / "results.json").write_text(json.dumps(off.to_json()))
    with pytest.raises(ConfigError, match="no calibrated scope guard"):
        served_guard(tmp_path / "eval")
