"""Training progress (a bar in a terminal, paced lines in a log: tunesmith.progress), and every log line into
metrics.jsonl."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from rich.console import Console
from transformers import TrainerCallback

from tunesmith.artifacts import dumps
from tunesmith.progress import progress


class RichProgress(TrainerCallback):
    """Loss, learning rate, tokens/s and ETA; only the main process draws and writes."""

    def __init__(self, console: Console, metrics_path: Path, tokens_per_epoch: float, *, enabled: bool = True):
        self.console, self.metrics_path, self.tokens_per_epoch, self.enabled = (
            console,
            metrics_path,
            tokens_per_epoch,
            enabled,
        )

    def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        if not self.enabled:
            return
        self.start, self.start_epoch = time.perf_counter(), state.epoch or 0.0
        self.progress = progress(self.console)
        self.progress.start()
        self.task = self.progress.add(
            "train", state.max_steps, done=state.global_step, unit="steps", fields=("loss", "lr", "tok/s")
        )

    def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        if not self.enabled:
            return
        elapsed = time.perf_counter() - self.start
        tps = ((state.epoch or 0.0) - self.start_epoch) * self.tokens_per_epoch / max(elapsed, 1e-9)
        self.progress.update(self.task, done=state.global_step, fields={"tok/s": f"{tps:,.0f}"})

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kw: Any) -> None:
        if not self.enabled:
            return
        logs = logs or {}
        record = {"step": state.global_step, "epoch": round(state.epoch or 0, 4), **logs}
        with open(self.metrics_path, "a", encoding="utf-8") as f:
            f.write(dumps(record) + "\n")  # a NaN loss is written as null: strict JSON
        fields: dict[str, str] = {}
        if "loss" in logs:
            fields["loss"] = f"{logs['loss']:.4f}"
        if "learning_rate" in logs:
            fields["lr"] = f"{logs['learning_rate']:.2e}"
        if fields:
            self.progress.update(self.task, fields=fields)

    def on_train_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        if self.enabled:
            self.progress.stop()
