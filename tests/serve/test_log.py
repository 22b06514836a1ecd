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


def _log_at_revision(tmp_path, revision: str, last_columns: str) -> str:
    """A SQLite log migrated only up to `revision`, holding one row 'old-1' whose last columns are `last_columns`
    (finish_reason onwards): a database an older tunesmith wrote."""
    import sqlalchemy as sa
    from alembic import command
    from alembic.config import Config as AlembicConfig

    from tunesmith.serve.log import MIGRATIONS

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = sa.create_engine(url)
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
        conn.execute(
            sa.text(
                "INSERT INTO requests VALUES ('old-1', '2026-01-01 00:00:00', 'chat', 'base', '[]', 'hi',"
                f" '[\"hello\"]', 1, 1, 1.0, {last_columns})"
            )
        )
    engine.dispose()
    return url


def test_a_log_from_before_the_scope_guard_upgrades_in_place(tmp_path):
    """A database at migration 0001 (no `guarded` column) keeps its rows, which read as not guarded."""
    url = _log_at_revision(tmp_path, "0001", "'stop', 0")
    log = RequestLog(url, redact=False)
    log.record(
        id="new-1",
        endpoint="chat",
        model="base",
        messages=[{"role": "user", "content": "bitcoin?"}],
        responses=["no"],
        prompt_tokens=0,
        completion_tokens=0,
        latency_ms=1.0,
        finish_reason="stop",
        guarded=True,
    )
    assert {r.id: r.guarded for r in log.fetch()} == {"old-1": False, "new-1": True}
    log.close()


def test_a_log_from_before_retrieval_upgrades_in_place(tmp_path):
    """A database at migration 0002 (no `sources` column) keeps its rows, which read as answered without retrieval;
    a new row keeps which passages its answer was given, without their text (that is in the document index)."""
    import sqlalchemy as sa

    url = _log_at_revision(tmp_path, "0002", "'stop', 0, 1")
    log = RequestLog(url, redact=False)
    passage = {"source": "kb/returns.pdf", "locator": "p. 2", "text": "Refunds take 5 days.", "score": 0.032}
    log.record(
        id="new-1",
        endpoint="chat",
        model="base",
        messages=[{"role": "user", "content": "refund?"}],
        responses=["5 days"],
        prompt_tokens=40,
        completion_tokens=2,
        latency_ms=1.0,
        finish_reason="stop",
        sources=[passage],
    )
    rows = {r.id: r for r in log.fetch()}
    assert rows["old-1"].sources is None and rows["old-1"].guarded
    assert rows["new-1"].sources == [{"source": "kb/returns.pdf", "locator": "p. 2", "score": 0.032}]
    with log.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() == "0005"
    log.close()


def test_a_log_from_before_the_answer_guards_upgrades_in_place(tmp_path):
    """A database at migration 0003 (no answer_guard, answer_flags) keeps its rows, which read as unguarded; a new
    row keeps the action the answer guards took and what they found."""
    url = _log_at_revision(tmp_path, "0003", "'stop', 0, 0, NULL")
    log = RequestLog(url, redact=False)
    log.record(
        id="new-1",
        endpoint="chat",
        model="base",
        messages=[{"role": "user", "content": "returns?"}],
        responses=["I can't share that answer."],
        prompt_tokens=4,
        completion_tokens=3,
        latency_ms=1.0,
        finish_reason="stop",
        answer_guard="block",
        answer_flags={"blocklist": ["guaranteed returns"], "pii": ["PERSON"]},
    )
    rows = {r.id: r for r in log.fetch()}
    assert (rows["old-1"].answer_guard, rows["old-1"].answer_flags) == (None, None)
    assert rows["new-1"].answer_guard == "block"
    assert rows["new-1"].answer_flags == {"blocklist": ["guaranteed returns"], "pii": ["PERSON"]}
    log.close()


def test_a_log_from_before_reasked_answers_upgrades_in_place(tmp_path):
    """A database at migration 0004 (no `reasked` column) keeps its rows, which read as not asked again; a new row
    keeps that its answer was asked again (serve.guard sure of the question, the model declining it)."""
    url = _log_at_revision(tmp_path, "0004", "'stop', 0, 0, NULL, NULL, NULL")
    log = RequestLog(url, redact=False)
    log.record(
        id="new-1",
        endpoint="chat",
        model="base",
        messages=[{"role": "user", "content": "how do i reset my thermostat"}],
        responses=["Hold the dial for 10 seconds."],
        prompt_tokens=8,
        completion_tokens=7,
        latency_ms=1.0,
        finish_reason="stop",
        reasked=True,
    )
    assert {r.id: r.reasked for r in log.fetch()} == {"old-1": False, "new-1": True}
    log.close()
