"""Outcome signals over time: refusal rate, feedback, answer length, per day.

Drift says the questions changed; these say whether the answers got worse. A rising refusal rate or falling ratings
is the other reason to retrain, even when the traffic looks like the training data.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np

from tunesmith.config import MonitorConfig
from tunesmith.monitor.signal import Signal
from tunesmith.refusals import is_refusal
from tunesmith.serve.log import LoggedRequest


@dataclass
class Outcomes(Signal):
    n: int
    refusal_rate: float
    # of all requests, those the scope guard declined before the model ran (serve.guard) and those whose answer was
    # asked again after the model declined: the guard's share rising is out-of-scope traffic, the rest the model's
    guarded_rate: float
    reasked_rate: float
    mean_rating: float | None
    ratings: int
    mean_answer_words: float
    daily: list[dict[str, Any]]  # {"day", "n", "refusal_rate", "guarded_rate", "reasked_rate", "mean_rating", ...}
    refusal_fired: bool
    rating_fired: bool

    def reasons(self) -> list[str]:
        out = []
        if self.refusal_fired:
            out.append(f"refusal rate {self.refusal_rate:.0%}")
        if self.rating_fired:
            out.append(f"mean feedback rating {self.mean_rating:.2f}")
        return out


def _summary(rows: list[LoggedRequest]) -> dict[str, Any]:
    answers = [r.responses[0] if r.responses else "" for r in rows]
    ratings = [x for r in rows for x in r.ratings]
    return {
        "n": len(rows),
        "refusal_rate": float(np.mean([is_refusal(a) for a in answers])) if answers else 0.0,
        "guarded_rate": float(np.mean([r.guarded for r in rows])) if rows else 0.0,
        "reasked_rate": float(np.mean([r.reasked for r in rows])) if rows else 0.0,
        "mean_rating": float(np.mean(ratings)) if ratings else None,
        "ratings": len(ratings),
        "mean_answer_words": float(np.mean([len(a.split()) for a in answers])) if answers else 0.0,
    }


def outcomes(rows: list[LoggedRequest], cfg: MonitorConfig) -> Outcomes:
    by_day: dict[str, list[LoggedRequest]] = defaultdict(list)
    for r in rows:
        by_day[r.created_at.date().isoformat()].append(r)
    total = _summary(rows)
    daily = [{"day": day, **_summary(day_rows)} for day, day_rows in sorted(by_day.items())]
    mean_rating = total["mean_rating"]
    return Outcomes(
        **total,
        daily=daily,
        refusal_fired=bool(rows) and total["refusal_rate"] > cfg.max_refusal_rate,
        rating_fired=cfg.min_mean_rating is not None and mean_rating is not None and mean_rating < cfg.min_mean_rating,
    )


def sources_used(rows: list[LoggedRequest]) -> dict[str, Any]:
    """Which documents the answers given with retrieval (serve.rag_models) cited: per source, the requests that were
    given one of its passages and how many passages in all, most used first. A document never used is a candidate
    to drop or rewrite; one used for everything may be the one to keep current."""
    requests: dict[str, int] = defaultdict(int)
    passages: dict[str, int] = defaultdict(int)
    with_sources = [r for r in rows if r.sources]
    for r in with_sources:
        for source in {s.get("source", "") for s in r.sources or []}:
            requests[source] += 1
        for s in r.sources or []:
            passages[s.get("source", "")] += 1
    by_source = [
        {"source": source, "requests": n, "passages": passages[source]}
        for source, n in sorted(requests.items(), key=lambda item: (-item[1], item[0]))
    ]
    return {"requests": len(with_sources), "by_source": by_source}
