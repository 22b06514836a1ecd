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


def tokenizer_identity(tokenizer: Any, method: str) -> str:
    """What the dataset hash knows of the tokenizer that measured the lengths: its content, never where it lay.

    The token counter's `method` names the tokenizer by its path, and the quickstart, `tunesmith run` and `data
    prepare --model` load the same tokenizer from different paths: hashed as such, one dataset had several hashes.
    Its rules (the tokenizer.json of a fast tokenizer, else its vocabulary), special tokens and chat template are
    what change the lengths, so they are what is hashed; `method` stays as it is when counts are approximate."""
    if tokenizer is None:
        return method
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        rules = json.loads(backend.to_str())
        rules.pop("padding", None)  # set by whoever loaded it for batching, not a property of the tokens
        rules.pop("truncation", None)
    else:
        rules = sorted(tokenizer.get_vocab().items())
    content = {
        "rules": rules,
        "special": getattr(tokenizer, "all_special_tokens", []),
        "chat_template": getattr(tokenizer, "chat_template", None),
    }
    digest = hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()
    how = "chat template" if content["chat_template"] else "content + 4 per message"
    return f"tokenizer sha256:{digest[:16]} ({how})"


def dataset_hash(files: dict[str, bytes], options: dict[str, Any]) -> str:
    h = hashlib.sha256(json.dumps(options, sort_keys=True).encode())
    for name in sorted(files):
        h.update(f"\x00{name}\x00".encode())
        h.update(files[name])
    return h.hexdigest()


def unique_ids(records: Iterable[dict[str, Any]], taken: set[str]) -> None:
    """Give each record an id none of `taken` has (`~2`, `~3`...), in place: `data diff` matches examples by id,
    across versions and across the files of one version. Ids compare as text, as `data diff` keys them (7 and "7"
    are one id there)."""
    seen = {str(t) for t in taken}
    for r in records:
        rid, n = r["meta"]["id"], 1
        while str(r["meta"]["id"]) in seen:
            n += 1
            r["meta"]["id"] = f"{rid}~{n}"
        seen.add(str(r["meta"]["id"]))


def id_groups(records: Sequence[dict[str, Any]]) -> list[list[int]]:
    """The positions of the records that share a `meta.id` (as text), one list per shared id, in record order: what
    the check's `duplicate_id` reports and `data.duplicate_ids` settles."""
    where: dict[str, list[int]] = {}
    for i, r in enumerate(records):
        where.setdefault(str(r["meta"]["id"]), []).append(i)
    return [g for g in where.values() if len(g) > 1]


def repaired_warning(repaired: Sequence[Any]) -> list[str]:
    """The dataset's warning about the loader's repairs (`LoadResult.repaired`: numbers JSON cannot hold, written
    as null), so that the card and the manifest say that some values are not what the files held."""
    if not repaired:
        return []
    first = repaired[0]
    return [
        f"{len(repaired)} example(s) held NaN or Infinity, which JSON cannot hold (the check's invalid_number; first "
        f"at {Path(first.file).name}:{first.lines[0]}): written as null"
    ]


def _place(record: dict[str, Any]) -> str:
    return f"{Path(record['meta']['source']['file']).name}:{record['meta']['source']['line']}"


def settle_ids(records: list[dict[str, Any]], how: str) -> None:
    """Make the loaded examples' ids unique before anything keys on them (`data.duplicate_ids`), or refuse.

    Lineage, review decisions, `data diff` and per-example results key on `meta.id`: two examples with one id would
    be mixed up downstream, silently. `rename` keeps the id on the first example in file order and renames the
    others `id~2`, `id~3`... (the rows keep their source file and line); `refuse` stops with the places, so that
    the user fixes the ids at the source."""
    groups = id_groups(records)
    if not groups:
        return
    if how == "rename":
        unique_ids(records, set())
        return
    first = [records[i] for i in groups[0]]
    more = f"; {len(groups) - 1} more id(s) are shared (`tunesmith data check` lists them)" if len(groups) > 1 else ""
    raise DataError(
        f"meta.id {first[0]['meta']['id']!r} is held by {len(first)} examples "
        f"({', '.join(_place(r) for r in first)}){more}",
        hint="give each example its own meta.id, or set data.duplicate_ids: rename (--duplicate-ids rename) to "
        "keep it on the first and rename the others id~2, id~3",
        file=first[1]["meta"]["source"]["file"],
        line=first[1]["meta"]["source"]["line"],
    )


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
