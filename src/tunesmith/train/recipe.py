"""Training runs: the one place that picks what trains (the SFT recipe, DPO, or a vendor backend), and the SFT run.

Read the SFT run top to bottom: setup, data and model (sft.py), loop, save. It runs on one CPU, one GPU, or many
processes under `accelerate launch`/`torchrun`; the run directory, resuming and the save are the run lifecycle's
(lifecycle.py), shared with DPO (dpo.py) and the vendor backends (vendor/).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from tunesmith.config import Config
from tunesmith.data.stats import default_epochs
from tunesmith.train.dpo import plan, require_dpo_method, train_dpo
from tunesmith.train.estimate import RunSize, estimate, estimate_writer
from tunesmith.train.lifecycle import (
    LocalRun,
    TrainResult,
    best_eval_loss,
    dataset_link,
    finish_local_run,
    read_metrics,
    resolved_config,
    run_speed,
    start_local_run,
)
from tunesmith.train.masking import LabelReport
from tunesmith.train.progress import RichProgress
from tunesmith.train.sft import Prepared, default_learning_rate, prepare, sft_trainer
from tunesmith.train.vendor import VendorResult, train_vendor

# Names this module has always offered, for the Python API and the benchmarks.
__all__ = ["Prepared", "TrainResult", "default_epochs", "default_learning_rate", "prepare", "run_train", "train"]


@dataclass
class DryRun:
    """What `tunesmith train --dry-run` shows: what will be trained, and the size (and, for SFT, the time) of the
    run."""

    labels: LabelReport
    title: str
    rows: list[tuple[str, str]]
    note: str | None = None


def dry_run(cfg: Config) -> DryRun:
    """SFT: prepare, then time the run's first steps in a throwaway directory; DPO: tokenize and check the pairs."""
    if cfg.train.objective == "dpo":
        dpo_plan = plan(cfg)
        return DryRun(dpo_plan.labels, f"estimate: dpo ({cfg.train.method}) on {dpo_plan.base}", dpo_plan.rows())
    prepared = prepare(cfg)
    est = estimate(cfg, prepared)
    return DryRun(
        prepared.labels,
        f"estimate: {cfg.train.method} on {prepared.base}",
        est.rows(),
        f"packing {prepared.packing_reason}",
    )


def run_train(cfg: Config, console: Console, resume: bool | None = None, yes: bool = False) -> Any:
    """Train as train.backend says: locally (TRL), or as a vendor job (`yes` confirms the upload).

    The stage functions prepare a missing dataset themselves (ensure_dataset)."""
    if cfg.train.backend != "local":
        vendor: VendorResult = train_vendor(cfg, console=console, confirm=yes, resume=resume)
        console.print(
            f"[bold]train[/]: {vendor.backend} job {vendor.job_id}, model {vendor.model_id}"
            + (f", train loss {vendor.train_loss:.4f}" if vendor.train_loss is not None else "")
        )
        return vendor
    result = train(cfg, console=console, resume=resume)
    console.print(
        f"[bold]train[/]: {cfg.train.method}, train loss {result.train_loss:.4f}"
        + (f", val loss {result.eval_loss:.4f}" if result.eval_loss is not None else "")
        + f", {result.tokens_per_second:,.0f} tokens/s"
    )
    return result


def train(
    cfg: Config,
    *,
    dataset_dir: Path | None = None,
    out_dir: Path | None = None,
    resume: bool | None = None,
    console: Console | None = None,
    callbacks: list[Any] | None = None,
) -> TrainResult:
    """Train locally as `cfg.train` says. `resume=None` resumes an interrupted run found in `out_dir`.

    `train.objective: dpo` trains on preference pairs with TRL's DPOTrainer (train/dpo.py)."""
    dpo = cfg.train.objective == "dpo"
    if dpo:
        require_dpo_method(cfg)
    run = start_local_run(cfg, dataset_dir=dataset_dir, out_dir=out_dir, resume=resume, console=console)
    return (train_dpo if dpo else train_sft)(cfg, run, callbacks or [])


def train_sft(cfg: Config, run: LocalRun, callbacks: list[Any]) -> TrainResult:
    """The SFT run: assistant-only labels, checked before the first step; checkpoints that resume after a crash."""
    # --- data and model
    p = prepare(cfg, run.dataset_dir)
    if run.main:
        run.console.print(f"packing {p.packing_reason}")

    # --- loop
    # A resumed run keeps the estimate made when it started.
    timer = [estimate_writer(cfg, RunSize.of(p), run.out_dir)] if run.main and run.checkpoint is None else []
    progress = RichProgress(run.console, run.metrics_path, p.labels.tokens, enabled=run.main)
    trainer = sft_trainer(cfg, p, run.out_dir, callbacks=[progress, *timer, *callbacks])
    output = trainer.train(resume_from_checkpoint=run.checkpoint)

    # --- save: the weights into a temporary sibling first, renamed into place, then the manifest last
    name = "adapter" if p.peft_config else "model"
    trainer.save_model(str(run.staging(name)))
    metrics = read_metrics(run.metrics_path)
    train_seconds, tokens_per_second = run_speed(output, p.labels.tokens, p.epochs)
    result = TrainResult(
        out_dir=run.out_dir,
        model_dir=run.out_dir / name,
        metrics=metrics,
        labels=p.labels,
        train_loss=output.training_loss,
        eval_loss=best_eval_loss(metrics),
        tokens_per_second=tokens_per_second,
        best_checkpoint=trainer.state.best_model_checkpoint,
        world_size=run.world_size,
    )
    finish_local_run(
        run,
        result,
        tokenizer=p.tokenizer,
        train_seconds=train_seconds,
        config=resolved_config(
            cfg,
            epochs=p.epochs,
            learning_rate=p.learning_rate,
            packing=p.packing,
            micro_batch_tokens=p.micro_batch_tokens,
        ),
        inputs=[p.train_path, p.val_path] if p.val_tok else [p.train_path],
        counts={
            "train_examples": len(p.train_tok),
            "val_examples": len(p.val_tok),
            "epochs": p.epochs,
            "steps": output.global_step,
            "train_loss": output.training_loss,
            "eval_loss": result.eval_loss,
        },
        extra={
            "base_model": {"id": cfg.model.base, "resolved": p.base, "revision": cfg.model.revision},
            "dataset": dataset_link(run.dataset_dir),
            "labels": p.labels.to_json(),
            "method": cfg.train.method,
        },
    )
    return result
