"""Where the examples of a new dataset version come from besides data.paths: the parent version, whose splits are
kept as they are, and data.test_paths / data.val_paths, which are a split as they are."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tunesmith.config import DataConfig
from tunesmith.data import dedup
from tunesmith.data.split import SPLITS
from tunesmith.data.store import no_valid_example, read_prepared, unique_ids
from tunesmith.errors import DataError
from tunesmith.records import LoadResult, load_records

_PSEUDONYM = re.compile(r"<([A-Z_]+?)_(\d+)>")


@dataclass
class Parent:
    path: Path
    dataset_hash: str
    records: list[dict[str, Any]]
    splits: list[str]  # the split of each record

    def highest_pseudonyms(self) -> dict[str, int]:
        """Per entity, the highest pseudonym number in the parent, so new pseudonyms never reuse one."""
        top: dict[str, int] = {}
        for r in self.records:
            for m in _PSEUDONYM.finditer(json.dumps(r, ensure_ascii=False)):
                top[m.group(1)] = max(top.get(m.group(1), 0), int(m.group(2)))
        return top


def load_parent(path: str | Path) -> Parent:
    manifest, rows = read_prepared(path, what="--parent ")
    records = [r for s in SPLITS for r in rows[s]]
    if not records:
        raise DataError(f"--parent {path} has no examples", hint="pass a dataset with train/val/test.jsonl")
    return Parent(Path(path), str(manifest.get("dataset_hash", "")), records, [s for s in SPLITS for _ in rows[s]])


@dataclass
class HeldOut:
    """The splits that come from their own files (data.test_paths, data.val_paths), as loaded."""

    files: dict[str, list[Path]]
    loaded: dict[str, LoadResult]

    def records(self, split: str) -> list[dict[str, Any]]:
        return self.loaded[split].records if split in self.loaded else []

    def all(self) -> list[dict[str, Any]]:
        return [r for s in SPLITS for r in self.records(s)]

    def split_of(self) -> list[str]:
        return [s for s in SPLITS for _ in self.records(s)]


def load_held_out(files: dict[str, list[Path]], cfg: DataConfig, records: list[dict[str, Any]]) -> HeldOut:
    """Load the held-out files like the inputs; their ids are made unique against the inputs' (`~2`)."""
    loaded = {s: load_records(f, format=cfg.format, columns=cfg.columns) for s, f in files.items()}
    for s, result in loaded.items():
        if not result.records:
            err = no_valid_example(result.findings, list(result.formats) or [str(p) for p in files[s]])
            raise DataError(f"data.{s}_paths: {err.message}", hint=err.hint, file=err.file, line=err.line)
    held = (r for s in SPLITS for r in (loaded[s].records if s in loaded else []))
    unique_ids(held, {r["meta"]["id"] for r in records})
    return HeldOut(files, loaded)


def drop_held_out_twins(
    held: HeldOut, records: list[dict[str, Any]], drop: dict[int, str], cfg: DataConfig
) -> list[dict[str, Any]]:
    """Drop every input example tied to a held-out one (an exact duplicate, or a near-same prompt whatever the
    answer: `dedup.linked_groups`), so that training never sees a twin of a test or validation example; whatever
    data.dedup says. Returns one finding per dropped example: its id and source, and the held-out ids it matches."""
    pool = held.all()
    if not pool:
        return []
    splits = held.split_of()
    offset = len(pool)
    found = []
    for g in dedup.linked_groups(pool + records, cfg.near_dup_threshold):
        matches = [i for i in g if i < offset]
        if not matches:
            continue
        split = "test" if any(splits[i] == "test" for i in matches) else "val"
        for i in g:
            if i >= offset:
                drop[i - offset] = f"in_{split}_paths"
                r = records[i - offset]
                found.append(
                    {
                        "id": r["meta"]["id"],
                        "source": {"file": Path(r["meta"]["source"]["file"]).name, "line": r["meta"]["source"]["line"]},
                        "split": split,
                        "matches": [pool[m]["meta"]["id"] for m in matches],
                    }
                )
    return sorted(found, key=lambda f: (f["source"]["file"], f["source"]["line"]))
