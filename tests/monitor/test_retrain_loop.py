"""The retraining loop end to end on the example project: prepare, train, evaluate, promote, log traffic, monitor,
export for review, prepare a new version that names its parent, retrain, and a refused promotion."""

from __future__ import annotations

import inspect
import json
import uuid
from pathlib import Path

import pytest
from rich.console import Console

from tunesmith.artifacts import read_jsonl, write_jsonl
from tunesmith.cli.main import main
from tunesmith.config import load_config
from tunesmith.data.prepare import prepare_dataset
from tunesmith.pipeline import example_dir, run_pipeline
from tunesmith.registry import Registry
from tunesmith.serve.log import RequestLog

pytestmark = pytest.mark.slow

COOKING = [
    f"How long should I bake {d} at {t} degrees?" for d in ("bread", "a pie", "lasagna") for t in (180, 200, 220)
]
COOKING += [f"What wine goes with {d}?" for d in ("duck", "risotto", "tuna", "paella", "lamb", "tofu")]


@pytest.mark.skipif(
    "parent" not in inspect.signature(prepare_dataset).parameters,
    reason="waiting for prepare_dataset(parent=...) from the data stage (issue 6 retraining loop)",
)
def test_retraining_loop(tmp_path: Path, tiny_model_dir: Path):
    rows = read_jsonl(example_dir() / "data" / "support.jsonl")
    write_jsonl(tmp_path / "support.jsonl", rows[:80])
    cfg_path = tmp_path / "tunesmith.yaml"
    cfg_path.write_text(
        f"""model: {{base: {tiny_model_dir}}}
data: {{paths: [support.jsonl], dedup: exact}}
train: {{epochs: 1, learning_rate: 0.005, batch_size: 8, max_seq_len: 256}}
eval: {{arms: [base, fine_tuned], limit: 4, max_new_tokens: 8, forgetting: false, gates: ["fine_tuned.rougeL >= 0"]}}
monitor: {{database_url: "sqlite:///log.db", min_requests: 20, permutations: 100}}
"""
    )
    quiet = Console(quiet=True)
    cfg = load_config(cfg_path)
    run_pipeline(cfg, start="prepare", console=quiet)
    registry = Registry(cfg)
    (first,) = registry.runs()
    assert main(["serve", "promote", first.run_id, str(cfg_path)]) == 0
    parent_hash = first.dataset_hash

    log = RequestLog(f"sqlite:///{tmp_path / 'log.db'}", redact=True)
    for prompt in [r["messages"][-2]["content"] for r in rows[80:95]] + COOKING:
        log.record(
            id=f"chatcmpl-{uuid.uuid4().hex}",
            endpoint="chat",
            model=first.run_id,
            messages=[{"role": "user", "content": prompt}],
            responses=["ok"],
            prompt_tokens=5,
            completion_tokens=1,
            latency_ms=1.0,
            finish_reason="stop",
        )
    assert main(["monitor", str(cfg_path), "--since", "1d"]) == 1
    review = tmp_path / "review.jsonl"
    assert main(["monitor", "export-review", str(cfg_path), "--out", str(review), "--since", "1d"]) == 0
    assert read_jsonl(review)

    # A person reviewed the file (its needs_review tags become reviewed); the new version adds it to the previous
    # version and names it as its parent.
    from tunesmith.models.loading import load_tokenizer

    reviewed = []
    for row in read_jsonl(review):
        tags = row["meta"]["tags"]
        row["meta"]["tags"] = ["reviewed" if t == "needs_review" else t for t in tags]
        reviewed.append(json.dumps(row))
    review.write_text("\n".join(reviewed) + "\n")

    result = prepare_dataset(
        [review],
        cfg.stage_dir("dataset"),
        cfg.data,
        max_seq_len=cfg.train.max_seq_len,
        tokenizer=load_tokenizer(str(tiny_model_dir)),
        parent=cfg.stage_dir("dataset"),
    )
    manifest = json.loads((cfg.stage_dir("dataset") / "manifest.json").read_text())
    assert parent_hash in json.dumps(manifest.get("parent")) and result.dataset_hash != parent_hash

    # The candidate trains and evaluates; its gate is out of reach, so promotion is refused and nothing changes.
    cfg_path.write_text(cfg_path.read_text().replace("fine_tuned.rougeL >= 0", "fine_tuned.rougeL >= 2"))
    run_pipeline(load_config(cfg_path), start="train", console=quiet)
    candidate = next(r for r in registry.runs() if r.run_id != first.run_id)
    assert candidate.dataset_hash == result.dataset_hash
    assert main(["serve", "promote", candidate.run_id, str(cfg_path)]) == 1
    assert registry.served().run_id == first.run_id
