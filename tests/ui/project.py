"""A small project for the dashboard tests, written by tunesmith's own writers.

The dataset versions are real: `data check` and `data prepare` (with PII redaction) on the first lines of the
quickstart's support-desk data, then again with a planted `<script>` example added. The training runs and
evaluations are written through the same functions as `train` and `eval` (write_manifest, EvalResults,
render_report, stats.aggregate) with synthetic curves and answers, because training and generating take minutes
on these machines and the dashboard only reads what they write. The first run is promoted through the registry.
The request log gets `n_requests` rows through serve/log.py's models, spread over the last week.
"""

from __future__ import annotations

import json
import math
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import insert

from tunesmith.artifacts import atomic_dir, sha256_file, write_json_atomic, write_jsonl, write_manifest
from tunesmith.config import Config, load_config
from tunesmith.data.check import check_files
from tunesmith.data.prepare import prepare_dataset
from tunesmith.evals.report import render_report
from tunesmith.evals.results import EvalResults
from tunesmith.evals.stats import aggregate, slices
from tunesmith.monitor.drift import DriftReport, Topic
from tunesmith.registry import Registry
from tunesmith.serve.log import FeedbackRow, RequestLog, RequestRow

EXAMPLE = Path(__file__).parents[2] / "examples" / "support-desk"
PLANTED = "PLANTED <script>alert(1)</script> can I pay with <b>gift cards</b>?"
RAW_EMAIL = "daniel.okafor@example.net"  # line 29 of support.jsonl: must only ever show as <EMAIL_ADDRESS>
ARMS = ["base", "retrieval", "fine_tuned"]
LINES = 80


def _run(cfg: Config, dataset_dir: Path, *, lr: float, seed: int) -> str:
    out = cfg.stage_dir("train")
    rng = np.random.default_rng(seed)
    metrics, steps = [], 40
    for step in range(5, steps + 1, 5):
        metrics.append(
            {
                "step": step,
                "loss": 3.0 * math.exp(-step / (20 + 10 * seed)) + 0.5 + rng.normal(0, 0.02),
                "learning_rate": lr * (1 - step / steps),
            }
        )
        if step % 10 == 0:
            metrics.append({"step": step, "eval_loss": 2.6 * math.exp(-step / 25) + 0.8})
    if out.exists():
        shutil.rmtree(out)
    with atomic_dir(out) as tmp:
        write_jsonl(tmp / "metrics.jsonl", metrics)
        for step in (20, 40):
            (tmp / "checkpoints" / f"checkpoint-{step}").mkdir(parents=True)
        (tmp / "adapter").mkdir()
        (tmp / "adapter" / "adapter_config.json").write_text("{}", encoding="utf-8")
        manifest = dataset_dir / "manifest.json"
        write_manifest(
            tmp,
            stage="train",
            config={**cfg.to_dict(), "train": {**cfg.train.model_dump(mode="json"), "learning_rate": lr, "epochs": 2}},
            inputs=[dataset_dir / "train.jsonl"],
            counts={
                "train_examples": 60,
                "val_examples": 8,
                "epochs": 2,
                "steps": steps,
                "train_loss": metrics[-2]["loss"],
                "eval_loss": min(m["eval_loss"] for m in metrics if "eval_loss" in m),
                "tokens_per_second": 3100.0 + 100 * seed,
                "train_seconds": 12.5,
                "world_size": 1,
            },
            extra={
                "base_model": {"id": "models/tiny", "resolved": "models/tiny", "revision": None},
                "dataset": {
                    "path": str(dataset_dir),
                    "dataset_hash": json.loads(manifest.read_text())["dataset_hash"],
                    "manifest_sha256": sha256_file(manifest),
                },
                "labels": {"tokens": 20_000},
                "method": "lora",
                "best_checkpoint": str(out / "checkpoints" / "checkpoint-40"),
                "resumed_from": None,
            },
        )
    return sha256_file(out / "manifest.json")


def _eval(cfg: Config, dataset_dir: Path, train_sha: str, *, seed: int) -> EvalResults:
    """Answers for the real test split: the fine-tune wins on most examples and loses on every third."""
    rng = np.random.default_rng(seed)
    test = [json.loads(line) for line in (dataset_dir / "test.jsonl").read_text().splitlines()]
    examples = []
    for i, row in enumerate(test):
        user = next(m["content"] for m in reversed(row["messages"]) if m["role"] == "user")
        reference = row["messages"][-1]["content"]
        base = float(rng.uniform(0.05, 0.3))
        scores = {"base": base, "retrieval": base + 0.15, "fine_tuned": base + (0.3 if i % 3 else -0.04)}
        examples.append(
            {
                "id": str(row["meta"]["id"]),
                "tags": [str(t) for t in row["meta"].get("tags", [])] or ["untagged"],
                "prompt": user,
                "reference": reference,
                "arms": {
                    arm: {
                        "prediction": f"{arm} answer to {row['meta']['id']}",
                        "metrics": {"rougeL": s, "chrf": s * 0.9},
                    }
                    for arm, s in scores.items()
                },
            }
        )
    stats = aggregate(examples, ARMS, "base", n_resamples=200)
    for arm, (prompt, completion, p50, cost) in {
        "base": (90, 60, 420, 0.8),
        "retrieval": (0, 55, 30, 0.1),
        "fine_tuned": (90, 40, 380, 0.7),
    }.items():
        stats[arm].update(
            tokens={"prompt_mean": prompt, "completion_mean": completion},
            latency_ms={"p50": p50, "p95": 2 * p50},
            throughput_rps=1000 / p50,
            cost_per_1k_requests=cost,
        )
    ft, base = stats["fine_tuned"]["metrics"]["rougeL"], stats["base"]["metrics"]["rougeL"]
    results = EvalResults.of(
        {
            "title": "support-desk <eval>",
            "created_at": datetime.now(UTC).isoformat(),
            "reference_arm": "base",
            "headline_metric": "rougeL",
            "metrics": ["rougeL", "chrf"],
            "arms": stats,
            "slices": slices(examples, ARMS),
            "examples": examples,
            "dataset": {"path": str(dataset_dir / "test.jsonl"), "sha256": "ab" * 32, "n_test": len(examples)},
            "lineage": {"dataset_dir": str(dataset_dir), "train_manifest_sha256": train_sha},
            "gates": [
                {
                    "gate": "fine_tuned.rougeL >= base.rougeL + 0.1",
                    "passed": ft >= base + 0.1,
                    "left": ft,
                    "right": base + 0.1,
                }
            ],
        }
    )
    with atomic_dir(cfg.stage_dir("eval"), overwrite=True) as tmp:
        write_json_atomic(tmp / "results.json", results.to_json())
        render_report(results, tmp / "report.html")
        write_manifest(tmp, stage="eval", config=cfg.to_dict(), extra={"lineage": dict(results.lineage.items())})
    return results


def _check(cfg: Config, tokenizer: Any, data: Path) -> None:
    report = check_files([data], cfg.data, tokenizer=tokenizer, diversity=False)
    with atomic_dir(cfg.stage_dir("check"), overwrite=True) as tmp:
        write_json_atomic(tmp / "findings.json", report.to_json())
        write_manifest(tmp, stage="check", inputs=[data], counts={"examples": report.examples})


def _prepare(cfg: Config, tokenizer: Any, data: Path) -> None:
    prepare_dataset(
        [data],
        cfg.stage_dir("dataset"),
        cfg.data,
        seed=0,
        tokenizer=tokenizer,
        pii_key_file=cfg.root / ".tunesmith" / "pii.key",
    )


def _traffic(cfg: Config, n_requests: int) -> None:
    log = RequestLog(f"sqlite:///{cfg.root / 'tunesmith.db'}", redact=False)  # the real schema, by its migrations
    rng = np.random.default_rng(0)
    now = datetime.now(UTC)
    ages = rng.uniform(0, 7 * 24 * 3600, n_requests)
    latency = rng.lognormal(6.0, 0.5, n_requests)
    rows = [
        {
            "id": f"req-{i:06d}",
            "created_at": now - timedelta(seconds=float(ages[i])),
            "endpoint": "chat",
            "model": "served",
            "prompt": json.dumps([{"role": "user", "content": f"question {i % 500}"}]),
            "prompt_text": f"question {i % 500}",
            "response": json.dumps([f"answer {i % 500}"]),
            "prompt_tokens": int(20 + i % 30),
            "completion_tokens": int(10 + i % 50),
            "latency_ms": float(latency[i]),
            "finish_reason": "stop" if i % 10 else "length",
            "redacted": True,
        }
        for i in range(n_requests)
    ]
    feedback = [
        {
            "request_id": f"req-{i:06d}",
            "created_at": now - timedelta(seconds=float(ages[i]) - 5),
            "rating": float(i % 5 + 1) if i % 7 else 0.0,
            "correction": "<script>alert(2)</script> the right answer" if i % 997 == 0 else None,
        }
        for i in range(0, n_requests, 50)
    ]
    with log.engine.begin() as conn:
        conn.execute(insert(RequestRow), rows)
        conn.execute(insert(FeedbackRow), feedback)
    log.close()
    drift = DriftReport(
        n_reference=60,
        n_traffic=n_requests,
        auc=0.71,
        mmd=0.02,
        mmd_p=0.01,
        embedding_drift=True,
        unseen_share=0.18,
        unseen_examples=["can I pay in <b>bitcoin</b>?", "do you ship to Mars?"],
        topic_drift=True,
        length_psi=0.05,
        length_drift=False,
        topics=[Topic(0, "how do i make a warranty claim", 0.4, 0.3), Topic(1, "reset my password", 0.6, 0.52)],
    ).to_json()
    result = {
        "run_id": Registry(cfg).served().run_id,
        "since": "7d",
        "window_start": (now - timedelta(days=7)).isoformat(),
        "created_at": now.isoformat(),
        "fired": True,
        "reasons": drift["reasons"],
        "thresholds": {"auc": 0.65, "mmd_alpha": 0.05, "unseen_share": 0.1, "psi": 0.25},
        "drift": drift,
        "unseen_request_ids": [],
    }
    with atomic_dir(cfg.stage_dir("monitor")) as tmp:
        write_json_atomic(tmp / "drift.json", result)
        write_json_atomic(tmp / "manifest.json", {"stage": "monitor"})


def build_project(dest: Path, tokenizer: Any, *, n_requests: int = 100_000) -> Config:
    (dest / "data").mkdir(parents=True)
    lines = (EXAMPLE / "data" / "support.jsonl").read_text(encoding="utf-8").splitlines()[:LINES]
    data = dest / "data" / "support.jsonl"
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    shutil.copy(EXAMPLE / "tunesmith-tiny.yaml", dest / "tunesmith.yaml")
    cfg = load_config(dest / "tunesmith.yaml")

    _check(cfg, tokenizer, data)
    _prepare(cfg, tokenizer, data)  # version 1
    sha1 = _run(cfg, cfg.stage_dir("dataset"), lr=5e-3, seed=0)
    _eval(cfg, cfg.stage_dir("dataset"), sha1, seed=0)
    Registry(cfg).promote(sha1[:12])

    planted = {
        "messages": [
            {"role": "system", "content": "You are Juno, the support assistant for Lumen Home."},
            {"role": "user", "content": PLANTED},
            {"role": "assistant", "content": "Yes, gift cards work at checkout. <script>alert(3)</script>"},
        ]
    }
    with data.open("a", encoding="utf-8") as f:
        f.write(json.dumps(planted) + "\n")
    _prepare(cfg, tokenizer, data)  # version 2: one example more
    sha2 = _run(cfg, cfg.stage_dir("dataset"), lr=2e-3, seed=1)
    _eval(cfg, cfg.stage_dir("dataset"), sha2, seed=1)
    _traffic(cfg, n_requests)
    return cfg
