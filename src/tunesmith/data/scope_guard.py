"""The scope guard: a question nearer the project's out-of-scope questions than its in-scope ones is declined
before the model answers.

A small fine-tune learns the house voice faster than the edge of what it was taught: on the credit-union example
the 135M model answered 4 of 14 out-of-scope test questions as if they were policy. The guard needs no model: it
scores a question by its *margin*, the cosine similarity (the shared MiniLM embedder) to the nearest in-scope
training question minus that to the nearest out-of-scope one (the data's refusals, with the near-domain ones that
`data.refusals: auto` adds). Below the threshold it answers with the house refusal.

The threshold is chosen on the validation split, never on the test split: the one that best separates its
in-scope questions from its out-of-scope ones (abstention minus over-refusal), in the middle of the tied range
so that it does not hug either side. With no out-of-scope question to calibrate on, the guard stays off and says so.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tunesmith.data.stats import is_refusal
from tunesmith.models.embedding import embed


def last_question(record: dict[str, Any]) -> str:
    """The user turn the last assistant answer replies to: what the guard scores."""
    msgs = record["messages"]
    last = max((k for k, m in enumerate(msgs) if m["role"] == "assistant"), default=len(msgs))
    return next((m.get("content") or "" for m in reversed(msgs[:last]) if m["role"] == "user"), "")


def _last_answer(record: dict[str, Any]) -> str:
    return next((m.get("content") or "" for m in reversed(record["messages"]) if m["role"] == "assistant"), "")


@dataclass(frozen=True)
class CurvePoint:
    threshold: float
    abstention: float  # share of out-of-scope questions declined
    over_refusal: float  # share of in-scope questions declined


@dataclass(frozen=True)
class Calibration:
    threshold: float | None  # None: nothing to calibrate on, the guard is off
    in_scope: int  # validation questions answered in the data
    out_of_scope: int  # validation questions declined in the data
    curve: list[CurvePoint]  # the guard alone on the validation split, one point per candidate threshold
    note: str


def curve(
    margins: np.ndarray, out_of_scope: np.ndarray, already_declined: np.ndarray | None = None
) -> list[CurvePoint]:
    """Abstention and over-refusal at each threshold between consecutive margins (and below them all).

    `already_declined` marks answers that decline without the guard (the model's own refusals): a guarded arm
    declines a question when either does.
    """
    declined = np.zeros(len(margins), dtype=bool) if already_declined is None else already_declined.astype(bool)
    values = np.unique(margins)
    cuts = np.concatenate([[values[0] - 1e-3], (values[:-1] + values[1:]) / 2, [values[-1] + 1e-3]])
    n_out, n_in = max(int(out_of_scope.sum()), 1), max(int((~out_of_scope).sum()), 1)
    points = []
    for t in cuts:
        no = (margins < t) | declined
        points.append(
            CurvePoint(float(t), float((no & out_of_scope).sum() / n_out), float((no & ~out_of_scope).sum() / n_in))
        )
    return points


class ScopeGuard:
    """The in-scope and out-of-scope training questions, embedded once, and the house refusal."""

    def __init__(self, inside: Sequence[str], outside: Sequence[str], refusal: str) -> None:
        self.refusal = refusal
        self._inside = embed(list(inside))
        self._outside = embed(list(outside))

    @classmethod
    def from_records(cls, train: Sequence[dict[str, Any]]) -> ScopeGuard:
        """From the training split: its refusals are the outside, every other answered question the inside.

        The house refusal is the data's most frequent refusal (the first of the most frequent on a tie).
        """
        refusals = [r for r in train if is_refusal(r)]
        answers = Counter(_last_answer(r) for r in refusals)
        house = max(answers, key=lambda a: answers[a]) if answers else ""
        inside = [last_question(r) for r in train if not is_refusal(r)]
        return cls(inside, [last_question(r) for r in refusals], house)

    @property
    def usable(self) -> bool:
        return len(self._inside) > 0 and len(self._outside) > 0

    def margins(self, questions: Sequence[str]) -> np.ndarray:
        """Similarity to the nearest in-scope question minus that to the nearest out-of-scope one."""
        if not self.usable:
            return np.full(len(questions), np.inf)
        q = embed(list(questions))
        margins: np.ndarray = (q @ self._inside.T).max(axis=1) - (q @ self._outside.T).max(axis=1)
        return margins

    def calibrate(self, val: Sequence[dict[str, Any]]) -> Calibration:
        """The threshold that best separates the validation split's in-scope and out-of-scope questions."""
        out = np.array([is_refusal(r) for r in val], dtype=bool)
        n_out, n_in = int(out.sum()), int((~out).sum())
        lacking = (
            "the training split has no refusals (or no answers) to compare with"
            if not self.usable
            else "the validation split has no out-of-scope question (one answered with a refusal)"
            if n_out == 0
            else "the validation split has no in-scope question"
            if n_in == 0
            else None
        )
        if lacking:
            note = f"off: {lacking} to calibrate on; keep data.refusals: auto, or add out-of-scope examples"
            return Calibration(None, n_in, n_out, [], note)
        points = curve(self.margins([last_question(r) for r in val]), out)
        gains = np.array([p.abstention - p.over_refusal for p in points])
        best = np.flatnonzero(np.isclose(gains, gains.max()))
        chosen = points[int(best[len(best) // 2])]
        note = (
            f"threshold {chosen.threshold:+.3f} from the validation split ({n_out} out-of-scope, {n_in} in-scope "
            f"questions): there it declines {chosen.abstention:.0%} of the out-of-scope and {chosen.over_refusal:.0%} "
            "of the in-scope ones"
        )
        return Calibration(chosen.threshold, n_in, n_out, points, note)


@dataclass(frozen=True)
class CalibratedGuard:
    """A guard with its threshold: what `serve.guard` applies to each chat request."""

    guard: ScopeGuard
    threshold: float

    def refusal_for(self, question: str) -> str | None:
        """The house refusal when the question is out of scope, else None (the model answers)."""
        return self.guard.refusal if float(self.guard.margins([question])[0]) < self.threshold else None
