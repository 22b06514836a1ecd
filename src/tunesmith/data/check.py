"""`data check`: every finding in the input, with statistics, before anything is trained.

Loading reports the structural errors; this module adds length, groups (duplicates, conflicts, leaks), shared ids,
problematic language in the answers (data/language.py), personal data and the dataset-level guidance, in that order
for every kind of data, and asks the kind (`data.kinds`) for what differs. It never stops at the first problem, and
it changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tunesmith.config import DataConfig, TrainConfig, default_of
from tunesmith.data import findings, language, stats
from tunesmith.data.findings import CheckReport, Measured, PiiScan, pii_findings
from tunesmith.data.kinds import DataKind, kind_for
from tunesmith.records import Finding, LoadResult

__all__ = ["CheckReport", "Finding", "check_files", "check_loaded", "pii_findings"]


def check_loaded(
    kind: DataKind,
    loaded: LoadResult,
    cfg: DataConfig,
    *,
    max_seq_len: int | None = None,
    tokenizer: Any = None,
    diversity: bool = True,
    pii_scan: bool = True,
    blocklist: Sequence[str] = (),
) -> CheckReport:
    """Every finding in `loaded`, items of `kind`, with the settings of the data section (`cfg`).

    `max_seq_len` is train.max_seq_len, the one sequence length (its default if None): longer items are `too_long`.
    `blocklist` is eval.blocklist: an answer holding one of its phrases is `problematic_language`.
    `tokenizer` is the base model's (approximate counts if None). `diversity` and `pii_scan` switch the two slow
    parts off (`--no-embeddings`, `--no-pii`)."""
    max_seq_len = default_of(TrainConfig, "max_seq_len") if max_seq_len is None else max_seq_len
    items = loaded.records
    found = [*loaded.findings, *loaded.repaired]
    notes: list[str] = []
    counter = stats.TokenCounter(tokenizer)
    tokens = kind.count_tokens(counter, items)
    found += kind.too_long(items, tokens, max_seq_len)
    found += kind.group_findings(items)
    found += findings.duplicate_id_findings(items, cfg)
    found += language.findings(items, language.flag(items, cfg, blocklist), cfg)
    scan = PiiScan([], {}, [], []) if pii_scan else None
    if pii_scan and items:
        scan = pii_findings(kind.pii_views(items), cfg, name_sample=cfg.pii_name_sample or None)
        found += scan.findings
        notes += kind.pii_notes(items, scan)
    dataset_found, measures = kind.dataset_findings(items, diversity=diversity)
    found += dataset_found
    findings.sort_findings(found)
    report_stats = kind.check_stats(Measured(loaded, found, tokens, counter, max_seq_len, scan, measures))
    return findings.report(loaded, len(items), report_stats, found, notes)


def check_files(
    paths: Sequence[str | Path],
    cfg: DataConfig | None = None,
    *,
    max_seq_len: int | None = None,
    tokenizer: Any = None,
    diversity: bool = True,
    pii_scan: bool = True,
    test: str | Path | None = None,
    blocklist: Sequence[str] = (),
) -> CheckReport:
    """Load and check with the settings of the data section (`cfg`; its defaults if None) and the sequence length
    (train.max_seq_len; its default if None) and eval.blocklist (`blocklist`); raises DataError (exit 2) when
    nothing usable can be read.

    Conversations are checked with data.test_paths and data.val_paths beside them: not for duplicates among
    themselves (prepare keeps them whole), but an input example tied to one of theirs is a `held_out_duplicate`,
    which prepare drops. Files of preference pairs (TRL, OpenAI DPO, HH) are checked as pairs, keyed by the prompt;
    `test` (a prepared dataset or a test.jsonl) then adds the pairs whose prompt is in that test split."""
    cfg = cfg or DataConfig()
    hint = "check the pairs with --against DATASET to find the prompts of a test split"
    kind = kind_for(paths, cfg, hint=hint, against=test)
    options: dict[str, Any] = {"max_seq_len": max_seq_len, "tokenizer": tokenizer, "blocklist": blocklist}
    return check_loaded(kind, kind.load_all(paths), cfg, **options, diversity=diversity, pii_scan=pii_scan)
