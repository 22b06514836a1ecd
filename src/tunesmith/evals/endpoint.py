"""A minimal client of the OpenAI chat-completions API, shared by the `endpoint` arm and the LLM judge.

Any OpenAI-compatible server speaks it (a vendor API, vLLM, `tunesmith serve`), so one small httpx client lets
a user put a vendor model beside the fine-tune, without a vendor SDK in our dependencies.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from tunesmith.config import EndpointConfig
from tunesmith.errors import ConfigError, ModelError
from tunesmith.models.generation import Prediction


def make_client(cfg: EndpointConfig) -> httpx.Client:
    """An httpx client with the key read from the environment variable the config names, never from the file."""
    headers = {}
    if cfg.api_key_env:
        key = os.environ.get(cfg.api_key_env)
        if not key:
            raise ConfigError(
                f"environment variable {cfg.api_key_env} is not set",
                hint=f"export {cfg.api_key_env}=... with the API key of {cfg.base_url}",
            )
        headers["Authorization"] = f"Bearer {key}"
    return httpx.Client(base_url=cfg.base_url.rstrip("/") + "/", headers=headers, timeout=cfg.timeout_s)


def chat(
    client: httpx.Client, model: str, messages: list[dict[str, str]], *, max_tokens: int
) -> tuple[str, dict[str, Any]]:
    """One greedy completion: the answer text and the server's `usage` block (empty if it sends none)."""
    body = {"model": model, "messages": messages, "max_tokens": max_tokens, "temperature": 0}
    try:
        response = client.post("chat/completions", json=body)
        response.raise_for_status()
        data = response.json()
        return data["choices"][0]["message"]["content"] or "", data.get("usage") or {}
    except (httpx.HTTPError, KeyError, IndexError, ValueError) as e:
        raise ModelError(
            f"request to {client.base_url}chat/completions failed: {e}",
            hint="check eval.endpoint.base_url (it usually ends in /v1), the model name and the API key",
        ) from e


def endpoint_predictions(
    cfg: EndpointConfig, conversations: list[list[dict[str, str]]], *, max_new_tokens: int
) -> list[Prediction]:
    """Answers of the endpoint, in order; token counts come from the server's `usage`, latency is measured here."""

    def one(messages: list[dict[str, str]]) -> Prediction:
        t0 = time.perf_counter()
        text, usage = chat(client, cfg.model, messages, max_tokens=max_new_tokens)
        latency_ms = (time.perf_counter() - t0) * 1000
        return Prediction(
            text.strip(),
            int(usage.get("prompt_tokens", 0)),
            int(usage.get("completion_tokens", 0)),
            latency_ms,
        )

    with make_client(cfg) as client, ThreadPoolExecutor(cfg.concurrency) as pool:
        return list(pool.map(one, conversations))
