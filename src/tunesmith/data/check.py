"""`data check`: every finding in the input, with statistics, before anything is trained.

Loading reports the structural errors; this module adds length, duplicates, conflicts, personal data and the
dataset-level guidance. It never stops at the first problem, and it changes nothing. Preference pairs are checked
by their own rules, keyed by the prompt (data/preference.py); which kind the files hold is decided once
(`data.kinds`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tunesmith.config import DataConfig, TrainConfig, default_of
from tunesmith.data import findings, pii, stats
from tunesmith.data.findings import (
    CheckReport,
    duplicate_findings,
    group_finding,
    held_out_findings,
    pii_findings,
)
from tunesmith.data.kinds import data_kind
from tunesmith.data.preference import check_preferences
from tunesmith.records import Finding, LoadResult, load_preferences, load_records

__all__ = ["CheckReport", "Finding", "check_files", "check_records", "pii_findings"]


def _pii(records: list[dict[str, Any]], cfg: DataConfig, found: list[Finding], notes: list[str]) -> tuple[
    dict[str, int], list[dict[str, Any]]
]:
    """The PII findings and the notes on what the scan covered; the counts by entity and the frequent names."""
    pii_name_sample = cfg.pii_name_sample or None  # 0: every message
    scan = pii_findings(records, cfg, name_sample=pii_name_sample)
    found += scan.findings
    pii_counts, recurring, frequent_names = scan.counts, scan.kept, scan.frequent
    distinct = len({m["content"] for r in records for m in r["messages"]})
    wanted = set(cfg.pii_entities or pii.DEFAULT_ENTITIES)
    if pii_name_sample is not None and distinct > pii_name_sample and wanted & pii.MODEL_ENTITIES:
        notes.append(
            f"names ({', '.join(sorted(wanted & pii.MODEL_ENTITIES))}) were looked for in a seeded sample of "
            f"{pii_name_sample:,} of {distinct:,} distinct messages (the name model costs ~3-6 ms a message); "
            "the other entities in every message. `prepare` looks everywhere; --pii-name-sample 0 checks all"
        )
    if frequent_names:
        notes.append(
            "PERSON values in the most examples: "
            + ", ".join(f"{f['value']} ({f['examples']}{', kept' if f['kept'] else ''})" for f in frequent_names)
        )
    if recurring:
        notes.append(
            f"not reported as PII: {', '.join(recurring)}: PERSON values in {pii.RECURRING_MIN}+ examples, or in "
            "the system prompt of most, are taken for the organisation's, product's or persona's name "
            "(keep_recurring_names=False reports them)"
        )
    if pii.names_warning():
        notes.append(pii.names_warning())
    return pii_counts, frequent_names


def _dataset_findings(
    records: list[dict[str, Any]], with_system: list[bool], refusals: list[int], div: dict[str, Any]
) -> list[Finding]:
    """The warnings about the dataset as a whole: its size, system prompts, refusals and diversity."""
    found = []
    n = len(records)
    if n < stats.FEW_EXAMPLES:
        found.append(
            Finding(
                "too_few_examples",
                "warning",
                [],
                f"only {n} examples: expect the model to pick up format and tone, not new "
                f"knowledge; aim for at least {stats.FEW_EXAMPLES}, ideally several hundred",
            )
        )
    if 0 < sum(with_system) < n:
        missing = [i for i, s in enumerate(with_system) if not s]
        found.append(
            group_finding(
                "missing_system",
                records,
                missing,
                f"{len(missing)} of {n} examples have no system prompt while the others do; the model will behave "
                "differently with and without one",
            )
        )
    refusal_share = len(refusals) / n if n else 0.0
    if refusal_share > stats.REFUSAL_SHARE:
        found.append(
            group_finding(
                "refusal_share",
                records,
                refusals,
                f"{refusal_share:.0%} of answers are refusals or 'I don't know' (over {stats.REFUSAL_SHARE:.0%}); "
                "the model will refuse about that often at inference",
            )
        )
    low = []
    if n >= 2 and div.get("distinct_2", 1) < stats.LOW_DISTINCT_2:
        low.append(f"distinct-2 {div['distinct_2']:.2f} < {stats.LOW_DISTINCT_2}")
    if n >= 2 and div.get("embedding_spread", 1) < stats.LOW_EMBEDDING_SPREAD:
        low.append(f"embedding spread {div['embedding_spread']:.2f} < {stats.LOW_EMBEDDING_SPREAD}")
    if low:
        found.append(
            Finding(
                "low_diversity",
                "warning",
                [],
                f"the prompts are much alike ({'; '.join(low)}): the model will learn these "
                "questions rather than the task; add varied prompts",
            )
        )
    return found


def _conversation_stats(
    loaded: LoadResult,
    found: list[Finding],
    tokens: list[dict[str, int]],
    split_of: list[str | None],
    counter: stats.TokenCounter,
    max_seq_len: int,
    with_system: list[bool],
    refusals: list[int],
) -> dict[str, Any]:
    """The statistics of a check of conversations; the PII and diversity entries are the caller's."""
    records = loaded.records
    n = len(records)
    totals = [t["total"] for t in tokens]
    # `tool` (tool results and definitions) only when some example uses tools, so plain data keeps its table.
    roles = ("system", "user", "assistant", *(("tool",) if any("tool" in t for t in tokens) else ()))
    role_tokens = {role: sum(t.get(role, 0) for t in tokens) for role in roles}
    epochs = stats.default_epochs(split_of.count(None))  # the held-out examples are not trained on
    per_epoch = sum(min(max_seq_len, t) for t, s in zip(totals, split_of, strict=True) if s is None)
    return {
        "token_counter": counter.method,
        "counts": {
            "files": len(loaded.formats),
            "lines": loaded.lines_read,
            "examples": n,
            "invalid_lines": len({(f.file, f.lines[0]) for f in loaded.findings}),
            "errors": sum(f.severity == "error" for f in found),
            "warnings": sum(f.severity == "warning" for f in found),
        },
        "messages_per_example": stats.distribution([len(r["messages"]) for r in records]),
        "tokens_per_example": {
            "total": stats.distribution(totals),
            **{role: stats.distribution([t.get(role, 0) for t in tokens]) for role in roles},
        },
        "tokens_total": sum(totals),
        "assistant_token_share": round(role_tokens["assistant"] / max(1, sum(role_tokens.values())), 4),
        "system_prompt_coverage": round(sum(with_system) / n, 4) if n else 0.0,
        "refusal_share": round(len(refusals) / n if n else 0.0, 4),
        "max_seq_len": max_seq_len,
        "default_epochs": epochs,
        "estimated_training_tokens_per_epoch": per_epoch,
        "estimated_training_tokens": per_epoch * epochs,
    }


def check_records(
    loaded: LoadResult,
    cfg: DataConfig | None = None,
    *,
    max_seq_len: int | None = None,
    tokenizer: Any = None,
    diversity: bool = True,
    pii_scan: bool = True,
    held_out: Mapping[str, str] | None = None,
) -> CheckReport:
    """Every finding in `loaded`, with the settings of the data section (`cfg`; its defaults if None).

    `max_seq_len` is train.max_seq_len, the one sequence length (its default if None): longer examples are
    `too_long`. `tokenizer` is the base model's (approximate counts if None). `diversity` and `pii_scan` switch the
    two slow parts off (`--no-embeddings`, `--no-pii`). `held_out` maps the files of data.test_paths and
    data.val_paths to their split: they are checked like the rest, but not for duplicates among themselves (prepare
    keeps them whole); an input example tied to one of theirs is a `held_out_duplicate`, which prepare drops."""
    cfg = cfg or DataConfig()
    max_seq_len = default_of(TrainConfig, "max_seq_len") if max_seq_len is None else max_seq_len
    records = loaded.records
    found = list(loaded.findings)
    notes: list[str] = []
    counter = stats.TokenCounter(tokenizer)
    tokens = counter.records(records)
    for r, t in zip(records, tokens, strict=True):
        if t["total"] > max_seq_len:
            found.append(
                findings.too_long(r, f"{t['total']} tokens, over the sequence length {max_seq_len} (train.max_seq_len)")
            )
    held_out = held_out or {}
    split_of = [held_out.get(r["meta"]["source"]["file"]) for r in records]
    inputs = [r for r, s in zip(records, split_of, strict=True) if s is None]
    found += duplicate_findings(inputs, cfg.near_dup_threshold)[0]
    if held_out:
        found += held_out_findings(records, split_of, cfg.near_dup_threshold)
    pii_counts: dict[str, int] = {}
    frequent_names: list[dict[str, Any]] = []
    if pii_scan and records:
        pii_counts, frequent_names = _pii(records, cfg, found, notes)
    n = len(records)
    with_system = [r["messages"][0]["role"] == "system" for r in records]
    refusals = [i for i, r in enumerate(records) if stats.is_refusal(r)]
    div = stats.diversity(records, embeddings=diversity, sample=cfg.embedding_sample) if n else {}
    found += _dataset_findings(records, with_system, refusals, div)
    findings.sort_findings(found)
    report_stats = _conversation_stats(loaded, found, tokens, split_of, counter, max_seq_len, with_system, refusals)
    report_stats |= {
        "pii": {
            "entities": list(cfg.pii_entities or pii.DEFAULT_ENTITIES),
            "found": pii_counts,
            "frequent_names": frequent_names,
            "score_threshold": pii.SCORE_THRESHOLD,
            "name_sample": cfg.pii_name_sample or None,
        }
        if pii_scan
        else {"skipped": True},
        "diversity": div,
    }
    return findings.report(loaded, n, report_stats, found, notes)


def check_files(
    paths: Sequence[str | Path],
    cfg: DataConfig | None = None,
    *,
    max_seq_len: int | None = None,
    tokenizer: Any = None,
    diversity: bool = True,
    pii_scan: bool = True,
    test: str | Path | None = None,
) -> CheckReport:
    """Load and check with the settings of the data section (`cfg`; its defaults if None) and the sequence length
    (train.max_seq_len; its default if None); raises DataError (exit 2) when nothing usable can be read.

    Files of preference pairs (TRL, OpenAI DPO, HH) are detected and checked as pairs (data/preference.py);
    `test` (a prepared dataset or a test.jsonl) then adds the pairs whose prompt is in that test split."""
    cfg = cfg or DataConfig()
    held_out = {str(p): s for s, files in cfg.held_out().items() for p in files}
    hint = "check the pairs with --against DATASET to find the prompts of a test split"
    if data_kind(paths, cfg, list(held_out), hint=hint) == "preference":
        return check_preferences(
            load_preferences(paths), cfg, max_seq_len=max_seq_len, tokenizer=tokenizer, pii_scan=pii_scan, test=test
        )
    loaded = load_records([*paths, *held_out], format=cfg.format, columns=cfg.columns)
    return check_records(
        loaded,
        cfg,
        max_seq_len=max_seq_len,
        tokenizer=tokenizer,
        diversity=diversity,
        pii_scan=pii_scan,
        held_out=held_out,
    )
