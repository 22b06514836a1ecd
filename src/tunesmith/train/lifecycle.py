"""One run lifecycle for every way tunesmith trains: the SFT recipe, DPO and the vendor backends.

A run directory is started, resumed and completed the same way whatever trains it:
    start      an interrupted run (checkpoints, no manifest) resumes; a complete one, or `resume=False`, starts over
    resume     the log lines written after the resumed checkpoint are dropped, so no step is logged twice
    save       the weights go into a temporary sibling, renamed into place (artifacts.replace_dir)
    manifest   written last: a run with a manifest is complete; one without can be resumed

The run directory of a local run:
    checkpoints/checkpoint-N/   at every evaluation (the last step only with a validation split); the last
                                `keep_checkpoints` and the best are kept
    adapter/ or model/          the final (best, with early stopping) weights and the tokenizer
    metrics.jsonl               one JSON object per log line
    estimate.json               the estimate from the run's own first steps, as the dry run measures it (estimate.py)
    manifest.json               written last
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console

from tunesmith.artifacts import dumps, read_jsonl, replace_dir, sha256_file, write_manifest
from tunesmith.config import Config
from tunesmith.data.stage import ensure_dataset
from tunesmith.errors import DataError
from tunesmith.train.masking import LabelReport

# What turns a tracker off. Data never leaves the machine unless the user asks: a tracker not named in
# train.report_to stays off, one that is named is left to its own settings.
TRACKER_OFF = {
    "wandb": {"WANDB_DISABLED": "true", "WANDB_MODE": "disabled"},
    "mlflow": {"DISABLE_MLFLOW_INTEGRATION": "TRUE"},
}


@dataclass
class TrainResult:
    out_dir: Path
    model_dir: Path  # the adapter (LoRA/DoRA/QLoRA) or the full model
    metrics: list[dict[str, Any]]
    labels: LabelReport
    train_loss: float | None
    eval_loss: float | None
    tokens_per_second: float
    best_checkpoint: str | None
    world_size: int


def set_trackers(report_to: Sequence[str]) -> None:
    """The trackers' environment for this run: set per run, not at import, since train.report_to may name one.

    A variable tunesmith set off for an earlier run in this process is lifted for a tracker this run names."""
    for tracker, off in TRACKER_OFF.items():
        for name, value in off.items():
            if tracker not in report_to:
                os.environ.setdefault(name, value)
            elif os.environ.get(name) == value:
                del os.environ[name]


def dataset_link(dataset_dir: Path) -> dict[str, Any]:
    """What the run was trained on: the dataset's hash, so the registry can link run → dataset."""
    manifest = dataset_dir / "manifest.json"
    if not manifest.exists():
        return {"path": str(dataset_dir)}
    data = json.loads(manifest.read_text())
    return {
        "path": str(dataset_dir),
        "dataset_hash": data.get("dataset_hash"),
        "manifest_sha256": sha256_file(manifest),
    }


def resolved_config(cfg: Config, **train: Any) -> dict[str, Any]:
    """The config as the run used it: the train section with the values the run chose where the user left them."""
    return {**cfg.to_dict(), "train": {**cfg.train.model_dump(mode="json"), **train}}


def read_metrics(metrics_path: Path) -> list[dict[str, Any]]:
    return read_jsonl(metrics_path) if metrics_path.exists() else []


def best_eval_loss(metrics: list[dict[str, Any]]) -> float | None:
    return min((m["eval_loss"] for m in metrics if "eval_loss" in m), default=None)


def last_checkpoint(out_dir: Path, resume: bool | None) -> str | None:
    """The checkpoint to resume from, after clearing a completed run; `resume=False` always starts over."""
    from transformers.trainer_utils import get_last_checkpoint

    checkpoints = out_dir / "checkpoints"
    complete = (out_dir / "manifest.json").exists()
    last: str | None = get_last_checkpoint(str(checkpoints)) if checkpoints.is_dir() else None  # type: ignore[no-untyped-call]
    if resume is False or complete or last is None:
        if resume and last is None and not complete:
            raise DataError(f"--resume: no checkpoint in {checkpoints}", hint="start the run without --resume")
        return None
    return last


def trim_metrics(metrics_path: Path, checkpoint: str | Path) -> None:
    """Drop the log lines written after the checkpoint a run resumes from, so no step is logged twice."""
    resumed_step = int(Path(checkpoint).name.split("-")[-1])
    kept = [m for m in read_metrics(metrics_path) if m.get("step", 0) <= resumed_step]
    metrics_path.write_text("".join(dumps(m) + "\n" for m in kept))


@dataclass
class LocalRun:
    """A started local run: its processes (accelerate's PartialState), directories and the checkpoint it resumes."""

    state: Any
    console: Console
    out_dir: Path
    dataset_dir: Path
    started: datetime
    checkpoint: str | None

    @property
    def main(self) -> bool:
        return bool(self.state.is_main_process)

    @property
    def world_size(self) -> int:
        return int(self.state.num_processes)

    @property
    def metrics_path(self) -> Path:
        return self.out_dir / "metrics.jsonl"

    def staging(self, name: str) -> Path:
        """The temporary sibling the final weights are written into before they are renamed into place."""
        return self.out_dir / f".{name}.tmp"


def start_local_run(
    cfg: Config, *, dataset_dir: Path | None, out_dir: Path | None, resume: bool | None, console: Console | None
) -> LocalRun:
    """Start a run in `out_dir`, or resume the interrupted one there; every process calls it."""
    import torch
    from accelerate import PartialState
    from transformers import set_seed

    set_trackers(cfg.train.report_to)
    # cpu= matters: without it, a torchrun/accelerate launch on CPU is not seen as distributed and every process
    # would think it is the main one.
    state = PartialState(cpu=not torch.cuda.is_available())
    main = state.is_main_process
    console = console or Console(quiet=not main)
    out_dir = Path(out_dir or cfg.stage_dir("train"))
    if dataset_dir is None:
        with state.main_process_first():  # one process prepares a missing dataset, the others then find it
            dataset_dir = ensure_dataset(cfg)
    started = datetime.now(UTC)
    set_seed(cfg.project.seed)

    checkpoint = last_checkpoint(out_dir, resume)
    if main:
        if checkpoint is None and out_dir.exists():
            shutil.rmtree(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
    state.wait_for_everyone()
    run = LocalRun(state, console, out_dir, dataset_dir, started, checkpoint)
    if checkpoint:
        console.print(f"resuming from [bold]{checkpoint}[/]")
        if main:
            trim_metrics(run.metrics_path, checkpoint)
    return run


def run_speed(output: Any, tokens: int, epochs: float) -> tuple[float, float]:
    """The seconds of a finished `trainer.train()` and its tokens per second over `epochs` of `tokens`."""
    seconds = output.metrics.get("train_runtime", 0.0)
    return seconds, tokens * epochs / seconds if seconds else 0.0


def finish_local_run(
    run: LocalRun,
    result: TrainResult,
    *,
    tokenizer: Any,
    train_seconds: float,
    config: dict[str, Any],
    inputs: list[Path],
    counts: dict[str, Any],
    extra: dict[str, Any],
) -> None:
    """The weights already in `run.staging(...)` get the tokenizer and are renamed into place; the manifest last.
    Every process calls it; the main one writes."""
    if run.main:
        staging = run.staging(result.model_dir.name)
        tokenizer.save_pretrained(str(staging))
        replace_dir(staging, result.model_dir)
        write_manifest(
            run.out_dir,
            stage="train",
            config=config,
            inputs=inputs,
            counts={
                **counts,
                "tokens_per_second": round(result.tokens_per_second, 1),
                "train_seconds": round(train_seconds, 2),
                "world_size": run.world_size,
            },
            started_at=run.started,
            extra={**extra, "best_checkpoint": result.best_checkpoint, "resumed_from": run.checkpoint},
        )
    run.state.wait_for_everyone()
