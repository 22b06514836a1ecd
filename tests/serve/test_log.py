"""The request log on SQLite: migrations on open (twice is a no-op), the time window, feedback."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tunesmith.serve.log import RequestLog, resolve_url


def test_log_window_feedback_and_reopen(tmp_path):
    url = f"sqlite:///{tmp_path / 'log.db'}"
    log = RequestLog(url, redact=False)
    log.record(
        id="r1",
        endpoint="chat",
        model="base",
        messages=[{"role": "user", "content": "hello"}],
        responses=["hi"],
        prompt_tokens=1,
        completion_tokens=1,
        latency_ms=1.0,
        finish_reason="stop",
    )
    log.add_feedback("r1", 0.5, "better")
    log.close()
    log = RequestLog(url, redact=False)  # a second open finds the schema at head
    now = datetime.now(UTC)
    (row,) = log.fetch(now - timedelta(minutes=5))
    assert row.prompt_text == "hello" and row.ratings == [0.5] and row.corrections == ["better"]
    assert log.fetch(now + timedelta(minutes=5)) == []


def test_relative_sqlite_paths_belong_to_the_project(tmp_path):
    assert resolve_url("sqlite:///tunesmith.db", tmp_path) == f"sqlite:///{tmp_path / 'tunesmith.db'}"
    assert resolve_url("postgresql+psycopg://u@h/db", tmp_path) == "postgresql+psycopg://u@h/db"
