"""What a run will cost, before it starts: tokens, steps, FLOPs, and time measured on this machine.

FLOPs per trained token, with N the model's parameters and A the adapter's:
- full fine-tuning: 6N (forward 2N, backward 4N);
- LoRA/DoRA/QLoRA: 4N + 6A (the forward 2N, the backward through the frozen weights 2N for activation gradients
  only, and the full 6A for the adapter, whose weights get gradients).
Time comes from a short warm-up on real batches of this dataset, not from a peak figure.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from tunesmith.config import Config
from tunesmith.train.masking import IGNORE_INDEX

WARMUP_STEPS, DISCARDED = 5, 2  # the first steps are slow (allocations, kernel selection, autograd set-up)


@dataclass
class Estimate:
    train_tokens: int
    epochs: float
    steps: int
    parameters: int
    trainable_parameters: int
    flops: float
    seconds: float
    tokens_per_second: float
    gpu_hours: float | None
    cost_usd: float | None

    def rows(self) -> list[tuple[str, str]]:
        rows = [
            ("training tokens (all epochs)", f"{self.train_tokens:,.0f}"),
            ("epochs / optimizer steps", f"{self.epochs:g} / {self.steps:,}"),
            ("parameters (trainable)", f"{self.parameters:,} ({self.trainable_parameters:,})"),
            ("FLOPs", f"{self.flops:.3g}"),
            ("measured throughput", f"{self.tokens_per_second:,.0f} tokens/s"),
            ("estimated time", _duration(self.seconds)),
        ]
        if self.gpu_hours is not None:
            rows.append(("GPU hours / cost", f"{self.gpu_hours:.2f} h / ${self.cost_usd:,.2f}"))
        return rows


def _duration(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}h {m:02d}m" if h else f"{m}m {s:02d}s"


def estimate(cfg: Config, prepared: Any) -> Estimate:
    """Measure a few real training steps of `prepared` (train.recipe.prepare) and extrapolate."""
    import torch

    model = prepared.model
    if prepared.peft_config is not None:
        from peft import get_peft_model

        model = get_peft_model(model, prepared.peft_config)
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    frozen = total - trainable
    per_token = 6 * total if prepared.peft_config is None else 4 * frozen + 6 * trainable

    tokens_per_epoch = prepared.labels.tokens
    train_tokens = int(tokens_per_epoch * prepared.epochs)
    tps = _measure(model, prepared.train_tok, cfg.train.batch_size, prepared.tokenizer.pad_token_id, torch)
    seconds = train_tokens / tps
    gpu = prepared.cuda
    return Estimate(
        train_tokens=train_tokens,
        epochs=prepared.epochs,
        steps=prepared.steps,
        parameters=total,
        trainable_parameters=trainable,
        flops=float(per_token) * train_tokens,
        seconds=seconds,
        tokens_per_second=tps,
        gpu_hours=seconds / 3600 if gpu else None,
        cost_usd=seconds / 3600 * cfg.train.price_per_gpu_hour if gpu else None,
    )


def _measure(model: Any, examples: list, batch_size: int, pad_id: int, torch: Any) -> float:
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    device = next(model.parameters()).device
    timed_tokens, timed = 0, 0.0
    for step in range(WARMUP_STEPS):
        batch = examples[(step * batch_size) % len(examples) :][:batch_size] or examples[:batch_size]
        width = max(len(e.input_ids) for e in batch)
        ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
        labels = torch.full((len(batch), width), IGNORE_INDEX, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for i, e in enumerate(batch):
            ids[i, : len(e.input_ids)] = torch.tensor(e.input_ids)
            labels[i, : len(e.labels)] = torch.tensor(e.labels)
            mask[i, : len(e.input_ids)] = 1
        t0 = time.perf_counter()
        loss = model(input_ids=ids.to(device), attention_mask=mask.to(device), labels=labels.to(device)).loss
        loss.backward()
        for p in params:
            p.grad = None
        if device.type == "cuda":
            torch.cuda.synchronize()
        if step >= DISCARDED:
            timed += time.perf_counter() - t0
            timed_tokens += int(mask.sum())
    return timed_tokens / max(timed, 1e-9)
