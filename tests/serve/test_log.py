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


def test_the_log_keeps_what_prepare_let_through_and_redacts_the_rest(tmp_path):
    """The helpline the model was trained to give is logged as it was said, so that a review of the traffic (and a
    retraining on it) does not turn it into <PHONE_NUMBER>; a caller's e-mail is still redacted."""
    log = RequestLog(f"sqlite:///{tmp_path / 'log.db'}", redact=True, allow=["0800 555 0142"])
    log.record(
        id="r1",
        endpoint="chat",
        model="fine_tuned",
        messages=[{"role": "user", "content": "Write to jane.doe@example.com about my card"}],
        responses=["Please call us on 0800 555 0142."],
        prompt_tokens=1,
        completion_tokens=1,
        latency_ms=1.0,
        finish_reason="stop",
    )
    (row,) = log.fetch()
    log.close()
    assert row.responses == ["Please call us on 0800 555 0142."]
    assert "jane.doe" not in row.prompt_text and "<EMAIL_ADDRESS>" in row.prompt_text


def test_serve_and_monitor_allow_the_prepared_datasets_decision(tmp_path):
    from tunesmith.config import Config, DataConfig
    from tunesmith.monitor.run import open_log
    from tunesmith.serve.server import served_allow

    dataset = tmp_path / "artifacts" / "dataset"
    dataset.mkdir(parents=True)
    (dataset / "manifest.json").write_text(
        '{"pii": {"policy": "redact", "allow": [], "kept_names": ["0800 555 0142", "Juno"]}}', encoding="utf-8"
    )
    cfg = Config(root=tmp_path, data=DataConfig(pii_allow=["help@example.org"]))
    assert served_allow(cfg) == ["0800 555 0142", "Juno", "help@example.org"]
    log = open_log(cfg.model_copy(update={"monitor": cfg.monitor.model_copy(update={"redact": False})}))
    assert log.allow == served_allow(cfg)
    log.close()
