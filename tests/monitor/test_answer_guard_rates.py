"""`tunesmith monitor` reports how often serve.answer_guards hit answers, and fires above
monitor.max_answer_guard_rate (issue 31, item 5)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from tunesmith.artifacts import read_jsonl, write_jsonl, write_manifest
from tunesmith.cli.main import main
from tunesmith.pipeline import example_dir
from tunesmith.serve.log import RequestLog

# (action, what the guards found) of 25 logged answers: 6 hit, 19 clean
HITS = [
    ("block", {"blocklist": ["guaranteed returns"]}),
    ("block", {"blocklist": ["guaranteed returns"]}),
    ("block", {"blocklist": ["guaranteed returns"], "pii": ["PERSON"]}),
    ("redact", {"pii": ["EMAIL_ADDRESS"]}),
    ("redact", {"pii": ["PHONE_NUMBER"]}),
    ("log", {"blocklist": ["free upgrade"]}),
]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project with a prepared dataset (what traffic is compared with) and 25 logged requests."""
    (tmp_path / "tunesmith.yaml").write_text(
        "monitor: {database_url: 'sqlite:///log.db', min_requests: 20, permutations: 50}\n"
    )
    rows = read_jsonl(example_dir() / "data" / "support.jsonl")
    dataset = tmp_path / "artifacts" / "dataset"
    dataset.mkdir(parents=True)
    write_jsonl(dataset / "train.jsonl", rows[:80])
    write_manifest(dataset, stage="prepare", extra={"dataset_hash": "d1" * 8})
    log = RequestLog(f"sqlite:///{tmp_path / 'log.db'}", redact=False)
    for n, row in enumerate(rows[80:105]):
        action, found = HITS[n] if n < len(HITS) else (None, None)
        log.record(
            id=f"chatcmpl-{uuid.uuid4().hex}",
            endpoint="chat",
            model="base",
            messages=[{"role": "user", "content": row["messages"][-2]["content"]}],
            responses=["I can't share that answer." if action == "block" else "Sure, here is how."],
            prompt_tokens=10,
            completion_tokens=5,
            latency_ms=1.0,
            finish_reason="stop",
            answer_guard=action,
            answer_flags=found,
        )
    log.close()
    return tmp_path


def test_monitor_reports_the_answer_guard_rates_and_fires_above_the_threshold(project: Path, capsys):
    args = ["monitor", str(project / "tunesmith.yaml"), "--since", "1d"]
    assert main([*args, "--set", "monitor.max_answer_guard_rate=0.1"]) == 1
    result = json.loads((project / "artifacts" / "monitor" / "drift.json").read_text())
    g = result["answer_guards"]
    assert (g["n"], g["hit"]) == (25, 6) and g["rate"] == pytest.approx(0.24)
    assert g["by_action"] == {
        "block": {"count": 3, "rate": 0.12},
        "log": {"count": 1, "rate": 0.04},
        "redact": {"count": 2, "rate": 0.08},
    }
    assert {k: v["count"] for k, v in g["by_guard"].items()} == {"blocklist": 4, "pii": 3}
    assert sum(d["hit"] for d in g["daily"]) == 6 and sum(d["n"] for d in g["daily"]) == 25
    assert g["fired"] and "answer guards hit 24% of answers" in result["reasons"]
    assert result["thresholds"]["answer_guard_rate"] == 0.1
    printed = " ".join(capsys.readouterr().out.split())
    assert "answer guards hit 6 of 25 answers (24.0%): block 3, log 1, redact 2, blocklist 4, pii 3" in printed
    html = (project / "artifacts" / "monitor" / "drift.html").read_text()
    assert "answers the answer guards hit" in html and "<td>block</td><td>3</td><td>12.0%</td>" in html


def test_without_a_threshold_the_rates_are_reported_only(project: Path):
    from tunesmith.config import MonitorConfig
    from tunesmith.monitor.answer_guards import answer_guard_rates

    log = RequestLog(f"sqlite:///{project / 'log.db'}", redact=False)
    rows = log.fetch()
    log.close()
    assert answer_guard_rates(rows, MonitorConfig()).reasons() == []
    assert answer_guard_rates(rows, MonitorConfig(max_answer_guard_rate=0.24)).reasons() == []  # at it: no
    assert answer_guard_rates(rows, MonitorConfig(max_answer_guard_rate=0.2)).fired
    assert answer_guard_rates([], MonitorConfig(max_answer_guard_rate=0.0)).rate == 0.0
