"""The SFT recipe. Read it top to bottom: setup, data, model, loop, save.

It wraps TRL's SFTTrainer and adds what TRL leaves to the user: assistant-only labels that do not depend on
`{% generation %}` markers (masking.py), guards that refuse to train the wrong tokens, CPU-safe defaults,
checkpoints that resume after a crash, a rich progress bar, `metrics.jsonl`, and a manifest that links the run to
its dataset. The same function runs on one CPU, one GPU, or many processes under `accelerate launch`/`torchrun`.

The run directory:
    checkpoints/checkpoint-N/   at every evaluation (the last step only with a validation split); the last
                                `keep_checkpoints` and the best are kept
    adapter/ or model/          the final (best, with early stopping) weights and the tokenizer
    metrics.jsonl               one JSON object per log line
    estimate.json               the estimate from the run's own first steps, as the dry run measures it (estimate.py)
    manifest.json               written last: a run with a manifest is complete; one without can be resumed
"""

from __future__ import annotations

import json
import math
import os
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from transformers import TrainerCallback

from tunesmith.artifacts import read_jsonl, sha256_file, write_manifest
from tunesmith.config import Config, TrainConfig
from tunesmith.data.stats import default_epochs  # OpenAI's rule, the one `data check` quotes
from tunesmith.errors import DataError, ModelError
from tunesmith.models.chat import end_of_turn_ids, record_tools
from tunesmith.models.loading import ensure_base_model, generation_eos, load_model, load_tokenizer
from tunesmith.data.stage import ensure_dataset
from tunesmith.train.estimate import RunSize, estimate_writer
from tunesmith.train.lora import peft_lora_config
from tunesmith.train.masking import (
    LabelReport,
    TokenizedExample,
    check_labels,
    check_tool_support,
    tokenize_conversation,
)
from tunesmith.train.progress import RichProgress


def default_learning_rate(method: str) -> float:
    return 2e-5 if method == "full" else 2e-4


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


def tokenize_rows(
    rows: list[dict], tokenizer: Any, *, eot_ids: set[int], max_len: int, split: str
) -> tuple[list[TokenizedExample], list[str], int]:
    """Tokenize and label every conversation; `split.jsonl:LINE` names each one in errors."""
    tokenized, sources, truncated = [], [], 0
    for i, row in enumerate(rows, 1):
        where = f"{split}.jsonl:{i}"
        ex = tokenize_conversation(
            tokenizer, row["messages"], eot_ids=eot_ids, where=f" ({where})", tools=record_tools(row)
        )
        if len(ex.input_ids) > max_len:
            truncated += 1
            ex.input_ids, ex.labels = ex.input_ids[:max_len], ex.labels[:max_len]
        tokenized.append(ex)
        sources.append(where)
    return tokenized, sources, truncated


@dataclass
class Prepared:
    """Everything the loop needs, built once; `--dry-run` stops after this."""

    base: str
    tokenizer: Any
    model: Any
    peft_config: Any
    train_tok: list[TokenizedExample]
    val_tok: list[TokenizedExample]
    labels: LabelReport
    epochs: float
    learning_rate: float
    packing: bool
    packing_reason: str
    micro_batch_tokens: int
    steps: int
    dtype: Any
    cuda: bool
    train_path: Path
    val_path: Path


def prepare(cfg: Config, dataset_dir: Path | None = None) -> Prepared:
    import torch

    tc = cfg.train
    dataset_dir = dataset_dir or ensure_dataset(cfg)

    # --- setup
    cuda = torch.cuda.is_available()
    if tc.method == "qlora" and not cuda:
        raise ModelError("qlora needs a CUDA GPU (bitsandbytes 4-bit)", hint="set train.method: lora on this machine")

    # --- data
    train_path, val_path = dataset_dir / "train.jsonl", dataset_dir / "val.jsonl"
    if not train_path.exists():
        raise DataError(
            f"no prepared dataset at {dataset_dir}",
            hint="run `tunesmith run tunesmith.yaml --only prepare` (or `tunesmith data prepare`) first",
        )
    train_rows = read_jsonl(train_path)
    val_rows = read_jsonl(val_path) if val_path.exists() else []
    if train_rows and "messages" not in train_rows[0] and "chosen" in train_rows[0]:
        raise DataError(
            f"{dataset_dir} holds preference pairs, not conversations",
            hint="train on pairs with train.objective: dpo (--set train.objective=dpo)",
            file=train_path,
            line=1,
        )
    base = ensure_base_model(cfg)
    tokenizer = load_tokenizer(base, revision=cfg.model.revision)
    # Before the model loads: a template that cannot render tool calls would train empty answers in their place.
    check_tool_support(tokenizer, train_rows, model=cfg.model.base, split="train")
    check_tool_support(tokenizer, val_rows, model=cfg.model.base, split="val")

    # --- model
    dtype = torch.bfloat16 if cuda and torch.cuda.is_bf16_supported() else torch.float32
    model = _load_for_method(base, cfg, dtype)
    eot_ids = end_of_turn_ids(tokenizer, generation_eos(model))
    train_tok, sources, truncated = tokenize_rows(
        train_rows, tokenizer, eot_ids=eot_ids, max_len=tc.max_seq_len, split="train"
    )
    labels = check_labels(train_tok, sources, truncated=truncated)
    val_tok = tokenize_rows(val_rows, tokenizer, eot_ids=eot_ids, max_len=tc.max_seq_len, split="val")[0]

    peft_config = None
    if tc.method in ("lora", "dora", "qlora"):
        peft_config = peft_lora_config(tc.lora, model, dora=tc.method == "dora")
    if tc.packing is None:
        packing = cuda
        reason = (
            "on: CUDA attention kernels skip the padding"
            if cuda
            else (
                "off: on CPU, padding-free packing was slower than padded batches (docs/benchmarks.md); "
                "set train.packing: true to force it"
            )
        )
    else:
        packing, reason = tc.packing, "set in train.packing"
    # On CPU, padding is compute: length-sorted micro-batches of one max-length row's worth of tokens train the
    # same batch 2.2-2.7x faster on long-tailed data and cap activation memory (microbatch.py, docs/benchmarks.md).
    micro = tc.micro_batch_tokens if tc.micro_batch_tokens is not None else (0 if cuda else tc.max_seq_len)
    epochs = tc.epochs or default_epochs(len(train_rows))
    steps = planned_steps(cfg.train, len(train_rows), epochs, int(os.environ.get("WORLD_SIZE", "1")))
    return Prepared(
        base,
        tokenizer,
        model,
        peft_config,
        train_tok,
        val_tok,
        labels,
        epochs,
        tc.learning_rate or default_learning_rate(tc.method),
        packing,
        reason,
        micro,
        steps,
        dtype,
        cuda,
        train_path,
        val_path,
    )


def _load_for_method(base: str, cfg: Config, dtype: Any) -> Any:
    if cfg.train.method != "qlora":
        return load_model(base, revision=cfg.model.revision, dtype=dtype)
    import torch
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    quant = BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=torch.bfloat16,
    )
    return AutoModelForCausalLM.from_pretrained(base, revision=cfg.model.revision, quantization_config=quant)


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


def _run_state(out_dir: Path, resume: bool | None) -> str | None:
    """The checkpoint to resume from, after clearing a completed run; `resume=False` always starts over."""
    from transformers.trainer_utils import get_last_checkpoint

    checkpoints = out_dir / "checkpoints"
    complete = (out_dir / "manifest.json").exists()
    last = get_last_checkpoint(str(checkpoints)) if checkpoints.is_dir() else None
    if resume is False or complete or last is None:
        if resume and last is None and not complete:
            raise DataError(f"--resume: no checkpoint in {checkpoints}", hint="start the run without --resume")
        return None
    return last


def trim_metrics(metrics_path: Path, checkpoint: str | Path) -> None:
    """Drop the log lines written after the checkpoint a run resumes from, so no step is logged twice."""
    resumed_step = int(Path(checkpoint).name.split("-")[-1])
    kept = [m for m in read_jsonl(metrics_path) if m.get("step", 0) <= resumed_step] if metrics_path.exists() else []
    metrics_path.write_text("".join(json.dumps(m) + "\n" for m in kept))


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


def train(
    cfg: Config,
    *,
    dataset_dir: Path | None = None,
    out_dir: Path | None = None,
    resume: bool | None = None,
    console: Console | None = None,
    callbacks: list[Any] | None = None,
) -> TrainResult:
    """Train as `cfg.train` says. `resume=None` resumes an interrupted run found in `out_dir`.

    `train.objective: dpo` trains on preference pairs with TRL's DPOTrainer (train/dpo.py)."""
    if cfg.train.objective == "dpo":
        from tunesmith.train.dpo import train_dpo

        return train_dpo(
            cfg, dataset_dir=dataset_dir, out_dir=out_dir, resume=resume, console=console, callbacks=callbacks
        )
    import torch
    from accelerate import PartialState
    from transformers import set_seed

    # cpu= matters: without it, a torchrun/accelerate launch on CPU is not seen as distributed and every process
    # would think it is the main one.
    state = PartialState(cpu=not torch.cuda.is_available())
    main = state.is_main_process
    console = console or Console(quiet=not main)
    tc = cfg.train
    out_dir = Path(out_dir or cfg.stage_dir("train"))
    if dataset_dir is None:
        with state.main_process_first():  # one process prepares a missing dataset, the others then find it
            dataset_dir = ensure_dataset(cfg)
    started = datetime.now(UTC)
    set_seed(cfg.project.seed)

    # --- setup: resume an interrupted run, or start over
    checkpoint = _run_state(out_dir, resume)
    if main:
        if checkpoint is None and out_dir.exists():
            shutil.rmtree(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
    state.wait_for_everyone()
    if checkpoint:
        console.print(f"resuming from [bold]{checkpoint}[/]")

    # --- data and model
    p = prepare(cfg, dataset_dir)
    if main:
        console.print(f"packing {p.packing_reason}")

    # --- loop
    metrics_path = out_dir / "metrics.jsonl"
    if main and checkpoint:
        trim_metrics(metrics_path, checkpoint)
    has_val = bool(p.val_tok)
    # A resumed run keeps the estimate made when it started.
    timer = [estimate_writer(cfg, RunSize.of(p), out_dir)] if main and checkpoint is None else []
    progress = RichProgress(console, metrics_path, p.labels.tokens, enabled=main)
    trainer = sft_trainer(cfg, p, out_dir, callbacks=[progress, *timer, *(callbacks or [])])
    output = trainer.train(resume_from_checkpoint=checkpoint)

    # --- save: the weights into a temporary sibling first, renamed into place, then the manifest last
    name = "adapter" if p.peft_config else "model"
    tmp = out_dir / f".{name}.tmp"
    trainer.save_model(str(tmp))
    metrics = read_jsonl(metrics_path) if metrics_path.exists() else []
    eval_loss = min((m["eval_loss"] for m in metrics if "eval_loss" in m), default=None)
    train_seconds = output.metrics.get("train_runtime", 0.0)
    tokens_per_second = p.labels.tokens * p.epochs / train_seconds if train_seconds else 0.0
    best = trainer.state.best_model_checkpoint
    if main:
        p.tokenizer.save_pretrained(str(tmp))
        if (out_dir / name).exists():
            shutil.rmtree(out_dir / name)
        os.replace(tmp, out_dir / name)
        resolved = {
            **cfg.to_dict(),
            "train": {
                **tc.model_dump(mode="json"),
                "epochs": p.epochs,
                "learning_rate": p.learning_rate,
                "packing": p.packing,
                "micro_batch_tokens": p.micro_batch_tokens,
            },
        }
        write_manifest(
            out_dir,
            stage="train",
            config=resolved,
            inputs=[p.train_path, p.val_path] if has_val else [p.train_path],
            counts={
                "train_examples": len(p.train_tok),
                "val_examples": len(p.val_tok),
                "epochs": p.epochs,
                "steps": output.global_step,
                "train_loss": output.training_loss,
                "eval_loss": eval_loss,
                "tokens_per_second": round(tokens_per_second, 1),
                "train_seconds": round(train_seconds, 2),
                "world_size": state.num_processes,
            },
            started_at=started,
            extra={
                "base_model": {"id": cfg.model.base, "resolved": p.base, "revision": cfg.model.revision},
                "dataset": _dataset_link(dataset_dir),
                "labels": p.labels.to_json(),
                "method": tc.method,
                "best_checkpoint": best,
                "resumed_from": checkpoint,
            },
        )
    state.wait_for_everyone()
    return TrainResult(
        out_dir=out_dir,
        model_dir=out_dir / name,
        metrics=metrics,
        labels=p.labels,
        train_loss=output.training_loss,
        eval_loss=eval_loss,
        tokens_per_second=tokens_per_second,
        best_checkpoint=best,
        world_size=state.num_processes,
    )


def planned_steps(tc: TrainConfig, examples: int, epochs: float, world: int) -> int:
    """Optimizer steps of a run over `examples` (conversations or pairs) on `world` processes."""
    return math.ceil(epochs * math.ceil(examples / (tc.batch_size * world)) / tc.grad_accum)


def sft_trainer(cfg: Config, p: Prepared, out_dir: Path, *, callbacks: list[Any]) -> Any:
    """The run's TunesmithSFTTrainer over `p`, writing checkpoints under `out_dir`; the dry run's estimate builds
    the same one, so it times the steps the run will take."""
    import torch
    from datasets import Dataset
    from transformers import EarlyStoppingCallback, PrinterCallback
    from trl import SFTConfig

    from tunesmith.train.trainer import TunesmithSFTTrainer

    tc = cfg.train
    has_val = bool(p.val_tok)
    args = SFTConfig(
        **trainer_arguments(
            cfg,
            out_dir,
            epochs=p.epochs,
            learning_rate=p.learning_rate,
            has_val=has_val,
            cuda=p.cuda,
            bf16=p.dtype == torch.bfloat16,
        ),
        packing=p.packing,
    )
    train_ds = Dataset.from_list([{"input_ids": e.input_ids, "labels": e.labels} for e in p.train_tok])
    val_ds = Dataset.from_list([{"input_ids": e.input_ids, "labels": e.labels} for e in p.val_tok]) if has_val else None
    extra = [EarlyStoppingCallback(tc.early_stopping_patience)] if tc.early_stopping_patience and has_val else []
    trainer = TunesmithSFTTrainer(
        micro_batch_tokens=p.micro_batch_tokens,
        model=p.model,
        args=args,
        train_dataset=train_ds,
        eval_dataset=val_ds,
        processing_class=p.tokenizer,
        peft_config=p.peft_config,
        callbacks=[NoFinalCheckpoint(), *extra, *callbacks],
    )
    trainer.remove_callback(PrinterCallback)  # our progress bar replaces its raw dict prints
    return trainer


def _dataset_link(dataset_dir: Path) -> dict[str, Any]:
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
