"""The loop around a served model: registry and promotion, logged traffic, monitor, export for review.

Artifacts are written the way the stages write them (manifests through write_manifest), with a random LoRA adapter
instead of a trained one, so the test exercises the registry's linking rules in seconds.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from tests.serve.conftest import make_adapter
from tunesmith.artifacts import read_jsonl, write_json_atomic, write_jsonl, write_manifest
from tunesmith.cli.main import main
from tunesmith.config import load_config
from tunesmith.errors import GateFailed
from tunesmith.pipeline import example_dir
from tunesmith.registry import Registry
from tunesmith.serve.log import RequestLog

COOKING = [
    f"How long should I bake {d} at {t} degrees?" for d in ("bread", "a pie", "lasagna") for t in (180, 200, 220)
]
COOKING += [f"What wine goes with {d}?" for d in ("duck", "risotto", "tuna", "paella", "lamb", "tofu")]


@pytest.fixture
def project(tmp_path: Path, tiny_model_dir: Path) -> Path:
    (tmp_path / "tunesmith.yaml").write_text(
        f"model: {{base: {tiny_model_dir}}}\n"
        "monitor: {database_url: 'sqlite:///log.db', min_requests: 20, permutations: 100}\n"
    )
    art = tmp_path / "artifacts"
    rows = read_jsonl(example_dir() / "data" / "support.jsonl")[:80]
    (art / "dataset").mkdir(parents=True)
    write_jsonl(art / "dataset" / "train.jsonl", rows)
    write_manifest(art / "dataset", stage="prepare", extra={"dataset_hash": "d1" * 8})
    make_adapter(tiny_model_dir, art / "train" / "adapter", seed=0)
    write_manifest(
        art / "train",
        stage="train",
        extra={
            "dataset": {"dataset_hash": "d1" * 8},
            "method": "lora",
            "base_model": {"resolved": str(tiny_model_dir)},
        },
    )
    return tmp_path


def _evaluate(project: Path, passed: bool) -> None:
    """An evaluation of the current run, as the eval stage links it (lineage.train_manifest_sha256)."""
    from tunesmith.artifacts import sha256_file

    ev = project / "artifacts" / "eval"
    ev.mkdir(exist_ok=True)
    gate = {"gate": "fine_tuned.rougeL >= base.rougeL + 0.1", "passed": passed, "left": 0.3, "right": 0.2}
    sha = sha256_file(project / "artifacts" / "train" / "manifest.json")
    scores = {"base": 0.1, "fine_tuned": 0.3}
    arms = {arm: {"metrics": {"rougeL": v}, "ci": {"rougeL": [v, v]}, "n": {"rougeL": 1}} for arm, v in scores.items()}
    write_json_atomic(
        ev / "results.json",
        {  # the smallest valid results.json (tunesmith.evals.results.EvalResults)
            "title": "loop",
            "created_at": "2025-01-01T00:00:00+00:00",
            "reference_arm": "base",
            "headline_metric": "rougeL",
            "metrics": ["rougeL"],
            "arms": arms,
            "slices": {},
            "examples": [],
            "dataset": {"path": "test.jsonl", "sha256": "0" * 64, "n_test": 0},
            "lineage": {"train_manifest_sha256": sha},
            "gates": [gate],
        },
    )
    write_manifest(ev, stage="eval", extra={"lineage": {"train_manifest_sha256": sha}})


def test_promotion_is_refused_without_a_passing_gate_then_served(project: Path, capsys):
    cfg = load_config(project / "tunesmith.yaml")
    registry = Registry(cfg)
    (run,) = registry.runs()
    assert run.dataset_hash == "d1" * 8 and run.evaluation is None
    with pytest.raises(GateFailed, match="no evaluation"):
        registry.promote(run.run_id)
    _evaluate(project, passed=False)
    assert main(["serve", "promote", run.run_id, str(project / "tunesmith.yaml")]) == 1
    assert registry.served() is None
    with pytest.raises(Exception, match="not a known run"):
        registry.promote("../../etc")

    _evaluate(project, passed=True)
    assert main(["serve", "promote", run.run_id[:6], str(project / "tunesmith.yaml")]) == 0
    served = registry.served()
    assert served.run_id == run.run_id and served.evaluation.gates_passed
    capsys.readouterr()
    assert main(["runs", "list", str(project / "tunesmith.yaml"), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed["served"] == run.run_id and listed["runs"][0]["evaluation"]["gates_passed"]
    # The snapshot survives the next training run rewriting artifacts/train.
    (project / "artifacts" / "train" / "manifest.json").unlink()
    assert registry.served().adapter_dir.is_dir()

    from tunesmith.serve.server import plan

    p = plan(cfg)
    assert p.aliases == {"served": run.run_id} and p.adapters[run.run_id] == served.adapter_dir
    assert p.lineage[run.run_id]["evaluation"]["gates_passed"] is True


def test_monitor_fires_on_new_topics_and_exports_them_redacted(project: Path, capsys):
    cfg_path = project / "tunesmith.yaml"
    log = RequestLog(f"sqlite:///{project / 'log.db'}", redact=False)  # redaction off: export must still redact
    support = [r["messages"][-2]["content"] for r in read_jsonl(example_dir() / "data" / "support.jsonl")[80:95]]
    ids = {}
    for prompt in support + COOKING:
        rid = f"chatcmpl-{uuid.uuid4().hex}"
        ids[prompt] = rid
        log.record(
            id=rid,
            endpoint="chat",
            model="base",
            messages=[{"role": "user", "content": prompt}],
            responses=["Sorry, I can't help with that."] if prompt in COOKING else ["Sure, here is how."],
            prompt_tokens=10,
            completion_tokens=5,
            latency_ms=1.0,
            finish_reason="stop",
        )
    low = ids[support[0]]
    log.add_feedback(low, -1.0, "Write to jane.roe@example.com for a refund.")

    assert main(["monitor", str(cfg_path), "--since", "1d"]) == 1
    out = project / "artifacts" / "monitor"
    result = json.loads((out / "drift.json").read_text())
    assert result["fired"] and result["drift"]["topic_drift"]
    assert set(result["drift"]["unseen_examples"][:3]) <= set(COOKING)
    assert result["outcomes"]["refusal_rate"] == pytest.approx(len(COOKING) / (len(COOKING) + len(support)))
    html = (out / "drift.html").read_text()
    assert (
        "data:image/png;base64," in html
        and "<script" not in html
        and "http" not in html.lower().replace("http-equiv", "")
    )
    assert "unseen:" in capsys.readouterr().out

    review = project / "review.jsonl"
    assert main(["monitor", "export-review", str(cfg_path), "--out", str(review), "--since", "1d"]) == 0
    records = {r["meta"]["id"]: r for r in read_jsonl(review)}
    assert {ids[c] for c in COOKING} & set(records)
    assert "low_rating" in records[low]["meta"]["tags"]
    assert (records[low]["meta"]["guarded"], records[low]["meta"]["reasked"]) == (False, False)  # for the reviewer
    assert records[low]["messages"][-1]["content"] == "Write to <EMAIL_ADDRESS> for a refund."  # the correction
    assert "jane.roe" not in review.read_text()


def test_monitor_needs_enough_traffic(project: Path):
    assert main(["monitor", str(project / "tunesmith.yaml")]) == 2


def test_monitor_counts_the_documents_answers_cited(project: Path, capsys):
    log = RequestLog(f"sqlite:///{project / 'log.db'}", redact=False)
    support = [r["messages"][-2]["content"] for r in read_jsonl(example_dir() / "data" / "support.jsonl")[80:105]]
    cited = [
        [("kb/returns.pdf", "p. 2"), ("kb/faq.md", "Returns")],
        [("kb/returns.pdf", "p. 2"), ("kb/returns.pdf", "p. 3")],
        [("kb/<b>hub</b>.html", "Hub")],
    ]
    for n, prompt in enumerate(support):
        passages = cited[n % 4] if n % 4 < 3 else None  # every fourth answer without retrieval
        log.record(
            id=f"chatcmpl-{uuid.uuid4().hex}",
            endpoint="chat",
            model="base",
            messages=[{"role": "user", "content": prompt}],
            responses=["Sure, here is how."],
            prompt_tokens=10,
            completion_tokens=5,
            latency_ms=1.0,
            finish_reason="stop",
            sources=None if passages is None else [{"source": s, "locator": loc, "score": 0.03} for s, loc in passages],
        )
    main(["monitor", str(project / "tunesmith.yaml"), "--since", "1d"])
    out = project / "artifacts" / "monitor"
    used = json.loads((out / "drift.json").read_text())["sources"]
    n = {k: sum(1 for i in range(len(support)) if i % 4 == k) for k in range(3)}
    assert used["requests"] == n[0] + n[1] + n[2]
    assert used["by_source"] == [
        {"source": "kb/returns.pdf", "requests": n[0] + n[1], "passages": n[0] + 2 * n[1]},
        {"source": "kb/faq.md", "requests": n[0], "passages": n[0]},  # 7 of the 25 (0, 4, ... 24)
        {"source": "kb/<b>hub</b>.html", "requests": n[2], "passages": n[2]},
    ]
    html = (out / "drift.html").read_text()
    assert "<td>kb/&lt;b&gt;hub&lt;/b&gt;.html</td>" in html and "<b>hub</b>" not in html
    printed = capsys.readouterr().out.replace("\n", " ")
    assert f"documents used by {used['requests']} answers with retrieval: kb/returns.pdf ({n[0] + n[1]})" in printed
