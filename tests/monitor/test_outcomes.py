"""The refusal rate says how much of it was the scope guard's: its share rising is out-of-scope traffic, the rest
is the model declining (docs/serving.md, Scope guard)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tunesmith.config import MonitorConfig
from tunesmith.monitor.outcomes import outcomes
from tunesmith.serve.log import LoggedRequest

REFUSAL = "I'm sorry, I can only help with Lumen Home orders and devices."


def _row(n: int, answer: str, *, guarded: bool = False, reasked: bool = False) -> LoggedRequest:
    return LoggedRequest(
        id=f"r{n}",
        created_at=datetime(2026, 12, 1 + n % 2, tzinfo=UTC),
        model="fine_tuned",
        messages=[{"role": "user", "content": f"question {n}"}],
        prompt_text=f"question {n}",
        responses=[answer],
        completion_tokens=5,
        finish_reason="stop",
        ratings=[],
        corrections=[],
        guarded=guarded,
        reasked=reasked,
    )


def test_the_guards_share_of_refusals_and_the_answers_asked_again_are_reported():
    rows = [
        *(_row(n, REFUSAL, guarded=True) for n in range(2)),  # the guard declined before the model ran
        _row(2, REFUSAL),  # the model declined
        _row(3, "Refunds take 5 business days.", reasked=True),  # the model declined, asked again it answered
        *(_row(n, "Refunds take 5 business days.") for n in range(4, 10)),
    ]
    o = outcomes(rows, MonitorConfig())
    assert (o.refusal_rate, o.guarded_rate, o.reasked_rate) == pytest.approx((0.3, 0.2, 0.1))
    assert {d["day"]: d["guarded_rate"] for d in o.daily} == {"2026-12-01": 0.2, "2026-12-02": 0.2}
