"""What a run will cost, before it starts: tokens, steps, FLOPs, and time measured on this machine.

FLOPs per trained token, with N the model's parameters and A the adapter's:
- full fine-tuning: 6N (forward 2N, backward 4N);
- LoRA/DoRA/QLoRA: 4N + 6A (the forward 2N, the backward through the frozen weights 2N for activation gradients
  only, and the full 6A for the adapter, whose weights get gradients).

Time comes from the first optimizer steps of the run's own trainer (StepTimer): the same micro-batches, loss and
kept frozen-layer states the run uses, the first steps discarded (allocations, kernel selection, autograd set-up),
extrapolated over every step. Not from a peak figure, and not from a separate loop of padded batches, which said
1,456 s for a 657 s run on SmolLM2 and cost a minute before step 1. Epochs after the first can be faster than the
estimate (frozen lower layers are computed once, in epoch 1).

`tunesmith train --dry-run` runs those steps in a throwaway trainer and prints the estimate; every local run (SFT
and DPO) times its own first steps, at no extra cost, and keeps the result as `estimate.json` in the run
directory, so the dashboard's runs page can set it against the actual time.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from tunesmith.artifacts import write_json_atomic
from tunesmith.config import Config
from tunesmith.train.sft import Prepared, sft_trainer

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
    measured_steps: int

    def rows(self) -> list[tuple[str, str]]:
        rows = [
            ("training tokens (all epochs)", f"{self.train_tokens:,.0f}"),
            ("epochs / optimizer steps", f"{self.epochs:g} / {self.steps:,}"),
            ("parameters (trainable)", f"{self.parameters:,} ({self.trainable_parameters:,})"),
            ("FLOPs", f"{self.flops:.3g}"),
            ("measured throughput", f"{self.tokens_per_second:,.0f} tokens/s over {self.measured_steps} steps"),
            ("estimated time", _duration(self.seconds)),
        ]
        if self.gpu_hours is not None:
            rows.append(("GPU hours / cost", f"{self.gpu_hours:.2f} h / ${self.cost_usd:,.2f}"))
        return rows


def _duration(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}h {m:02d}m" if h else f"{m}m {s:02d}s"


@dataclass
class RunSize:
    """What a run's steps are extrapolated over: SFT's Prepared or a DPO run's pairs."""

    tokens_per_epoch: int
    epochs: float
    steps: int
    cuda: bool

    @classmethod
    def of(cls, prepared: Prepared) -> RunSize:
        return cls(prepared.labels.tokens, prepared.epochs, prepared.steps, prepared.cuda)


class StepTimer(TrainerCallback):
    """Times the first WARMUP_STEPS optimizer steps of a trainer and hands their Estimate to `done`, once.

    A step is timed from on_step_begin to on_step_end: forward, backward and optimizer, not the evaluation that can
    follow an epoch's last step. A run shorter than WARMUP_STEPS is estimated at its end from the steps it had.
    With `stop`, training stops after the measurement (the dry run)."""

    def __init__(self, cfg: Config, size: RunSize, done: Callable[[Estimate], None], *, stop: bool = False):
        self.cfg, self.size, self.done, self.stop = cfg, size, done, stop
        self.times: list[float] = []
        self.model: Any = None
        self.finished = False

    def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None, **kw: Any) -> None:
        self.model = model

    def on_step_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        self.t0 = time.perf_counter()

    def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        if self.finished:
            return
        self.times.append(time.perf_counter() - self.t0)
        if len(self.times) == WARMUP_STEPS:
            self._finish()
            if self.stop:
                control.should_training_stop = True

    def on_train_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        if not self.finished and self.times:
            self._finish()

    def _finish(self) -> None:
        self.finished = True
        timed = self.times[DISCARDED:] or self.times
        self.done(extrapolate(self.cfg, self.size, self.model, statistics.fmean(timed), len(timed)))


def extrapolate(cfg: Config, size: RunSize, model: Any, seconds_per_step: float, measured_steps: int) -> Estimate:
    """The whole run from the time of one optimizer step of `model` (the trainer's, with its adapter)."""
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    per_token = 6 * total if trainable == total else 4 * (total - trainable) + 6 * trainable
    train_tokens = int(size.tokens_per_epoch * size.epochs)
    seconds = seconds_per_step * size.steps
    gpu = size.cuda
    return Estimate(
        train_tokens=train_tokens,
        epochs=size.epochs,
        steps=size.steps,
        parameters=total,
        trainable_parameters=trainable,
        flops=float(per_token) * train_tokens,
        seconds=seconds,
        tokens_per_second=train_tokens / max(seconds, 1e-9),
        gpu_hours=seconds / 3600 if gpu else None,
        cost_usd=seconds / 3600 * cfg.train.price_per_gpu_hour if gpu else None,
        measured_steps=measured_steps,
    )


def estimate(cfg: Config, prepared: Prepared) -> Estimate:
    """The dry run: the first steps of the run's own trainer (sft.sft_trainer) on `prepared`, in a temporary
    directory, then stop. The model is trained for those steps and must not be trained on afterwards."""
    found: list[Estimate] = []
    with tempfile.TemporaryDirectory(prefix="tunesmith-estimate-") as tmp:
        timer = StepTimer(cfg, RunSize.of(prepared), found.append, stop=True)
        sft_trainer(cfg, prepared, Path(tmp), callbacks=[timer]).train()
    return found[0]


def estimate_writer(cfg: Config, size: RunSize, out_dir: Path) -> StepTimer:
    """The run's StepTimer, which writes its estimate to `out_dir/estimate.json` (a temporary file, then a rename)
    for the runs page to set against the run's actual time and throughput."""

    def write(est: Estimate) -> None:
        write_json_atomic(
            Path(out_dir) / ESTIMATE_FILE,
            {
                **asdict(est),
                "measured_at": datetime.now(UTC).isoformat(),
                "device": "cuda" if size.cuda else "cpu",
                "batch_size": cfg.train.batch_size,
                "method": f"the run's first {WARMUP_STEPS} optimizer steps, the first {DISCARDED} discarded, "
                "extrapolated over every step",
            },
        )

    return StepTimer(cfg, size, write)
