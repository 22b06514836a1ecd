"""The guarded arm: the fine_tuned arm's answers, with the questions the scope guard declines answered by the house
refusal, and the fine-tune's refusals of questions the guard is sure are in scope asked again. It generates only
those, so it costs the evaluation little more than the embeddings of its questions."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from tunesmith.artifacts import read_jsonl
from tunesmith.config import EvalConfig
from tunesmith.data.scope_guard import CalibratedGuard, Calibration, CurvePoint, ScopeGuard, curve
from tunesmith.errors import ConfigError
from tunesmith.evals.arms import last_user
from tunesmith.evals.cases import TestCase
from tunesmith.evals.metrics import ABSTAIN_TAGS
from tunesmith.evals.results import EvalResults, Guard, GuardPoint
from tunesmith.models.generation import Prediction
from tunesmith.records import as_conversation
from tunesmith.refusals import is_refusal


def _points(points: list[CurvePoint]) -> list[GuardPoint]:
    return [GuardPoint(threshold=p.threshold, abstention=p.abstention, over_refusal=p.over_refusal) for p in points]


def _split(dataset_dir: Path, name: str) -> list[dict[str, Any]]:
    path = dataset_dir / f"{name}.jsonl"
    return [as_conversation(r) for r in read_jsonl(path)] if path.is_file() else []


@dataclass(frozen=True)
class GuardPlan:
    """The guard, calibrated before any model loads (it needs only the dataset), and where each test question sits."""

    guard: ScopeGuard
    calibration: Calibration
    margins: np.ndarray  # one per test case
    seconds: float  # embedding the test questions: the guard's own cost


def guard_plan(dataset_dir: Path, cases: list[TestCase], ec: EvalConfig) -> GuardPlan:
    guard = ScopeGuard.from_records(_split(dataset_dir, "train"))
    calibration = guard.calibrate(_split(dataset_dir, "val"), ec.guard_max_over_refusal, ec.guard_reanswer_quantile)
    t0 = time.perf_counter()
    margins = guard.margins([last_user(c.prompt) for c in cases])
    return GuardPlan(guard, calibration, margins, time.perf_counter() - t0)


def reanswer(
    plan: GuardPlan,
    answers: list[Prediction],
    conversations: list[list[dict[str, str]]],
    tokenizer: Any,
    answer: Callable[..., list[Prediction]],
) -> tuple[dict[int, Prediction], float]:
    """The fine-tune's refusals of questions the guard is sure are in scope, asked again with the first tokens of the
    data's refusals suppressed (transformers' `begin_suppress_tokens`), and the seconds that took.

    A small fine-tune trained on refusals declines some in-scope questions it was never shown in those words (8 of
    52 on the credit union); the guard, which saw every training question, knows better where they sit.
    """
    above = plan.calibration.reanswer_above
    if above is None:
        return {}, 0.0
    again = [i for i, (p, m) in enumerate(zip(answers, plan.margins, strict=True)) if m >= above and is_refusal(p.text)]
    if not again:
        return {}, 0.0
    openings = plan.guard.refusal_openings(tokenizer)
    t0 = time.perf_counter()
    new = answer([conversations[i] for i in again], suppress_first=list(openings), label="eval guarded, asked again")
    return dict(zip(again, new, strict=True)), time.perf_counter() - t0


def guarded_arm(
    plan: GuardPlan,
    cases: list[TestCase],
    fine_tuned: list[Prediction],
    fine_tuned_wall_s: float,
    reanswered: dict[int, Prediction] | None = None,
    reanswer_s: float = 0.0,
) -> tuple[list[Prediction], float, Guard]:
    """The arm's answers and wall time, and the guard that made them (thresholds from train and val, curves):
    declined below the threshold, asked again where `reanswered` has an answer, fine_tuned's answer otherwise."""
    calibration, reanswered = plan.calibration, reanswered or {}
    guard_ms = plan.seconds * 1000 / max(len(cases), 1)
    if calibration.threshold is None:
        declined = np.zeros(len(cases), dtype=bool)
    else:
        declined = plan.margins < calibration.threshold
    preds = []
    for i, (p, d) in enumerate(zip(fine_tuned, declined, strict=True)):
        if d:
            preds.append(Prediction(plan.guard.refusal, 0, 0, p.latency_ms + guard_ms))
        elif (r := reanswered.get(i)) is not None:
            tokens = (p.prompt_tokens + r.prompt_tokens, p.completion_tokens + r.completion_tokens)
            preds.append(Prediction(r.text, *tokens, p.latency_ms + r.latency_ms + guard_ms))
        else:
            preds.append(replace(p, latency_ms=p.latency_ms + guard_ms))
    out_of_scope = np.array([bool(ABSTAIN_TAGS.intersection(c.tags)) for c in cases], dtype=bool)
    model_declined = np.array([is_refusal(p.text) for p in fine_tuned], dtype=bool)
    both_kinds = calibration.threshold is not None and out_of_scope.any() and not out_of_scope.all()
    summary = Guard(
        threshold=calibration.threshold,
        note=calibration.note,
        validation_in_scope=calibration.in_scope,
        validation_out_of_scope=calibration.out_of_scope,
        declined=int(declined.sum()),
        reanswer_above=calibration.reanswer_above,
        reanswered=len(reanswered),
        validation_curve=_points(calibration.curve),
        test_curve=_points(curve(plan.margins, out_of_scope, model_declined)) if both_kinds else [],
    )
    return preds, fine_tuned_wall_s + plan.seconds + reanswer_s, summary


def served_guard(eval_dir: Path) -> CalibratedGuard:
    """The guard of the last evaluation: its training split and the threshold it picked on validation."""
    results_path = eval_dir / "results.json"
    if not results_path.is_file():
        raise ConfigError(
            f"serve.guard is on, and there is no evaluation in {eval_dir} to take the guard's threshold from",
            hint="run tunesmith eval (with the guarded arm, a default) first, or set serve.guard: false",
        )
    results = EvalResults.model_validate_json(results_path.read_text(encoding="utf-8"))
    if results.guard is None or results.guard.threshold is None:
        why = results.guard.note if results.guard else "the evaluation had no guarded arm"
        raise ConfigError(
            f"serve.guard is on, and the last evaluation has no calibrated scope guard ({why})",
            hint="add guarded to eval.arms and run tunesmith eval again, or set serve.guard: false",
        )
    if results.lineage.dataset_dir is None:
        raise ConfigError(f"{results_path} names no dataset to build the scope guard from", hint="run tunesmith eval")
    dataset_dir = Path(results.lineage.dataset_dir)
    guard = ScopeGuard.from_records(_split(dataset_dir, "train"))
    return CalibratedGuard(guard, float(results.guard.threshold), results.guard.reanswer_above)
