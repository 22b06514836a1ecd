"""Quality gates: `fine_tuned.rougeL >= base.rougeL + 0.05`, so that CI pipelines can block a regression.

Grammar (one comparison per gate): `ARM.METRIC OP (ARM.METRIC | NUMBER) [(+|-) NUMBER]`, OP one of >=, <=, >, <.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Mapping
from typing import Any

from tunesmith.errors import ConfigError
from tunesmith.evals.results import EvalResults, GateResult

_OPS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt}
_NAME = r"[A-Za-z_]\w*"  # an arm name starts with a letter, so 0.3 reads as a number
_NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)"
_GATE = re.compile(
    rf"^\s*(?P<arm>{_NAME})\.(?P<metric>\w+)\s*(?P<op>>=|<=|>|<)\s*"
    rf"(?:(?P<rarm>{_NAME})\.(?P<rmetric>\w+)|(?P<num>{_NUM}))\s*(?:(?P<sign>[+-])\s*(?P<margin>{_NUM}))?\s*$"
)

__all__ = ["GateResult", "check_gate"]


def _metric(results: EvalResults, arm: str, metric: str, gate: str) -> float:
    if arm not in results.arms:
        raise ConfigError(f"gate '{gate}': no arm '{arm}'", hint=f"arms in this evaluation: {', '.join(results.arms)}")
    metrics = results.arms[arm].metrics
    if metric not in metrics:
        raise ConfigError(f"gate '{gate}': no metric '{metric}'", hint=f"metrics: {', '.join(metrics)}")
    return metrics[metric]


def check_gate(gate: str, results: EvalResults | Mapping[str, Any]) -> GateResult:
    """Whether `gate` holds on `results` (the model, or the JSON content of a results.json)."""
    m = _GATE.match(gate)
    if not m:
        raise ConfigError(f"cannot parse gate '{gate}'", hint='write it as "fine_tuned.rougeL >= base.rougeL + 0.05"')
    results = EvalResults.of(results)
    left = _metric(results, m["arm"], m["metric"], gate)
    right = float(m["num"]) if m["num"] is not None else _metric(results, m["rarm"], m["rmetric"], gate)
    if m["margin"] is not None:
        right += float(m["margin"]) * (1 if m["sign"] == "+" else -1)
    return GateResult(gate=gate.strip(), passed=_OPS[m["op"]](left, right), left=left, right=right)
