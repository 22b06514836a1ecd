"""`data diff`: what changed between two versions of a prepared dataset.

Examples are matched by `meta.id` and compared by content, so a re-run that only moved an example between splits
is told apart from one that changed its text.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tunesmith.data.split import SPLITS
from tunesmith.data.store import read_prepared


@dataclass
class DatasetDiff:
    hash_a: str
    hash_b: str
    splits: dict[str, dict[str, int]]
    moved: list[str] = field(default_factory=list)
    options: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    b_is_child_of_a: bool = False  # B was prepared with --parent A

    @property
    def same(self) -> bool:
        return self.hash_a == self.hash_b

    def to_json(self) -> dict[str, Any]:
        return {
            "same": self.same,
            "hash_a": self.hash_a,
            "hash_b": self.hash_b,
            "splits": self.splits,
            "moved": self.moved,
            "options": {k: list(v) for k, v in self.options.items()},
            "b_is_child_of_a": self.b_is_child_of_a,
        }


def _load(d: Path) -> tuple[dict[str, Any], dict[str, dict[str, str]]]:
    """The manifest, and per split: example id -> a hash of its messages."""
    manifest, rows = read_prepared(d)

    def digest(row: dict[str, Any]) -> str:
        return hashlib.sha256(json.dumps(row["messages"], sort_keys=True).encode()).hexdigest()

    splits = {s: {str(r.get("meta", {}).get("id")): digest(r) for r in split_rows} for s, split_rows in rows.items()}
    return manifest, splits


def diff_datasets(dir_a: str | Path, dir_b: str | Path) -> DatasetDiff:
    man_a, a = _load(Path(dir_a))
    man_b, b = _load(Path(dir_b))
    where_a = {i: s for s, rows in a.items() for i in rows}
    where_b = {i: s for s, rows in b.items() for i in rows}
    table = {}
    for s in SPLITS:
        ids_a, ids_b = set(a[s]), set(b[s])
        table[s] = {
            "before": len(ids_a),
            "after": len(ids_b),
            "added": len(ids_b - set(where_a)),
            "removed": len(ids_a - set(where_b)),
            "changed": sum(1 for i in ids_a & ids_b if a[s][i] != b[s][i]),
        }
    moved = sorted(i for i in set(where_a) & set(where_b) if where_a[i] != where_b[i])
    ca, cb = man_a.get("config", {}), man_b.get("config", {})
    options = {k: (ca.get(k), cb.get(k)) for k in sorted(set(ca) | set(cb)) if ca.get(k) != cb.get(k)}
    child = bool(man_a.get("dataset_hash")) and (man_b.get("parent") or {}).get("dataset_hash") == man_a.get(
        "dataset_hash"
    )
    return DatasetDiff(
        man_a.get("dataset_hash", ""), man_b.get("dataset_hash", ""), table, moved, options, b_is_child_of_a=child
    )
