"""A vendor job's preflight: the request that defines the job, the files to upload in the vendor's format checked
against its limits (data/export.py), personal data refused unless train.vendor.allow_pii, the token and cost estimate
(prices.py), and the user's confirmation (--yes in scripts). Nothing here sends anything."""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from tunesmith.artifacts import dumps, read_jsonl
from tunesmith.config import Config, DataConfig
from tunesmith.data.stats import TokenCounter, default_epochs
from tunesmith.errors import ConfigError, DataError, TunesmithError
from tunesmith.train.lifecycle import dataset_link
from tunesmith.train.vendor.jobs import EXPORT_FORMAT
from tunesmith.train.vendor.prices import PRICE_SOURCES, PRICES_CHECKED, training_price


def hyperparameters(cfg: Config, n_train: int) -> dict[str, Any]:
    """train.* mapped onto the vendor's hyperparameters; what is unset stays the vendor's default ("auto")."""
    tc, vc = cfg.train, cfg.train.vendor
    batch = tc.batch_size if "batch_size" in tc.model_fields_set else None
    if cfg.train.backend == "openai":
        out: dict[str, Any] = {}
        if tc.objective == "dpo":
            out["beta"] = tc.dpo.beta
        if tc.epochs is not None:
            out["n_epochs"] = max(1, round(tc.epochs))
        if batch is not None:
            out["batch_size"] = batch
        if vc.learning_rate_multiplier is not None:
            out["learning_rate_multiplier"] = vc.learning_rate_multiplier
        return out
    # Bedrock's hyperParameters are strings (Nova: epochCount, learningRate, batchSize).
    out = {"epochCount": str(max(1, round(tc.epochs))) if tc.epochs is not None else None}
    if tc.learning_rate is not None:
        out["learningRate"] = f"{tc.learning_rate:g}"
    if batch is not None:
        out["batchSize"] = str(batch)
    return {k: v for k, v in out.items() if v is not None}


def method_of(cfg: Config) -> str:
    """The vendor's training method: supervised, or dpo (OpenAI only) for train.objective: dpo."""
    if cfg.train.objective != "dpo":
        return "supervised"
    if cfg.train.backend != "openai":
        raise ConfigError(
            f"train.objective: dpo is not offered by train.backend: {cfg.train.backend}",
            hint="Bedrock model customization fine-tunes on conversations: use objective sft, or backend openai",
        )
    return "dpo"


def billed_epochs(cfg: Config, n_train: int) -> int:
    """train.epochs rounded, or OpenAI's documented auto rule (the one `data check` quotes)."""
    return max(1, round(cfg.train.epochs)) if cfg.train.epochs is not None else default_epochs(n_train)


def request_of(cfg: Config, dataset_dir: Path, n_train: int) -> dict[str, Any]:
    """What defines the job: a rerun with the same request follows (or reuses) the recorded job."""
    return {
        "backend": cfg.train.backend,
        "base_model": cfg.model.base,
        "dataset_hash": dataset_link(dataset_dir).get("dataset_hash"),
        "method": method_of(cfg),
        "hyperparameters": hyperparameters(cfg, n_train),
        "suffix": cfg.train.vendor.suffix,
        "seed": cfg.project.seed,
    }


def digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()


@dataclass
class Preflight:
    files: dict[str, Path]  # split -> the file to upload
    examples: dict[str, int]
    tokens: int  # tokens of one pass over train (approximate unless a tokenizer is given)
    epochs: int
    billed_tokens: int
    price_per_1m: float | None
    price_row: str | None
    cost_usd: float | None
    token_method: str
    warnings: list[str]

    def rows(self) -> list[tuple[str, str]]:

        price = (
            f"${self.price_per_1m:.2f} per 1M training tokens ({self.price_row}, listed {PRICES_CHECKED})"
            if self.price_per_1m is not None
            else "not in tunesmith's price table: see the vendor's pricing page"
        )
        return [
            ("files", ", ".join(f"{k} {self.examples[k]} examples" for k in self.files)),
            ("tokens per epoch", f"~{self.tokens:,}"),
            ("epochs", str(self.epochs)),
            ("billed tokens", f"~{self.billed_tokens:,}"),
            ("price", price),
            ("estimated cost", f"~${self.cost_usd:,.2f}" if self.cost_usd is not None else "unknown"),
            ("token counts", self.token_method),
        ]


def preflight(cfg: Config, dataset_dir: Path, upload_dir: Path, tokenizer: Any = None) -> Preflight:
    """Write the files to upload into `upload_dir` and check them; raises DataError (exit 2) before anything is sent."""
    from tunesmith.data.export import export_dataset

    backend = cfg.train.backend
    if method_of(cfg) == "dpo":
        return _preflight_pairs(cfg, dataset_dir, upload_dir, tokenizer)
    fmt = EXPORT_FORMAT[backend]
    files: dict[str, Path] = {}
    examples: dict[str, int] = {}
    warnings: list[str] = []
    tokens = 0
    method = ""
    for split in ("train", "val"):
        if not (dataset_dir / f"{split}.jsonl").exists() or not read_jsonl(dataset_dir / f"{split}.jsonl"):
            if split == "train":
                raise DataError(
                    f"no prepared dataset at {dataset_dir}",
                    hint="run `tunesmith run tunesmith.yaml --only prepare` (or `tunesmith data prepare`) first",
                )
            continue
        out = upload_dir / f"{split}.jsonl"
        result = export_dataset(dataset_dir, fmt, out, split=split, tokenizer=tokenizer, overwrite=True)
        # The minimum number of examples is the training file's; a validation file may be smaller.
        errors = [e for e in result.errors if split == "train" or "needs at least" not in e]
        if errors:
            raise DataError(
                f"the {split} split does not meet {backend}'s limits: " + "; ".join(errors),
                hint="fix the data and prepare it again; nothing was uploaded",
                file=dataset_dir / f"{split}.jsonl",
            )
        if result.dropped:
            warnings.append(f"{split}: {len(result.dropped)} example(s) left out: {result.dropped[0]['reason']}")
        warnings += [w for w in result.warnings if not w.startswith("token counts")]
        method = result.warnings[-1].removeprefix("token counts: ")
        files[split], examples[split] = out, result.written
        if split == "train":
            tokens = result.training_tokens
    _refuse_pii(cfg, dataset_dir, files)
    epochs = billed_epochs(cfg, examples["train"])
    billed = tokens * epochs
    price, row = training_price(backend, cfg.model.base)
    cost = billed / 1e6 * price if price is not None else None
    return Preflight(files, examples, tokens, epochs, billed, price, row, cost, method, warnings)


# OpenAI's DPO format: https://platform.openai.com/docs/guides/direct-preference-optimization ("input" holds the
# conversation up to the answer, "preferred_output" and "non_preferred_output" one assistant message each).
def _openai_dpo(pair: dict[str, Any]) -> dict[str, Any]:
    def keep(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{"role": m["role"], "content": m["content"]} for m in messages]

    return {
        "input": {"messages": keep(pair["prompt"])},
        "preferred_output": keep(pair["chosen"]),
        "non_preferred_output": keep(pair["rejected"]),
    }


def _pair_problem(pair: Any) -> str | None:
    if not isinstance(pair, dict) or not all(isinstance(pair.get(k), list) for k in ("prompt", "chosen", "rejected")):
        return "not a prepared preference pair {prompt, chosen, rejected}"
    if not pair["prompt"] or pair["prompt"][-1].get("role") != "user":
        return "the prompt must end with a user message"
    for side in ("chosen", "rejected"):
        msgs = pair[side]
        if len(msgs) != 1 or msgs[0].get("role") != "assistant" or not isinstance(msgs[0].get("content"), str):
            return f"'{side}' must be one assistant message (OpenAI DPO)"
    return None


def _preflight_pairs(cfg: Config, dataset_dir: Path, upload_dir: Path, tokenizer: Any) -> Preflight:
    """The same preflight for preference pairs, written in OpenAI's DPO format."""
    from tunesmith.data.export import LIMITS

    counter = TokenCounter(tokenizer)
    files: dict[str, Path] = {}
    examples: dict[str, int] = {}
    tokens = 0
    upload_dir.mkdir(parents=True, exist_ok=True)
    for split in ("train", "val"):
        src = dataset_dir / f"{split}.jsonl"
        rows = read_jsonl(src) if src.exists() else []
        if not rows:
            if split == "train":
                raise DataError(f"no prepared preference pairs at {dataset_dir}", hint="run tunesmith data prepare")
            continue
        for n, row in enumerate(rows, 1):
            problem = _pair_problem(row)
            if problem:
                raise DataError(problem, hint="prepare the pairs again; nothing was uploaded", file=src, line=n)
        if split == "train" and len(rows) < LIMITS["openai"].min_examples:
            raise DataError(
                f"{len(rows)} preference pair(s); openai needs at least {LIMITS['openai'].min_examples}",
                hint="add pairs and prepare again; nothing was uploaded",
                file=src,
            )
        out = upload_dir / f"{split}.jsonl"
        out.write_text("".join(dumps(_openai_dpo(r)) + "\n" for r in rows), encoding="utf-8")
        files[split], examples[split] = out, len(rows)
        if split == "train":  # each pair trains the prompt with both answers
            sides = [{"messages": [*r["prompt"], *r[side]]} for r in rows for side in ("chosen", "rejected")]
            tokens = sum(t["total"] for t in counter.records(sides))
    _refuse_pii(cfg, dataset_dir, files)
    epochs = billed_epochs(cfg, examples["train"])
    price, price_row = training_price(cfg.train.backend, cfg.model.base)
    billed = tokens * epochs
    cost = billed / 1e6 * price if price is not None else None
    return Preflight(files, examples, tokens, epochs, billed, price, price_row, cost, counter.method, [])


def recorded_decision(data: DataConfig, dataset_dir: Path) -> DataConfig:
    """The data settings under which prepare's decision holds: the values it allowed and those it kept as the
    deployer's names and contacts (counted over all the data, recorded in the manifest's `pii`) are allowed, and nothing
    is re-decided on the split sent, where a kept name recurs less and would count as a customer's. A dataset that
    records no redaction (pii off, or written before the decision was recorded) is judged as `data check` does."""
    from tunesmith.data.redact import recorded_allow

    recorded = recorded_allow(dataset_dir)
    if recorded is None:
        return data
    allow = sorted({*data.pii_allow, *recorded})
    return data.model_copy(update={"pii_allow": allow, "keep_recurring_names": False, "keep_recurring_contacts": False})


def _refuse_pii(cfg: Config, dataset_dir: Path, files: dict[str, Path]) -> None:
    """Run the analyzer on what is about to leave the machine with prepare's recorded decision of what is
    personal data (`recorded_decision`); refuse on any finding, such as a real name left in the data."""
    from tunesmith.data.check import pii_findings

    if cfg.train.vendor.allow_pii:
        return
    records = []
    for split, path in files.items():
        for n, row in enumerate(read_jsonl(dataset_dir / f"{split}.jsonl"), 1):
            meta = {**row.get("meta", {}), "source": {"file": str(path), "line": n}}
            if "messages" not in row:  # a preference pair: every side is sent
                row = {"messages": [*row["prompt"], *row["chosen"], *row["rejected"]]}
            records.append({**row, "meta": meta})
    scan = pii_findings(records, recorded_decision(cfg.data, dataset_dir))
    found = [f for f in scan.findings if f.kind == "pii"]
    if found:
        summary = ", ".join(f"{n} {entity}" for entity, n in sorted(scan.counts.items()))
        lines = sorted({n for f in found for n in f.lines})
        raise DataError(
            f"refusing to upload to {cfg.train.backend}: the analyzer finds personal data in the files to send "
            f"({summary}; in {len(lines)} example(s), lines {lines[:5]} of train.jsonl then val.jsonl)",
            hint="prepare the data with data.pii: redact (or pseudonymize), add values that are not personal data "
            "to data.pii_allow, or set train.vendor.allow_pii: true if sending them is allowed; nothing was sent",
            file=dataset_dir / "train.jsonl",
        )


def confirm_upload(cfg: Config, pre: Preflight, confirm: bool, console: Console) -> None:
    """--yes, or a yes at an interactive prompt; a script without --yes is refused (exit 2) before any request."""
    if confirm:
        return
    what = f"{sum(pre.examples.values())} examples to {cfg.train.backend} ({cfg.model.base})"
    if sys.stdin is not None and sys.stdin.isatty():
        from rich.prompt import Confirm

        if Confirm.ask(f"upload {what} and start a paid fine-tuning job?", console=console, default=False):
            return
        raise TunesmithError("upload not confirmed: nothing was sent")
    raise ConfigError(
        f"uploading {what} needs a confirmation",
        hint="pass --yes (tunesmith train/run ... --yes) to confirm the upload in a script",
    )


def estimate_json(pre: Preflight, backend: str) -> dict[str, Any]:

    return {
        "examples": pre.examples,
        "tokens_per_epoch": pre.tokens,
        "epochs": pre.epochs,
        "billed_tokens": pre.billed_tokens,
        "price_per_1m_usd": pre.price_per_1m,
        "price_row": pre.price_row,
        "cost_usd": round(pre.cost_usd, 4) if pre.cost_usd is not None else None,
        "price_source": PRICE_SOURCES.get(backend),
        "prices_checked": PRICES_CHECKED,
        "token_method": pre.token_method,
    }


def print_estimate(cfg: Config, pre: Preflight, console: Console) -> None:
    from rich.table import Table

    table = Table(title=f"{cfg.train.backend} fine-tuning of {cfg.model.base}: estimate", show_header=False)
    for k, v in pre.rows():
        table.add_row(k, v)
    table.add_row("prices from", PRICE_SOURCES[cfg.train.backend])
    console.print(table)
    for w in pre.warnings:
        console.print(f"[yellow]{w}[/]")
