"""A bounded load test through the official openai client: N requests from C concurrent clients (threads).

Shipped with the package so the same measurement runs against any deployment, not only in our benchmarks.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np


@dataclass
class LoadResult:
    requests: int
    concurrency: int
    wall_s: float
    latencies_ms: list[float]
    ids: list[str]
    errors: list[str] = field(default_factory=list)

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.latencies_ms, q)) if self.latencies_ms else float("nan")

    def summary(self) -> dict[str, float]:
        return {
            "requests": self.requests,
            "concurrency": self.concurrency,
            "errors": len(self.errors),
            "p50_ms": round(self.percentile(50), 1),
            "p95_ms": round(self.percentile(95), 1),
            "throughput_rps": round(self.requests / self.wall_s, 2),
        }


def load_test(
    base_url: str,
    *,
    api_key: str,
    models: list[str],
    prompts: list[str],
    requests: int = 200,
    concurrency: int = 16,
    max_tokens: int = 16,
) -> LoadResult:
    """Send `requests` chat completions, cycling through `models` and `prompts`; latency is per request."""
    import openai

    client = openai.OpenAI(base_url=base_url, api_key=api_key, max_retries=0, timeout=300)

    def one(i: int) -> tuple[float, str | None, str | None]:
        t0 = time.perf_counter()
        try:
            r = client.chat.completions.create(
                model=models[i % len(models)],
                messages=[{"role": "user", "content": prompts[i % len(prompts)]}],
                max_tokens=max_tokens,
                temperature=0,
            )
            return (time.perf_counter() - t0) * 1000, r.id, None
        except openai.OpenAIError as e:
            return (time.perf_counter() - t0) * 1000, None, repr(e)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(one, range(requests)))
    wall = time.perf_counter() - t0
    return LoadResult(
        requests=requests,
        concurrency=concurrency,
        wall_s=wall,
        latencies_ms=[r[0] for r in results if r[2] is None],
        ids=[r[1] for r in results if r[1] is not None],
        errors=[r[2] for r in results if r[2] is not None],
    )
