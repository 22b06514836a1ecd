"""The verdict: did the fine-tune pay off, against what, by how much, at what cost, and how it behaves.

One function, `verdict`, says it in words for every output: the report's first paragraph, the top of summary.md,
the first lines of the CLI summary and the `verdict` of `tunesmith run --json`.

- **The fine-tune** is the better of `fine_tuned` and `guarded` (the same model behind the scope guard) on the
  headline metric; where they tie (the guard off, or declining nothing), `fine_tuned`.
- **The best alternative** is the best arm that is not a fine-tune (`base`, `prompted`, `retrieval`, `rag`,
  `endpoint`): what one would ship instead.
- **Paid off** means the paired 95% CI of the difference between the two lies wholly on the better side of 0;
  a CI that holds 0, or a worse score, did not pay off.
- **What to try next** follows from the figures that are poor: too few out-of-scope questions declined, too many
  in-scope ones declined, or no gain.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from tunesmith.evals.report_format import lower_is_better, metric_name
from tunesmith.evals.results import ArmResult, Delta, EvalResults
from tunesmith.evals.stats import FOCUS_ARMS

ABSTENTION_FLOOR = 0.8  # below: the fine-tune answers too many of the questions it should decline
OVER_REFUSAL_CEILING = 0.1  # above: it declines too many of the questions it should answer
FINE_TUNES = (*FOCUS_ARMS, "fine_tuned_rag", "sft")  # never "the alternative": they are fine-tunes themselves
SCOPE_GUARD_DOC = '"Scope guard" in docs/evaluation.md'

Outcome = Literal["paid_off", "no_clear_difference", "worse", "no_fine_tune", "no_alternative"]


@dataclass(frozen=True)
class Verdict:
    metric: str
    outcome: Outcome
    fine_tune: str | None  # fine_tuned or guarded, whichever is better; None when neither ran
    alternative: str | None  # the best arm that is not a fine-tune
    delta: Delta | None  # fine_tune minus alternative on `metric`, paired, with its 95% CI
    sentences: tuple[str, ...]  # the verdict in words
    advice: tuple[str, ...]  # what to try next, when a figure is poor

    @property
    def paid_off(self) -> bool:
        return self.outcome == "paid_off"

    @property
    def text(self) -> str:
        return " ".join(self.sentences)

    def to_json(self) -> dict[str, Any]:
        delta = None if self.delta is None else {"value": self.delta.value, "ci": list(self.delta.ci)}
        return {
            "outcome": self.outcome,
            "paid_off": self.paid_off,
            "metric": self.metric,
            "fine_tune": self.fine_tune,
            "alternative": self.alternative,
            "delta": delta,
            "text": self.text,
            "advice": list(self.advice),
        }


def _mean(arm: ArmResult, metric: str) -> float | None:
    value = arm.metrics.get(metric)
    return None if value is None or math.isnan(value) else value


def _name(arm: str) -> str:
    return f"{arm} (the fine-tune behind its scope guard)" if arm == "guarded" else arm


def _ci(delta: Delta) -> str:
    lo, hi = delta.ci
    return f"{delta.value:+.3f} (95% CI {lo:+.3f} to {hi:+.3f})"


def _cost(ft: ArmResult, alt: ArmResult, alt_name: str) -> str:
    """', at 62 tokens per request against 410 for rag and a p50 latency of 35 ms against 80 ms'."""
    parts = []
    if ft.tokens and alt.tokens:
        parts.append(f"{ft.tokens.per_request:,.0f} tokens per request against {alt.tokens.per_request:,.0f}")
    if ft.latency_ms and alt.latency_ms:
        parts.append(f"a p50 latency of {ft.latency_ms.p50:,.0f} ms against {alt.latency_ms.p50:,.0f} ms")
    return f", at {' and '.join(parts)} for {alt_name}" if parts else ""


def _count(arm: ArmResult, metric: str) -> str | None:
    counts, value = arm.count(metric), _mean(arm, metric)
    return None if counts is None or value is None else f"{counts[0]}/{counts[1]}"


def _behaviour(ft: ArmResult, alt_name: str | None, alt: ArmResult | None) -> str | None:
    """'guarded declined 11/14 out-of-scope questions (abstention 0.79; rag 3/14) and 9/52 in-scope ones ...'."""
    parts: list[str] = []
    for metric, what in (("abstention", "out-of-scope questions"), ("over_refusal", "in-scope questions")):
        ours = _count(ft, metric)
        if ours is None:
            continue
        what = what.replace("questions", "ones") if parts else what
        theirs = _count(alt, metric) if alt is not None else None
        versus = f"; {alt_name} {theirs}" if theirs is not None else ""
        parts.append(f"{ours} {what} ({metric_name(metric)} {ft.metrics[metric]:.2f}{versus})")
    return f"It declined {' and '.join(parts)}." if parts else None


def _advice(results: EvalResults, ft_name: str, ft: ArmResult, alt: str | None, outcome: Outcome) -> list[str]:
    advice = []
    abstention, over_refusal = _mean(ft, "abstention"), _mean(ft, "over_refusal")
    if abstention is None:
        advice.append(
            "Abstention was not measured: no test question is tagged `refusal` or `out_of_scope`; tag the ones "
            'the assistant must decline, 10 or more (docs/evaluation.md, "Metrics").'
        )
    elif abstention < ABSTENTION_FLOOR:
        guard = "" if "guarded" in results.arms else f"; or add `guarded` to `eval.arms` ({SCOPE_GUARD_DOC})"
        advice.append(
            f"Abstention is low ({_count(ft, 'abstention')} out-of-scope questions declined): `tunesmith data check` "
            "says whether the training data has enough refusals (its refusal_coverage finding), and "
            f"`data.refusals: auto` makes prepare add the near-domain ones it asks for{guard}."
        )
    if over_refusal is not None and over_refusal > OVER_REFUSAL_CEILING:
        advice.append(
            f"Over-refusal is high ({_count(ft, 'over_refusal')} in-scope questions declined): see {SCOPE_GUARD_DOC} "
            "for the trade-off with abstention, and check that the training refusals stay out of in-scope topics."
        )
    if outcome in ("worse", "no_clear_difference") and alt is not None:
        advice.append(
            f"Until {ft_name} beats it, {alt} is the one to ship; more training examples (`tunesmith data check` "
            "says where the data is thin) or more epochs are the next things to try."
        )
    return advice


def _best(arms: dict[str, ArmResult], names: list[str], metric: str) -> str:
    sign = -1.0 if lower_is_better(metric) else 1.0
    return max(names, key=lambda a: sign * (_mean(arms[a], metric) or 0.0))


def _pick_fine_tune(arms: dict[str, ArmResult], names: list[str], metric: str) -> str:
    """The better of fine_tuned and guarded on the headline; on a tie, the one that keeps in and out of scope
    apart best (abstention minus over-refusal); on a tie again, fine_tuned."""
    sign = -1.0 if lower_is_better(metric) else 1.0

    def key(a: str) -> tuple[float, float]:
        behaviour = (_mean(arms[a], "abstention") or 0.0) - (_mean(arms[a], "over_refusal") or 0.0)
        return sign * (_mean(arms[a], metric) or 0.0), behaviour

    return max(names, key=key)


def _outcome(delta: Delta | None, metric: str) -> Outcome:
    if delta is None:
        return "no_clear_difference"
    lo, hi = delta.ci
    better, worse = (hi < 0, lo > 0) if lower_is_better(metric) else (lo > 0, hi < 0)
    return "paid_off" if better else "worse" if worse else "no_clear_difference"


def _headline(ft: str, alt: str, arms: dict[str, ArmResult], metric: str, delta: Delta | None, outcome: Outcome) -> str:
    label, ft_name = metric_name(metric), _name(ft)
    ft_mean, alt_mean = _mean(arms[ft], metric) or 0.0, _mean(arms[alt], metric) or 0.0
    by = _ci(delta) if delta is not None else f"{ft_mean - alt_mean:+.3f} (no paired CI in results.json)"
    if outcome == "paid_off":
        head = (
            f"The fine-tune paid off: {ft_name} wins on {label} against {alt}, the best alternative, "
            f"{ft_mean:.3f} vs {alt_mean:.3f}, by {by}"
        )
    elif outcome == "worse":
        head = (
            f"The fine-tune did not pay off: {alt} wins on {label}, {alt_mean:.3f} vs {ft_mean:.3f} for {ft_name}, "
            f"which differs by {by}"
        )
    else:
        head = (
            f"The fine-tune did not pay off: {ft_name} scores {label} {ft_mean:.3f} vs {alt_mean:.3f} for {alt}, "
            f"the best alternative, a difference of {by} that the test set cannot tell from 0"
        )
    return head + _cost(arms[ft], arms[alt], alt) + "."


def verdict(results: EvalResults) -> Verdict:
    """Which arm won on the headline metric against the best alternative, by how much, at what cost."""
    arms, metric = results.arms, results.headline_metric
    scored = [a for a, r in arms.items() if _mean(r, metric) is not None]
    fine_tunes = [a for a in FOCUS_ARMS if a in scored]
    alternatives = [a for a in scored if a not in FINE_TUNES]
    if not fine_tunes:
        if not scored:
            return Verdict(metric, "no_fine_tune", None, None, None, (f"No arm has a {metric_name(metric)}.",), ())
        best = _best(arms, scored, metric)
        text = (
            f"No fine-tuned arm was evaluated: {best} scores best on {metric_name(metric)}, "
            f"{_mean(arms[best], metric):.3f}."
        )
        return Verdict(metric, "no_fine_tune", None, best, None, (text,), ())
    ft = _pick_fine_tune(arms, fine_tunes, metric)
    alt = _best(arms, alternatives, metric) if alternatives else None
    if alt is None:
        outcome: Outcome = "no_alternative"
        delta = None
        sentences = [
            f"{_name(ft)} scores {metric_name(metric)} {_mean(arms[ft], metric):.3f}, but no alternative to "
            "fine-tuning (base, prompted, retrieval, rag) was evaluated, so nothing says whether it paid off."
        ]
    else:
        delta = ((arms[ft].delta_vs or {}).get(alt) or {}).get(metric)
        outcome = _outcome(delta, metric)
        sentences = [_headline(ft, alt, arms, metric, delta, outcome)]
    behaviour = _behaviour(arms[ft], alt, arms[alt] if alt else None)
    if behaviour:
        sentences.append(behaviour)
    advice = _advice(results, ft, arms[ft], alt, outcome)
    return Verdict(metric, outcome, ft, alt, delta, tuple(sentences), tuple(advice))
