"""Which kind of data a set of files holds, and what check and prepare need to know about each kind.

Check (`data.check`) and prepare (`data.prepare`) exist once; a kind supplies only what differs: how its files
load (through the records format registry), how its items group for dedup and leak-free splits, which texts the
PII scan reads and redaction edits, how its tokens count, its own findings and statistics, and the shape of what
prepare writes (rows, counts, options, manifest and card). A new kind implements `DataKind` and is named in
`kind_for`.

The formats vote in the record layer (`records.kind_of`); here the data section has its say: a forced
`data.format` is a conversation format, and data.test_paths / data.val_paths hold conversations only.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from tunesmith.config import DataConfig
from tunesmith.data.conversations import Conversations
from tunesmith.data.findings import Measured, PiiScan
from tunesmith.data.preference import PreferencePairs
from tunesmith.data.stats import TokenCounter
from tunesmith.data.store import PiiKey
from tunesmith.errors import DataError
from tunesmith.records import Finding, LoadResult, RecordKind, kind_of

Items = list[dict[str, Any]]


class DataKind(Protocol):
    """One run of check or prepare over one kind of data. An instance lives for one run: prepare's steps are
    called in order, and a step may keep what it learns for the ones after it."""

    name: RecordKind
    warnings: list[str]  # prepare's warnings, in the order they arose

    # check
    def load_all(self, paths: Sequence[str | Path]) -> LoadResult:
        """Every file a check reads (conversations: with data.test_paths and data.val_paths)."""

    def count_tokens(self, counter: TokenCounter, items: Items) -> Any:
        """The kind's token counts (pairs train on two sequences each): what too_long and the statistics read."""

    def too_long(self, items: Items, tokens: Any, max_seq_len: int) -> list[Finding]: ...

    def group_findings(self, items: Items) -> list[Finding]:
        """Duplicates, conflicts and leaks, by the kind's grouping key (conversations: the user turns; pairs: the
        prompt), the key prepare dedups and splits by."""

    def pii_views(self, items: Items) -> Items:
        """Each item as one record of every message it holds; the message dicts are the item's, so redacting the
        views redacts the items."""

    def pii_notes(self, items: Items, scan: PiiScan) -> list[str]: ...

    def dataset_findings(self, items: Items, *, diversity: bool) -> tuple[list[Finding], dict[str, Any]]:
        """The warnings about the data as a whole, and what was measured for them (for `check_stats`)."""

    def check_stats(self, m: Measured) -> dict[str, Any]: ...

    # prepare, in this order
    def inputs(self, paths: Sequence[str | Path]) -> list[str | Path]:
        """The files prepare reads, which it must never replace."""

    def load_inputs(self, paths: Sequence[str | Path]) -> LoadResult: ...

    def plan_drops(self, items: Items) -> dict[int, str]:
        """Why each dropped item goes (copies, conflicts, leaks, a parent's), decided on the raw text; the same dict
        then takes the length drops."""

    def redact(self, items: Items, kept: list[int], key: PiiKey) -> tuple[Items, Counter[str]]:
        """Redact the kept items in place; the audit log and the counts by entity."""

    def fit_lengths(self, items: Items, kept: list[int], counter: TokenCounter, max_seq_len: int) -> None:
        """Truncate or drop what is over the sequence length, measured on the redacted text."""

    def split(self, items: Items, seed: int) -> dict[str, Items]:
        """The rows of each split, as written; a group never straddles splits."""

    def counts(self, loaded: LoadResult, rows: dict[str, Items], pii_counts: Counter[str]) -> dict[str, Any]: ...

    def options(self, max_seq_len: int, seed: int, tokenizer: str) -> dict[str, Any]:
        """What the dataset hash covers besides the rows: every setting that changes them."""

    def extra(self, formats: dict[str, str]) -> dict[str, Any]:
        """The manifest's kind-specific part; its `sources` go on the card too."""

    def card(
        self, counts: dict[str, Any], max_seq_len: int, seed: int, digest: str, sources: Items, pii_counts: Counter[str]
    ) -> str: ...


def data_kind(paths: Sequence[str | Path], cfg: DataConfig, held: Sequence[str | Path], *, hint: str) -> RecordKind:
    """The kind of `paths` (with the held-out files `held`); `hint` says how to keep a test split out of pairs."""
    if cfg.format is not None or kind_of([*paths, *held]) == "conversation":
        return "conversation"
    if held:
        raise DataError("data.test_paths and data.val_paths are for conversations, not preference pairs", hint=hint)
    return "preference"


def kind_for(
    paths: Sequence[str | Path],
    cfg: DataConfig,
    *,
    hint: str,
    against: str | Path | None = None,
    parent: str | Path | None = None,
) -> DataKind:
    """The kind of `paths` for one run; `against` (a test split to keep out) applies to preference pairs."""
    held = [p for files in cfg.held_out().values() for p in files]
    if data_kind(paths, cfg, held, hint=hint) == "preference":
        return PreferencePairs(cfg, against=against, parent=parent)
    return Conversations(cfg, parent=parent)
