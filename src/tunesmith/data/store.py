"""A prepared dataset on disk: written once, atomically, with its hash, card, audit log and manifest; read back.

Every kind of data is written here, so a dataset of pairs and one of conversations have the same layout and the
same promises (DESIGN.md, "Artifacts" and "Output safety").
"""

from __future__ import annotations

import hashlib
import json
import shlex
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tunesmith.artifacts import atomic_dir, read_jsonl, sha256_file, write_jsonl, write_manifest
from tunesmith.data.redact import save_key
from tunesmith.data.split import SPLITS
from tunesmith.errors import DataError
from tunesmith.records import TOOL_RECORD_KEYS


@dataclass
class PrepareResult:
    out_dir: Path
    counts: dict[str, Any]
    dataset_hash: str
    warnings: list[str] = field(default_factory=list)


def output_row(item: dict[str, Any], body: Sequence[str]) -> dict[str, Any]:
    """`item` as a dataset row: its `body` keys, the tool definitions that travel with it, and its meta naming the
    source file by name only, since a dataset's hash must not depend on where its inputs lay."""
    meta = dict(item["meta"])
    meta["source"] = {"file": Path(meta["source"]["file"]).name, "line": meta["source"]["line"]}
    tools = {k: item[k] for k in TOOL_RECORD_KEYS if k in item}
    return {**{k: item[k] for k in body}, **tools, "meta": meta}


def input_sources(formats: dict[str, str]) -> list[dict[str, Any]]:
    """The manifest's entry for each file read: its name (not its path, as in the rows), format and sha256."""
    return [{"file": Path(p).name, "format": f, "sha256": sha256_file(p)} for p, f in formats.items()]


def read_prepared(path: str | Path, *, what: str = "") -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
    """The manifest and the rows of each split of a directory written by `tunesmith data prepare`."""
    path = Path(path)
    manifest_path = path / "manifest.json"
    if not manifest_path.is_file():
        raise DataError(
            f"{what}{path} is not a prepared dataset (no manifest.json)",
            hint="pass a directory written by `tunesmith data prepare`",
        )
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    rows = {s: read_jsonl(path / f"{s}.jsonl") if (path / f"{s}.jsonl").is_file() else [] for s in SPLITS}
    return manifest, rows


def no_valid_example(findings: Sequence[Any], files: list[str]) -> DataError:
    """A bare "no valid example to prepare" left the user to guess which file and why: name the files, and point at
    the first bad line with its cause (the loader's findings are at file:line)."""
    first = next((f for f in findings if f.file is not None and f.lines), None)
    names = ", ".join(files[:5]) + (f" and {len(files) - 5} more" if len(files) > 5 else "")
    why = f"; the first bad line: {first.message}" if first is not None else ""
    return DataError(
        f"no valid example to prepare in {names} ({len(findings)} problem(s){why})",
        hint=f"run `tunesmith data check {' '.join(shlex.quote(f) for f in files[:5])}` to see why every line failed",
        file=first.file if first is not None else (files[0] if len(files) == 1 else None),
        line=first.lines[0] if first is not None else None,
    )


def dataset_hash(files: dict[str, bytes], options: dict[str, Any]) -> str:
    h = hashlib.sha256(json.dumps(options, sort_keys=True).encode())
    for name in sorted(files):
        h.update(f"\x00{name}\x00".encode())
        h.update(files[name])
    return h.hexdigest()


def unique_ids(records: Iterable[dict[str, Any]], taken: set[str]) -> None:
    """Give each record an id none of `taken` has (`~2`, `~3`...), in place: `data diff` matches examples by id,
    across versions and across the files of one version."""
    for r in records:
        rid, n = r["meta"]["id"], 1
        while r["meta"]["id"] in taken:
            n += 1
            r["meta"]["id"] = f"{rid}~{n}"
        taken.add(r["meta"]["id"])


@dataclass
class PiiKey:
    """The pseudonymization key and where it goes; a new one is saved only once the dataset is written."""

    path: Path
    key: bytes | None = None
    new: bool = False


def write_dataset(
    out_dir: Path,
    rows: dict[str, list[dict[str, Any]]],
    *,
    options: dict[str, Any],
    log: list[dict[str, Any]],
    card: Callable[[str], str],
    manifest: dict[str, Any],
    pii_key: PiiKey,
    overwrite: bool,
) -> str:
    """Write the splits, the audit log, the card and the manifest into `out_dir` through a temporary sibling; return
    the dataset hash. `manifest` holds write_manifest's config, inputs and counts, and its extra keys after
    `dataset_hash`. A new PII key is saved last, so that a dataset that fails to be written leaves no key behind."""
    saved_key = False
    inputs = manifest["inputs"]
    try:
        with atomic_dir(out_dir, overwrite=overwrite, inputs=inputs) as tmp:
            blobs = {}
            for s in SPLITS:
                write_jsonl(tmp / f"{s}.jsonl", rows[s])
                blobs[f"{s}.jsonl"] = (tmp / f"{s}.jsonl").read_bytes()
            digest = dataset_hash(blobs, options)
            write_jsonl(tmp / "redactions.jsonl", log)
            (tmp / "README.md").write_text(card(digest), encoding="utf-8")
            write_manifest(
                tmp,
                stage="data",
                config=options,
                inputs=inputs,
                counts=manifest["counts"],
                extra={"dataset_hash": digest, **manifest["extra"]},
            )
            if pii_key.new:
                assert pii_key.key is not None
                save_key(pii_key.path, pii_key.key)
                saved_key = True
    except BaseException:
        if saved_key:
            pii_key.path.unlink(missing_ok=True)
        raise
    return digest
