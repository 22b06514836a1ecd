"""The request log: every served request and its feedback, in a real database through SQLAlchemy.

SQLite (a file in the project) by default, PostgreSQL or anything SQLAlchemy speaks via `monitor.database_url`.
The schema is owned by the Alembic migrations shipped in `tunesmith/serve/migrations`, and upgraded on open, so a
log written by an older tunesmith keeps working. With `redact` on (the default), prompts, answers and corrections
go through the data stage's Presidio redactor before they are written: personal data never reaches the disk.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Boolean, DateTime, Float, ForeignKey, Integer, String, Text, create_engine, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

MIGRATIONS = Path(__file__).parent / "migrations"


class Base(DeclarativeBase):
    pass


class RequestRow(Base):
    __tablename__ = "requests"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    endpoint: Mapped[str] = mapped_column(String(32))
    model: Mapped[str] = mapped_column(String(128))
    prompt: Mapped[str] = mapped_column(Text)  # JSON: the messages, or the completion prompt
    prompt_text: Mapped[str] = mapped_column(Text)  # the last user message: what monitoring compares
    response: Mapped[str] = mapped_column(Text)  # JSON list: one text per choice
    prompt_tokens: Mapped[int] = mapped_column(Integer)
    completion_tokens: Mapped[int] = mapped_column(Integer)
    latency_ms: Mapped[float] = mapped_column(Float)
    finish_reason: Mapped[str] = mapped_column(String(16))
    redacted: Mapped[bool] = mapped_column(Boolean)
    guarded: Mapped[bool] = mapped_column(Boolean, default=False)  # declined by the scope guard, not the model
    # the model declined a question the scope guard was sure of, and the answer sent is the one asked again
    reasked: Mapped[bool] = mapped_column(Boolean, default=False)
    # JSON list of the passages a serve.rag_models answer was given ({source, locator, score}); null without retrieval
    sources: Mapped[str | None] = mapped_column(Text, nullable=True)
    # serve.answer_guards: the action taken on the answer (block, redact, log) and, as JSON, what each guard found
    # (blocklisted phrases, PII entity types; never a value); null when no guard hit
    answer_guard: Mapped[str | None] = mapped_column(String(16), nullable=True)
    answer_flags: Mapped[str | None] = mapped_column(Text, nullable=True)


class FeedbackRow(Base):
    __tablename__ = "feedback"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(String(64), ForeignKey("requests.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    rating: Mapped[float] = mapped_column(Float)
    correction: Mapped[str | None] = mapped_column(Text, nullable=True)


@dataclass
class LoggedRequest:
    """One request as monitoring and export-review see it, with its feedback."""

    id: str
    created_at: datetime
    model: str
    messages: list[dict[str, str]]
    prompt_text: str
    responses: list[str]
    completion_tokens: int
    finish_reason: str
    ratings: list[float]
    corrections: list[str]
    guarded: bool = False
    reasked: bool = False  # the model's refusal of an in-scope question was asked again (serve.guard)
    sources: list[dict[str, Any]] | None = None  # the passages of an answer given with retrieval
    answer_guard: str | None = None  # serve.answer_guards: block, redact or log; None when no guard hit
    answer_flags: dict[str, list[str]] | None = None  # what each guard found


def _cited(sources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: s[k] for k in ("source", "locator", "score") if k in s} for s in sources]


def redact_texts(texts: Sequence[str], allow: Sequence[str] = ()) -> list[str]:
    """Replace every PII span with its type (`<EMAIL_ADDRESS>`), with the data stage's scanner and defaults; the
    `allow` values (data.redact.decided_allow: the organisation's own helpline and names) are left alone."""
    from tunesmith.data import pii

    spans = pii.scan(list(texts), allow=list(allow))
    return [pii.splice(t, s, lambda span, _v: f"<{span.entity}>") for t, s in zip(texts, spans, strict=True)]


def resolve_url(url: str, root: Path) -> str:
    """A relative SQLite path in tunesmith.yaml is relative to the project, not to wherever the server started."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and url != "sqlite:///:memory:" and not url.startswith("sqlite:////"):
        return prefix + str((root / url[len(prefix) :]).resolve())
    return url


class RequestLog:
    """Thread-safe writer and reader of the log. SQLite allows one writer: writes to it take a lock."""

    def __init__(self, url: str, *, redact: bool = True, allow: Sequence[str] = ()) -> None:
        self.url = url
        self.redact = redact
        self.allow = list(allow)  # not personal data: data.pii_allow and what prepare kept as the organisation's
        sqlite = url.startswith("sqlite")
        self.engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30} if sqlite else {},
            pool_pre_ping=not sqlite,
        )
        self._lock = threading.Lock() if sqlite else None
        self.upgrade()
        if redact:
            # Build the analyzer (spaCy, seconds) now: built lazily, concurrent first requests would each build it.
            redact_texts(["warm-up"])

    def upgrade(self) -> None:
        """Bring the schema to the newest migration (a no-op when it is there already)."""
        from alembic import command
        from alembic.config import Config as AlembicConfig

        cfg = AlembicConfig()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    def _write(self, rows: list[Any]) -> None:
        if self._lock is None:
            with Session(self.engine) as s, s.begin():
                s.add_all(rows)
            return
        with self._lock, Session(self.engine) as s, s.begin():
            s.add_all(rows)

    def record(
        self,
        *,
        id: str,
        endpoint: str,
        model: str,
        messages: list[dict[str, str]],
        responses: list[str],
        prompt_tokens: int,
        completion_tokens: int,
        latency_ms: float,
        finish_reason: str,
        guarded: bool = False,
        reasked: bool = False,
        sources: list[dict[str, Any]] | None = None,
        answer_guard: str | None = None,
        answer_flags: dict[str, list[str]] | None = None,
    ) -> None:
        """Write one request. Of its `sources`, the log keeps which passage (source, locator) and its score: the
        passage text is in the document index already, and each request repeating it would grow the log by
        kilobytes. `responses` are the answers as sent (after the answer guards); `answer_guard` and `answer_flags`
        say what the guards did and found; `reasked` that they are the answers asked again after the model declined
        a question the scope guard was sure of, so a reviewer can tell them from the model's first answer."""
        contents = [m.get("content") or "" for m in messages]
        if self.redact:
            cleaned = redact_texts([*contents, *responses], self.allow)
            contents, responses = cleaned[: len(contents)], cleaned[len(contents) :]
        messages = [{"role": m["role"], "content": c} for m, c in zip(messages, contents, strict=True)]
        last_user = next(
            (m["content"] for m in reversed(messages) if m["role"] == "user"), contents[-1] if contents else ""
        )
        self._write(
            [
                RequestRow(
                    id=id,
                    created_at=datetime.now(UTC),
                    endpoint=endpoint,
                    model=model,
                    prompt=json.dumps(messages, ensure_ascii=False),
                    prompt_text=last_user,
                    response=json.dumps(responses, ensure_ascii=False),
                    prompt_tokens=prompt_tokens,
                    completion_tokens=completion_tokens,
                    latency_ms=latency_ms,
                    finish_reason=finish_reason,
                    redacted=self.redact,
                    guarded=guarded,
                    reasked=reasked,
                    sources=None if sources is None else json.dumps(_cited(sources), ensure_ascii=False),
                    answer_guard=answer_guard,
                    answer_flags=None if answer_flags is None else json.dumps(answer_flags, ensure_ascii=False),
                )
            ]
        )

    def exists(self, request_id: str) -> bool:
        with Session(self.engine) as s:
            return s.get(RequestRow, request_id) is not None

    def add_feedback(self, request_id: str, rating: float, correction: str | None = None) -> None:
        if correction and self.redact:
            correction = redact_texts([correction], self.allow)[0]
        self._write(
            [FeedbackRow(request_id=request_id, created_at=datetime.now(UTC), rating=rating, correction=correction)]
        )

    def count(self) -> int:
        with Session(self.engine) as s:
            return s.scalar(select(func.count()).select_from(RequestRow)) or 0

    def fetch(self, since: datetime | None = None) -> list[LoggedRequest]:
        """Logged requests (oldest first) with their feedback, from `since` on."""
        with Session(self.engine) as s:
            q = select(RequestRow).order_by(RequestRow.created_at)
            if since is not None:
                q = q.where(RequestRow.created_at >= since)
            rows = s.scalars(q).all()
            feedback: dict[str, list[FeedbackRow]] = {}
            for f in s.scalars(select(FeedbackRow).order_by(FeedbackRow.id)).all():
                feedback.setdefault(f.request_id, []).append(f)
            out = []
            for r in rows:
                created = r.created_at if r.created_at.tzinfo else r.created_at.replace(tzinfo=UTC)
                fb = feedback.get(r.id, [])
                out.append(
                    LoggedRequest(
                        id=r.id,
                        created_at=created,
                        model=r.model,
                        messages=json.loads(r.prompt),
                        prompt_text=r.prompt_text,
                        responses=json.loads(r.response),
                        completion_tokens=r.completion_tokens,
                        finish_reason=r.finish_reason,
                        ratings=[f.rating for f in fb],
                        corrections=[f.correction for f in fb if f.correction],
                        guarded=r.guarded,
                        reasked=r.reasked,
                        sources=None if r.sources is None else json.loads(r.sources),
                        answer_guard=r.answer_guard,
                        answer_flags=None if r.answer_flags is None else json.loads(r.answer_flags),
                    )
                )
            return out

    def close(self) -> None:
        self.engine.dispose()
