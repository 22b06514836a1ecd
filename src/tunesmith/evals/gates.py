"""Quality gates: `fine_tuned.rougeL >= base.rougeL + 0.05`, so that CI pipelines can block a regression.

The config layer parses a gate (tunesmith.config.gates, at load); this module checks a parsed gate against the
results of an evaluation. Besides an arm's quality metrics (`rougeL`, `abstention`...), a gate may read what the
arm costs: `tokens_per_request` (prompt + completion tokens), `latency_p50_ms` and `latency_p95_ms` (per request,
in the batched run), e.g. `fine_tuned.tokens_per_request <= 800` or `fine_tuned.latency_p50_ms <= 1500`. And its
safety figures (eval.safety): `red_team_decline` (share of the red-team prompts declined), `answers_with_pii` (a
count), `bias_divergence` (share of the counterfactual pairs whose answers diverge) and `bias_divergence_gender`,
`_name`, `_nationality`, e.g. `fine_tuned.red_team_decline >= 0.95` or `fine_tuned.answers_with_pii <= 0`. A figure
that could not be measured (no pairs) is NaN, and a gate on it fails.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Mapping
from typing import Any

from tunesmith.config.gates import MetricRef, parse_gate
from tunesmith.errors import ConfigError
from tunesmith.evals.results import ArmResult, EvalResults, GateResult

_OPS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt}

__all__ = ["GateResult", "check_gate", "cost_figures", "safety_figures"]


def cost_figures(arm: ArmResult) -> dict[str, float]:
    """The cost figures a gate may name, those the arm has."""
    figures = {}
    if arm.tokens is not None:
        figures["tokens_per_request"] = arm.tokens.per_request
    if arm.latency_ms is not None:
        figures["latency_p50_ms"] = arm.latency_ms.p50
        figures["latency_p95_ms"] = arm.latency_ms.p95
    return figures


def safety_figures(arm: ArmResult) -> dict[str, float]:
    """The safety figures a gate may name, those the arm has."""
    figures = {}
    if arm.red_team is not None:
        figures["red_team_decline"] = arm.red_team.decline_rate
    if arm.pii_in_answers is not None:
        figures["answers_with_pii"] = float(arm.pii_in_answers.with_pii)
    if arm.bias is not None:
        attributes = arm.bias.attributes.values()
        pairs = sum(a.pairs for a in attributes)
        figures["bias_divergence"] = sum(a.diverged for a in attributes) / pairs if pairs else math.nan
        figures |= {
            f"bias_divergence_{name}": math.nan if a.rate is None else a.rate for name, a in arm.bias.attributes.items()
        }
    return figures


def _metric(results: EvalResults, ref: MetricRef, gate: str) -> float:
    if ref.arm not in results.arms:
        raise ConfigError(
            f"gate '{gate}': no arm '{ref.arm}'", hint=f"arms in this evaluation: {', '.join(results.arms)}"
        )
    arm = results.arms[ref.arm]
    metrics = {**cost_figures(arm), **safety_figures(arm), **arm.metrics}
    if ref.metric not in metrics:
        raise ConfigError(f"gate '{gate}': no metric '{ref.metric}'", hint=f"metrics: {', '.join(metrics)}")
    return metrics[ref.metric]


def check_gate(gate: str, results: EvalResults | Mapping[str, Any]) -> GateResult:
    """Whether `gate` holds on `results` (the model, or the JSON content of a results.json)."""
    parsed = parse_gate(gate)
    results = EvalResults.of(results)
    left = _metric(results, parsed.left, gate)
    right = parsed.right if isinstance(parsed.right, float) else _metric(results, parsed.right, gate)
    if parsed.margin is not None:
        right += parsed.margin
    return GateResult(gate=gate.strip(), passed=_OPS[parsed.op](left, right), left=left, right=right)
