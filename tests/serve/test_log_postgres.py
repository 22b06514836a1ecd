"""The request log on PostgreSQL: runs only where TUNESMITH_TEST_PG_URL points at a server (docs/serving.md)."""

from __future__ import annotations

import os
import uuid

import pytest

from tunesmith.serve.log import RequestLog

PG_URL = os.environ.get("TUNESMITH_TEST_PG_URL")


@pytest.mark.skipif(not PG_URL, reason="set TUNESMITH_TEST_PG_URL=postgresql+psycopg://... to run (docs/serving.md)")
def test_request_log_on_postgres():
    log = RequestLog(PG_URL, redact=True)
    rid = f"chatcmpl-{uuid.uuid4().hex}"
    log.record(
        id=rid,
        endpoint="chat",
        model="base",
        messages=[{"role": "user", "content": "mail me at john.smith@example.com"}],
        responses=["ok"],
        prompt_tokens=3,
        completion_tokens=1,
        latency_ms=2.0,
        finish_reason="stop",
        sources=[{"source": "kb/returns.pdf", "locator": "p. 2", "text": "Refunds take 5 days.", "score": 0.03}],
        answer_guard="redact",
        answer_flags={"blocklist": ["guaranteed returns"]},
        reasked=True,
    )
    log.add_feedback(rid, 1.0, None)
    (row,) = [r for r in log.fetch() if r.id == rid]
    assert row.prompt_text == "mail me at <EMAIL_ADDRESS>" and row.ratings == [1.0]
    assert row.sources == [{"source": "kb/returns.pdf", "locator": "p. 2", "score": 0.03}]  # migration 0003
    assert (row.answer_guard, row.answer_flags) == ("redact", {"blocklist": ["guaranteed returns"]})  # 0004
    assert row.reasked  # 0005
    log.close()
