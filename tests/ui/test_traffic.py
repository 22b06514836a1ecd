"""The traffic page's SQL aggregates, on SQLite and (where TUNESMITH_TEST_PG_URL is set, as .ci/run does) on
PostgreSQL: counts per bucket, nearest-rank percentiles and feedback, checked against numpy on the same rows."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import delete, insert

from tunesmith.serve.log import FeedbackRow, RequestLog, RequestRow
from tunesmith.ui.traffic import TrafficStore

PG_URL = os.environ.get("TUNESMITH_TEST_PG_URL")


def _fill(url: str, n: int, start: datetime) -> tuple[list[str], np.ndarray]:
    log = RequestLog(url, redact=False)  # the schema through its migrations
    rng = np.random.default_rng(1)
    latency = rng.lognormal(5.0, 0.7, n)
    prefix = uuid.uuid4().hex[:8]
    ids = [f"ui-{prefix}-{i}" for i in range(n)]
    rows = [
        {
            "id": ids[i],
            "created_at": start + timedelta(hours=i % 48, minutes=i % 60),
            "endpoint": "chat",
            "model": "a" if i % 4 else "b",
            "prompt": "[]",
            "prompt_text": "q",
            "response": "[]",
            "prompt_tokens": 10,
            "completion_tokens": 5 + i % 3,
            "latency_ms": float(latency[i]),
            "finish_reason": "stop",
            "redacted": True,
        }
        for i in range(n)
    ]
    fb = [
        {"request_id": ids[i], "created_at": start + timedelta(hours=1), "rating": float(i % 2), "correction": None}
        for i in range(0, n, 10)
    ]
    with log.engine.begin() as c:
        c.execute(insert(RequestRow), rows)
        c.execute(insert(FeedbackRow), fb)
    log.close()
    return ids, latency


def _check(url: str, root: Path) -> None:
    start = datetime(2100, 1, 1, tzinfo=UTC)  # in the future: a shared database's other rows are outside the window
    ids, latency = _fill(url, 1000, start)
    store = TrafficStore(url, root)
    try:
        t = store.summary(start)
        assert t.exists and t.total == 1000 and t.bucket == "hour"
        assert sum(n for _, n, _ in t.buckets) == 1000 and len(t.buckets) == 48
        assert t.buckets[0][0] == "2100-01-01 00:00"
        expected = np.percentile(latency, [50, 90, 95, 99], method="inverted_cdf")
        assert [t.latency[k] for k in ("p50", "p90", "p95", "p99")] == pytest.approx(expected.tolist())
        assert t.latency["max"] == pytest.approx(latency.max())
        assert t.tokens["completion_mean"] == pytest.approx(np.mean([5 + i % 3 for i in range(1000)]))
        assert dict(t.models) == {"a": 750, "b": 250}
        assert t.feedback_n == 100 and t.mean_rating == pytest.approx(0.0)  # i % 10 == 0 is even: rating 0
    finally:
        if store._engine is not None:
            with store._engine.begin() as c:
                c.execute(delete(FeedbackRow).where(FeedbackRow.request_id.in_(ids)))
                c.execute(delete(RequestRow).where(RequestRow.id.in_(ids)))
        store.close()


def test_traffic_aggregates_on_sqlite(tmp_path: Path) -> None:
    _check(f"sqlite:///{tmp_path / 'log.db'}", tmp_path)


@pytest.mark.skipif(not PG_URL, reason="set TUNESMITH_TEST_PG_URL=postgresql+psycopg://... to run (docs/serving.md)")
def test_traffic_aggregates_on_postgres(tmp_path: Path) -> None:
    _check(PG_URL, tmp_path)
