"""Batched greedy generation: left padding, KV cache, prompts sorted by length to waste little on padding.

Latency of the batched pass is what a caller in that batch would see: each request waited for the whole batch.
What one user waits for one answer is measured apart, one prompt at a time (`single_request_latency`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from rich.progress import Progress

from tunesmith.models.chat import render


@dataclass
class Prediction:
    text: str
    prompt_tokens: int
    completion_tokens: int
    latency_ms: float


def generate(
    model: Any,
    tokenizer: Any,
    conversations: list[list[dict[str, str]]],
    *,
    max_new_tokens: int,
    batch_size: int,
    eos_ids: set[int],
    progress: Progress | None = None,
    label: str = "generate",
) -> list[Prediction]:
    import torch

    tokenizer.padding_side = "left"
    texts = [render(tokenizer, msgs, add_generation_prompt=True) for msgs in conversations]
    lengths = [len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts]
    order = sorted(range(len(texts)), key=lambda i: lengths[i])
    out: list[Prediction | None] = [None] * len(texts)
    task = progress.add_task(label, total=len(texts)) if progress else None
    model.eval()
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        enc = tokenizer([texts[i] for i in idx], return_tensors="pt", padding=True, add_special_tokens=False)
        enc = enc.to(model.device)
        t0 = time.perf_counter()
        with torch.inference_mode():
            gen = model.generate(
                **enc,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                eos_token_id=sorted(eos_ids),
                pad_token_id=tokenizer.pad_token_id,
            )
        latency_ms = (time.perf_counter() - t0) * 1000
        new_tokens = gen[:, enc["input_ids"].shape[1] :].tolist()
        for i, row in zip(idx, new_tokens, strict=True):
            end = next((k + 1 for k, t in enumerate(row) if t in eos_ids), len(row))
            text = tokenizer.decode(row[:end], skip_special_tokens=True).strip()
            out[i] = Prediction(text, lengths[i], end, latency_ms)
        if progress is not None:
            progress.advance(task, len(idx))
    return out  # type: ignore[return-value]


@dataclass
class SingleLatency:
    total_ms: float
    first_token_ms: float
    completion_tokens: int


def single_request_latency(
    model: Any,
    tokenizer: Any,
    conversations: list[list[dict[str, str]]],
    *,
    max_new_tokens: int,
    eos_ids: set[int],
) -> list[SingleLatency]:
    """Generate each conversation alone and time it: total latency and time to first token.

    The first token's time is taken when generate() first asks for logits to be processed, which is right after
    the prefill forward pass; a logits processor that changes nothing is the lightest hook transformers offers
    (a streamer needs a thread).
    """
    import torch
    from transformers import LogitsProcessor, LogitsProcessorList

    class _FirstCall(LogitsProcessor):
        def __init__(self) -> None:
            self.at: float | None = None

        def __call__(self, input_ids: Any, scores: Any) -> Any:
            if self.at is None:
                self.at = time.perf_counter()
            return scores

    tokenizer.padding_side = "left"
    model.eval()
    out = []
    for msgs in conversations:
        enc = tokenizer(render(tokenizer, msgs, add_generation_prompt=True), return_tensors="pt")
        enc = enc.to(model.device)
        hook = _FirstCall()
        t0 = time.perf_counter()
        with torch.inference_mode():
            gen = model.generate(
                **enc,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                eos_token_id=sorted(eos_ids),
                pad_token_id=tokenizer.pad_token_id,
                logits_processor=LogitsProcessorList([hook]),
            )
        total = time.perf_counter() - t0
        row = gen[0, enc["input_ids"].shape[1] :].tolist()
        n = next((k + 1 for k, t in enumerate(row) if t in eos_ids), len(row))
        out.append(SingleLatency(total * 1000, ((hook.at or t0) - t0) * 1000, n))
    return out
