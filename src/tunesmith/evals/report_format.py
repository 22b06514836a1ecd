"""Formatting the HTML page and the markdown summary share, so both say the same number the same way."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

from tunesmith.evals.metrics import METRICS
from tunesmith.evals.results import ArmResult, Delta


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def lower_is_better(metric: str) -> bool:
    info = METRICS.get(metric)
    return info is not None and info.lower_is_better


def fmt_ci(mean: float, ci: Sequence[float]) -> str:
    return f"{mean:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]"


def fmt_delta(delta: Delta) -> str:
    lo, hi = delta.ci
    return f"{delta.value:+.3f} [{lo:+.3f}, {hi:+.3f}]"


# How a metric is named in prose and in the terminal's tables; results.json keeps the keys.
METRIC_NAMES = {
    "exact_match": "exact match",
    "token_f1": "token F1",
    "rougeL": "ROUGE-L",
    "chrf": "chrF",
    "semantic_sim": "semantic sim",
    "style_match": "style match",
    "over_refusal": "over-refusal",
    "policy_compliance": "policy compliance",
    "blocklist_violation": "blocklist hits",
}


def metric_name(metric: str) -> str:
    return METRIC_NAMES.get(metric, metric)


def metric_label(metric: str) -> str:
    return f"{metric} (lower is better)" if lower_is_better(metric) else metric


def tokens_per_request(arm: ArmResult) -> float | None:
    return arm.tokens.per_request if arm.tokens else None


def latency_p50(arm: ArmResult) -> float | None:
    return arm.latency_ms.p50 if arm.latency_ms else None


def arm_delta(arm: ArmResult, metric: str) -> Delta | None:
    return arm.delta.get(metric) if arm.delta else None


def arm_means(arms: Mapping[str, ArmResult]) -> dict[str, dict[str, Any]]:
    """{arm: {"metrics": means}}: what stats.winner reads."""
    return {name: {"metrics": arm.metrics} for name, arm in arms.items()}
