"""The index artifact on disk, `artifacts/docs/`, and what a rebuild may reuse from the previous one.

    manifest.json     the stage's manifest: config, inputs by sha256, counts, and `files` (one record per file:
                      source, sha256, format, passages, status, findings), `findings`, `fingerprint`, `index_hash`
    passages.jsonl    one passage a line: id, source, locator, text, sha256
    embeddings.npy    float32, one unit-length row per passage, in the same order
    redactions.jsonl  the PII audit log: passage id, source, field, span, entity, operator, detector, score

A file's passages depend only on its bytes and the settings (the fingerprint), so a rebuild with the same
fingerprint takes an unchanged file's passages, vectors, audit records and findings from the previous index, by the
file's sha256, and reads only the files that changed.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from tunesmith.artifacts import read_jsonl
from tunesmith.docs.passages import Passage
from tunesmith.errors import DataError

PASSAGES, EMBEDDINGS, REDACTIONS = "passages.jsonl", "embeddings.npy", "redactions.jsonl"
STAGE = "docs"
INDEX_HINT = "run `tunesmith docs index CONFIG` (docs.paths lists the documents)"


@dataclass
class FileIndex:
    """One file's share of the index: its record for the manifest, passages, vectors, audit records."""

    record: dict[str, Any]
    passages: list[Passage] = field(default_factory=list)
    embeddings: np.ndarray | None = None
    redactions: list[dict[str, Any]] = field(default_factory=list)

    def moved_to(self, source: str) -> FileIndex:
        """The same content under another path (a renamed or copied-back file)."""
        if source == self.record["source"]:
            return self
        record = {**self.record, "source": source}
        record["findings"] = [{**f, "file": source} for f in self.record.get("findings", [])]
        return FileIndex(
            record,
            [replace(p, source=source) for p in self.passages],
            self.embeddings,
            [{**r, "source": source} for r in self.redactions],
        )


def read_manifest_json(out_dir: Path) -> dict[str, Any] | None:
    try:
        manifest = json.loads((out_dir / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) and manifest.get("stage") == STAGE else None


def read_passages(out_dir: Path) -> tuple[dict[str, Any], list[Passage], np.ndarray]:
    """The manifest, passages and vectors of the index in `out_dir`; a DataError with the command when absent or
    damaged."""
    manifest = read_manifest_json(out_dir)
    if manifest is None:
        raise DataError(f"no document index in {out_dir}", hint=INDEX_HINT)
    try:
        rows = read_jsonl(out_dir / PASSAGES)
        passages = [Passage(**{k: r[k] for k in ("id", "source", "locator", "text", "sha256")}) for r in rows]
        embeddings = np.load(out_dir / EMBEDDINGS, allow_pickle=False)
    except (OSError, ValueError, KeyError, TypeError, DataError):
        raise DataError(f"the document index in {out_dir} is damaged", hint=INDEX_HINT) from None
    if embeddings.ndim != 2 or len(embeddings) != len(passages):
        raise DataError(f"the document index in {out_dir} is damaged (vectors and passages differ)", hint=INDEX_HINT)
    return manifest, passages, embeddings


def reusable(out_dir: Path, fingerprint: str) -> dict[str, FileIndex]:
    """The previous index's files by sha256, when it was built with the same settings; {} otherwise (or when it
    cannot be read: the rebuild then reads every file)."""
    manifest = read_manifest_json(out_dir)
    if manifest is None or manifest.get("fingerprint") != fingerprint:
        return {}
    try:
        _, passages, embeddings = read_passages(out_dir)
        redactions = read_jsonl(out_dir / REDACTIONS) if (out_dir / REDACTIONS).exists() else []
    except DataError:
        return {}
    by_sha: dict[str, FileIndex] = {}
    for record in manifest.get("files", []):
        if record.get("sha256"):
            by_sha[record["sha256"]] = FileIndex(record)
    rows: dict[str, list[int]] = {}
    for i, p in enumerate(passages):
        rows.setdefault(p.sha256, []).append(i)
    for sha, entry in by_sha.items():
        mine = rows.get(sha, [])
        entry.passages = [passages[i] for i in mine]
        entry.embeddings = embeddings[mine] if mine else None
        ids = {p.id for p in entry.passages}
        entry.redactions = [r for r in redactions if r.get("id") in ids]
    return by_sha


def write_files(tmp: Path, files: list[FileIndex], dimensions: int) -> list[Passage]:
    """passages.jsonl, embeddings.npy and redactions.jsonl of `files`, in their order; returns the passages."""
    passages = [p for f in files for p in f.passages]
    blocks = [f.embeddings for f in files if f.embeddings is not None and len(f.embeddings)]
    vectors = np.concatenate(blocks).astype(np.float32) if blocks else np.zeros((0, dimensions), dtype=np.float32)
    with open(tmp / PASSAGES, "w", encoding="utf-8") as out:
        for p in passages:
            out.write(json.dumps(asdict(p), ensure_ascii=False) + "\n")
    np.save(tmp / EMBEDDINGS, vectors, allow_pickle=False)
    with open(tmp / REDACTIONS, "w", encoding="utf-8") as out:
        for f in files:
            for r in f.redactions:
                out.write(json.dumps(r, ensure_ascii=False) + "\n")
    return passages
