"""Forgetting check: does the fine-tune still model ordinary English as well as the base model did?

Fine-tuning on a narrow dataset can damage what the base model knew (catastrophic forgetting). A cheap,
model-agnostic signal is the perplexity of both models on general text that neither saw in fine-tuning:
a large rise means the fine-tune traded general ability for the task, which a task metric cannot show.
"""

from __future__ import annotations

import math
from importlib import resources
from typing import Any

from tunesmith.evals.results import Forgetting


def general_text() -> str:
    """The general-English sample shipped with the package (assets/general_text.txt)."""
    return resources.files("tunesmith").joinpath("assets/general_text.txt").read_text(encoding="utf-8")


def perplexity(model: Any, tokenizer: Any, text: str, *, window: int = 256) -> float:
    """exp(mean next-token loss) over `text`, in consecutive windows of `window` tokens.

    Windows do not overlap, so early tokens of each window have less context; the bias is the same for both
    models, and the comparison is what matters.
    """
    import torch

    ids = tokenizer(text, add_special_tokens=False, return_tensors="pt")["input_ids"][0]
    total_loss, total_tokens = 0.0, 0
    model.eval()
    with torch.inference_mode():
        for start in range(0, len(ids) - 1, window):
            chunk = ids[start : start + window + 1].unsqueeze(0).to(model.device)
            if chunk.shape[1] < 2:
                break
            out = model(input_ids=chunk, labels=chunk)
            n = chunk.shape[1] - 1
            total_loss += float(out.loss) * n
            total_tokens += n
    return math.exp(total_loss / max(1, total_tokens))


def forgetting_verdict(base_ppl: float, fine_tuned_ppl: float, max_rise: float) -> Forgetting:
    """The relative rise of perplexity, and whether it exceeds `max_rise` (0.25: a quarter above base)."""
    rise = fine_tuned_ppl / base_ppl - 1.0
    return Forgetting(
        base_perplexity=base_ppl,
        fine_tuned_perplexity=fine_tuned_ppl,
        rise=rise,
        max_rise=max_rise,
        flagged=rise > max_rise,
    )
