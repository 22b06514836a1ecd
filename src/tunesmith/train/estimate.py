"""What a run will cost, before it starts: tokens, steps, FLOPs, and time measured on this machine.

FLOPs per trained token, with N the model's parameters and A the adapter's:
- full fine-tuning: 6N (forward 2N, backward 4N);
- LoRA/DoRA/QLoRA: 4N + 6A (the forward 2N, the backward through the frozen weights 2N for activation gradients
  only, and the full 6A for the adapter, whose weights get gradients).
Time comes from a short warm-up on real batches of this dataset, not from a peak figure.

`tunesmith train --dry-run` prints the estimate; every local run also measures it when it starts and keeps it as
`estimate.json` in the run directory (save_estimate), so the dashboard's runs page can set it against the actual
time. The measurement leaves the model as it found it, so measuring first does not change what a run trains.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tunesmith.artifacts import write_json_atomic
from tunesmith.config import Config
from tunesmith.train.masking import pad_right

WARMUP_STEPS, DISCARDED = 5, 2  # the first steps are slow (allocations, kernel selection, autograd set-up)
ESTIMATE_FILE = "estimate.json"


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
    """Measure a few real training steps of `prepared` (train.recipe.prepare) and extrapolate.

    The model is handed back as it came: a LoRA adapter added for the measurement is unloaded again (PEFT's
    unload, which the trainer's own wrapping then starts from), the gradient flags and train/eval mode are put
    back, and torch's random state is forked, so the adapter's initialisation and dropout in the run that follows
    draw the same numbers as without the measurement."""
    import torch

    base = prepared.model
    flags = [(p, p.requires_grad) for p in base.parameters()]
    was_training = base.training
    devices = [torch.cuda.current_device()] if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        model = base
        if prepared.peft_config is not None:
            from peft import get_peft_model

            model = get_peft_model(base, prepared.peft_config)
        try:
            total = sum(p.numel() for p in model.parameters())
            trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
            tps = _measure(model, prepared.train_tok, cfg.train.batch_size, prepared.tokenizer.pad_token_id, torch)
        finally:
            if model is not base:
                model.unload()  # the LoRA layers out again, in place: `base` is the plain model once more
            for p, flag in flags:
                p.requires_grad_(flag)
            base.train(was_training)
    frozen = total - trainable
    per_token = 6 * total if prepared.peft_config is None else 4 * frozen + 6 * trainable

    tokens_per_epoch = prepared.labels.tokens
    train_tokens = int(tokens_per_epoch * prepared.epochs)
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


def save_estimate(cfg: Config, prepared: Any, out_dir: Path) -> Estimate:
    """The dry run's estimate, measured at the start of a run and written to `out_dir/estimate.json` (through a
    temporary file and a rename): what the runs page shows against the run's actual time and throughput."""
    est = estimate(cfg, prepared)
    write_json_atomic(
        Path(out_dir) / ESTIMATE_FILE,
        {
            **asdict(est),
            "measured_at": datetime.now(UTC).isoformat(),
            "device": "cuda" if prepared.cuda else "cpu",
            "batch_size": cfg.train.batch_size,
            "measured_steps": WARMUP_STEPS - DISCARDED,
            "method": "padded batches of train.batch_size, the first steps discarded, extrapolated over all epochs",
        },
    )
    return est


def _measure(model: Any, examples: list, batch_size: int, pad_id: int, torch: Any) -> float:
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    device = next(model.parameters()).device
    timed_tokens, timed = 0, 0.0
    for step in range(WARMUP_STEPS):
        batch = examples[(step * batch_size) % len(examples) :][:batch_size] or examples[:batch_size]
        inputs = pad_right(batch, pad_id)
        mask = inputs["attention_mask"]
        t0 = time.perf_counter()
        loss = model(**{k: v.to(device) for k, v in inputs.items()}).loss
        loss.backward()
        for p in params:
            p.grad = None
        if device.type == "cuda":
            torch.cuda.synchronize()
        if step >= DISCARDED:
            timed += time.perf_counter() - t0
            timed_tokens += int(mask.sum())
    return timed_tokens / max(timed, 1e-9)
