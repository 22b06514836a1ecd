"""Quality gate expressions, parsed when the config is loaded: a typo must not wait until every arm has generated.

Grammar (one comparison per gate): `ARM.METRIC OP (ARM.METRIC | NUMBER) [(+|-) NUMBER]`, OP one of >=, <=, >, <.
`tunesmith.evals.gates` checks a parsed gate against an evaluation's results.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, cast

from tunesmith.errors import ConfigError

Op = Literal[">=", "<=", ">", "<"]
_NAME = r"[A-Za-z_]\w*"  # an arm name starts with a letter, so 0.3 reads as a number
_NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)"
_GATE = re.compile(
    rf"^\s*(?P<arm>{_NAME})\.(?P<metric>\w+)\s*(?P<op>>=|<=|>|<)\s*"
    rf"(?:(?P<rarm>{_NAME})\.(?P<rmetric>\w+)|(?P<num>{_NUM}))\s*(?:(?P<sign>[+-])\s*(?P<margin>{_NUM}))?\s*$"
)


@dataclass(frozen=True)
class MetricRef:
    """One arm's metric, as a side of a gate names it (`fine_tuned.rougeL`)."""

    arm: str
    metric: str


@dataclass(frozen=True)
class Gate:
    left: MetricRef
    op: Op
    right: MetricRef | float
    margin: float | None  # signed; None when the gate has none, so a bare `-0` threshold keeps its sign

    @property
    def arms(self) -> list[str]:
        """The arms the gate reads, in the order it names them."""
        return [self.left.arm, *([self.right.arm] if isinstance(self.right, MetricRef) else [])]


def parse_gate(gate: str) -> Gate:
    """`gate` as a typed comparison; a ConfigError that shows the expected form when it is not one."""
    m = _GATE.match(gate)
    if not m:
        raise ConfigError(f"cannot parse gate '{gate}'", hint='write it as "fine_tuned.rougeL >= base.rougeL + 0.05"')
    right = float(m["num"]) if m["num"] is not None else MetricRef(m["rarm"], m["rmetric"])
    margin = float(m["margin"]) * (1 if m["sign"] == "+" else -1) if m["margin"] is not None else None
    return Gate(MetricRef(m["arm"], m["metric"]), cast(Op, m["op"]), right, margin)
