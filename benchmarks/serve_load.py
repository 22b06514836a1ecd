"""Serving load test: 200 chat requests from 16 concurrent clients on loopback, against the tiny model.

Run: `HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/serve_load.py [--size xs] [--requests 200] [--concurrency 16]`.
Starts the real server (uvicorn, the engine with two LoRA adapters, the SQLite request log with PII redaction) in
this process, then checks that there were no errors and that every request was logged exactly once.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.serve.conftest import LiveServer, free_port, make_adapter  # noqa: E402

from tunesmith.config import ServeConfig  # noqa: E402
from tunesmith.models.tiny import build_tiny_model  # noqa: E402
from tunesmith.serve.app import ServeState, create_app  # noqa: E402
from tunesmith.serve.engine import Engine  # noqa: E402
from tunesmith.serve.loadtest import load_test  # noqa: E402
from tunesmith.serve.log import RequestLog  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", default="xs", choices=["xs", "s", "m"])
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--max-tokens", type=int, default=16)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--no-redact", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        base = build_tiny_model(root / "tiny", seed=0, size=args.size)
        adapters = {n: make_adapter(base, root / n, i) for i, n in enumerate(("support", "legal"))}
        engine = Engine(str(base), adapters=adapters, batch_size=args.batch_size)
        log = RequestLog(f"sqlite:///{root / 'log.db'}", redact=not args.no_redact)
        state = ServeState(engine, log, ServeConfig(batch_size=args.batch_size), "bench-key")
        with LiveServer(create_app(state), free_port()) as live:
            result = load_test(
                live.url + "/v1",
                api_key="bench-key",
                models=["base", "support", "legal"],
                prompts=[f"Hi, order LH-{1000 + i} has not arrived. Mail me at a{i}@example.com" for i in range(20)],
                requests=args.requests,
                concurrency=args.concurrency,
                max_tokens=args.max_tokens,
            )
        logged = [r.id for r in log.fetch()]
        summary = {
            **result.summary(),
            "model": f"tiny-{args.size}",
            "max_tokens": args.max_tokens,
            "redact": not args.no_redact,
            "logged_exactly_once": sorted(logged) == sorted(result.ids) and len(set(logged)) == len(logged),
            "batch_sizes": dict(sorted(engine.batch_sizes.items())),
        }
        print(json.dumps(summary, indent=2))
        if result.errors or not summary["logged_exactly_once"]:
            print("FAILED:", result.errors[:3], file=sys.stderr)
            sys.exit(1)


if __name__ == "__main__":
    main()
