"""Batched greedy generation with a local model: left padding, KV cache, prompts sorted by length to waste little on
padding.

Evaluation (the model arms) and data augmentation (a base model's own answers as rejected ones) both need it, so it
lives beside the loaders rather than inside one stage. Latency of the batched pass is what a caller in that batch
would see: each request waited for the whole batch.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tunesmith.models.chat import render
from tunesmith.progress import Progress


@dataclass
class Prediction:
    text: str
    prompt_tokens: int
    completion_tokens: int
    latency_ms: float


def greedy(model: Any, tokenizer: Any, enc: Any, *, max_new_tokens: int, eos_ids: set[int], **extra: Any) -> Any:
    """One greedy `generate` call with our stop tokens; batched and single-prompt callers must decode alike."""
    import torch

    with torch.inference_mode():
        return model.generate(
            **enc,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            eos_token_id=sorted(eos_ids),
            pad_token_id=tokenizer.pad_token_id,
            **extra,
        )


def completion_length(row: list[int], eos_ids: set[int]) -> int:
    """Tokens up to and including the first end-of-turn token: what follows it is padding or a new turn."""
    return next((k + 1 for k, t in enumerate(row) if t in eos_ids), len(row))


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
    suppress_first: Sequence[int] = (),
) -> list[Prediction]:
    """Greedy answers in batches of similar length; `suppress_first`: token ids the answers may not start with."""
    tokenizer.padding_side = "left"
    texts = [render(tokenizer, msgs, add_generation_prompt=True) for msgs in conversations]
    lengths = [len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts]
    order = sorted(range(len(texts)), key=lambda i: lengths[i])
    out: list[Prediction | None] = [None] * len(texts)
    task = progress.add(label, len(texts), unit="answers") if progress else None
    model.eval()
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        enc = tokenizer([texts[i] for i in idx], return_tensors="pt", padding=True, add_special_tokens=False)
        enc = enc.to(model.device)
        t0 = time.perf_counter()
        begin = {"begin_suppress_tokens": list(suppress_first)} if suppress_first else {}
        gen = greedy(model, tokenizer, enc, max_new_tokens=max_new_tokens, eos_ids=eos_ids, **begin)
        latency_ms = (time.perf_counter() - t0) * 1000
        new_tokens = gen[:, enc["input_ids"].shape[1] :].tolist()
        for i, row in zip(idx, new_tokens, strict=True):
            end = completion_length(row, eos_ids)
            text = tokenizer.decode(row[:end], skip_special_tokens=True).strip()
            out[i] = Prediction(text, lengths[i], end, latency_ms)
        if progress is not None and task is not None:
            progress.update(task, advance=len(idx))
    return out  # type: ignore[return-value]
