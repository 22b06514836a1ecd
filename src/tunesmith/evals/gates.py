"""Quality gates: `fine_tuned.rougeL >= base.rougeL + 0.05`, so that CI pipelines can block a regression.

Grammar (one comparison per gate): `ARM.METRIC OP (ARM.METRIC | NUMBER) [(+|-) NUMBER]`, OP one of >=, <=, >, <.
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass
from typing import Any

from tunesmith.errors import ConfigError

_OPS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt}
_NAME = r"[A-Za-z_]\w*"  # an arm name starts with a letter, so 0.3 reads as a number
_NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)"
_GATE = re.compile(
    rf"^\s*(?P<arm>{_NAME})\.(?P<metric>\w+)\s*(?P<op>>=|<=|>|<)\s*"
    rf"(?:(?P<rarm>{_NAME})\.(?P<rmetric>\w+)|(?P<num>{_NUM}))\s*(?:(?P<sign>[+-])\s*(?P<margin>{_NUM}))?\s*$"
)


@dataclass
class GateResult:
    gate: str
    passed: bool
    left: float
    right: float

    def describe(self) -> str:
        verdict = "passed" if self.passed else "FAILED"
        return f"{verdict}: {self.gate}  ({self.left:.4f} vs {self.right:.4f})"


def _metric(results: dict[str, Any], arm: str, metric: str, gate: str) -> float:
    arms = results["arms"]
    if arm not in arms:
        raise ConfigError(f"gate '{gate}': no arm '{arm}'", hint=f"arms in this evaluation: {', '.join(arms)}")
    metrics = arms[arm]["metrics"]
    if metric not in metrics:
        raise ConfigError(f"gate '{gate}': no metric '{metric}'", hint=f"metrics: {', '.join(metrics)}")
    return float(metrics[metric])


def check_gate(gate: str, results: dict[str, Any]) -> GateResult:
    m = _GATE.match(gate)
    if not m:
        raise ConfigError(f"cannot parse gate '{gate}'", hint='write it as "fine_tuned.rougeL >= base.rougeL + 0.05"')
    left = _metric(results, m["arm"], m["metric"], gate)
    right = float(m["num"]) if m["num"] is not None else _metric(results, m["rarm"], m["rmetric"], gate)
    if m["margin"] is not None:
        right += float(m["margin"]) * (1 if m["sign"] == "+" else -1)
    return GateResult(gate.strip(), _OPS[m["op"]](left, right), left, right)
