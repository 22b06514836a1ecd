"""Conversations as a data kind (`data.kinds.DataKind`): grouped by their user turns (data.dedup), checked with
data.test_paths / data.val_paths beside them, and prepared with those files as whole splits and a parent version
as the frozen part of a new one."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tunesmith.config import DataConfig
from tunesmith.data import conversation_prep as prep
from tunesmith.data import findings, pii, stats
from tunesmith.data.card import card
from tunesmith.data.coverage import coverage_finding, top_up
from tunesmith.data.findings import Measured, PiiScan, duplicate_findings, group_finding, held_out_findings
from tunesmith.data.generated import generated_section
from tunesmith.data.recurring import RECURRING_MIN
from tunesmith.data.redact import decision
from tunesmith.data.sources import HeldOut, Parent, drop_held_out_twins, load_held_out, load_parent
from tunesmith.data.store import PiiKey
from tunesmith.records import Finding, LoadResult, RecordKind, load_records

Tokens = list[dict[str, int]]  # per example, by role and in total


def _pii_notes(records: list[dict[str, Any]], cfg: DataConfig, scan: PiiScan) -> list[str]:
    """What the PII scan covered, and the PERSON values in the most examples, kept or not."""
    notes = []
    pii_name_sample = cfg.pii_name_sample or None  # 0: every message
    distinct = len({m["content"] for r in records for m in r["messages"]})
    wanted = set(cfg.pii_entities or pii.DEFAULT_ENTITIES)
    if pii_name_sample is not None and distinct > pii_name_sample and wanted & pii.MODEL_ENTITIES:
        notes.append(
            f"names ({', '.join(sorted(wanted & pii.MODEL_ENTITIES))}) were looked for in a seeded sample of "
            f"{pii_name_sample:,} of {distinct:,} distinct messages (the name model costs ~3-6 ms a message); "
            "the other entities in every message. `prepare` looks everywhere; --pii-name-sample 0 checks all"
        )
    if scan.frequent:
        notes.append(
            "PERSON values in the most examples: "
            + ", ".join(f"{f['value']} ({f['examples']}{', kept' if f['kept'] else ''})" for f in scan.frequent)
        )
    if scan.kept:
        notes.append(
            f"not reported as PII: {', '.join(scan.kept)}: names, phone numbers and e-mail addresses in "
            f"{RECURRING_MIN}+ examples, or in the system prompt of most, are taken for the organisation's, "
            "product's or persona's own (keep_recurring_names=False, keep_recurring_contacts=False report them)"
        )
    if names := pii.names_warning():
        notes.append(names)
    return notes


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


def _conversation_stats(m: Measured, split_of: list[str | None]) -> dict[str, Any]:
    """The statistics of a check of conversations; the PII and diversity entries are the caller's."""
    loaded, found, tokens, counter, max_seq_len = m.loaded, m.found, m.tokens, m.counter, m.max_seq_len
    with_system, refusals = m.measures["with_system"], m.measures["refusals"]
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


class Conversations:
    """One run of check or prepare over conversations; prepare's steps keep what they learn (the parent, the
    held-out files, the plan) for the steps after them."""

    name: RecordKind = "conversation"

    def __init__(self, cfg: DataConfig, *, parent: str | Path | None = None) -> None:
        self.cfg = cfg
        self.held_paths = cfg.held_out()
        self.held_files = {s: [Path(p) for p in files] for s, files in self.held_paths.items()}
        self.parent = parent
        self.warnings: list[str] = []
        self.pii_kept: list[str] = []  # PERSON values redaction kept as the deployer's names (manifest `pii`)
        self.base: Parent | None = None
        self.held = HeldOut({}, {})
        self.plan = prep.Plan({}, [], self.warnings)
        self.held_out_duplicates: list[dict[str, Any]] = []
        self.truncated = 0
        self.assignment: dict[str, list[int]] = {}
        self.shares: dict[str, float] = {}
        self.generated: list[dict[str, Any]] = []  # prepare's near-domain refusals (data.refusals: auto)
        self.rows: dict[str, list[dict[str, Any]]] = {}  # the examples of each split, as written

    # -- check: the held-out files are checked beside the inputs, not for duplicates among themselves.

    def _split_of(self, records: list[dict[str, Any]]) -> list[str | None]:
        held_out = {str(p): s for s, files in self.held_paths.items() for p in files}
        return [held_out.get(r["meta"]["source"]["file"]) for r in records]

    def load_all(self, paths: Sequence[str | Path]) -> LoadResult:
        held = [p for files in self.held_paths.values() for p in files]
        return load_records([*paths, *held], format=self.cfg.format, columns=self.cfg.columns)

    def count_tokens(self, counter: stats.TokenCounter, records: list[dict[str, Any]]) -> Tokens:
        return counter.records(records)

    def too_long(self, records: list[dict[str, Any]], tokens: Tokens, max_seq_len: int) -> list[Finding]:
        return [
            findings.too_long(r, f"{t['total']} tokens, over the sequence length {max_seq_len} (train.max_seq_len)")
            for r, t in zip(records, tokens, strict=True)
            if t["total"] > max_seq_len
        ]

    def group_findings(self, records: list[dict[str, Any]]) -> list[Finding]:
        split_of = self._split_of(records)
        inputs = [r for r, s in zip(records, split_of, strict=True) if s is None]
        found = duplicate_findings(inputs, self.cfg.near_dup_threshold)[0]
        if self.held_paths:
            found += held_out_findings(records, split_of, self.cfg.near_dup_threshold)
        return found

    def pii_views(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return records

    def pii_notes(self, records: list[dict[str, Any]], scan: PiiScan) -> list[str]:
        return _pii_notes(records, self.cfg, scan)

    def dataset_findings(
        self, records: list[dict[str, Any]], *, diversity: bool
    ) -> tuple[list[Finding], dict[str, Any]]:
        with_system = [r["messages"][0]["role"] == "system" for r in records]
        refusals = [i for i, r in enumerate(records) if stats.is_refusal(r)]
        div = stats.diversity(records, embeddings=diversity, sample=self.cfg.embedding_sample) if records else {}
        measures = {"with_system": with_system, "refusals": refusals, "diversity": div}
        found = _dataset_findings(records, with_system, refusals, div)
        # Coverage is about what trains: the held-out files (data.test_paths, val_paths) are left out.
        trains = [i for i, s in enumerate(self._split_of(records)) if s is None]
        position = {i: n for n, i in enumerate(trains)}
        coverage = coverage_finding([records[i] for i in trains], [position[i] for i in refusals if i in position])
        return found + ([coverage] if coverage else []), measures

    def check_stats(self, m: Measured) -> dict[str, Any]:
        scan = m.scan
        return _conversation_stats(m, self._split_of(m.loaded.records)) | {
            "pii": {
                "entities": list(self.cfg.pii_entities or pii.DEFAULT_ENTITIES),
                "found": scan.counts,
                "frequent_names": scan.frequent,
                "score_threshold": pii.SCORE_THRESHOLD,
                "name_sample": self.cfg.pii_name_sample or None,
            }
            if scan is not None
            else {"skipped": True},
            "diversity": m.measures["diversity"],
        }

    # -- prepare: a parent's splits are frozen; the held-out files are whole splits, never deduplicated nor dropped.

    def inputs(self, paths: Sequence[str | Path]) -> list[str | Path]:
        return [*paths, *(p for files in self.held_files.values() for p in files)]

    def load_inputs(self, paths: Sequence[str | Path]) -> LoadResult:
        self.base = load_parent(self.parent) if self.parent is not None else None
        if self.base is not None and self.held_files:
            self.warnings.append(
                "data.test_paths/val_paths were not re-read: the parent's splits are kept frozen, and a new example "
                "that duplicates any of their examples is dropped (in_parent)"
            )
            self.held_files = {}
        return load_records(paths, format=self.cfg.format, columns=self.cfg.columns)

    def plan_drops(self, records: list[dict[str, Any]]) -> dict[int, str]:
        self.held = load_held_out(self.held_files, self.cfg, records)
        self.plan = prep.Plan(*prep.drops(records, self.base, self.cfg), self.warnings)
        self.held_out_duplicates = drop_held_out_twins(self.held, records, self.plan.drop, self.cfg)
        if self.held_out_duplicates:
            self.warnings.append(prep.held_out_warning(self.held_out_duplicates))
        return self.plan.drop

    def redact(
        self, records: list[dict[str, Any]], kept: list[int], key: PiiKey
    ) -> tuple[list[dict[str, Any]], Counter[str]]:
        log, pii_counts, pii_warnings, self.pii_kept = prep.redact_kept(
            records, kept, self.held, self.base, self.cfg, key
        )
        self.warnings += pii_warnings
        return log, pii_counts

    def fit_lengths(
        self, records: list[dict[str, Any]], kept: list[int], counter: stats.TokenCounter, max_seq_len: int
    ) -> None:
        self.truncated = prep.fit_lengths(records, kept, self.held, self.plan, self.cfg, max_seq_len, counter)

    def split(self, records: list[dict[str, Any]], seed: int) -> dict[str, list[dict[str, Any]]]:
        rows, self.assignment, self.shares = prep.split(records, self.plan, self.held, self.base, self.cfg, seed)
        if self.cfg.refusals == "auto" and self.base is None:
            kept = [r for i, r in enumerate(records) if i not in self.plan.drop]
            self.generated = top_up(kept, rows, self.cfg.near_dup_threshold, seed)
            if self.generated:
                rows["train"] += self.generated  # canonical already; their source is the generator, not a file
                self.warnings.append(
                    f"added {len(self.generated)} near-domain out-of-scope questions with the data's own refusal to "
                    "train (too few refusals for its topics: data.refusals: auto; set it to off to train on the "
                    "data as it is, or write them as a file to review with `tunesmith data add-refusals --near-domain`)"
                )
        self.rows = rows
        return rows

    def counts(
        self, loaded: LoadResult, rows: dict[str, list[dict[str, Any]]], pii_counts: Counter[str]
    ) -> dict[str, Any]:
        invalid = len({(f.file, f.lines[0]) for f in loaded.findings})
        return prep.counts(
            loaded.lines_read,
            loaded.records,
            invalid,
            self.plan,
            self.truncated,
            self.held,
            rows,
            pii_counts,
            self.base,
            self.assignment,
        )

    def options(self, max_seq_len: int, seed: int, tokenizer: str) -> dict[str, Any]:
        return prep.options(self.cfg, self.held, max_seq_len, seed, tokenizer, self.base)

    def extra(self, formats: dict[str, str]) -> dict[str, Any]:
        sources, splits = prep.sources(formats, self.held, self.base, self.shares)
        base = self.base
        return {
            "sources": sources,
            "splits": splits,
            **({"held_out_duplicates": self.held_out_duplicates} if self.held.loaded else {}),
            "warnings": self.warnings,
            "pii": decision(self.cfg, self.pii_kept),
            **({"parent": {"path": str(base.path), "dataset_hash": base.dataset_hash}} if base is not None else {}),
        }

    def card(
        self,
        counts: dict[str, Any],
        max_seq_len: int,
        seed: int,
        digest: str,
        sources: list[dict[str, Any]],
        pii_counts: Counter[str],
    ) -> str:
        held_names = {s: [p.name for p in files] for s, files in self.held.files.items()}
        written = [r for split in self.rows.values() for r in split]
        return card(
            counts, self.cfg, max_seq_len, seed, digest, sources, pii_counts, self.warnings, held_names
        ) + generated_section(written)
