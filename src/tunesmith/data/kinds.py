"""Which kind of data a set of files holds, decided once for check and prepare.

The formats vote in the record layer (`records.kind_of`); here the data section has its say: a forced
`data.format` is a conversation format, and data.test_paths / data.val_paths hold conversations only.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tunesmith.config import DataConfig
from tunesmith.errors import DataError
from tunesmith.records import RecordKind, kind_of


def data_kind(paths: Sequence[str | Path], cfg: DataConfig, held: Sequence[str | Path], *, hint: str) -> RecordKind:
    """The kind of `paths` (with the held-out files `held`); `hint` says how to keep a test split out of pairs."""
    if cfg.format is not None or kind_of([*paths, *held]) == "conversation":
        return "conversation"
    if held:
        raise DataError("data.test_paths and data.val_paths are for conversations, not preference pairs", hint=hint)
    return "preference"
