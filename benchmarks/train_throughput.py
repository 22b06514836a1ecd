"""Training throughput: plain TRL defaults vs hand-tuned TRL vs `tunesmith train`, side by side.

    python benchmarks/train_throughput.py          # the benchmark (m model, ~12 min, 2 cores): train_throughput.json
    python benchmarks/train_throughput.py --quick                       # smoke run: the xs model
    python benchmarks/train_throughput.py --model smollm2-135m-instruct --methods lora   # the real demo model
    python benchmarks/train_throughput.py --explore --methods full      # every candidate for (b), and tunesmith's
    python benchmarks/train_throughput.py --literal-default --arms trl_default --methods full   # bf16 autocast

Three arms, on the same data, model, seed, epochs, batch size (8), max_length and optimisation recipe:
  (a) trl_default      TRL's SFTTrainer with its default SFTConfig and use_cpu=True. The data goes in as
                       {"messages": [...]}, so TRL applies the chat template itself, with assistant_only_loss=True
                       (the tiny model's template has {% generation %} markers): every arm trains the same tokens.
                       On a CPU without bf16 units (measured below: the bf16 matmul is <10% of fp32), TRL's default
                       bf16=True means bf16 autocast emulated at ~1.4 GFLOP/s: ~8 tokens/s, one optimizer step of the
                       m model in ~5 minutes. There, (a) is trl_default_fp32 (the default plus bf16=False, the fix
                       STACK.md gives), and the literal default runs only with --literal-default, capped at
                       --literal-steps optimizer steps (its held-out loss is then not comparable: n/a).
  (b) trl_tuned        the best plain-TRL configuration found by hand (the table below).
  (c) tunesmith        tunesmith.train.recipe.train() with a Config whose train section sets only method, epochs
                       and batch_size. The dataset folder holds train.jsonl only (no val.jsonl), so no arm evaluates
                       during training.
The optimisation recipe (learning rate 2e-5 full / 2e-4 LoRA, cosine schedule, 5% warm-up, no weight decay) is
tunesmith's in every arm: with TRL's own (linear, no warm-up, 2e-5 also for LoRA) the held-out losses would compare
recipes rather than the speed levers. None of it changes the time per step.

Methods: full fine-tuning and LoRA (r=16, alpha=32, dropout 0.05, all-linear, as tunesmith's default), each with the
three arms. Model: `build_tiny_model(size="m")` (31.5M parameters, vocab 4096); --quick uses `xs`.

Data: the support-desk conversations (examples/support-desk/data/support.jsonl) and a longer-tailed variant generated
from them with a fixed seed: 1 to 10 turns taken from different conversations, half the answers cut to their first
sentence (one-line answers), so lengths span ~130 to ~1000 tokens. The default run trains on `longtail` (where the
arms differ most: padding waste); `--data support` runs the original set. Both length distributions are printed.
Examples are drawn in a seeded order until --train-tokens is reached (to fit the time limit); 10% more are held out.

Each arm runs in its own worker process (this script with --arm NAME --method M), started once per method; the
parent interleaves the runs in rotating order (a b c, b c a, c a b), so a slow drift of the shared machine falls on
every arm alike. Measured per arm, --runs runs each:
  tokens/s   non-padding tokens trained (TRL's own count for TRL arms; tunesmith's label report x epochs) / the time
             from on_train_begin to on_train_end: median of the runs, with min and max.
  peak RSS   ru_maxrss of the arm's process (model, data, all runs, held-out evaluation).
  wall       seconds the arm's process worked (imports, model loads, all runs, evaluation; not its waits for the
             other arms); "train s" is the median training time of one run.
  held-out   mean per-token cross-entropy on the assistant tokens of the held-out set (labels from tunesmith's
             masking, identical to TRL's {% generation %} masks on this template), in fp32, after the first run.
  MFU        achieved model FLOPs/s / the fp32 matmul peak measured at the start (2048x2048 torch matmuls, the max
             of 10: the conservative denominator on a shared machine). Model FLOPs per token: 6N for full,
             4N_frozen + 6A for LoRA (as tunesmith.train.estimate); attention FLOPs are not counted.

What was tried for (b) (`--explore`, m model, 8,565 tokens of longtail, 1 run each, load ~1.5-1.9 on 2 cores; each
on top of TRL's defaults with use_cpu=True; docs/benchmarks.md has the table with memory):

| arm                 | setting                                                   | full tok/s | LoRA tok/s |
|---------------------|-----------------------------------------------------------|-----------:|-----------:|
| trl_default_fp32    | bf16=False (activation checkpointing on: TRL's default)   | 153        | 110        |
| trl_nockpt_fp32     | + activation_checkpointing=False                          | 179        | 142        |
| trl_grouped         | + train_sampling_strategy="group_by_length"               | 156        | 135        |
| trl_bfd             | + packing=True (bfd: padding-free rows of packed examples) | 134       | 109        |
| trl_padding_free    | + padding_free=True (the batch as one row, no packing)    | 245        | 203        |
| trl_bs2_ga4_grouped | + batch 2 x gradient accumulation 4, group_by_length      | 400        | 323        |
| trl_bs1_ga8         | + batch 1 x gradient accumulation 8 (no padding at all)   | 428        | 414        |
Not in the table: pad_to_multiple_of=8 and dataloader_num_workers=2 (no gain on 2 cores in an xs probe), and
packing_strategy="wrapped" (cuts examples across rows: not the same training). Chosen for trl_tuned: trl_bs1_ga8.
Batch 1 x 8 accumulation is the same optimizer step as batch 8 (Trainer divides every part by the trained tokens of
all 8) and pads nothing; it is what tunesmith's micro-batches do automatically (train/microbatch.py).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SUPPORT = REPO / "examples/support-desk/data/support.jsonl"
SEED = 0
MAX_LENGTH = 1024
LORA = {"r": 16, "lora_alpha": 32, "lora_dropout": 0.05, "target_modules": "all-linear"}

# --- the arms: SFTConfig overrides on top of TRL's defaults (None: tunesmith's recipe)
ARMS: dict[str, dict[str, Any] | None] = {
    "trl_default": {},
    # What a CPU user gets with bf16=False instead of use_cpu=True alone (STACK.md lists both as the fix).
    "trl_default_fp32": {"bf16": False},
    "trl_tuned": {  # trl_bs1_ga8 below, the best of --explore
        "activation_checkpointing": False,
        "bf16": False,
        "per_device_train_batch_size": 1,
        "gradient_accumulation_steps": 8,
    },
    "tunesmith": None,
}
# Candidates for (b), run with --explore.
NO_CKPT_FP32 = {"activation_checkpointing": False, "bf16": False}
EXPLORE: dict[str, dict[str, Any]] = {
    "trl_nockpt": {"activation_checkpointing": False},
    "trl_nockpt_fp32": NO_CKPT_FP32,
    "trl_grouped": {**NO_CKPT_FP32, "train_sampling_strategy": "group_by_length"},
    "trl_grouped_pad8": {**NO_CKPT_FP32, "train_sampling_strategy": "group_by_length", "pad_to_multiple_of": 8},
    "trl_bfd": {**NO_CKPT_FP32, "packing": True},
    "trl_padding_free": {**NO_CKPT_FP32, "padding_free": True, "max_length": None},  # no row is over 1,000 tokens
    "trl_wrapped": {**NO_CKPT_FP32, "packing": True, "packing_strategy": "wrapped"},
    "trl_grouped_wkrs2": {**NO_CKPT_FP32, "train_sampling_strategy": "group_by_length", "dataloader_num_workers": 2},
    # The same optimizer steps as batch 8 (Trainer normalises by the tokens of all 8): no padding at all.
    "trl_bs1_ga8": {**NO_CKPT_FP32, "per_device_train_batch_size": 1, "gradient_accumulation_steps": 8},
    "trl_bs2_ga4_grouped": {
        **NO_CKPT_FP32,
        "per_device_train_batch_size": 2,
        "gradient_accumulation_steps": 4,
        "train_sampling_strategy": "group_by_length",
    },
}
# tunesmith arms: TrainConfig overrides on top of tunesmith's defaults ("tunesmith" is the defaults, arm (c)).
TUNESMITH: dict[str, dict[str, Any]] = {
    "tunesmith": {},
    "tunesmith_no_microbatch": {"micro_batch_tokens": 0},  # the defaults before issue 7
    "tunesmith_mb2048": {"micro_batch_tokens": 2048},
    "tunesmith_mb1": {"micro_batch_tokens": 1},  # every row alone, like batch 1 x accumulation
    "tunesmith_trl_loss": {},  # TRL's loss path on CPU: the LM head over every position (lm_loss.py off)
    "tunesmith_no_prefix": {},  # every row computed whole: the shared-prefix lever off (lm_loss.shared_prefix)
}
LABELS = {
    "trl_default": "(a*) TRL literal defaults (bf16)",
    "trl_default_fp32": "(a) TRL defaults + bf16=False",
    "trl_tuned": "(b) TRL hand-tuned",
    "tunesmith": "(c) tunesmith",
}


def recipe(method: str) -> dict[str, Any]:
    """tunesmith's optimisation recipe, given to every TRL arm: the schedule is not a speed lever.

    With TRL's own (linear decay, no warm-up, lr 2e-5 for LoRA too) the held-out losses would compare recipes, not
    the speed levers; the learning rate, schedule and warm-up change nothing in the time per step.
    """
    from tunesmith.config import TrainConfig
    from tunesmith.train.recipe import default_learning_rate

    return {
        "learning_rate": default_learning_rate(method),
        "lr_scheduler_type": "cosine",
        "warmup_steps": TrainConfig().warmup_ratio,
        "weight_decay": TrainConfig().weight_decay,
    }


# ----------------------------------------------------------------------------------------------------------------
# Data


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def first_sentence(text: str) -> str:
    m = re.match(r"(.+?[.!?])(\s|$)", text, flags=re.S)
    return m.group(1) if m else text


def make_longtail(rows: list[dict], n: int, count_tokens: Any, seed: int = SEED) -> list[dict]:
    """n conversations of 1-10 turns drawn from different support conversations; half the answers cut to one line.

    Turn counts are skewed towards 1-2 (most real exchanges are short), so the lengths have a long tail; turns are
    added while the conversation stays under ~1000 tokens.
    """
    rng = random.Random(seed)
    pairs = []  # (user, assistant) turns of the source conversations
    for r in rows:
        msgs = [m for m in r["messages"] if m["role"] != "system"]
        pairs += [(u, a) for u, a in zip(msgs[::2], msgs[1::2], strict=False) if a["role"] == "assistant"]
    systems = [r["messages"][0] for r in rows if r["messages"][0]["role"] == "system"]
    out = []
    for _ in range(n):
        turns = rng.choice((1, 1, 1, 1, 2, 2, 3, 4, 6, 8, 10))
        messages = [rng.choice(systems)]
        for _ in range(turns):
            user, answer = rng.choice(pairs)
            if rng.random() < 0.5:
                answer = {"role": "assistant", "content": first_sentence(answer["content"])}
            candidate = messages + [user, answer]
            if len(messages) > 1 and count_tokens(candidate) > 1000:
                break
            messages = candidate
        out.append({"messages": messages})
    return out


def select(rows: list[dict], lengths: list[int], train_tokens: int, seed: int = SEED) -> tuple[list, list, int]:
    """Seeded order; train examples until train_tokens, then 10% as many held out (at least 4)."""
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    train, total = [], 0
    for i in order:
        if total >= train_tokens:
            break
        train.append(i)
        total += lengths[i]
    rest = [i for i in order if i not in set(train)]
    held = rest[: max(4, round(len(train) / 9))]
    return [rows[i] for i in train], [rows[i] for i in held], total


def distribution(lengths: list[int]) -> dict[str, int]:
    s = sorted(lengths)
    q = lambda p: s[min(len(s) - 1, int(p * len(s)))]  # noqa: E731
    return {"n": len(s), "min": s[0], "p50": q(0.5), "p90": q(0.9), "max": s[-1], "tokens": sum(s)}


# ----------------------------------------------------------------------------------------------------------------
# The CPU's matmul peak


def matmul_peak(dtype_name: str, n: int = 2048, reps: int = 10) -> tuple[float, float]:
    """GFLOP/s of n x n matmuls after two warm-up products: (median, max) of `reps`.

    MFU divides by the max: the best the CPU did is the closest estimate of its peak on a shared machine, and the
    larger denominator is the conservative one.
    """
    import torch

    dtype = getattr(torch, dtype_name)
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    for _ in range(2):
        a @ b
    rates = []
    for _ in range(reps):
        t0 = time.perf_counter()
        a @ b
        rates.append(2 * n**3 / (time.perf_counter() - t0) / 1e9)
    return statistics.median(rates), max(rates)


# ----------------------------------------------------------------------------------------------------------------
# One arm (the child process)


def flops_per_token(model: Any) -> float:
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    if trainable == total:
        return 6.0 * total
    return 4.0 * (total - trainable) + 6.0 * trainable


def heldout_loss(model: Any, tokenizer: Any, rows: list[dict], batch_size: int = 8) -> float:
    """Mean per-token cross-entropy on the held-out assistant tokens (fp32, no autocast)."""
    import torch

    from tunesmith.models.chat import end_of_turn_ids
    from tunesmith.train.masking import IGNORE_INDEX, pad_right, tokenize_conversation

    eot = end_of_turn_ids(tokenizer, model.generation_config.eos_token_id)
    examples = [tokenize_conversation(tokenizer, r["messages"], eot_ids=eot) for r in rows]
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for k in range(0, len(examples), batch_size):
            batch = examples[k : k + batch_size]
            padded = pad_right(batch, tokenizer.pad_token_id)
            ids, labels, mask = padded["input_ids"], padded["labels"], padded["attention_mask"]
            logits = model(input_ids=ids, attention_mask=mask).logits.float()
            shift_logits, shift_labels = logits[:, :-1].reshape(-1, logits.size(-1)), labels[:, 1:].reshape(-1)
            loss = torch.nn.functional.cross_entropy(
                shift_logits, shift_labels, ignore_index=IGNORE_INDEX, reduction="sum"
            )
            total += loss.item()
            count += int((shift_labels != IGNORE_INDEX).sum())
    return total / count


def make_timer() -> Any:
    from transformers import TrainerCallback

    class Timer(TrainerCallback):
        """Seconds from on_train_begin to on_train_end: the same clock for every arm."""

        seconds = 0.0

        def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            self.t0 = time.perf_counter()

        def on_train_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            self.seconds = time.perf_counter() - self.t0

    return Timer()


def run_trl(arm: str, overrides: dict, a: argparse.Namespace, work: Path, rows: list[dict]) -> tuple:
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    tokenizer = AutoTokenizer.from_pretrained(a.model_dir)
    model = AutoModelForCausalLM.from_pretrained(a.model_dir, dtype="float32")
    if overrides.get("per_device_train_batch_size") == 1:  # batch 1 x accumulation: the same step as --batch-size
        overrides = {**overrides, "gradient_accumulation_steps": a.batch_size}
    args = SFTConfig(
        **{
            "output_dir": str(work / "out"),
            "use_cpu": True,
            "report_to": "none",
            "seed": SEED,
            "data_seed": SEED,
            "num_train_epochs": a.epochs,
            "per_device_train_batch_size": a.batch_size,
            "max_length": MAX_LENGTH,
            "assistant_only_loss": True,
            "disable_tqdm": True,
            **recipe(a.method),
            **overrides,
            **({"max_steps": a.max_steps} if a.max_steps else {}),
        }
    )
    timer = make_timer()
    from trl.chat_template_utils import has_generation_markers

    # TRL's own test: a plain `"generation" in template` also matches SmolLM2's add_generation_prompt.
    if has_generation_markers(tokenizer.chat_template or ""):
        train_dataset = Dataset.from_list([{"messages": r["messages"]} for r in rows])
    else:
        # SmolLM2's template (like most real ones) has no {% generation %} markers, so TRL refuses
        # assistant_only_loss=True on conversations; a TRL user would then train on every token. Handing TRL the
        # token ids with tunesmith's assistant mask (the documented pre-tokenised path: TRL turns assistant_masks into
        # labels) keeps every arm training the same tokens, which is what a speed comparison needs.
        args.assistant_only_loss = False
        train_dataset = Dataset.from_list(pretokenized(tokenizer, model, rows))
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=train_dataset,
        processing_class=tokenizer,
        peft_config=LoraConfig(task_type="CAUSAL_LM", **{**LORA, "lora_dropout": a.lora_dropout})
        if a.method == "lora"
        else None,
        callbacks=[timer],
    )
    ds = trainer.train_dataset
    tokens = sum(len(x) for x in ds["input_ids"])
    # TRL folds assistant_masks into labels (-100 elsewhere); tunesmith counts the same positions.
    trained = sum(sum(x != -100 for x in lb) for lb in ds["labels"]) if "labels" in ds.column_names else None
    mixed = trainer.accelerator.mixed_precision
    trainer.train()
    seen = trainer._total_train_tokens  # TRL's own count of the non-padding tokens it trained on
    return trainer.model, tokenizer, timer.seconds, tokens, trained, mixed, seen


def pretokenized(tokenizer: Any, model: Any, rows: list[dict]) -> list[dict]:
    from tunesmith.models.chat import end_of_turn_ids
    from tunesmith.train.masking import IGNORE_INDEX, tokenize_conversation

    eot = end_of_turn_ids(tokenizer, model.generation_config.eos_token_id)
    out = []
    for r in rows:
        e = tokenize_conversation(tokenizer, r["messages"], eot_ids=eot)
        out.append({"input_ids": e.input_ids, "assistant_masks": [int(x != IGNORE_INDEX) for x in e.labels]})
    return out


def run_tunesmith(arm: str, a: argparse.Namespace, work: Path) -> tuple:
    from peft import PeftModel
    from rich.console import Console
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tunesmith.config import Config, ModelConfig, TrainConfig
    from tunesmith.train.recipe import train
    from tunesmith.train.trainer import TunesmithSFTTrainer

    TunesmithSFTTrainer.labelled_positions_only = arm != "tunesmith_trl_loss"
    TunesmithSFTTrainer.shared_prefix = arm != "tunesmith_no_prefix"

    cfg = Config(
        model=ModelConfig(base=a.model_dir),
        train=TrainConfig(
            method=a.method,
            epochs=a.epochs,
            batch_size=a.batch_size,
            lora={"dropout": a.lora_dropout},
            **TUNESMITH[arm],
        ),
        root=work,
    )
    timer = make_timer()
    result = train(
        cfg, dataset_dir=Path(a.data_dir), out_dir=work / "run", callbacks=[timer], console=Console(quiet=True)
    )
    tokenizer = AutoTokenizer.from_pretrained(a.model_dir)
    if a.method == "full":
        model = AutoModelForCausalLM.from_pretrained(result.model_dir, dtype="float32")
    else:
        base = AutoModelForCausalLM.from_pretrained(a.model_dir, dtype="float32")
        model = PeftModel.from_pretrained(base, result.model_dir, is_trainable=True)  # A counts as trainable
    seen = result.labels.tokens * a.epochs
    return model, tokenizer, timer.seconds, result.labels.tokens, result.labels.trained_tokens, "no", seen


def child(a: argparse.Namespace) -> None:
    """One arm's worker: a run for each "run" line on stdin, a RESULT line back; the figures to --result at EOF.

    The process stays up between runs, so the parent can interleave the arms' runs without paying the imports
    (~10 s) again, and the peak RSS stays the arm's own.
    """
    import gc

    import torch
    from transformers import set_seed

    started = time.perf_counter()
    rows = read_jsonl(Path(a.data_dir) / "train.jsonl")
    held = read_jsonl(Path(a.data_dir) / "heldout.jsonl")
    runs = []
    loss = per_token = None
    busy = time.perf_counter() - started  # seconds of work: setup and runs, not the waits between them
    print("READY", flush=True)
    for line in sys.stdin:
        if line.strip() != "run":
            continue
        t0 = time.perf_counter()
        set_seed(SEED)
        with tempfile.TemporaryDirectory(prefix="tt-arm-") as tmp:
            if a.arm in TUNESMITH:
                model, tok, seconds, tokens, trained, mixed, seen = run_tunesmith(a.arm, a, Path(tmp))
            else:
                overrides = {**ARMS, **EXPLORE}[a.arm]
                model, tok, seconds, tokens, trained, mixed, seen = run_trl(a.arm, overrides, a, Path(tmp), rows)
            if not runs:
                per_token = flops_per_token(model)
                loss = None if a.max_steps else heldout_loss(model, tok, held)  # a capped run is not comparable
        record = {"seconds": seconds, "tokens": tokens, "tokens_seen": seen, "trained_tokens": trained}
        runs.append({**record, "mixed_precision": mixed})
        del model
        gc.collect()
        busy += time.perf_counter() - t0
        print("RESULT " + json.dumps(runs[-1]), flush=True)
    result = {
        "arm": a.arm,
        "method": a.method,
        "runs": runs,
        "heldout_loss": loss,
        "flops_per_token": per_token,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "wall_seconds": busy,
        "torch_threads": torch.get_num_threads(),
    }
    Path(a.result).write_text(json.dumps(result))


# ----------------------------------------------------------------------------------------------------------------
# The benchmark (the parent process)


class Arm:
    """A worker process for one arm and method (`child`), driven one run at a time."""

    def __init__(self, arm: str, method: str, a: argparse.Namespace, model_dir: Path, data_dir: Path, work: Path):
        self.arm, self.method, self.result = arm, method, work / f"{arm}-{method}.json"
        self.log = work / f"{arm}-{method}.log"
        self.max_steps = a.literal_steps if arm == "trl_default" and a.capped_literal else 0
        cmd = [sys.executable, __file__, "--arm", arm, "--method", method, "--model-dir", str(model_dir)]
        cmd += ["--data-dir", str(data_dir), "--epochs", str(a.epochs), "--max-steps", str(self.max_steps)]
        cmd += ["--batch-size", str(a.batch_size), "--result", str(self.result), "--lora-dropout", str(a.lora_dropout)]
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "PYTHONWARNINGS": "ignore"}
        self.proc = subprocess.Popen(
            cmd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log.open("w"), text=True
        )

    def _line(self, prefix: str) -> str:
        for line in self.proc.stdout:
            if line.startswith(prefix):
                return line[len(prefix) :]
        sys.stderr.write(self.log.read_text()[-6000:])
        raise SystemExit(f"arm {self.arm} ({self.method}) failed with exit code {self.proc.wait()}")

    def ready(self) -> None:
        self._line("READY")

    def run(self) -> dict:
        self.proc.stdin.write("run\n")
        self.proc.stdin.flush()
        return json.loads(self._line("RESULT "))

    def finish(self) -> dict:
        self.proc.stdin.close()
        if self.proc.wait() != 0:
            sys.stderr.write(self.log.read_text()[-6000:])
            raise SystemExit(f"arm {self.arm} ({self.method}) failed with exit code {self.proc.returncode}")
        return json.loads(self.result.read_text())


def summarize(r: dict, peak_gflops: float, capped: bool = False) -> dict:
    rates = [run["tokens_seen"] / run["seconds"] for run in r["runs"]]
    median = statistics.median(rates)
    return {
        "arm": r["arm"],
        "method": r["method"],
        "capped_steps": capped,
        "tokens": r["runs"][0]["tokens"],
        "tokens_seen": r["runs"][0]["tokens_seen"],
        "trained_tokens": r["runs"][0]["trained_tokens"],
        "mixed_precision": r["runs"][0]["mixed_precision"],
        "tokens_per_s": median,
        "tokens_per_s_min": min(rates),
        "tokens_per_s_max": max(rates),
        "train_seconds": statistics.median(run["seconds"] for run in r["runs"]),
        "wall_seconds": r["wall_seconds"],
        "peak_rss_mb": r["peak_rss_mb"],
        "heldout_loss": r["heldout_loss"],
        "mfu": median * r["flops_per_token"] / (peak_gflops * 1e9),
    }


def print_table(results: list[dict], console: Any) -> None:
    from rich.table import Table

    for method in dict.fromkeys(r["method"] for r in results):
        arms = {r["arm"]: r for r in results if r["method"] == method}
        table = Table(title=f"{method} fine-tuning", title_justify="left")
        for col in ("arm", "tokens/s median (min-max)", "MFU", "peak RSS", "train s", "wall s", "held-out", "tokens"):
            table.add_column(col, justify="left" if col == "arm" else "right")
        for name, r in arms.items():
            table.add_row(
                f"{LABELS.get(name, name)}{' [bf16 autocast]' if r['mixed_precision'] == 'bf16' else ''}",
                f"{r['tokens_per_s']:,.0f} ({r['tokens_per_s_min']:,.0f}-{r['tokens_per_s_max']:,.0f})",
                f"{r['mfu']:.1%}",
                f"{r['peak_rss_mb']:,.0f} MB",
                f"{r['train_seconds']:.1f}",
                f"{r['wall_seconds']:.1f}",
                "n/a (capped)" if r["heldout_loss"] is None else f"{r['heldout_loss']:.4f}",
                f"{r['tokens']:,} ({r['trained_tokens'] or 0:,} trained)",
            )
        c = arms.get("tunesmith")
        for ref in ("trl_default", "trl_default_fp32", "trl_tuned"):
            if c and ref in arms:
                b = arms[ref]
                loss = "" if b["heldout_loss"] is None else f"{c['heldout_loss'] / b['heldout_loss'] - 1:+.2%}"
                table.add_row(
                    f"(c)/{LABELS[ref].split()[0]}",
                    f"{c['tokens_per_s'] / b['tokens_per_s']:.2f}x",
                    "",
                    f"{c['peak_rss_mb'] / b['peak_rss_mb']:.2f}x",
                    f"{c['train_seconds'] / b['train_seconds']:.2f}x",
                    f"{c['wall_seconds'] / b['wall_seconds']:.2f}x",
                    loss,
                    "",
                    style="bold",
                )
        console.print(table)


def ratios(results: list[dict]) -> dict:
    out = {}
    for method in dict.fromkeys(r["method"] for r in results):
        arms = {r["arm"]: r for r in results if r["method"] == method}
        c = arms.get("tunesmith")
        for ref in ("trl_default", "trl_default_fp32", "trl_tuned"):
            if c and ref in arms:
                b = arms[ref]
                out[f"{method}: tunesmith/{ref}"] = {
                    "tokens_per_s": c["tokens_per_s"] / b["tokens_per_s"],
                    "peak_rss": c["peak_rss_mb"] / b["peak_rss_mb"],
                    "heldout_loss": None if b["heldout_loss"] is None else c["heldout_loss"] / b["heldout_loss"],
                }
    return out


def main(a: argparse.Namespace) -> None:
    import platform

    import torch
    from rich.console import Console
    from transformers import AutoTokenizer

    from tunesmith.models.named import get_named_model
    from tunesmith.models.tiny import build_tiny_model

    console = Console(width=160)
    started = time.perf_counter()
    size = a.model or a.size or ("xs" if a.quick else "m")
    train_tokens = a.train_tokens or 7_000
    load = os.getloadavg()[0]
    console.print(
        f"[bold]train_throughput[/]: model {size}, data {a.data}, {train_tokens:,} training tokens (capped to fit "
        f"the time limit), {a.epochs:g} epoch(s), batch {a.batch_size}, {a.runs} run(s) per arm, methods "
        f"{', '.join(a.methods)}; {os.cpu_count()} cores, torch {torch.__version__}, {torch.get_num_threads()} "
        f"threads, load average {load:.2f}"
    )

    with tempfile.TemporaryDirectory(prefix="tt-") as tmp:
        work = Path(tmp)
        # --- model and data
        if a.model:
            model_dir = get_named_model(a.model, work / "model")  # the shipped GGUF, imported: no download
        else:
            model_dir = build_tiny_model(work / "model", size=size, seed=SEED)
        tokenizer = AutoTokenizer.from_pretrained(model_dir)
        count = lambda msgs: len(tokenizer.apply_chat_template(msgs, tokenize=True, return_dict=True)["input_ids"])  # noqa: E731
        support = [{"messages": r["messages"]} for r in read_jsonl(SUPPORT)]
        datasets = {"support": support, "longtail": make_longtail(support, len(support), count)}
        lengths = {name: [count(r["messages"]) for r in rows] for name, rows in datasets.items()}
        dists = {name: distribution(ls) for name, ls in lengths.items()}
        for name, d in dists.items():
            cv = statistics.pstdev(lengths[name]) / statistics.mean(lengths[name])
            d["cv"] = round(cv, 3)
            console.print(
                f"  {name:9s} {d['n']} conversations, tokens min {d['min']} / p50 {d['p50']} / p90 {d['p90']} / "
                f"max {d['max']}, CV {cv:.2f}, total {d['tokens']:,}"
            )
        train_rows, held_rows, total = select(datasets[a.data], lengths[a.data], train_tokens)
        data_dir = work / "dataset"
        data_dir.mkdir()
        write_jsonl(data_dir / "train.jsonl", train_rows)
        write_jsonl(data_dir / "heldout.jsonl", held_rows)
        console.print(
            f"  training on {len(train_rows)} {a.data} conversations ({total:,} tokens), {len(held_rows)} held out"
        )

        # --- the CPU's peak
        peak_median, peak = matmul_peak("float32")
        # bf16 only at 512: on CPUs without AVX512-BF16/AMX it runs ~1 GFLOP/s, and a 2048 product takes a minute.
        peak_bf16 = matmul_peak("bfloat16", n=512, reps=3)[0]
        console.print(
            f"  fp32 matmul peak {peak:.0f} GFLOP/s (2048x2048, max of 10; median {peak_median:.0f}); "
            f"bf16 {peak_bf16:.1f} (512)"
        )

        # --- which arms: on a CPU that emulates bf16, TRL's literal default (bf16 autocast) trains at a few tokens/s
        # (one optimizer step of the m model takes ~5 minutes), so arm (a) is the default plus bf16=False, the fix
        # STACK.md gives, and the literal default runs capped (--literal-default).
        emulated = peak_bf16 < 0.1 * peak
        if a.arms:
            arms = a.arms
        elif a.explore:
            arms = [*EXPLORE, "trl_default_fp32", *TUNESMITH]
        else:
            arms = ["trl_default_fp32" if emulated else "trl_default", "trl_tuned", "tunesmith"]
            arms += ["trl_default"] if emulated and a.literal_default else []
        if emulated:
            console.print(
                f"  bf16 is emulated here ({peak_bf16:.1f} against {peak:.0f} GFLOP/s fp32): arm (a) is TRL's default "
                f"with bf16=False; the literal default (bf16 autocast) runs only {a.literal_steps} step(s)"
                + ("" if "trl_default" in arms else " with --literal-default")
            )

        # --- the arms: one worker process each, started together; the runs interleaved in rotating order
        # (a b c, b c a, c a b), so that a slow drift of a shared machine falls on every arm alike
        a.capped_literal = emulated
        results = []
        for method in a.methods:
            workers = [Arm(arm, method, a, model_dir, data_dir, work) for arm in arms]
            for w in workers:
                w.ready()
            for k in range(a.runs):
                for w in workers[k % len(workers) :] + workers[: k % len(workers)]:
                    if w.max_steps and k:
                        continue  # the capped literal default runs once
                    console.print(f"  run {k + 1} {w.arm} ({method}) ...", end=" ")
                    r = w.run()
                    console.print(f"{r['tokens_seen'] / r['seconds']:,.0f} tokens/s in {r['seconds']:.1f} s")
            for w in workers:
                results.append(summarize(w.finish(), peak, capped=bool(w.max_steps)))

    print_table(results, console)
    elapsed = time.perf_counter() - started
    console.print(f"total {elapsed:.0f} s; load average {load:.2f} -> {os.getloadavg()[0]:.2f}")
    report = {
        "command": " ".join(sys.argv),
        "machine": {"cores": os.cpu_count(), "platform": platform.platform(), "processor": platform.processor()},
        "versions": _versions(),
        "settings": {
            "size": size,
            "data": a.data,
            "train_tokens": total,
            "train_examples": len(train_rows),
            "heldout_examples": len(held_rows),
            "epochs": a.epochs,
            "batch_size": a.batch_size,
            "runs": a.runs,
            "max_length": MAX_LENGTH,
            "lora_dropout": a.lora_dropout,
        },
        "length_distribution": dists,
        "matmul_peak_gflops": {"float32_max": peak, "float32_median": peak_median, "bfloat16_median": peak_bf16},
        "bf16_emulated": emulated,
        "load_average": {"before": load, "after": os.getloadavg()[0]},
        "seconds": elapsed,
        "arms": results,
        "ratios": ratios(results),
    }
    out = Path(a.out)
    tmp = out.with_name(f".{out.name}.tmp")  # a crash mid-write leaves the last complete figures in place
    tmp.write_text(json.dumps(report, indent=2))
    os.replace(tmp, out)
    console.print(f"wrote {out}")


def _versions() -> dict[str, str]:
    from importlib.metadata import version

    return {p: version(p) for p in ("torch", "transformers", "trl", "peft", "accelerate", "datasets")}


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="smoke run: the xs model")
    p.add_argument("--runs", type=int, default=3, help="runs per arm (the median is reported)")
    p.add_argument(
        "--literal-default",
        action="store_true",
        help="on CPUs without bf16 units, also run TRL's literal defaults (bf16 autocast) for --literal-steps steps",
    )
    p.add_argument("--literal-steps", type=int, default=1, help="optimizer steps of the literal-default arm")
    p.add_argument("--out", default="train_throughput.json", help="the figures as JSON (default: %(default)s)")
    p.add_argument("--data", choices=("longtail", "support"), default="longtail")
    p.add_argument("--size", choices=("xs", "s", "m"), help="tiny model size (default m; xs with --quick)")
    p.add_argument("--model", choices=("smollm2-135m-instruct",), help="a real model instead of a tiny one")
    p.add_argument(
        "--lora-dropout", type=float, default=0.05, help="every arm's LoRA dropout (0 lets tunesmith share prefixes)"
    )
    p.add_argument("--methods", nargs="+", choices=("full", "lora"), default=["full", "lora"])
    p.add_argument("--train-tokens", type=int, help="training tokens to draw (default 7,000: 3 steps of 8)")
    p.add_argument("--epochs", type=float, default=1.0)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--explore", action="store_true", help="run every candidate TRL setting for (b)")
    # the child process
    p.add_argument("--arms", nargs="+", choices=[*ARMS, *EXPLORE, *TUNESMITH], help="run only these arms")
    p.add_argument("--arm", choices=[*ARMS, *EXPLORE, *TUNESMITH], help=argparse.SUPPRESS)
    p.add_argument("--method", choices=("full", "lora"), help=argparse.SUPPRESS)
    p.add_argument("--max-steps", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--model-dir", help=argparse.SUPPRESS)
    p.add_argument("--data-dir", help=argparse.SUPPRESS)
    p.add_argument("--result", help=argparse.SUPPRESS)
    return p.parse_args()


if __name__ == "__main__":
    args = parse_args()
    child(args) if args.arm else main(args)
