"""The review queue: every example tagged `needs_review` in the files of data.paths and of ui.review_paths (where
`monitor export-review` writes), that has no decision yet.

An item's id is a hash of its file (relative to tunesmith.yaml) and its content, so it survives lines added above
it, and an example whose text changed in its file is a new item that needs its own review.
"""

from __future__ import annotations

import glob
import hashlib
import json
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tunesmith.config import Config
from tunesmith.errors import TunesmithError
from tunesmith.records import RecordKind, kind_of, load_preferences, load_records

NEEDS_REVIEW = "needs_review"
TRAFFIC_TAGS = frozenset({"low_rating", "unseen_topic", "correction"})


@dataclass
class Item:
    """One example waiting for a person: `record` is canonical, without `meta.source` (kept in file, line)."""

    id: str
    kind: str  # "traffic" (exported from the request log) or "example" (generated or imported data)
    record_kind: RecordKind
    record: dict[str, Any]
    file: str  # relative to tunesmith.yaml where it lies under it
    line: int

    @property
    def tags(self) -> list[str]:
        tags = self.record.get("meta", {}).get("tags")
        return [str(t) for t in tags] if isinstance(tags, list) else []

    def messages(self) -> list[dict[str, Any]]:
        """The conversation a reviewer reads: a pair's prompt and chosen answer."""
        if self.record_kind == "preference":
            return [*self.record["prompt"], *self.record["chosen"]]
        return list(self.record["messages"])

    def to_json(self) -> dict[str, Any]:
        meta = {k: v for k, v in self.record.get("meta", {}).items() if k not in ("tags",)}
        return {
            "id": self.id,
            "kind": self.kind,
            "record_kind": self.record_kind,
            "messages": self.messages(),
            **({"rejected": self.record["rejected"]} if self.record_kind == "preference" else {}),
            "tags": self.tags,
            "source": {"file": self.file, "line": self.line},
            "meta": meta,
        }


@dataclass
class Queue:
    items: list[Item]
    errors: list[str] = field(default_factory=list)  # files that could not be read, and why

    def get(self, item_id: str) -> Item | None:
        return next((i for i in self.items if i.id == item_id), None)


def item_id(file: str, record: dict[str, Any]) -> str:
    content = {k: v for k, v in record.items() if k != "meta"}
    key = json.dumps([file, record.get("meta", {}).get("id"), content], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


def _relative(cfg: Config, path: Path) -> str:
    try:
        return str(path.resolve().relative_to(cfg.root.resolve()))
    except ValueError:
        return str(path)


def review_files(cfg: Config) -> list[tuple[Path, str]]:
    """The files the queue reads, each with its kind of item: data.paths, then the globs of ui.review_paths."""
    files: dict[Path, str] = {cfg.path(p): "example" for p in cfg.data.paths}
    root = cfg.root.resolve()
    for pattern in cfg.ui.review_paths:
        for match in sorted(glob.glob(str(cfg.path(pattern)), recursive=True)):
            inside = root in Path(match).resolve().parents
            if inside or cfg.project.allow_outside_paths:  # a shared config must not read /etc
                files.setdefault(Path(match), "traffic")
    return [(p, k) for p, k in files.items() if p.is_file()]


def _items(cfg: Config, path: Path, kind: str) -> Iterable[Item]:
    record_kind = kind_of([path])
    loaded = load_preferences([path]) if record_kind == "preference" else load_records([path], format=cfg.data.format)
    rel = _relative(cfg, path)
    for record in loaded.records:
        meta = dict(record.get("meta", {}))
        raw = meta.get("tags")
        tags: list[Any] = raw if isinstance(raw, list) else []
        if NEEDS_REVIEW not in tags:
            continue
        line = int(meta.pop("source", {}).get("line", 0))
        clean = {**record, "meta": meta}
        item_kind = "traffic" if kind == "traffic" or TRAFFIC_TAGS & set(tags) else "example"
        yield Item(item_id(rel, clean), item_kind, record_kind, clean, rel, line)


def load_queue(cfg: Config, decided: Collection[str] = ()) -> Queue:
    """Every undecided `needs_review` example, in file and line order; a file that cannot be read is named in
    `errors` rather than hiding the rest of the queue."""
    queue = Queue([])
    seen: set[str] = set()
    for path, kind in review_files(cfg):
        try:
            found = list(_items(cfg, path, kind))
        except TunesmithError as e:
            queue.errors.append(f"{_relative(cfg, path)}: {e.message}")
            continue
        for item in found:
            if item.id not in decided and item.id not in seen:
                seen.add(item.id)
                queue.items.append(item)
    return queue
