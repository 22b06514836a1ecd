"""Migration end to end, with tiny models (issue 27): the teacher is `tunesmith serve` (its real app, on loopback)
serving a fine-tune, the "vendor model"; `data generate --from data` asks it the training prompts; the drafts are
reviewed; the student (the same base) trains on the teacher's answers; the evaluation puts the student beside the
teacher (the endpoint arm) with paired CIs, and the report has the Migration section. Quality means nothing here
(random tiny models): this is the plumbing of docs/vendors.md's walkthrough, command by command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.serve.conftest import LiveServer, free_port, make_adapter
from tunesmith.cli.main import main

EXAMPLE = Path(__file__).parents[2] / "examples" / "support-desk" / "data" / "support.jsonl"


@pytest.fixture(scope="module")
def teacher(tiny_model_dir, tmp_path_factory):
    from tunesmith.config import ServeConfig
    from tunesmith.serve.app import ServeState, create_app
    from tunesmith.serve.engine import Engine
    from tunesmith.serve.log import RequestLog

    root = tmp_path_factory.mktemp("teacher")
    engine = Engine(str(tiny_model_dir), adapters={"vendor-ft": make_adapter(tiny_model_dir, root / "ft", 3)})
    log = RequestLog(f"sqlite:///{root / 'log.db'}", redact=False)
    state = ServeState(engine, log, ServeConfig(max_tokens=64, default_max_tokens=16))
    with LiveServer(create_app(state), free_port()) as live:
        live.log = log
        yield live
    log.close()


@pytest.mark.slow
def test_a_student_distilled_from_a_served_teacher_is_measured_against_it(teacher, tiny_model_dir, tmp_path) -> None:
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    (tmp_path / "prompts.jsonl").write_text("\n".join(lines[:48]) + "\n", encoding="utf-8")
    (tmp_path / "test.jsonl").write_text("\n".join(lines[-12:]) + "\n", encoding="utf-8")
    url = teacher.url + "/v1"
    config = tmp_path / "tunesmith.yaml"
    config.write_text(
        f"""data: {{paths: [prompts.jsonl], test_paths: [test.jsonl], pii: 'off', refusals: 'off'}}
model: {{base: {tiny_model_dir}}}
train: {{epochs: 1, batch_size: 16, learning_rate: 0.005}}
generate:
  teacher: {{base_url: {url}, model: vendor-ft, max_tokens: 16, temperature: 0}}
  language: null
  min_chars: 1
eval:
  arms: [base, fine_tuned, endpoint]
  endpoint: {{base_url: {url}, model: vendor-ft}}
  max_new_tokens: 12
  latency_sample: 0
  forgetting: false
  prices: {{endpoint: {{prompt_per_1m: 0.3, completion_per_1m: 1.2}}}}
""",
        encoding="utf-8",
    )
    drafts = tmp_path / "review" / "distilled.jsonl"
    # 1. the teacher answers the training prompts (its answers become the targets)
    assert main(["data", "generate", str(config), "--from", "data", "--out", str(drafts), "--yes"]) == 0
    asked = teacher.log.count()
    rows = [json.loads(x) for x in drafts.read_text(encoding="utf-8").splitlines()]
    assert rows and asked >= len(rows) and all("needs_review" in r["meta"]["tags"] for r in rows)
    # 2. a person approves them (as tunesmith ui --review writes them), and they become the data
    reviewed = tmp_path / "reviewed.jsonl"
    approved = []
    for r in rows:
        tags = [t for t in r["meta"]["tags"] if t != "needs_review"] + ["reviewed"]
        approved.append({**r, "meta": {**r["meta"], "tags": tags, "review": {"by": "ana", "decision": "approve"}}})
    reviewed.write_text("".join(json.dumps(r) + "\n" for r in approved), encoding="utf-8")
    config.write_text(config.read_text().replace("paths: [prompts.jsonl]", "paths: [reviewed.jsonl]"))
    # 3. the student trains on them and is evaluated beside the teacher
    assert main(["run", str(config)]) == 0
    card = (tmp_path / "artifacts" / "dataset" / "README.md").read_text(encoding="utf-8")
    assert "## Generated examples" in card and "`vendor-ft`" in card and "ana (" in card
    results = json.loads((tmp_path / "artifacts" / "eval" / "results.json").read_text(encoding="utf-8"))
    delta = results["arms"]["fine_tuned"]["delta_vs"]["endpoint"]["rougeL"]
    assert len(delta["ci"]) == 2 and delta["ci"][0] <= delta["value"] <= delta["ci"][1]
    assert results["arms"]["endpoint"]["cost_per_1k_requests"] > 0
    report = (tmp_path / "artifacts" / "eval" / "report.html").read_text(encoding="utf-8")
    assert "Migration: student against teacher" in report and "id='migration-tags'" in report
    assert teacher.log.count() > asked  # the evaluation asked the teacher the test questions
