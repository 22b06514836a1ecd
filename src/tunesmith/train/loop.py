"""What the SFT and DPO trainers share: schedule, batching, evaluation and checkpoint cadence, early stopping."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from tunesmith.config import Config, TrainConfig


class NoFinalCheckpoint(TrainerCallback):
    """Skip the checkpoint of the last step when no best-model selection will read it.

    The final weights are written once, to model/ or adapter/, right after the loop; a checkpoint of the same step
    would be a second copy plus the optimizer state (3x the model for full fine-tuning) that nothing reads. It runs
    after Trainer's own flow callback, so it only ever turns a save off.
    """

    def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        if state.global_step >= state.max_steps and not args.load_best_model_at_end:
            control.should_save = False

    on_epoch_end = on_step_end


def planned_steps(tc: TrainConfig, examples: int, epochs: float, world: int) -> int:
    """Optimizer steps of a run over `examples` (conversations or pairs) on `world` processes."""
    return math.ceil(epochs * math.ceil(examples / (tc.batch_size * world)) / tc.grad_accum)


def train_dtype(cuda: bool) -> Any:
    """bfloat16 where the GPU has it, else float32 (CPU training stays in float32)."""
    import torch

    return torch.bfloat16 if cuda and torch.cuda.is_bf16_supported() else torch.float32


def loop_callbacks(tc: TrainConfig, has_val: bool) -> list[Any]:
    """The callbacks every local run has: no duplicate final checkpoint, early stopping when configured."""
    from transformers import EarlyStoppingCallback

    early = [EarlyStoppingCallback(tc.early_stopping_patience)] if tc.early_stopping_patience and has_val else []
    return [NoFinalCheckpoint(), *early]


def trainer_arguments(
    cfg: Config, out_dir: Path, *, epochs: float, learning_rate: float, has_val: bool, cuda: bool, bf16: bool
) -> dict[str, Any]:
    """The Trainer arguments SFT and DPO share: schedule, batching, evaluation and checkpoint cadence, seeds."""
    tc = cfg.train
    per_epoch = "steps" if tc.eval_steps else "epoch"
    return {
        "output_dir": str(out_dir / "checkpoints"),
        "num_train_epochs": epochs,
        "learning_rate": learning_rate,
        "per_device_train_batch_size": tc.batch_size,
        "per_device_eval_batch_size": tc.batch_size,
        "gradient_accumulation_steps": tc.grad_accum,
        "warmup_steps": tc.warmup_ratio,
        "weight_decay": tc.weight_decay,
        "lr_scheduler_type": "cosine",
        "max_length": tc.max_seq_len,
        # Checkpointing trades ~36% of CPU throughput for memory that small models do not need.
        "activation_checkpointing": False,
        "use_cpu": not cuda,
        "bf16": bf16,
        "logging_steps": tc.logging_steps,
        "eval_strategy": per_epoch if has_val else "no",
        "eval_steps": tc.eval_steps,
        "save_strategy": per_epoch,
        "save_steps": tc.eval_steps,
        "save_total_limit": tc.keep_checkpoints,
        "load_best_model_at_end": has_val,
        "metric_for_best_model": "eval_loss" if has_val else None,
        "greater_is_better": False,
        "report_to": list(tc.report_to) or "none",
        "seed": cfg.project.seed,
        "data_seed": cfg.project.seed,
        "disable_tqdm": True,
    }
