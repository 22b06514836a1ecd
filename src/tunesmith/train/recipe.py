"""The SFT recipe. Read it top to bottom: setup, data, model, loop, save.

It wraps TRL's SFTTrainer, and adds what TRL leaves to the user: assistant-only labels that do not depend on
`{% generation %}` markers (masking.py), guards that refuse to train the wrong tokens, CPU-safe defaults, a rich
progress bar, `metrics.jsonl`, and a manifest that links the run to its dataset.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

from tunesmith.artifacts import atomic_dir, read_jsonl, sha256_file, write_manifest
from tunesmith.config import Config
from tunesmith.errors import DataError, ModelError
from tunesmith.models.loading import ensure_base_model, generation_eos, load_model, load_tokenizer
from tunesmith.train.masking import LabelReport, check_labels, end_of_turn_ids, tokenize_conversation

# OpenAI's documented default-epoch rule: 3 epochs, raised so that small sets see ~100 examples' worth of steps,
# lowered so that large sets stay near 25k example-passes.
MIN_TARGET_EXAMPLES, MAX_TARGET_EXAMPLES, MAX_DEFAULT_EPOCHS = 100, 25_000, 25


def default_epochs(n_examples: int) -> int:
    epochs = 3
    if n_examples * epochs < MIN_TARGET_EXAMPLES:
        epochs = min(MAX_DEFAULT_EPOCHS, MIN_TARGET_EXAMPLES // max(n_examples, 1))
    elif n_examples * epochs > MAX_TARGET_EXAMPLES:
        epochs = max(1, MAX_TARGET_EXAMPLES // n_examples)
    return epochs


def default_learning_rate(method: str) -> float:
    return 2e-5 if method == "full" else 2e-4


@dataclass
class TrainResult:
    out_dir: Path
    model_dir: Path  # the adapter (LoRA/DoRA) or the full model
    metrics: list[dict[str, Any]]
    labels: LabelReport
    train_loss: float | None
    eval_loss: float | None
    tokens_per_second: float


def tokenize_rows(rows: list[dict], tokenizer: Any, *, eot_ids: set[int], max_len: int, split: str) -> tuple:
    tokenized, sources, truncated = [], [], 0
    for i, row in enumerate(rows, 1):
        src = row.get("meta", {}).get("source") or {}
        where = f"{src['file']}:{src['line']}" if "file" in src else f"{split}.jsonl:{i}"
        ex = tokenize_conversation(
            tokenizer, row["messages"], eot_ids=eot_ids, max_len=None, where=f" ({where})"
        )
        if len(ex.input_ids) > max_len:
            truncated += 1
            ex.input_ids, ex.labels = ex.input_ids[:max_len], ex.labels[:max_len]
        tokenized.append(ex)
        sources.append(where)
    return tokenized, sources, truncated


def _progress_callback(console: Console, metrics_path: Path, tokens_per_step: float) -> Any:
    from transformers import TrainerCallback

    class RichProgress(TrainerCallback):
        """A rich progress bar with loss, learning rate and tokens/s, and every log line into metrics.jsonl."""

        def on_train_begin(self, args, state, control, **kw):
            self.start = time.perf_counter()
            self.progress = Progress(
                TextColumn("[bold]train[/]"),
                BarColumn(),
                TaskProgressColumn(),
                TextColumn("loss {task.fields[loss]}  lr {task.fields[lr]}  {task.fields[tps]} tok/s"),
                TimeRemainingColumn(),
                console=console,
                transient=False,
            )
            self.task = self.progress.add_task("train", total=state.max_steps, loss="-", lr="-", tps="-")
            self.progress.start()

        def on_step_end(self, args, state, control, **kw):
            elapsed = time.perf_counter() - self.start
            tps = f"{state.global_step * tokens_per_step / max(elapsed, 1e-9):,.0f}"
            self.progress.update(self.task, completed=state.global_step, tps=tps)

        def on_log(self, args, state, control, logs=None, **kw):
            logs = logs or {}
            record = {"step": state.global_step, "epoch": round(state.epoch or 0, 4), **logs}
            record["time_s"] = round(time.perf_counter() - self.start, 3)
            with open(metrics_path, "a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")
            fields = {}
            if "loss" in logs:
                fields["loss"] = f"{logs['loss']:.4f}"
            if "learning_rate" in logs:
                fields["lr"] = f"{logs['learning_rate']:.2e}"
            if fields:
                self.progress.update(self.task, **fields)

        def on_train_end(self, args, state, control, **kw):
            self.progress.stop()

    return RichProgress()


def train(
    cfg: Config,
    *,
    dataset_dir: Path | None = None,
    out_dir: Path | None = None,
    console: Console | None = None,
) -> TrainResult:
    import torch
    from datasets import Dataset
    from transformers import PrinterCallback, set_seed
    from trl import SFTConfig, SFTTrainer

    console = console or Console()
    tc = cfg.train
    dataset_dir = dataset_dir or cfg.stage_dir("dataset")
    out_dir = out_dir or cfg.stage_dir("train")
    started = datetime.now(UTC)

    # --- setup
    set_seed(cfg.project.seed)
    cuda = torch.cuda.is_available()
    if tc.method == "qlora" and not cuda:
        raise ModelError(
            "qlora needs a CUDA GPU (bitsandbytes 4-bit)", hint="set train.method: lora on this machine"
        )

    # --- data
    train_path, val_path = dataset_dir / "train.jsonl", dataset_dir / "val.jsonl"
    if not train_path.exists():
        raise DataError(
            f"no prepared dataset at {dataset_dir}",
            hint="run `tunesmith run tunesmith.yaml --only prepare` (or `tunesmith data prepare`) first",
        )
    train_rows = read_jsonl(train_path)
    val_rows = read_jsonl(val_path) if val_path.exists() else []
    base = ensure_base_model(cfg)
    tokenizer = load_tokenizer(base, revision=cfg.model.revision)

    # --- model
    dtype = torch.bfloat16 if cuda and torch.cuda.is_bf16_supported() else torch.float32
    model = load_model(base, revision=cfg.model.revision, dtype=dtype)
    eot_ids = end_of_turn_ids(tokenizer, generation_eos(model))

    train_tok, sources, truncated = tokenize_rows(
        train_rows, tokenizer, eot_ids=eot_ids, max_len=tc.max_seq_len, split="train"
    )
    labels = check_labels(train_tok, sources, truncated=truncated)
    val_tok = tokenize_rows(val_rows, tokenizer, eot_ids=eot_ids, max_len=tc.max_seq_len, split="val")[0]

    peft_config = None
    if tc.method in ("lora", "dora", "qlora"):
        from peft import LoraConfig

        peft_config = LoraConfig(
            r=tc.lora.r,
            lora_alpha=tc.lora.alpha,
            lora_dropout=tc.lora.dropout,
            target_modules=tc.lora.target_modules,
            use_dora=tc.method == "dora",
            task_type="CAUSAL_LM",
        )

    epochs = tc.epochs or default_epochs(len(train_rows))
    lr = tc.learning_rate or default_learning_rate(tc.method)
    steps_per_epoch = math.ceil(len(train_rows) / (tc.batch_size * tc.grad_accum))
    tokens_per_step = labels.tokens / max(steps_per_epoch, 1)

    with atomic_dir(out_dir) as tmp:
        args = SFTConfig(
            output_dir=str(tmp / "trainer"),
            num_train_epochs=epochs,
            learning_rate=lr,
            per_device_train_batch_size=tc.batch_size,
            per_device_eval_batch_size=tc.batch_size,
            gradient_accumulation_steps=tc.grad_accum,
            warmup_steps=tc.warmup_ratio,
            weight_decay=tc.weight_decay,
            lr_scheduler_type="cosine",
            max_length=tc.max_seq_len,
            # Checkpointing trades ~36% of CPU throughput for memory that tiny and small models do not need.
            activation_checkpointing=False,
            use_cpu=not cuda,
            bf16=dtype == torch.bfloat16,
            logging_steps=tc.logging_steps,
            eval_strategy="epoch" if val_tok else "no",
            save_strategy="no",
            report_to="none",
            seed=cfg.project.seed,
            data_seed=cfg.project.seed,
            disable_tqdm=True,
            dataset_num_proc=None,
        )
        train_ds = Dataset.from_list([{"input_ids": e.input_ids, "labels": e.labels} for e in train_tok])
        val_ds = (
            Dataset.from_list([{"input_ids": e.input_ids, "labels": e.labels} for e in val_tok])
            if val_tok
            else None
        )
        metrics_path = tmp / "metrics.jsonl"
        trainer = SFTTrainer(
            model=model,
            args=args,
            train_dataset=train_ds,
            eval_dataset=val_ds,
            processing_class=tokenizer,
            peft_config=peft_config,
            callbacks=[_progress_callback(console, metrics_path, tokens_per_step)],
        )
        trainer.remove_callback(PrinterCallback)  # our progress bar replaces its raw dict prints
        t0 = time.perf_counter()
        output = trainer.train()
        elapsed = time.perf_counter() - t0

        # --- save
        model_dir = tmp / ("adapter" if peft_config else "model")
        trainer.save_model(str(model_dir))
        tokenizer.save_pretrained(str(model_dir))
        shutil.rmtree(tmp / "trainer", ignore_errors=True)  # TRL's scratch space; checkpoints are off
        metrics = read_jsonl(metrics_path) if metrics_path.exists() else []
        eval_loss = next((m["eval_loss"] for m in reversed(metrics) if "eval_loss" in m), None)
        tokens_per_second = labels.tokens * epochs / elapsed
        resolved = {
            **cfg.to_dict(),
            "train": {**cfg.train.model_dump(mode="json"), "epochs": epochs, "learning_rate": lr},
        }
        write_manifest(
            tmp,
            stage="train",
            config=resolved,
            inputs=[train_path, val_path] if val_rows else [train_path],
            counts={
                "train_examples": len(train_rows),
                "val_examples": len(val_rows),
                "epochs": epochs,
                "steps": output.global_step,
                "train_loss": output.training_loss,
                "eval_loss": eval_loss,
                "tokens_per_second": round(tokens_per_second, 1),
                "train_seconds": round(elapsed, 2),
            },
            started_at=started,
            extra={
                "base_model": {"id": cfg.model.base, "resolved": base, "revision": cfg.model.revision},
                "dataset": _dataset_link(dataset_dir),
                "labels": labels.to_json(),
                "method": tc.method,
            },
        )
    return TrainResult(
        out_dir=out_dir,
        model_dir=out_dir / model_dir.name,
        metrics=metrics,
        labels=labels,
        train_loss=output.training_loss,
        eval_loss=eval_loss,
        tokens_per_second=tokens_per_second,
    )


def _dataset_link(dataset_dir: Path) -> dict[str, Any]:
    """What the run was trained on: the dataset's manifest hash, so the registry can link run → dataset."""
    manifest = dataset_dir / "manifest.json"
    if not manifest.exists():
        return {"path": str(dataset_dir)}
    data = json.loads(manifest.read_text())
    return {
        "path": str(dataset_dir),
        "dataset_hash": data.get("dataset_hash"),
        "manifest_sha256": sha256_file(manifest),
    }
