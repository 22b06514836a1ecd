"""The traffic page's figures, aggregated in SQL over the request log (serve/log.py's tables).

The log can hold millions of requests, so nothing here loads rows into Python: counts per time bucket, latency
percentiles (ORDER BY ... OFFSET, one row each) and feedback sums are computed by the database. The log is opened
read-only in spirit: no migration is run, and a database that does not exist yet is reported as empty, not created.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, func, inspect, select

from tunesmith.serve.log import FeedbackRow, RequestRow, resolve_url

RECENT_CORRECTIONS = 10
PERCENTILES = {"p50": 0.5, "p90": 0.9, "p95": 0.95, "p99": 0.99}


@dataclass
class Traffic:
    url: str
    exists: bool
    total: int = 0  # in the window
    all_time: int = 0
    buckets: list[tuple[str, int, float]] = field(default_factory=list)  # (label, requests, mean latency ms)
    bucket: str = "hour"
    latency: dict[str, float] = field(default_factory=dict)  # p50, p90, p95, p99, max
    tokens: dict[str, float] = field(default_factory=dict)
    finish: list[tuple[str, int]] = field(default_factory=list)
    models: list[tuple[str, int]] = field(default_factory=list)
    ratings: list[tuple[float, int]] = field(default_factory=list)
    feedback_n: int = 0
    mean_rating: float | None = None
    corrections: list[dict[str, Any]] = field(default_factory=list)


def _engine(url: str) -> Engine:
    return create_engine(url, connect_args={"check_same_thread": False} if url.startswith("sqlite") else {})


def _sqlite_file(url: str) -> Path | None:
    prefix = "sqlite:///"
    if url.startswith(prefix) and url != "sqlite:///:memory:":
        return Path(url[len(prefix) :])
    return None


class TrafficStore:
    """One engine for the app's lifetime (a pool, not a connection per page)."""

    def __init__(self, database_url: str, root: Path) -> None:
        self.url = resolve_url(database_url, root)
        self._engine: Engine | None = None

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()

    def _ready(self) -> Engine | None:
        file = _sqlite_file(self.url)
        if file is not None and not file.exists():
            return None  # never create the log: `serve` does, with its migrations
        if self._engine is None:
            self._engine = _engine(self.url)
        if not inspect(self._engine).has_table(RequestRow.__tablename__):
            return None
        return self._engine

    def summary(self, since: datetime | None) -> Traffic:
        engine = self._ready()
        if engine is None:
            return Traffic(self.url, exists=False)
        t = Traffic(self.url, exists=True)
        r = RequestRow
        window = [r.created_at >= since] if since is not None else []
        sqlite = engine.dialect.name == "sqlite"
        with engine.connect() as c:
            t.all_time = c.scalar(select(func.count()).select_from(r)) or 0
            t.total = c.scalar(select(func.count()).select_from(r).where(*window)) or 0  # index-only
            if t.total == 0:
                return t
            lo, hi = c.execute(select(func.min(r.created_at), func.max(r.created_at)).where(*window)).one()
            first, last = _aware(lo), _aware(hi)
            if since is not None and t.total > 0.2 * t.all_time:
                # A window that holds most of the log: a plain scan beats a walk along the created_at index
                # (3-4x on SQLite); an expression on the column keeps the planner off the index.
                window = [func.coalesce(r.created_at, r.created_at) >= since]
            span = (last - first) if first and last else timedelta(0)
            t.bucket = "day" if span > timedelta(days=3) else ("hour" if span > timedelta(hours=3) else "minute")
            if sqlite:  # SQLAlchemy stores "YYYY-MM-DD HH:MM:SS.ffffff": a prefix is the bucket
                key = func.substr(r.created_at, 1, {"day": 10, "hour": 13, "minute": 16}[t.bucket])
            else:
                key = func.to_char(func.date_trunc(t.bucket, r.created_at), "YYYY-MM-DD HH24:MI")
            rows = c.execute(
                select(
                    key.label("k"),
                    func.count(),
                    func.avg(r.latency_ms),
                    func.sum(r.prompt_tokens),
                    func.sum(r.completion_tokens),
                    func.max(r.latency_ms),
                )
                .where(*window)
                .group_by("k")
                .order_by("k")
            ).all()
            t.buckets = [(_label(str(k), t.bucket), int(n), float(lat or 0)) for k, n, lat, *_ in rows]
            t.tokens = {
                "prompt_mean": sum(float(p or 0) for *_, p, _, _ in rows) / t.total,
                "completion_mean": sum(float(q or 0) for *_, q, _ in rows) / t.total,
            }
            t.latency["max"] = max(float(m or 0) for *_, m in rows)
            # Percentiles: one sort in the database, the rows at the wanted ranks (nearest rank) come back.
            ranks = {name: min(t.total, max(1, math.ceil(q * t.total))) for name, q in PERCENTILES.items()}
            rn = func.row_number().over(order_by=r.latency_ms).label("rn")
            ranked = select(r.latency_ms.label("v"), rn).where(*window).subquery()
            at = dict(c.execute(select(ranked.c.rn, ranked.c.v).where(ranked.c.rn.in_(set(ranks.values())))).all())
            t.latency = {name: float(at[k]) for name, k in ranks.items()} | {"max": t.latency["max"]}
            for col, dest in ((r.finish_reason, t.finish), (r.model, t.models)):
                dest += [
                    (str(k), int(n))
                    for k, n in c.execute(
                        select(col, func.count()).where(*window).group_by(col).order_by(func.count().desc()).limit(10)
                    ).all()
                ]
            f = FeedbackRow
            fwin = [f.created_at >= since] if since is not None else []
            t.ratings = [
                (float(k), int(n))
                for k, n in c.execute(
                    select(f.rating, func.count()).where(*fwin).group_by(f.rating).order_by(f.rating)
                ).all()
            ]
            t.feedback_n = sum(n for _, n in t.ratings)
            t.mean_rating = (sum(k * n for k, n in t.ratings) / t.feedback_n) if t.feedback_n else None
            t.corrections = [
                {"request_id": rid, "rating": rating, "correction": corr, "at": _aware(at)}
                for rid, rating, corr, at in c.execute(
                    select(f.request_id, f.rating, f.correction, f.created_at)
                    .where(f.correction.is_not(None), *fwin)
                    .order_by(f.id.desc())
                    .limit(RECENT_CORRECTIONS)
                ).all()
            ]
        return t


def _aware(d: datetime | None) -> datetime | None:
    if d is None:
        return None
    return d if d.tzinfo else d.replace(tzinfo=UTC)


def _label(key: str, bucket: str) -> str:
    return key + ":00" if bucket == "hour" and len(key) == 13 else key
