"""The SFT recipe's setup, data and model: what `tunesmith train` runs and what `--dry-run` stops after.

It wraps TRL's SFTTrainer and adds what TRL leaves to the user: assistant-only labels that do not depend on
`{% generation %}` markers (masking.py), guards that refuse to train the wrong tokens, CPU-safe defaults, and the
same trainer for the run (recipe.py) and for the dry run's estimate (estimate.py). The loop and the save are the run
lifecycle's (lifecycle.py).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tunesmith.artifacts import read_jsonl
from tunesmith.config import Config
from tunesmith.data.stage import ensure_dataset
from tunesmith.data.stats import default_epochs  # OpenAI's rule, the one `data check` quotes
from tunesmith.errors import DataError, ModelError
from tunesmith.models.chat import end_of_turn_ids, record_tools
from tunesmith.models.loading import ensure_base_model, generation_eos, load_model, load_tokenizer
from tunesmith.train.loop import loop_callbacks, planned_steps, train_dtype, trainer_arguments
from tunesmith.train.lora import peft_lora_config
from tunesmith.train.masking import (
    LabelReport,
    TokenizedExample,
    check_labels,
    check_tool_support,
    tokenize_conversation,
)

# LoRA's field default, 2e-4, is tuned on 7-8B models; a small model needs larger steps: on SmolLM2-135M, 2e-4
# barely moved the model (an HR-policy project's val loss 1.64 against 0.047 with the example's 2e-3, issue 24;
# docs/training.md). The rate falls with the size as a power law through those two points, and stays between them.
ANCHOR_PARAMETERS = 7e9
LORA_LR_AT_ANCHOR, LORA_LR_MAX = 2e-4, 2e-3
SIZE_EXPONENT = 0.583  # log(2e-3 / 2e-4) / log(7e9 / 135e6)


def default_learning_rate(method: str, parameters: int | None = None) -> float:
    """train.learning_rate when unset: by method and by the base model's parameter count (7B when unknown)."""
    scale = (ANCHOR_PARAMETERS / parameters) ** SIZE_EXPONENT if parameters else 1.0
    lora = min(LORA_LR_MAX, max(LORA_LR_AT_ANCHOR, LORA_LR_AT_ANCHOR * scale))
    return lora / 10 if method == "full" else lora


def tokenize_rows(
    rows: list[dict[str, Any]], tokenizer: Any, *, eot_ids: set[int], max_len: int, split: str
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
    dtype = train_dtype(cuda)
    model = _load_for_method(base, cfg, dtype)
    parameters = model.num_parameters()
    eot_ids = end_of_turn_ids(tokenizer, generation_eos(model))
    train_tok, sources, truncated = tokenize_rows(
        train_rows, tokenizer, eot_ids=eot_ids, max_len=tc.max_seq_len, split="train"
    )
    labels = check_labels(train_tok, sources, truncated=truncated)
    val_tok = tokenize_rows(val_rows, tokenizer, eot_ids=eot_ids, max_len=tc.max_seq_len, split="val")[0]

    peft_config = None
    if tc.method in ("lora", "dora", "qlora"):
        peft_config = peft_lora_config(tc.lora, model, dora=tc.method == "dora")
    packing, reason = _packing(tc.packing, cuda)
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
        tc.learning_rate or default_learning_rate(tc.method, parameters),
        packing,
        reason,
        micro,
        steps,
        dtype,
        cuda,
        train_path,
        val_path,
    )


def _packing(setting: bool | None, cuda: bool) -> tuple[bool, str]:
    """Whether to pack, and why (`tunesmith train` prints it): train.packing, or on exactly when CUDA is there."""
    if setting is not None:
        return setting, "set in train.packing"
    if cuda:
        return True, "on: CUDA attention kernels skip the padding"
    return False, (
        "off: on CPU, padding-free packing was slower than padded batches (docs/benchmarks.md); "
        "set train.packing: true to force it"
    )


def _load_for_method(base: str, cfg: Config, dtype: Any) -> Any:
    if cfg.train.method != "qlora":
        return load_model(base, revision=cfg.model.revision, dtype=dtype)
    import torch
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    quant = BitsAndBytesConfig(  # type: ignore[no-untyped-call]
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=torch.bfloat16,
    )
    return AutoModelForCausalLM.from_pretrained(base, revision=cfg.model.revision, quantization_config=quant)


def sft_trainer(cfg: Config, p: Prepared, out_dir: Path, *, callbacks: list[Any]) -> Any:
    """The run's TunesmithSFTTrainer over `p`, writing checkpoints under `out_dir`; the dry run's estimate builds
    the same one, so it times the steps the run will take."""
    import torch
    from datasets import Dataset
    from transformers import PrinterCallback
    from trl import SFTConfig  # type: ignore[attr-defined]  # trl re-exports its configs lazily, without __all__

    from tunesmith.train.trainer import TunesmithSFTTrainer

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
    trainer = TunesmithSFTTrainer(
        micro_batch_tokens=p.micro_batch_tokens,
        model=p.model,
        args=args,
        train_dataset=train_ds,
        eval_dataset=val_ds,
        processing_class=p.tokenizer,
        peft_config=p.peft_config,
        callbacks=[*loop_callbacks(cfg.train, has_val), *callbacks],
    )
    trainer.remove_callback(PrinterCallback)  # our progress bar replaces its raw dict prints
    return trainer
