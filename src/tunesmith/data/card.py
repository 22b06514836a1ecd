"""The dataset card (README.md) of a prepared dataset of conversations: counts, sources, removals, PII, split."""

from __future__ import annotations

from collections import Counter
from typing import Any

from tunesmith.config import DataConfig
from tunesmith.data import pii
from tunesmith.data.split import SPLITS


def _source_table(sources: list[dict[str, Any]]) -> list[str]:
    return [
        "| file | format | sha256 |",
        "|---|---|---|",
        *[f"| {s['file']} | {s['format']} | `{s['sha256'][:16]}` |" for s in sources],
    ]


def _removals(counts: dict[str, Any], cfg: DataConfig, max_seq_len: int) -> list[str]:
    """The rows of the removals table, each reason with the setting that decided it, then the truncations."""
    reasons = {
        "invalid": "invalid lines (see `tunesmith data check`)",
        "exact_duplicate": "exact duplicates (one kept per group)",
        "near_duplicate": f"near duplicates (prompt MinHash Jaccard >= {cfg.near_dup_threshold:g}; one kept)",
        "conflict": f"conflicting answers (policy: {cfg.conflicts}; a tie keeps neither)",
        "too_long": f"over {max_seq_len} tokens, train.max_seq_len (policy: {cfg.too_long})",
        "in_parent": "duplicates, near duplicates or conflicts of a parent example (the parent's is kept)",
        "in_test_paths": "duplicates, near duplicates or conflicts of an example of data.test_paths (held out)",
        "in_val_paths": "duplicates, near duplicates or conflicts of an example of data.val_paths (held out)",
        "problematic_language": "answers with offensive or blocklisted language (data.problematic_language: drop)",
    }
    lines = [f"| {reasons[k]} | {v} |" for k, v in counts["dropped"].items()]
    if counts.get("truncated"):
        lines.append(f"\n{counts['truncated']} example(s) were truncated to {max_seq_len} tokens.")
    return lines + _kept_language(counts, cfg)


def _kept_language(counts: dict[str, Any], cfg: DataConfig) -> list[str]:
    """The examples flagged problematic_language that were trained on (data.problematic_language: keep)."""
    flagged = counts.get("problematic_language", 0)
    if not flagged or cfg.problematic_language != "keep":
        return []
    return [
        f"\n{flagged} example(s) whose answers hold offensive or blocklisted language were **kept** and trained on "
        "(data.problematic_language: keep); `tunesmith data check` lists them."
    ]


def _personal_data(cfg: DataConfig, pii_counts: Counter[str]) -> list[str]:
    if cfg.pii == "off":
        return ["PII policy: **off**. Personal data was not looked for; the data may contain some."]
    entities = ", ".join(cfg.pii_entities or pii.DEFAULT_ENTITIES)
    how = (
        "replaced by typed placeholders such as `<PERSON>`"
        if cfg.pii == "redact"
        else "replaced by consistent pseudonyms such as `<PERSON_1>`, keyed with a key kept outside this directory"
    )
    return [
        f"PII policy: **{cfg.pii}**. Presidio looked for {entities}; values found were {how}.",
        "",
        "| entity | replaced |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in sorted(pii_counts.items())],
        "",
        "`redactions.jsonl` lists every replacement (example, message, span, entity, detector, score), "
        "never the value.",
    ]


def card(
    counts: dict[str, Any],
    cfg: DataConfig,
    max_seq_len: int,
    seed: int,
    digest: str,
    sources: list[dict[str, Any]],
    pii_counts: Counter[str],
    warnings: list[str],
    held_files: dict[str, list[str]],
) -> str:
    lines = [
        "# Dataset card",
        "",
        f"Dataset hash: `{digest}`",
        "",
        "Made by `tunesmith data prepare`. The same inputs and options give the same hash.",
        "",
        "## Counts",
        "",
        "| split | examples |",
        "|---|---|",
        *[f"| {s} | {counts[s]} |" for s in SPLITS],
        "",
        f"Read {counts['input']} lines or rows; {counts['valid']} were valid examples.",
        "",
        *(
            [
                f"Parent dataset `{counts['parent']['dataset_hash']}`: its {counts['parent']['train']} train, "
                f"{counts['parent']['val']} val and {counts['parent']['test']} test examples are kept as they were "
                "(its test split is frozen); new examples went to train and val only.",
                "",
            ]
            if counts.get("parent")
            else []
        ),
        "## Sources",
        "",
        *_source_table(sources),
        "",
        "## What was removed, and why",
        "",
        "| reason | examples |",
        "|---|---|",
    ]
    lines += _removals(counts, cfg, max_seq_len)
    lines += ["", "## Personal data", "", *_personal_data(cfg, pii_counts)]
    lines += [
        "",
        "## Split",
        "",
        f"Seed {seed}; shares train {cfg.split.train:g}, val {cfg.split.val:g}, "
        f"test {cfg.split.test:g}; stratified by the first tag; near-duplicate groups kept in one split.",
        *[
            f"\nThe {s} split is the {counts[s]} examples of {', '.join(f'`{x}`' for x in files)} as they are "
            f"(data.{s}_paths): its share is ignored and the others renormalised; no example of data.paths that "
            "duplicates or nearly duplicates one of them was kept."
            for s, files in held_files.items()
        ],
    ]
    if warnings:
        lines += ["", "## Warnings", "", *[f"- {w}" for w in warnings]]
    return "\n".join(lines) + "\n"


def pair_card(counts: dict[str, Any], cfg: DataConfig, seed: int, digest: str, sources: list[dict[str, Any]]) -> str:
    lines = [
        "# Dataset card: preference pairs",
        "",
        f"Dataset hash: `{digest}`",
        "",
        "Made by `tunesmith data prepare` from preference pairs (prompt, chosen, rejected). The same inputs and "
        "options give the same hash.",
        "",
        "| split | pairs |",
        "|---|---|",
        *[f"| {s} | {counts[s]} |" for s in SPLITS],
        "",
        f"Read {counts['input']} lines; {counts['valid']} were valid pairs.",
        "",
        *_source_table(sources),
        "",
        "## What was removed, and why",
        "",
        "| reason | pairs |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in counts["dropped"].items()],
        *_kept_language(counts, cfg),
        "",
        f"PII policy: **{cfg.pii}**; replaced: {counts['redacted'] or 'none'} (`redactions.jsonl` lists every "
        "replacement, never the value).",
        "",
        f"Split: seed {seed}; shares train {cfg.split.train:g}, val {cfg.split.val:g}, test {cfg.split.test:g}; "
        "the pairs of one prompt (exact or near-same) are kept in one split.",
    ]
    return "\n".join(lines) + "\n"
