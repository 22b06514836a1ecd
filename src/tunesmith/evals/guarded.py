"""The guarded arm: the fine_tuned arm's answers, with the questions the scope guard declines answered by the house
refusal. It generates nothing, so it costs the evaluation only the embeddings of its questions."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from tunesmith.artifacts import read_jsonl
from tunesmith.data.scope_guard import CalibratedGuard, CurvePoint, ScopeGuard, curve
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


def guarded_arm(
    dataset_dir: Path,
    cases: list[TestCase],
    fine_tuned: list[Prediction],
    fine_tuned_wall_s: float,
    *,
    max_over_refusal: float,
) -> tuple[list[Prediction], float, Guard]:
    """The arm's answers and wall time, and the guard that made them (threshold from train and val, curves)."""
    guard = ScopeGuard.from_records(_split(dataset_dir, "train"))
    calibration = guard.calibrate(_split(dataset_dir, "val"), max_over_refusal)
    t0 = time.perf_counter()
    margins = guard.margins([last_user(c.prompt) for c in cases])
    guard_ms = (time.perf_counter() - t0) * 1000 / max(len(cases), 1)
    if calibration.threshold is None:
        declined = np.zeros(len(cases), dtype=bool)
    else:
        declined = margins < calibration.threshold
    preds = [
        Prediction(guard.refusal, 0, 0, p.latency_ms + guard_ms)
        if d
        else replace(p, latency_ms=p.latency_ms + guard_ms)
        for p, d in zip(fine_tuned, declined, strict=True)
    ]
    out_of_scope = np.array([bool(ABSTAIN_TAGS.intersection(c.tags)) for c in cases], dtype=bool)
    model_declined = np.array([is_refusal(p.text) for p in fine_tuned], dtype=bool)
    both_kinds = calibration.threshold is not None and out_of_scope.any() and not out_of_scope.all()
    summary = Guard(
        threshold=calibration.threshold,
        note=calibration.note,
        validation_in_scope=calibration.in_scope,
        validation_out_of_scope=calibration.out_of_scope,
        declined=int(declined.sum()),
        validation_curve=_points(calibration.curve),
        test_curve=_points(curve(margins, out_of_scope, model_declined)) if both_kinds else [],
    )
    return preds, fine_tuned_wall_s + guard_ms * len(cases) / 1000, summary


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
    return CalibratedGuard(ScopeGuard.from_records(_split(dataset_dir, "train")), float(results.guard.threshold))
