"""The DPO recipe (train.objective: dpo). Read it top to bottom: setup, data, model, loop, save.

It wraps TRL's DPOTrainer on a prepared dataset of preference pairs (data/preference.py) and keeps the SFT
recipe's guarantees: CPU-safe defaults, checkpoints that resume after a crash, early stopping on the validation
loss, the rich progress bar, `metrics.jsonl` (with TRL's `rewards/accuracies` and `rewards/margins`), a check that
every chosen and rejected answer ends in a trained end-of-turn token, and a manifest that links the run to its
dataset and, with `train.init_from`, to the SFT run it starts from (dataset -> SFT run -> DPO run).

The reference model: with LoRA, the base with the adapter disabled; with `init_from` an SFT adapter, a frozen copy
of that adapter (TRL's "ref" adapter), so the policy is pulled towards the SFT model, not the raw base.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tunesmith.artifacts import read_jsonl, sha256_file
from tunesmith.config import Config
from tunesmith.data.stage import ensure_dataset
from tunesmith.data.stats import default_epochs
from tunesmith.errors import DataError, ModelError
from tunesmith.models.chat import end_of_turn_ids
from tunesmith.models.loading import ensure_base_model, generation_eos, load_model, load_tokenizer
from tunesmith.train.estimate import Estimate, RunSize, StepTimer, estimate_writer
from tunesmith.train.lifecycle import (
    LocalRun,
    TrainResult,
    best_eval_loss,
    dataset_link,
    finish_local_run,
    read_metrics,
    resolved_config,
    run_speed,
)
from tunesmith.train.loop import loop_callbacks, planned_steps, train_dtype, trainer_arguments
from tunesmith.train.lora import peft_lora_config
from tunesmith.train.masking import LabelError, LabelReport
from tunesmith.train.progress import RichProgress

# DPO moves a model with much smaller steps than SFT (TRL's default is 1e-6 for full fine-tuning).
DEFAULT_LR = {"full": 1e-6, "lora": 5e-5}


@dataclass
class DpoTrainResult(TrainResult):
    reward_accuracy: float | None = None  # the last logged train value of TRL's rewards/accuracies
    reward_margin: float | None = None
    eval_reward_accuracy: float | None = None  # on the validation pairs, at the last evaluation
    eval_reward_margin: float | None = None
    test_reward_accuracy: float | None = None  # on the held-out test pairs, after training
    test_reward_margin: float | None = None


def read_pairs(path: Path) -> list[dict[str, Any]]:
    rows = read_jsonl(path)
    for i, r in enumerate(rows, 1):
        if not all(isinstance(r.get(k), list) and r[k] for k in ("prompt", "chosen", "rejected")):
            raise DataError(
                f"{path.name}:{i} is not a preference pair (prompt, chosen, rejected)",
                hint="train.objective: dpo needs a dataset prepared from preference pairs (tunesmith data prepare "
                "pairs.jsonl --out DIR); conversations train with train.objective: sft",
                file=path,
                line=i,
            )
    return rows


def _as_dataset(rows: list[dict[str, Any]]) -> Any:
    from datasets import Dataset

    def clean(msgs: list[dict[str, Any]]) -> list[dict[str, str]]:
        return [{"role": m["role"], "content": m["content"]} for m in msgs]

    return Dataset.from_list(
        [{"prompt": clean(r["prompt"]), "chosen": clean(r["chosen"]), "rejected": clean(r["rejected"])} for r in rows]
    )


def pair_labels(dataset: Any, eot_ids: set[int], max_len: int) -> LabelReport:
    """What DPO trains, from TRL's own tokenization: every chosen and rejected completion must hold tokens and end
    with an end-of-turn token inside `max_len`, or the model never learns to stop (or learns nothing)."""
    prompt = chosen = rejected = 0
    trained = ending = truncated = 0
    bad: list[str] = []
    for i, ex in enumerate(dataset, 1):
        p, c, r = len(ex["prompt_ids"]), ex["chosen_ids"], ex["rejected_ids"]
        prompt += 2 * p
        chosen, rejected = chosen + len(c), rejected + len(r)
        for side, ids in (("chosen", c), ("rejected", r)):
            kept = ids[: max(0, max_len - p)]
            truncated += len(kept) < len(ids)
            trained += 1
            if any(t in eot_ids for t in kept):
                ending += 1
            elif not kept:
                bad.append(f"train.jsonl:{i} ({side}: no token within train.max_seq_len)")
            else:
                bad.append(f"train.jsonl:{i} ({side}: no end-of-turn token)")
    if bad:
        shown = ", ".join(bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
        raise LabelError(
            f"{len(bad)} completion(s) would train without an end-of-turn token: {shown}",
            hint="raise train.max_seq_len, or check that the chat template closes the assistant turn",
        )
    return LabelReport(
        examples=len(dataset),
        tokens=prompt + chosen + rejected,
        trained_tokens=chosen + rejected,
        role_tokens={"prompt": prompt, "chosen": chosen, "rejected": rejected},
        role_trained={"chosen": chosen, "rejected": rejected},
        trained_turns=trained,
        turns_ending_in_eot=ending,
        truncated=truncated,
    )


@dataclass
class DpoPlan:
    """What `tunesmith train --dry-run` shows for a DPO run: the label report, the size of the run, and the time
    measured on the first steps of the run's own trainer (as SFT's dry run)."""

    base: str
    labels: LabelReport
    pairs: int
    epochs: float
    learning_rate: float
    steps: int
    estimate: Estimate | None = None

    def rows(self) -> list[tuple[str, str]]:
        rows = [
            ("pairs", f"{self.pairs:,}"),
            ("epochs", f"{self.epochs:g}"),
            ("learning rate", f"{self.learning_rate:g}"),
            ("optimizer steps", f"{self.steps:,}"),
            ("tokens per epoch (both sides)", f"{self.labels.tokens:,}"),
        ]
        return rows + ([r for r in self.estimate.rows() if r[0] != "epochs / optimizer steps"] if self.estimate else [])


def _tokenize_pair(tokenizer: Any, row: dict[str, Any]) -> dict[str, list[int]]:
    """TRL's tokenization of a conversational pair: the completion starts where prompt and prompt + answer part."""

    def ids(messages: list[dict[str, Any]], generation: bool = False) -> list[int]:
        out: list[int] = tokenizer.apply_chat_template(
            messages, tokenize=True, add_generation_prompt=generation, return_dict=True
        )["input_ids"]
        return out

    prompt = ids(row["prompt"], generation=True)
    chosen, rejected = ids(row["prompt"] + row["chosen"]), ids(row["prompt"] + row["rejected"])

    def common(a: list[int], b: list[int]) -> int:
        return next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))

    n = min(common(prompt, chosen), common(prompt, rejected))
    return {"prompt_ids": prompt[:n], "chosen_ids": chosen[n:], "rejected_ids": rejected[n:]}


def plan(cfg: Config, dataset_dir: Path | None = None, *, time_it: bool = True) -> DpoPlan:
    """The dry run: read and tokenize the pairs as TRL will, check every completion ends in a trained end-of-turn
    token, size the run, and time its first steps in a throwaway directory (`time_it`); the run's own weights are
    not touched."""
    import torch

    tc = cfg.train
    dataset_dir = dataset_dir or ensure_dataset(cfg)
    train_path = dataset_dir / "train.jsonl"
    if not train_path.exists():
        raise DataError(f"no prepared dataset at {dataset_dir}", hint="run `tunesmith data prepare pairs.jsonl` first")
    rows = read_pairs(train_path)
    init_run, _ = _init_from(cfg)
    cuda = torch.cuda.is_available()
    base, model, tokenizer, peft_config = _policy(cfg, init_run, train_dtype(cuda))
    labels = pair_labels(
        [_tokenize_pair(tokenizer, r) for r in rows], end_of_turn_ids(tokenizer, generation_eos(model)), tc.max_seq_len
    )
    epochs = tc.epochs or default_epochs(len(rows))
    steps = planned_steps(tc, len(rows), epochs, int(os.environ.get("WORLD_SIZE", "1")))
    lr = tc.learning_rate or DEFAULT_LR["full" if tc.method == "full" else "lora"]
    result = DpoPlan(base, labels, len(rows), epochs, lr, steps)
    if time_it:
        found: list[Estimate] = []
        with tempfile.TemporaryDirectory(prefix="tunesmith-estimate-") as tmp:
            timer = StepTimer(cfg, RunSize(labels.tokens, epochs, steps, cuda), found.append, stop=True)
            policy = (model, tokenizer, peft_config)
            trainer = _dpo_trainer(
                cfg, Path(tmp), policy, (rows, []), epochs=epochs, learning_rate=lr, cuda=cuda, callbacks=[timer]
            )
            trainer.train()
        result.estimate = found[0] if found else None
    return result


def _init_from(cfg: Config) -> tuple[Path | None, dict[str, Any] | None]:
    """The SFT run to start from: its directory and its manifest."""
    if cfg.train.init_from is None:
        return None, None
    run = cfg.path(cfg.train.init_from)
    manifest = run / "manifest.json"
    if not manifest.is_file():
        raise DataError(
            f"train.init_from {run} is not a finished train run (no manifest.json)",
            hint="point it at the directory an SFT `tunesmith train` wrote, e.g. artifacts/train",
        )
    return run, json.loads(manifest.read_text(encoding="utf-8"))


def require_dpo_method(cfg: Config) -> None:
    """DPO trains LoRA or the full model; checked before a run directory is touched."""
    if cfg.train.method not in ("lora", "full"):
        raise ModelError(
            f"train.objective dpo supports method lora or full, not {cfg.train.method}", hint="set train.method"
        )


def train_dpo(cfg: Config, run: LocalRun, callbacks: list[Any]) -> DpoTrainResult:
    """Train `run` as `cfg.train` says with `objective: dpo` (recipe.train starts or resumes the run)."""
    import torch

    # --- data
    tc = cfg.train
    cuda = torch.cuda.is_available()
    train_path, val_path = run.dataset_dir / "train.jsonl", run.dataset_dir / "val.jsonl"
    if not train_path.exists():
        raise DataError(
            f"no prepared dataset at {run.dataset_dir}",
            hint="run `tunesmith data prepare pairs.jsonl --out DIR` first",
        )
    train_rows = read_pairs(train_path)
    val_rows = read_pairs(val_path) if val_path.exists() else []

    # --- model: the base, or the SFT run's model; an SFT adapter is trained on (and copied as the reference)
    init_run, init_manifest = _init_from(cfg)
    base, model, tokenizer, peft_config = _policy(cfg, init_run, train_dtype(cuda))
    eot_ids = end_of_turn_ids(tokenizer, generation_eos(model))
    epochs = tc.epochs or default_epochs(len(train_rows))
    learning_rate = tc.learning_rate or DEFAULT_LR["full" if tc.method == "full" else "lora"]

    # --- loop
    progress = RichProgress(run.console, run.metrics_path, 0, enabled=run.main)
    trainer = _dpo_trainer(
        cfg,
        run.out_dir,
        (model, tokenizer, peft_config),
        (train_rows, val_rows),
        epochs=epochs,
        learning_rate=learning_rate,
        cuda=cuda,
        callbacks=[progress, *loop_callbacks(tc, bool(val_rows)), *callbacks],
    )
    # Before the first step: refuse completions that would never learn to stop.
    labels = pair_labels(trainer.train_dataset, eot_ids, tc.max_seq_len)
    progress.tokens_per_epoch = labels.tokens
    steps = planned_steps(tc, len(train_rows), epochs, run.world_size)
    if run.main and run.checkpoint is None:  # as for SFT: timed over the run's first steps; a resumed run keeps its own
        trainer.add_callback(estimate_writer(cfg, RunSize(labels.tokens, epochs, steps, cuda), run.out_dir))
    output = trainer.train(resume_from_checkpoint=run.checkpoint)

    # --- save: the weights into a temporary sibling, renamed into place, then the manifest last
    name = "adapter" if peft_config is not None or init_run is not None and (init_run / "adapter").is_dir() else "model"
    if name == "adapter":
        trainer.model.save_pretrained(str(run.staging(name)), selected_adapters=["default"])
    else:
        trainer.save_model(str(run.staging(name)))
    # Held-out pairs: reward accuracy and margin on test.jsonl (never trained on), for the run's report.
    test_path = run.dataset_dir / "test.jsonl"
    test_rows = read_pairs(test_path) if test_path.exists() else []
    test_metrics = trainer.evaluate(_as_dataset(test_rows), metric_key_prefix="test") if test_rows else {}
    train_seconds, tokens_per_second = run_speed(output, labels.tokens, epochs)
    result = _result(run, name, labels, output, tokens_per_second, trainer.state.best_model_checkpoint, test_metrics)
    finish_local_run(
        run,
        result,
        tokenizer=tokenizer,
        train_seconds=train_seconds,
        config=resolved_config(cfg, epochs=epochs, learning_rate=learning_rate),
        inputs=[train_path, val_path] if val_rows else [train_path],
        counts={
            "train_pairs": len(train_rows),
            "val_pairs": len(val_rows),
            "epochs": epochs,
            "steps": output.global_step,
            "planned_steps": steps,
            "train_loss": output.training_loss,
            "eval_loss": result.eval_loss,
            "reward_accuracy": result.reward_accuracy,
            "reward_margin": result.reward_margin,
            "eval_reward_accuracy": result.eval_reward_accuracy,
            "eval_reward_margin": result.eval_reward_margin,
            "test_pairs": len(test_rows),
            "test_reward_accuracy": result.test_reward_accuracy,
            "test_reward_margin": result.test_reward_margin,
        },
        extra={
            "base_model": {"id": cfg.model.base, "resolved": base, "revision": cfg.model.revision},
            "dataset": dataset_link(run.dataset_dir),
            "init_from": _init_link(init_run, init_manifest),
            "labels": labels.to_json(),
            "method": tc.method,
            "objective": "dpo",
            "dpo": tc.dpo.model_dump(mode="json"),
        },
    )
    return result


def _init_link(init_run: Path | None, init_manifest: dict[str, Any] | None) -> dict[str, Any] | None:
    """The SFT run a DPO run started from, so the registry can link dataset -> SFT run -> DPO run."""
    if init_run is None:
        return None
    return {
        "path": str(init_run),
        "manifest_sha256": sha256_file(init_run / "manifest.json"),
        "dataset": (init_manifest or {}).get("dataset"),
    }


def _policy(cfg: Config, init_run: Path | None, dtype: Any) -> tuple[str, Any, Any, Any]:
    """The base it resolves to, the model to train, its tokenizer and the LoRA config (None when the model already
    carries the SFT run's adapter, or for full fine-tuning)."""
    tc = cfg.train
    base = ensure_base_model(cfg)
    if init_run is not None and (init_run / "model").is_dir():
        base = str(init_run / "model")  # a full SFT model is the new base
    model = load_model(base, revision=None if init_run else cfg.model.revision, dtype=dtype)
    tokenizer = load_tokenizer(base, revision=None if init_run else cfg.model.revision)
    if init_run is not None and (init_run / "adapter").is_dir():
        if tc.method != "lora":
            raise ModelError("train.init_from is a LoRA run: continue it with train.method lora")
        from peft import PeftModel

        return base, PeftModel.from_pretrained(model, str(init_run / "adapter"), is_trainable=True), tokenizer, None
    return base, model, tokenizer, peft_lora_config(tc.lora, model) if tc.method == "lora" else None


def _dpo_trainer(
    cfg: Config,
    out_dir: Path,
    policy: tuple[Any, Any, Any],
    splits: tuple[list[dict[str, Any]], list[dict[str, Any]]],
    *,
    epochs: float,
    learning_rate: float,
    cuda: bool,
    callbacks: list[Any],
) -> Any:
    """tunesmith's DPOTrainer (TRL's, with the CPU levers of dpo_trainer.py) over the (model, tokenizer, LoRA config)
    and the (train, val) pairs, with the arguments SFT uses too and train.dpo's loss."""
    import torch
    from transformers import PrinterCallback
    from trl import DPOConfig  # type: ignore[attr-defined]  # trl re-exports its configs lazily, without __all__

    from tunesmith.train.dpo_trainer import TunesmithDPOTrainer

    tc = cfg.train
    model, tokenizer, peft_config = policy
    train_rows, val_rows = splits
    has_val = bool(val_rows)
    args = DPOConfig(
        **trainer_arguments(
            cfg,
            out_dir,
            epochs=epochs,
            learning_rate=learning_rate,
            has_val=has_val,
            cuda=cuda,
            bf16=train_dtype(cuda) == torch.bfloat16,
        ),
        beta=tc.dpo.beta,
        loss_type=[tc.dpo.loss_type, "sft"] if tc.dpo.sft_weight else [tc.dpo.loss_type],
        loss_weights=[1.0, tc.dpo.sft_weight] if tc.dpo.sft_weight else None,
        label_smoothing=tc.dpo.label_smoothing,
        precompute_ref_log_probs=tc.dpo.reference == "precomputed",
    )
    # On CPU, as for SFT: micro-batches of pairs within max_seq_len padded tokens unless set (dpo_trainer.py).
    micro = tc.micro_batch_tokens if tc.micro_batch_tokens is not None else (0 if cuda else tc.max_seq_len)
    trainer = TunesmithDPOTrainer(
        micro_batch_tokens=micro,
        model=model,
        args=args,
        train_dataset=_as_dataset(train_rows),
        eval_dataset=_as_dataset(val_rows) if has_val else None,
        processing_class=tokenizer,
        peft_config=peft_config,
        callbacks=callbacks,
    )
    trainer.remove_callback(PrinterCallback)
    return trainer


def _result(
    run: LocalRun,
    name: str,
    labels: LabelReport,
    output: Any,
    tokens_per_second: float,
    best: str | None,
    test_metrics: dict[str, Any],
) -> DpoTrainResult:
    metrics = read_metrics(run.metrics_path)
    train_logs = [m for m in metrics if "rewards/accuracies" in m]
    # TRL names the reward metrics of any evaluation eval_*: the test line is the one with test_loss.
    eval_logs = [m for m in metrics if "eval_rewards/accuracies" in m and "test_loss" not in m]
    return DpoTrainResult(
        out_dir=run.out_dir,
        model_dir=run.out_dir / name,
        metrics=metrics,
        labels=labels,
        train_loss=output.training_loss,
        eval_loss=best_eval_loss(metrics),
        tokens_per_second=tokens_per_second,
        best_checkpoint=best,
        world_size=run.world_size,
        reward_accuracy=train_logs[-1]["rewards/accuracies"] if train_logs else None,
        reward_margin=train_logs[-1]["rewards/margins"] if train_logs else None,
        eval_reward_accuracy=eval_logs[-1]["eval_rewards/accuracies"] if eval_logs else None,
        eval_reward_margin=eval_logs[-1]["eval_rewards/margins"] if eval_logs else None,
        test_reward_accuracy=test_metrics.get("eval_rewards/accuracies"),
        test_reward_margin=test_metrics.get("eval_rewards/margins"),
    )
