"""What one user waits for one answer: each prompt generated alone, timed to the end and to its first token.

The batched pass (tunesmith.models.generation) gives throughput and what a caller in a batch waits; this is the
latency an interactive user sees, measured apart on a sample.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from tunesmith.models.chat import render
from tunesmith.models.generation import completion_length, greedy


@dataclass
class SingleLatency:
    total_ms: float
    first_token_ms: float
    completion_tokens: int


def first_call() -> Any:
    """A logits processor that changes nothing and notes when generate() first calls it: right after the prefill.

    On a GPU the prefill's kernels are still running when Python gets there, so it waits for them first: without
    that, time to first token would read as the time to launch them.
    """
    import torch
    from transformers import LogitsProcessor

    class FirstCall(LogitsProcessor):
        def __init__(self) -> None:
            self.at: float | None = None

        def __call__(self, input_ids: Any, scores: Any) -> Any:
            if self.at is None:
                if scores.is_cuda:
                    torch.cuda.synchronize(scores.device)
                self.at = time.perf_counter()
            return scores

    return FirstCall()


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
    from transformers import LogitsProcessorList

    tokenizer.padding_side = "left"
    model.eval()
    out = []
    for msgs in conversations:
        enc = tokenizer(render(tokenizer, msgs, add_generation_prompt=True), return_tensors="pt")
        enc = enc.to(model.device)
        hook = first_call()
        t0 = time.perf_counter()
        gen = greedy(
            model,
            tokenizer,
            enc,
            max_new_tokens=max_new_tokens,
            eos_ids=eos_ids,
            logits_processor=LogitsProcessorList([hook]),
        )
        total = time.perf_counter() - t0
        row = gen[0, enc["input_ids"].shape[1] :].tolist()
        n = completion_length(row, eos_ids)
        out.append(SingleLatency(total * 1000, ((hook.at or t0) - t0) * 1000, n))
    return out
