"""The project that the dashboard tests and benchmarks/ui_load.py look at: the real tiny quickstart, then what a user
would do next, then generated traffic.

1. `tunesmith quickstart --tiny` through its Python API: data check, prepare (PII redaction, dedup, split), LoRA
   training of the tiny model (which keeps its estimate in estimate.json), the evaluation of every arm with its
   report. Its run passes the gate and is promoted through the registry.
2. A `<script>` is planted in a new training example of data/support.jsonl, and check and prepare run again:
   dataset version 2, which the datasets page diffs against the served version 1.
3. A second, shorter training (one epoch, a lower learning rate) on version 2, left unevaluated: the runs page
   has two real runs side by side, and the overview a run that is not evaluated yet.
4. The request log gets `n_requests` generated rows through serve/log.py's models (its real schema, by its
   migrations), spread over the last week, with feedback; and a drift result as `tunesmith monitor` writes it.
   These two are generated: the quickstart serves nothing, and 100k requests are what the traffic page must carry.

On 2 quiet cores the quickstart takes about 3 minutes and the second run well under one: the tests build this
once per session (tests/ui/conftest.py).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from rich.console import Console
from sqlalchemy import insert

from tunesmith.artifacts import atomic_dir, write_json_atomic
from tunesmith.config import Config, load_config
from tunesmith.monitor.drift import DriftReport, Topic
from tunesmith.pipeline import quickstart, run_check, run_prepare, run_train
from tunesmith.registry import Registry
from tunesmith.serve.log import FeedbackRow, RequestLog, RequestRow, resolve_url

PLANTED = "PLANTED <script>alert(1)</script> can I pay with <b>gift cards</b>?"
PLANTED_ANSWER = "Yes, gift cards work at checkout. <script>alert(3)</script>"
RAW_EMAIL = "daniel.okafor@example.net"  # line 29 of support.jsonl: must only ever show as <EMAIL_ADDRESS>
SECOND_RUN = ["train.epochs=1", "train.learning_rate=0.002"]  # against the quickstart's 3 epochs at 0.005


def _plant(cfg: Config) -> None:
    planted = {
        "messages": [
            {"role": "system", "content": "You are Juno, the support assistant for Lumen Home."},
            {"role": "user", "content": PLANTED},
            {"role": "assistant", "content": PLANTED_ANSWER},
        ]
    }
    with cfg.path(cfg.data.paths[0]).open("a", encoding="utf-8") as f:
        f.write(json.dumps(planted) + "\n")


def _traffic(cfg: Config, n_requests: int) -> None:
    log = RequestLog(resolve_url(cfg.monitor.database_url, cfg.root), redact=False)  # its schema, by migrations
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


def build_project(dest: Path, *, n_requests: int = 100_000, console: Console | None = None) -> Config:
    """The project in `dest` (which must not hold a tunesmith.yaml yet); its config."""
    console = console or Console(quiet=True)
    cfg, ran = quickstart(dest, tiny=True, console=console)
    failed = [g.gate for g in ran.outputs["eval"].gates if not g.passed]
    assert not failed, f"the tiny quickstart failed its gate: {failed}"
    Registry(cfg).promote(Registry(cfg).runs()[0].run_id)  # artifacts/train: the quickstart's only run

    _plant(cfg)
    run_check(cfg, console)
    run_prepare(cfg, console)  # version 2: one example more, the planted one
    run_train(load_config(cfg.root / "tunesmith.yaml", SECOND_RUN), console)
    _traffic(cfg, n_requests)
    return cfg
