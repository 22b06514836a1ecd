"""The scope guard: a question nearer the project's out-of-scope questions than its in-scope ones is declined
before the model answers.

A small fine-tune learns the house voice faster than the edge of what it was taught: on the credit-union example
the 135M model answered 4 of 14 out-of-scope test questions as if they were policy. The guard needs no model: it
scores a question by its *margin*, the cosine similarity (the shared MiniLM embedder) to the nearest in-scope
training question minus that to the nearest out-of-scope one (the data's refusals, with the near-domain ones that
`data.refusals: auto` adds). Below the threshold it answers with the house refusal.

The threshold is chosen on the validation split and the training split (each training question scored against the
others), never on the test split: the highest at which the guard declines at most `eval.guard_max_over_refusal` of
those in-scope questions. With fewer than two out-of-scope training questions to compare with, the guard stays off
and says so.
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
    in_scope: int  # calibration questions answered in the data (validation, and training left out one at a time)
    out_of_scope: int  # calibration questions declined in the data
    curve: list[CurvePoint]  # the guard alone on the calibration questions, one point per candidate threshold
    note: str
    # At or above it the guard is sure enough a question is in scope to ask the model again when it declines;
    # None: never (the guard is off, or eval.guard_reanswer_quantile is unset)
    reanswer_above: float | None = None


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

    def __init__(
        self, inside: Sequence[str], outside: Sequence[str], refusal: str, refusals: Sequence[str] = ()
    ) -> None:
        self.refusal = refusal
        self.refusals = list(refusals) or [refusal]  # every refusal answer of the data: how its refusals open
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
        return cls(inside, [last_question(r) for r in refusals], house, sorted(answers))

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

    def _left_out_margins(self) -> tuple[np.ndarray, np.ndarray]:
        """Each training question's margin against the others (itself left out): in-scope ones, then refusals."""
        inside_sims = self._inside @ self._inside.T
        outside_sims = self._outside @ self._outside.T
        np.fill_diagonal(inside_sims, -np.inf)
        np.fill_diagonal(outside_sims, -np.inf)
        across = self._inside @ self._outside.T
        inside: np.ndarray = inside_sims.max(axis=1) - across.max(axis=1)
        outside: np.ndarray = across.max(axis=0) - outside_sims.max(axis=1)
        return inside, outside

    def refusal_openings(self, tokenizer: Any) -> tuple[int, ...]:
        """The first token of each of the data's refusals, in `tokenizer`'s vocabulary."""
        ids = (tokenizer(text, add_special_tokens=False)["input_ids"] for text in self.refusals)
        return tuple(sorted({first[0] for first in ids if first}))

    def calibrate(
        self, val: Sequence[dict[str, Any]], max_over_refusal: float, reanswer_quantile: float | None = None
    ) -> Calibration:
        """The highest threshold at which the guard declines at most `max_over_refusal` of the calibration
        questions that are in scope: the validation split's, and the training split's each scored against the
        others (left out one at a time), never the test split's.

        A validation split holds a handful of out-of-scope questions (2 of 30 on the credit union), too few to place
        a threshold between the classes: picked there, the guard declined 6 of 14 out-of-scope test questions. The
        in-scope side is where the numbers are, and over-refusal is what users notice, so the threshold bounds it
        and the out-of-scope side only reports what that buys (abstention on the calibration questions).
        """
        out_val = np.array([is_refusal(r) for r in val], dtype=bool)
        lacking = (
            "the training split has no refusals (or no answers) to compare with"
            if not self.usable
            else "the training split has a single refusal: nothing to score it against"
            if len(self._outside) < 2
            else None
        )
        if lacking:
            note = f"off: {lacking}; keep data.refusals: auto, or add out-of-scope examples"
            return Calibration(None, int((~out_val).sum()), int(out_val.sum()), [], note)
        train_in, train_out = self._left_out_margins()
        val_margins = self.margins([last_question(r) for r in val]) if val else np.zeros(0)
        in_margins = np.sort(np.concatenate([train_in, val_margins[~out_val]]))
        out_margins = np.concatenate([train_out, val_margins[out_val]])
        allowed = int(np.floor(max_over_refusal * len(in_margins) + 1e-9))
        # Between the last in-scope margin it may decline and the first it may not, so it hugs neither.
        threshold = float(
            (in_margins[allowed - 1] + in_margins[allowed]) / 2
            if 0 < allowed < len(in_margins)
            else in_margins[0] - 1e-3
            if allowed == 0
            else in_margins[-1] + 1e-3
        )
        margins = np.concatenate([in_margins, out_margins])
        out = np.concatenate([np.zeros(len(in_margins), dtype=bool), np.ones(len(out_margins), dtype=bool)])
        abstention = float((out_margins < threshold).mean())
        over = float((in_margins < threshold).mean())
        n_in, n_out = len(in_margins), len(out_margins)
        note = (
            f"threshold {threshold:+.3f}, the highest that declines at most {max_over_refusal:.1%} of the "
            f"{n_in} in-scope calibration questions ({int((~out_val).sum())} of validation, the rest of training, "
            f"each left out): there it declines {over:.1%} of them and {abstention:.0%} of the {n_out} out-of-scope "
            f"ones ({int(out_val.sum())} of validation)"
        )
        reanswer = (
            None if reanswer_quantile is None else max(float(np.quantile(in_margins, reanswer_quantile)), threshold)
        )
        if reanswer is not None:
            note += (
                f"; a refusal by the model to a question at or above {reanswer:+.3f} (where "
                f"{float((out_margins >= reanswer).mean()):.0%} of the out-of-scope ones lie) is asked again"
            )
        return Calibration(threshold, n_in, n_out, curve(margins, out), note, reanswer)


@dataclass(frozen=True)
class CalibratedGuard:
    """A guard with its threshold: what `serve.guard` applies to each chat request."""

    guard: ScopeGuard
    threshold: float
    reanswer_above: float | None = None  # a refusal by the model at or above this margin is asked again
    openings: tuple[int, ...] = ()  # the first tokens of the data's refusals, suppressed when asking again

    def refusal_for(self, question: str) -> str | None:
        """The house refusal when the question is out of scope, else None (the model answers)."""
        return self.judge(question)[0]

    def judge(self, question: str) -> tuple[str | None, bool]:
        """The house refusal when the question is out of scope; and whether the guard is sure enough that it is in
        scope to ask the model again should it decline (as the guarded arm of the evaluation does)."""
        margin = float(self.guard.margins([question])[0])
        sure = self.reanswer_above is not None and margin >= self.reanswer_above and bool(self.openings)
        return (self.guard.refusal if margin < self.threshold else None), sure
