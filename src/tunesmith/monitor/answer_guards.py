"""How often the answer guards (serve.answer_guards) hit live answers: the share of answers blocked, redacted or
only recorded, by guard (blocklist, pii) and per day.

The evaluation measured how often the model says a blocklisted phrase or personal data on the test set; this is
the same figure on real traffic. A rising rate says the model, or what users ask it, changed; with
monitor.max_answer_guard_rate set, it fires like the other signals. Requests logged with no guard on count as
answers no guard hit: the rate is over all the traffic in the window.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

from tunesmith.config import MonitorConfig
from tunesmith.monitor.signal import Signal
from tunesmith.serve.log import LoggedRequest


def _counts(hits: Counter[str], n: int) -> dict[str, dict[str, float]]:
    return {k: {"count": v, "rate": v / n if n else 0.0} for k, v in sorted(hits.items())}


@dataclass
class AnswerGuardRates(Signal):
    n: int  # requests in the window
    hit: int  # answers a guard hit, whatever the action
    rate: float
    by_action: dict[str, dict[str, float]]  # block | redact | log -> {count, rate}
    by_guard: dict[str, dict[str, float]]  # blocklist | pii -> {count, rate}
    daily: list[dict[str, Any]]  # {"day", "n", "hit", "rate"}
    max_rate: float | None  # monitor.max_answer_guard_rate

    def reasons(self) -> list[str]:
        if self.max_rate is None or not self.n or self.rate <= self.max_rate:
            return []
        return [f"answer guards hit {self.rate:.0%} of answers"]


def answer_guard_rates(rows: list[LoggedRequest], cfg: MonitorConfig) -> AnswerGuardRates:
    hit = [r for r in rows if r.answer_guard is not None]
    by_day: dict[str, list[LoggedRequest]] = defaultdict(list)
    for r in rows:
        by_day[r.created_at.date().isoformat()].append(r)
    daily = []
    for day, day_rows in sorted(by_day.items()):
        k = sum(r.answer_guard is not None for r in day_rows)
        daily.append({"day": day, "n": len(day_rows), "hit": k, "rate": k / len(day_rows)})
    return AnswerGuardRates(
        n=len(rows),
        hit=len(hit),
        rate=len(hit) / len(rows) if rows else 0.0,
        by_action=_counts(Counter(r.answer_guard for r in hit if r.answer_guard), len(rows)),
        by_guard=_counts(Counter(g for r in hit for g in (r.answer_flags or {})), len(rows)),
        daily=daily,
        max_rate=cfg.max_answer_guard_rate,
    )
