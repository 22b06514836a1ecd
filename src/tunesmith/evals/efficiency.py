"""What an arm costs: its tokens, latencies, throughput, price per 1,000 requests, and what one user waits."""

from __future__ import annotations

from typing import Any

import numpy as np

from tunesmith.config.eval import PriceConfig
from tunesmith.evals.generation import SingleLatency
from tunesmith.evals.results import Latency, SingleRequest, Tokens
from tunesmith.models.generation import Prediction


def cost_per_1k_requests(
    price: PriceConfig, prompt_mean: float, completion_mean: float, throughput_rps: float
) -> float | None:
    """Token prices count each request's tokens; an hourly price counts the machine time 1,000 requests take.

    Both can be set (a rented GPU plus a per-token licence): they add up. None when no price is set.
    """
    parts = []
    if price.prompt_per_1m is not None or price.completion_per_1m is not None:
        per_request = prompt_mean * (price.prompt_per_1m or 0) + completion_mean * (price.completion_per_1m or 0)
        parts.append(1000 * per_request / 1e6)
    if price.per_hour is not None and throughput_rps > 0:
        parts.append(price.per_hour * (1000 / throughput_rps) / 3600)
    return sum(parts) if parts else None


def efficiency(preds: list[Prediction], wall_s: float, price: PriceConfig | None) -> dict[str, Any]:
    """An arm's tokens, latency, throughput, and its cost when it has a price: the ArmResult fields of its cost."""
    lat = np.array([p.latency_ms for p in preds])
    prompt_mean = float(np.mean([p.prompt_tokens for p in preds]))
    completion_mean = float(np.mean([p.completion_tokens for p in preds]))
    rps = len(preds) / max(wall_s, 1e-9)
    eff: dict[str, Any] = {
        "tokens": Tokens(prompt_mean=prompt_mean, completion_mean=completion_mean),
        "latency_ms": Latency(p50=float(np.percentile(lat, 50)), p95=float(np.percentile(lat, 95))),
        "throughput_rps": rps,
    }
    if price is not None:
        eff["cost_per_1k_requests"] = cost_per_1k_requests(price, prompt_mean, completion_mean, rps)
    return eff


def single_request(sample: list[SingleLatency], retrieval_ms: list[float]) -> SingleRequest:
    """What one user waits, apart from batching: a rag arm's requests wait for their retrieval first (the first
    prompts' own retrieval times), before the first token and the whole answer; tokens/s is generation's alone."""
    extra = np.array(retrieval_ms[: len(sample)] or [0.0] * len(sample))
    total = np.array([s.total_ms for s in sample])
    first = np.array([s.first_token_ms for s in sample])
    return SingleRequest(
        n=len(sample),
        p50_ms=float(np.percentile(total + extra, 50)),
        max_ms=float((total + extra).max()),
        first_token_p50_ms=float(np.percentile(first + extra, 50)),
        tokens_per_s=float(sum(s.completion_tokens for s in sample) / max(total.sum() / 1000, 1e-9)),
    )
