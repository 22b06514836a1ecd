"""The document index: build it (only the files that changed are read), load it, search it.

`build_index` writes `artifacts/docs/` atomically, like every stage: a build that fails leaves the previous index in
place. A file that cannot be read gives a finding (file, what is wrong, what to do), printed and kept in the
manifest, and the other files are indexed all the same; only when no file gives a passage does the build fail.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.markup import escape

from tunesmith.artifacts import atomic_dir, sha256_file, write_manifest
from tunesmith.config import Config
from tunesmith.docs import readers, store
from tunesmith.docs.parsed import finding
from tunesmith.docs.passages import Hit, Passage, chunk, retrieval_text
from tunesmith.docs.privacy import redact_passages
from tunesmith.docs.sources import SourceFile, discover, fingerprint
from tunesmith.docs.store import FileIndex
from tunesmith.errors import DataError
from tunesmith.models.embedding import DIMENSIONS, embed


class DocIndex:
    """The passages of the index and their vectors; `search` ranks them with the project's hybrid retriever (BM25
    and MiniLM embeddings, fused by reciprocal rank)."""

    def __init__(
        self, passages: list[Passage], embeddings: np.ndarray, *, manifest: dict[str, Any] | None = None
    ) -> None:
        self.passages = passages
        self.embeddings = embeddings
        self.manifest = manifest or {}
        self._retriever: Any = None

    def search(self, queries: list[str], k: int) -> list[list[Hit]]:
        """Per query, the k best passages, best first, with their fused scores."""
        if k <= 0 or not self.passages:
            return [[] for _ in queries]
        if self._retriever is None:
            from tunesmith.models.retrieval import HybridRetriever

            self._retriever = HybridRetriever([retrieval_text(p) for p in self.passages], embeddings=self.embeddings)
        ranked = self._retriever.search_scored(list(queries), k) if queries else []
        return [[Hit(self.passages[i], score) for i, score in hits] for hits in ranked]


def _pii_key(cfg: Config, out_dir: Path) -> tuple[Path, bytes | None, bool]:
    """The pseudonymization key, shared with the dataset (.tunesmith/pii.key next to the artifacts)."""
    path = cfg.artifacts_dir.parent / ".tunesmith" / "pii.key"
    if cfg.data.pii != "pseudonymize":
        return path, None, False
    from tunesmith.data.redact import load_key

    key, new = load_key(path, out_dir)
    return path, key, new


def _too_large(f: SourceFile, limit: int) -> FileIndex:
    return FileIndex(
        {
            "source": f.source,
            "sha256": None,
            "format": f.format,
            "bytes": f.size,
            "status": "skipped",
            "passages": 0,
            "findings": [
                finding(
                    "too_large",
                    "error",
                    f.source,
                    f"{f.size:,} bytes, over docs.max_file_bytes ({limit:,}): skipped unread",
                    "split the file, or raise docs.max_file_bytes in tunesmith.yaml",
                ).to_json()
            ],
        }
    )


def _read(f: SourceFile, sha: str, cfg: Config, key: bytes | None) -> FileIndex:
    """Read, chunk and redact one file; its vectors are computed later, with the other new files'."""
    parsed = readers.read_document(f.path, f.source, cfg.docs)
    passages = chunk(parsed.blocks, source=f.source, sha256=sha, budget=cfg.docs.chunk_tokens)
    passages, audit = redact_passages(passages, cfg, key)
    record: dict[str, Any] = {
        "source": f.source,
        "sha256": sha,
        "format": parsed.format,
        "bytes": f.size,
        "status": "indexed" if passages else "skipped",
        "passages": len(passages),
        "findings": [x.to_json() for x in parsed.findings],
    }
    if parsed.pages is not None:
        record["pages"] = parsed.pages
    return FileIndex(record, passages, None, audit)


def _duplicate(f: SourceFile, sha: str, first: str) -> FileIndex:
    return FileIndex(
        {
            "source": f.source,
            "sha256": sha,
            "format": f.format,
            "bytes": f.size,
            "status": "duplicate",
            "passages": 0,
            "findings": [
                finding(
                    "duplicate",
                    "warning",
                    f.source,
                    f"the same bytes as {first}: indexed once, as {first}",
                    "remove one of the copies, or leave it: the passages are not repeated",
                ).to_json()
            ],
        }
    )


def _gather(cfg: Config, files: list[SourceFile], previous: dict[str, FileIndex], key: bytes | None) -> list[FileIndex]:
    """Each file's share of the index: reused by sha256 when it is unchanged, read otherwise."""
    out: list[FileIndex] = []
    seen: dict[str, str] = {}
    for f in files:
        if f.size > cfg.docs.max_file_bytes:
            out.append(_too_large(f, cfg.docs.max_file_bytes))
            continue
        sha = sha256_file(f.path)
        if sha in seen:
            out.append(_duplicate(f, sha, seen[sha]))
            continue
        seen[sha] = f.source
        if sha in previous:
            entry = previous[sha].moved_to(f.source)
            entry.record = {**entry.record, "reused": True}
        else:
            entry = _read(f, sha, cfg, key)
        out.append(entry)
    new = [e for e in out if e.passages and e.embeddings is None]
    vectors = embed([retrieval_text(p) for e in new for p in e.passages])
    start = 0
    for e in new:
        e.embeddings = vectors[start : start + len(e.passages)]
        start += len(e.passages)
    return out


def _was_read(record: dict[str, Any]) -> bool:
    return record["sha256"] is not None and record["status"] != "duplicate" and not record.get("reused")


def _print_findings(console: Console, findings: list[dict[str, Any]]) -> None:
    for f in findings:
        colour = "red" if f["severity"] == "error" else "yellow"
        where = escape(str(f.get("file", "")))
        console.print(
            f"[{colour}]{f['severity']}[/] {where}: {escape(f['kind'])}: {escape(f['message'])}", soft_wrap=True
        )
        if f.get("hint"):
            console.print(f"  [dim]what to do:[/] {escape(f['hint'])}", soft_wrap=True)


def _index_hash(passages: list[Passage], settings: str) -> str:
    h = hashlib.sha256(settings.encode())
    for p in passages:
        h.update(f"\0{p.id}\0{p.source}\0{p.locator}\0{p.text}".encode())
    return h.hexdigest()


def build_index(cfg: Config, *, console: Console | None = None) -> Path:
    """Read docs.paths into `artifacts/docs/` (passages, vectors, PII audit log, manifest) and return the directory.

    Only the files whose bytes changed since the last index (with the same settings) are read again. Every problem
    with a file is a finding, printed on `console` (stderr by default) and kept in the manifest; a DataError only
    when no file gives a passage."""
    console = console or Console(stderr=True, highlight=False)
    started = datetime.now(UTC)
    out_dir = cfg.stage_dir(store.STAGE)
    files, path_findings = discover(cfg)
    settings = fingerprint(cfg)
    previous = store.reusable(out_dir, settings)
    key_path, key, new_key = _pii_key(cfg, out_dir)
    with console.status(f"reading {len(files)} document(s)..."):
        entries = _gather(cfg, files, previous, key)
    findings = [*(x.to_json() for x in path_findings), *(x for e in entries for x in e.record["findings"])]
    indexed = [e for e in entries if e.passages]
    if not indexed:
        _print_findings(console, findings)
        raise DataError(
            f"no passage from any of the {len(files)} file(s) of docs.paths",
            hint="fix the files the findings above name, or point docs.paths at your documents",
        )
    counts = {
        "files": len(entries),
        "indexed": len(indexed),
        "reused": sum(1 for e in indexed if e.record.get("reused")),
        "read": sum(1 for e in entries if _was_read(e.record)),
        "skipped": len(entries) - len(indexed),
        "passages": sum(len(e.passages) for e in indexed),
        "redactions": sum(len(e.redactions) for e in indexed),
        "findings": len(findings),
    }
    with atomic_dir(out_dir) as tmp:
        passages = store.write_files(tmp, indexed, DIMENSIONS)
        write_manifest(
            tmp,
            stage=store.STAGE,
            config={**cfg.docs.model_dump(mode="json"), "pii": cfg.data.pii},
            inputs=[f.path for f in files if f.size <= cfg.docs.max_file_bytes],
            counts=counts,
            started_at=started,
            extra={
                "index_hash": _index_hash(passages, settings),
                "fingerprint": settings,
                "files": [e.record for e in entries],
                "findings": findings,
            },
        )
        if new_key:
            from tunesmith.data.redact import save_key

            assert key is not None
            save_key(key_path, key)
    _print_findings(console, findings)
    console.print(
        f"[bold]docs[/]: {counts['passages']} passages from {counts['indexed']} of {counts['files']} file(s) "
        f"({counts['read']} read, {counts['reused']} unchanged), {counts['skipped']} skipped, "
        f"{len(findings)} finding(s) → {out_dir}",
        soft_wrap=True,
    )
    return out_dir


def load_index(cfg: Config) -> DocIndex:
    """The index in `artifacts/docs/`; a DataError that names `tunesmith docs index` when there is none."""
    manifest, passages, embeddings = store.read_passages(cfg.stage_dir(store.STAGE))
    return DocIndex(passages, embeddings, manifest=manifest)


def stale_reason(cfg: Config) -> str | None:
    """Why the index no longer matches tunesmith.yaml and the files (None when it does): no index yet, docs.paths
    or the settings changed, or a file was added, removed or changed."""
    manifest = store.read_manifest_json(cfg.stage_dir(store.STAGE))
    if manifest is None:
        return "no document index yet"
    if manifest.get("config", {}).get("paths") != cfg.docs.paths:
        return "docs.paths changed"
    if manifest.get("fingerprint") != fingerprint(cfg):
        return "the docs or PII settings (or the parsers) changed"
    files, _ = discover(cfg)
    now = [(f.source, f.size if f.size > cfg.docs.max_file_bytes else sha256_file(f.path)) for f in files]
    then = [(r["source"], r["sha256"] or r["bytes"]) for r in manifest.get("files", [])]
    return None if now == then else "documents were added, removed or changed"


def ensure_index(cfg: Config, *, console: Console | None = None) -> DocIndex:
    """The index, built first when it is missing or stale (`stale_reason`), which the console (stderr by default)
    says; then loaded."""
    reason = stale_reason(cfg)
    if reason is not None:
        console = console or Console(stderr=True, highlight=False)
        console.print(f"[yellow]{reason}: indexing docs.paths (as `tunesmith docs index` does)[/]")
        build_index(cfg, console=console)
    return load_index(cfg)


def describe(cfg: Config) -> dict[str, Any]:
    """What the index read, for `docs list`: counts, each file's record, the findings, the index hash."""
    manifest = store.read_manifest_json(cfg.stage_dir(store.STAGE))
    if manifest is None:
        raise DataError(f"no document index in {cfg.stage_dir(store.STAGE)}", hint=store.INDEX_HINT)
    return {
        "index": str(cfg.stage_dir(store.STAGE)),
        "index_hash": manifest.get("index_hash"),
        "built": manifest.get("finished_at"),
        "counts": manifest.get("counts", {}),
        "files": manifest.get("files", []),
        "findings": manifest.get("findings", []),
        "stale": stale_reason(cfg),
    }
