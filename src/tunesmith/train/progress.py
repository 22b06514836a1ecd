"""A rich progress bar for training, and every log line into metrics.jsonl."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn
from transformers import TrainerCallback

from tunesmith.artifacts import dumps


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
        self.progress = Progress(
            TextColumn("[bold]train[/]"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("loss {task.fields[loss]}  lr {task.fields[lr]}  {task.fields[tps]} tok/s"),
            TimeRemainingColumn(),
            console=self.console,
            # Redrawn at each step and log line, not by rich's 10 Hz thread: a step takes seconds, and on a CPU the
            # thread preempts the training threads (at every OpenMP barrier, all of them wait for the slowest).
            auto_refresh=False,
        )
        self.task = self.progress.add_task(
            "train", total=state.max_steps, completed=state.global_step, loss="-", lr="-", tps="-"
        )
        self.progress.start()

    def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        if not self.enabled:
            return
        elapsed = time.perf_counter() - self.start
        tps = ((state.epoch or 0.0) - self.start_epoch) * self.tokens_per_epoch / max(elapsed, 1e-9)
        self.progress.update(self.task, completed=state.global_step, tps=f"{tps:,.0f}", refresh=True)

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kw: Any) -> None:
        if not self.enabled:
            return
        logs = logs or {}
        record = {"step": state.global_step, "epoch": round(state.epoch or 0, 4), **logs}
        with open(self.metrics_path, "a", encoding="utf-8") as f:
            f.write(dumps(record) + "\n")  # a NaN loss is written as null: strict JSON
        fields: dict[str, Any] = {}
        if "loss" in logs:
            fields["loss"] = f"{logs['loss']:.4f}"
        if "learning_rate" in logs:
            fields["lr"] = f"{logs['learning_rate']:.2e}"
        if fields:
            self.progress.update(self.task, **fields, refresh=True)

    def on_train_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        if self.enabled:
            self.progress.stop()
