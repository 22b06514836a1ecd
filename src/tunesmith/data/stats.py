"""Token counts, statistics and the guidance that comes with them (epochs, cost, refusals, diversity)."""

from __future__ import annotations

import json
import math
import random
from collections.abc import Sequence
from typing import Any

import numpy as np

from tunesmith.data.dedup import normalize
from tunesmith.models.chat import render_ids
from tunesmith.models.embedding import embed
from tunesmith.records import TOOL_ROLES, has_tool_call
from tunesmith.refusals import is_refusal as _declines

APPROX_WORD_TOKENS = 1.3
APPROX_MESSAGE_OVERHEAD = 4  # role markers and separators, as OpenAI's cookbook counts them
# OpenAI's default-epoch heuristic (chat fine-tuning data-preparation cookbook).
TARGET_EPOCHS, MIN_TARGET_EXAMPLES, MAX_TARGET_EXAMPLES = 3, 100, 25_000
MIN_DEFAULT_EPOCHS, MAX_DEFAULT_EPOCHS = 1, 25
FEW_EXAMPLES = 100
REFUSAL_SHARE = 0.2
# Below these the prompts are paraphrases of a few questions: the model learns those, not the task.
LOW_DISTINCT_2 = 0.15
LOW_EMBEDDING_SPREAD = 0.35
DISTINCT_SAMPLE = 1000


class TokenCounter:
    """Counts with the target tokenizer (through its chat template when it has one), or approximates."""

    def __init__(self, tokenizer: Any = None) -> None:
        self.tokenizer = tokenizer
        if tokenizer is None:
            self.method = (
                f"approximate: {APPROX_WORD_TOKENS} x whitespace words per message + {APPROX_MESSAGE_OVERHEAD} "
                "per message; pass a tokenizer (--model) for exact counts"
            )
        else:
            name = getattr(tokenizer, "name_or_path", "") or type(tokenizer).__name__
            how = "chat template" if getattr(tokenizer, "chat_template", None) else "content + 4 per message"
            self.method = f"tokenizer {name} ({how})"

    def content(self, texts: Sequence[str]) -> list[int]:
        if self.tokenizer is None:
            return [math.ceil(len(t.split()) * APPROX_WORD_TOKENS) for t in texts]
        if not texts:
            return []
        return [len(ids) for ids in self.tokenizer(list(texts), add_special_tokens=False)["input_ids"]]

    def records(self, records: Sequence[dict[str, Any]]) -> list[dict[str, int]]:
        """Per record: tokens by role and `total` (the whole sequence the model is trained on).

        The keys are `system`, `user`, `assistant` and `total`, plus `tool` when a record uses tools: the tool
        results and the tool definitions it was given (context, like a system prompt). An assistant's tool calls
        (names and arguments) count as the assistant's: they are what the model learns to write.
        """
        texts: list[str] = []
        for r in records:
            for m in r["messages"]:
                texts.append(m.get("content") or "")
                texts.extend(_call_texts(m))
            texts.extend(_definition_texts(r))
        counts = iter(self.content(texts))
        out = []
        template = self.tokenizer is not None and getattr(self.tokenizer, "chat_template", None)
        for r in records:
            row = {"system": 0, "user": 0, "assistant": 0}
            for m in r["messages"]:
                bucket = "tool" if m["role"] in TOOL_ROLES else m["role"]
                row[bucket] = row.get(bucket, 0) + next(counts)
                for _ in _call_texts(m):
                    row["assistant"] += next(counts)
            for _ in _definition_texts(r):
                row["tool"] = row.get("tool", 0) + next(counts)
            approximate = sum(row.values()) + APPROX_MESSAGE_OVERHEAD * len(r["messages"])
            if template:
                try:
                    row["total"] = len(render_ids(self.tokenizer, r))
                except Exception:  # noqa: BLE001 - a template that refuses a tool role is reported by training
                    row["total"] = approximate
            else:
                row["total"] = approximate
            out.append(row)
        return out


def _call_texts(message: dict[str, Any]) -> list[str]:
    """The texts of an assistant message's tool (or function) calls: each call's name and arguments."""
    calls = [c.get("function") for c in message.get("tool_calls") or [] if isinstance(c, dict)]
    if isinstance(message.get("function_call"), dict):
        calls.append(message["function_call"])
    return [f"{c.get('name', '')} {c.get('arguments', '')}" for c in calls if isinstance(c, dict)]


def _definition_texts(record: dict[str, Any]) -> list[str]:
    """The tool (or function) definitions of a record, one JSON text each."""
    return [json.dumps(d, ensure_ascii=False) for k in ("tools", "functions") for d in record.get(k) or []]


def distribution(values: Sequence[float]) -> dict[str, float]:
    if not values:
        return {"min": 0, "p10": 0, "median": 0, "p90": 0, "max": 0, "mean": 0}
    a = np.asarray(values, dtype=float)
    q = np.percentile(a, [10, 50, 90])
    return {
        "min": float(a.min()),
        "p10": float(q[0]),
        "median": float(q[1]),
        "p90": float(q[2]),
        "max": float(a.max()),
        "mean": round(float(a.mean()), 2),
    }


def default_epochs(n: int) -> int:
    if n == 0:
        return 0
    if n * TARGET_EPOCHS < MIN_TARGET_EXAMPLES:
        return min(MAX_DEFAULT_EPOCHS, MIN_TARGET_EXAMPLES // n)
    if n * TARGET_EPOCHS > MAX_TARGET_EXAMPLES:
        return max(MIN_DEFAULT_EPOCHS, MAX_TARGET_EXAMPLES // n)
    return TARGET_EPOCHS


def is_refusal(record: dict[str, Any]) -> bool:
    """Whether the last assistant message declines. One that calls a tool acts: it is not a refusal."""
    last = next((m for m in reversed(record["messages"]) if m["role"] == "assistant"), None)
    if last is None or (has_tool_call(last) and not (last.get("content") or "").strip()):
        return False
    return _declines(last.get("content") or "")


def distinct_n(texts: Sequence[str], n: int) -> float:
    """Unique n-grams over all n-grams (Li et al., 2016), over the normalised texts."""
    total, seen = 0, set()
    for t in texts:
        words = t.split()
        grams = [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
        total += len(grams)
        seen.update(grams)
    return round(len(seen) / total, 4) if total else 0.0


def embedding_spread(texts: Sequence[str], *, sample: int, seed: int = 0) -> tuple[float, int]:
    """1 - mean pairwise cosine similarity of MiniLM embeddings, on a seeded sample; and the sample size.

    With unit vectors the mean over all pairs is (|sum v|^2 - n) / (n (n - 1)): linear, not quadratic.
    """
    texts = list(texts)
    if len(texts) > sample:
        texts = random.Random(seed).sample(texts, sample)
    if len(texts) < 2:
        return 1.0, len(texts)
    v = embed(texts)
    s = v.sum(axis=0)
    n = len(texts)
    mean_sim = (float(s @ s) - n) / (n * (n - 1))
    return round(1.0 - mean_sim, 4), n


def diversity(records: Sequence[dict[str, Any]], *, embeddings: bool, sample: int, seed: int = 0) -> dict[str, Any]:
    """Distinct-n over a seeded sample of DISTINCT_SAMPLE prompts (distinct-n falls with corpus size, so a fixed
    sample keeps one threshold meaningful for 50 and 50,000 examples), and the embedding spread over a seeded
    sample of `sample` prompts (MiniLM costs ~5 ms a prompt on 2 cores, plus seconds to load)."""
    prompts = [" ".join(m["content"] for m in r["messages"] if m["role"] == "user") for r in records]
    picked = prompts if len(prompts) <= DISTINCT_SAMPLE else random.Random(seed).sample(prompts, DISTINCT_SAMPLE)
    normed = [normalize(p) for p in picked]
    out: dict[str, Any] = {"distinct_1": distinct_n(normed, 1), "distinct_2": distinct_n(normed, 2)}
    if embeddings:
        spread, n = embedding_spread(prompts, sample=sample, seed=seed)
        out.update(embedding_spread=spread, embedding_sample=n, embedding_model="all-MiniLM-L6-v2")
    return out
