"""`data prepare`: apply the chosen fixes, split without leakage, and write a versioned dataset directory.

Order matters: duplicates and conflicts are resolved on the raw text (redaction would make distinct examples look
alike), personal data is removed from what is kept, lengths are measured on the redacted text, and near-duplicate
groups are split as units so that no test example has a twin in train.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shlex
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tunesmith.artifacts import atomic_dir, check_output, read_jsonl, sha256_file, write_jsonl, write_manifest
from tunesmith.config import DataConfig, TrainConfig, default_of
from tunesmith.data import dedup, pii, stats
from tunesmith.data.split import SPLITS, split_groups
from tunesmith.errors import DataError
from tunesmith.records import TOOL_RECORD_KEYS, LoadResult, has_tool_call, load_records

# A found value shorter than this is not swept from the rest of the dataset: "Al" would hit every "al" word.
SWEEP_MIN_LEN = 3
# Why an example is left out, in the order the counts and the dataset card list them.
DROP_REASONS = (
    "exact_duplicate",
    "near_duplicate",
    "conflict",
    "too_long",
    "in_parent",
    "in_test_paths",
    "in_val_paths",
)


@dataclass
class PrepareResult:
    out_dir: Path
    counts: dict[str, Any]
    dataset_hash: str
    warnings: list[str] = field(default_factory=list)


def _resolve_conflicts_and_dups(
    records: list[dict[str, Any]], cfg: DataConfig
) -> tuple[dict[int, str], list[list[int]]]:
    """Which records to drop and why, and the groups that must stay in one split."""
    drop: dict[int, str] = {}
    uf = dedup._UnionFind(len(records))
    for g in dedup.exact_groups(records):
        for i in g[1:]:
            uf.union(g[0], i)
            if cfg.dedup != "off":
                drop.setdefault(i, "exact_duplicate")
    for c in dedup.clusters(records, cfg.near_dup_threshold):
        for i in c.members[1:]:
            uf.union(c.members[0], i)
        keep = c.answers
        if c.conflict and cfg.conflicts == "drop":
            keep = []
        elif c.conflict and cfg.conflicts == "majority":
            # A tie has no majority: keeping either answer could teach the wrong one, so both go.
            keep = [c.answers[0]] if len(c.answers[0]) > len(c.answers[1]) else []
        for answers in c.answers:
            if answers not in keep:
                for i in answers:
                    drop.setdefault(i, "conflict")
        if cfg.dedup == "near":
            for answers in keep:
                for i in [i for i in answers if i not in drop][1:]:
                    drop.setdefault(i, "near_duplicate")
    return drop, uf.groups()


def _load_key(path: Path, out_dir: Path) -> tuple[bytes, bool]:
    """The pseudonymization key, and whether it is new. It must live outside the dataset, or the dataset would
    ship the means to test guesses against its pseudonyms. A new key is only generated here: `_save_key` writes
    it once the dataset is written, so a failed prepare leaves no key file behind."""
    out = out_dir.resolve()
    if path.resolve() == out or out in path.resolve().parents:
        raise DataError(
            f"the PII key file {path} is inside the output directory {out_dir}",
            hint="keep the key outside the dataset, e.g. --pii-key-file ~/.tunesmith/pii.key",
        )
    if not path.exists():
        return secrets.token_bytes(32), True
    try:
        return bytes.fromhex(path.read_text(encoding="ascii").strip()), False
    except (OSError, ValueError):
        raise DataError(
            "the PII key file is not a key written by tunesmith",
            hint="restore it from a backup, or pass another --pii-key-file",
            file=path,
        ) from None


def _save_key(path: Path, key: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key.hex() + "\n")


def _redact(
    records: list[dict[str, Any]],
    cfg: DataConfig,
    key: bytes | None,
    numbered_from: dict[str, int] | None = None,
) -> tuple[list[dict[str, Any]], Counter[str], list[str]]:
    """Replace personal data in place; return the audit log (no raw values) and counts by entity.

    Every value the analyzer found is also swept from every other string of the dataset (messages and meta),
    so a name it recognised in one sentence cannot survive in another where it did not.
    """
    flat = pii.record_texts(records)
    texts = flat.texts
    found = pii.scan(texts, entities=cfg.pii_entities, allow=cfg.pii_allow)
    names_found = pii.name_counts(texts, found, flat.owners, flat.system)
    recurring = names_found.recurring() if cfg.keep_recurring_names else set()
    found = pii.without(texts, found, recurring)
    entity_of: dict[str, pii.Span] = {}
    for text, spans in zip(texts, found, strict=True):
        for s in spans:
            entity_of.setdefault(pii.normalize_value(text[s.start : s.end]), s)
    pattern = pii.whole_words({v for v in entity_of}, SWEEP_MIN_LEN)
    names: dict[tuple[str, str], str] = {}
    if cfg.pii == "pseudonymize":
        assert key is not None
        by_entity: dict[str, set[str]] = {}
        for value, s in entity_of.items():
            by_entity.setdefault(s.entity, set()).add(pii.digest(key, s.entity, value))
        for entity, digests in by_entity.items():
            for n, d in enumerate(sorted(digests), start=1 + (numbered_from or {}).get(entity, 0)):
                names[(entity, d)] = f"<{entity}_{n}>"

    def placeholder(span: pii.Span, value: str) -> str:
        if cfg.pii == "redact":
            return f"<{span.entity}>"
        assert key is not None
        return names[(span.entity, pii.digest(key, span.entity, span.value or value))]

    def with_sweep(text: str, spans: list[pii.Span]) -> list[pii.Span]:
        """Add every other occurrence of a found value; overlapping spans merge into one (over-redacting a
        little rather than leaving half a name), standing for the value of their widest part."""
        if pattern is None:
            return spans
        extra = []
        for m in pattern.finditer(text):
            seen = entity_of[pii.normalize_value(m.group())]
            extra.append(pii.Span(m.start(), m.end(), seen.entity, seen.score, "sweep"))
        merged: list[pii.Span] = []
        for s in sorted(spans + extra, key=lambda s: (s.start, -s.end)):
            if merged and s.start < merged[-1].end:
                a = merged[-1]
                wide = max((a, s), key=lambda x: x.end - x.start)
                merged[-1] = pii.Span(
                    a.start,
                    max(a.end, s.end),
                    wide.entity,
                    max(a.score, s.score),
                    a.detector,
                    wide.value or text[wide.start : wide.end],
                )
            else:
                merged.append(s)
        return merged

    def clean(obj: Any) -> Any:
        if isinstance(obj, str):
            return pii.splice(obj, with_sweep(obj, []), placeholder)
        if isinstance(obj, list):
            return [clean(x) for x in obj]
        if isinstance(obj, dict):
            return {k: clean(v) for k, v in obj.items()}
        return obj

    log: list[dict[str, Any]] = []
    counts: Counter[str] = Counter()
    operator = "replace" if cfg.pii == "redact" else "pseudonymize"
    per_record: list[Counter[str]] = [Counter() for _ in records]
    for owner, (index, where, container, slot), spans in zip(flat.owners, flat.slots, found, strict=True):
        spans = with_sweep(container[slot], spans)
        for s in spans:
            entry = {"id": records[owner]["meta"]["id"], "message": index}
            if where != "content":
                entry["field"] = where  # a tool call's arguments
            entry.update(
                start=s.start,
                end=s.end,
                entity=s.entity,
                operator=operator,
                detector=s.detector,
                score=s.score,
            )
            log.append(entry)
            per_record[owner][s.entity] += 1
        container[slot] = pii.splice(container[slot], spans, placeholder)
    for r, redacted in zip(records, per_record, strict=True):
        r["meta"] = {k: (v if k == "source" else clean(v)) for k, v in r["meta"].items()}
        # The tool definitions are the deployer's text, not a customer's, but a value found elsewhere is swept
        # from them too: the promise is that no found value is written anywhere.
        for k in TOOL_RECORD_KEYS:
            if k in r:
                r[k] = clean(r[k])
        if redacted:
            r["meta"]["redactions"] = dict(sorted(redacted.items()))
        counts.update(redacted)
    raw_values = [text[s.start : s.end] for text, spans in zip(texts, found, strict=True) for s in spans]
    _assert_no_raw(records, raw_values)
    return log, counts, sorted(names_found.forms.get(v, v) for v in recurring)


def _assert_no_raw(records: list[dict[str, Any]], raw_values: list[str]) -> None:
    """The promise of the PII policy, checked on what will be written rather than trusted. A value counts as
    present as a whole word, as the sweep replaces it ("Lumen" in "lumenhome.example" is not the name)."""
    pattern = pii.whole_words(set(raw_values), SWEEP_MIN_LEN)
    if pattern is not None and pattern.search(json.dumps(records, ensure_ascii=False)):
        raise RuntimeError("a PII value survived redaction; refusing to write the dataset")


def _turns(messages: list[dict[str, Any]]) -> list[int]:
    """Where each user turn starts. A turn runs to the next user message: the user's question and the whole
    assistant step that answers it (tool calls, their results and the answer), which is never cut apart."""
    return [i for i, m in enumerate(messages) if m["role"] == "user"]


def _truncate(record: dict[str, Any], counter: stats.TokenCounter, max_len: int) -> bool:
    """Drop trailing turns (whole: a tool result never loses its call), then shorten the last answer, until the
    example fits; False when it cannot (the last message is a tool call, which cannot be shortened)."""
    msgs = record["messages"]
    while counter.records([record])[0]["total"] > max_len and len(starts := _turns(msgs)) > 1:
        del msgs[starts[-1] :]
    for _ in range(8):
        total = counter.records([record])[0]["total"]
        if total <= max_len:
            return True
        last = msgs[-1]
        if has_tool_call(last):  # cutting the arguments would teach a broken call
            return False
        words = last["content"].split()
        have = counter.content([last["content"]])[0]
        keep = int(len(words) * max(0, have - (total - max_len)) / max(1, have))
        if keep <= 0:
            return False
        last["content"] = " ".join(words[:keep])
    return counter.records([record])[0]["total"] <= max_len


def _output_record(r: dict[str, Any]) -> dict[str, Any]:
    meta = dict(r["meta"])
    # The file name only: a dataset's hash must not depend on where its inputs lay.
    meta["source"] = {"file": Path(meta["source"]["file"]).name, "line": meta["source"]["line"]}
    # The tool definitions travel with their conversation (message-level tool keys are in the messages).
    tools = {k: r[k] for k in TOOL_RECORD_KEYS if k in r}
    return {"messages": r["messages"], **tools, "meta": meta}


def _card(
    counts: dict[str, Any],
    cfg: DataConfig,
    max_seq_len: int,
    seed: int,
    digest: str,
    sources: list[dict[str, Any]],
    pii_counts: Counter[str],
    warnings: list[str],
    held_files: dict[str, list[str]],
) -> str:
    lines = [
        "# Dataset card",
        "",
        f"Dataset hash: `{digest}`",
        "",
        "Made by `tunesmith data prepare`. The same inputs and options give the same hash.",
        "",
        "## Counts",
        "",
        "| split | examples |",
        "|---|---|",
        *[f"| {s} | {counts[s]} |" for s in SPLITS],
        "",
        f"Read {counts['input']} lines or rows; {counts['valid']} were valid examples.",
        "",
        *(
            [
                f"Parent dataset `{counts['parent']['dataset_hash']}`: its {counts['parent']['train']} train, "
                f"{counts['parent']['val']} val and {counts['parent']['test']} test examples are kept as they were "
                "(its test split is frozen); new examples went to train and val only.",
                "",
            ]
            if counts.get("parent")
            else []
        ),
        "## Sources",
        "",
        "| file | format | sha256 |",
        "|---|---|---|",
        *[f"| {s['file']} | {s['format']} | `{s['sha256'][:16]}` |" for s in sources],
        "",
        "## What was removed, and why",
        "",
        "| reason | examples |",
        "|---|---|",
    ]
    reasons = {
        "invalid": "invalid lines (see `tunesmith data check`)",
        "exact_duplicate": "exact duplicates (one kept per group)",
        "near_duplicate": f"near duplicates (prompt MinHash Jaccard >= {cfg.near_dup_threshold:g}; one kept)",
        "conflict": f"conflicting answers (policy: {cfg.conflicts}; a tie keeps neither)",
        "too_long": f"over {max_seq_len} tokens, train.max_seq_len (policy: {cfg.too_long})",
        "in_parent": "duplicates, near duplicates or conflicts of a parent example (the parent's is kept)",
        "in_test_paths": "duplicates, near duplicates or conflicts of an example of data.test_paths (held out)",
        "in_val_paths": "duplicates, near duplicates or conflicts of an example of data.val_paths (held out)",
    }
    lines += [f"| {reasons[k]} | {v} |" for k, v in counts["dropped"].items()]
    if counts.get("truncated"):
        lines.append(f"\n{counts['truncated']} example(s) were truncated to {max_seq_len} tokens.")
    lines += ["", "## Personal data", ""]
    if cfg.pii == "off":
        lines.append("PII policy: **off**. Personal data was not looked for; the data may contain some.")
    else:
        entities = ", ".join(cfg.pii_entities or pii.DEFAULT_ENTITIES)
        how = (
            "replaced by typed placeholders such as `<PERSON>`"
            if cfg.pii == "redact"
            else "replaced by consistent pseudonyms such as `<PERSON_1>`, keyed with a key kept outside this directory"
        )
        lines += [
            f"PII policy: **{cfg.pii}**. Presidio looked for {entities}; values found were {how}.",
            "",
            "| entity | replaced |",
            "|---|---|",
            *[f"| {k} | {v} |" for k, v in sorted(pii_counts.items())],
            "",
            "`redactions.jsonl` lists every replacement (example, message, span, entity, detector, score), "
            "never the value.",
        ]
    lines += [
        "",
        "## Split",
        "",
        f"Seed {seed}; shares train {cfg.split.train:g}, val {cfg.split.val:g}, "
        f"test {cfg.split.test:g}; stratified by the first tag; near-duplicate groups kept in one split.",
        *[
            f"\nThe {s} split is the {counts[s]} examples of {', '.join(f'`{x}`' for x in files)} as they are "
            f"(data.{s}_paths): its share is ignored and the others renormalised; no example of data.paths that "
            "duplicates or nearly duplicates one of them was kept."
            for s, files in held_files.items()
        ],
    ]
    if warnings:
        lines += ["", "## Warnings", "", *[f"- {w}" for w in warnings]]
    return "\n".join(lines) + "\n"


_PSEUDONYM = re.compile(r"<([A-Z_]+?)_(\d+)>")


@dataclass
class _Parent:
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


def _load_parent(path: str | Path) -> _Parent:
    manifest, rows = read_prepared(path, what="--parent ")
    records = [r for s in SPLITS for r in rows[s]]
    if not records:
        raise DataError(f"--parent {path} has no examples", hint="pass a dataset with train/val/test.jsonl")
    return _Parent(Path(path), str(manifest.get("dataset_hash", "")), records, [s for s in SPLITS for _ in rows[s]])


def _no_valid_example(findings: Sequence[Any], files: list[str]) -> DataError:
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


@dataclass
class _HeldOut:
    """The splits that come from their own files (data.test_paths, data.val_paths), as loaded."""

    files: dict[str, list[Path]]
    loaded: dict[str, LoadResult]

    def records(self, split: str) -> list[dict[str, Any]]:
        return self.loaded[split].records if split in self.loaded else []

    def all(self) -> list[dict[str, Any]]:
        return [r for s in SPLITS for r in self.records(s)]

    def split_of(self) -> list[str]:
        return [s for s in SPLITS for _ in self.records(s)]


def _load_held_out(files: dict[str, list[Path]], cfg: DataConfig, records: list[dict[str, Any]]) -> _HeldOut:
    """Load the held-out files like the inputs; their ids are made unique against the inputs' (`~2`)."""
    loaded = {s: load_records(f, format=cfg.format, columns=cfg.columns) for s, f in files.items()}
    for s, result in loaded.items():
        if not result.records:
            err = _no_valid_example(result.findings, list(result.formats) or [str(p) for p in files[s]])
            raise DataError(f"data.{s}_paths: {err.message}", hint=err.hint, file=err.file, line=err.line)
    taken = {r["meta"]["id"] for r in records}
    for s in SPLITS:
        for r in loaded[s].records if s in loaded else []:
            rid, n = r["meta"]["id"], 1
            while r["meta"]["id"] in taken:
                n += 1
                r["meta"]["id"] = f"{rid}~{n}"
            taken.add(r["meta"]["id"])
    return _HeldOut(files, loaded)


def _drop_held_out_twins(
    held: _HeldOut, records: list[dict[str, Any]], drop: dict[int, str], cfg: DataConfig
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


def dataset_hash(files: dict[str, bytes], options: dict[str, Any]) -> str:
    h = hashlib.sha256(json.dumps(options, sort_keys=True).encode())
    for name in sorted(files):
        h.update(f"\x00{name}\x00".encode())
        h.update(files[name])
    return h.hexdigest()


def prepare_dataset(
    paths: Sequence[str | Path],
    out_dir: str | Path,
    cfg: DataConfig,
    *,
    max_seq_len: int | None = None,
    seed: int = 0,
    tokenizer: Any = None,
    pii_key_file: str | Path | None = None,
    parent: str | Path | None = None,
    against: str | Path | None = None,
    overwrite: bool = False,
) -> PrepareResult:
    """Write train/val/test.jsonl, manifest.json, README.md and redactions.jsonl into `out_dir`, atomically.

    With `pii="pseudonymize"` and no `pii_key_file`, the key is created next to the directory as
    `<out_dir>.pii-key`; keep it to reproduce the same pseudonyms. Every setting comes from `cfg`, the data section,
    but the sequence length: `max_seq_len` is train.max_seq_len (its default if None), so that prepare drops or
    truncates (data.too_long) exactly what training would cut.

    With `parent` (a directory written by an earlier prepare), the new version holds every parent example
    unchanged and in its split (the test split is frozen, so evaluations stay comparable) plus the new files'
    examples, which get the same checks, dedup and PII treatment and go to train and val only. A new example that
    duplicates, nearly duplicates or contradicts a parent example is dropped (`in_parent`): the parent's is kept,
    and no new example can be a twin of a test example.

    With `cfg.test_paths` (and `cfg.val_paths`), those files are the test (val) split as they are: checked and
    redacted like the rest, never deduplicated nor dropped, and every example of `paths` that duplicates, nearly
    duplicates or contradicts one of theirs is dropped (`in_test_paths`, `in_val_paths`; the manifest lists them
    under `held_out_duplicates`); `paths` fill the other splits, their shares renormalised. The manifest's
    `splits` says where each split came from. With a `parent`, its splits are frozen and the files are not re-read.

    Files of preference pairs are prepared by `preference.prepare_preferences` (`against`: a dataset whose test
    prompts the pairs must not hold).
    """
    from tunesmith.data import preference

    held_files = {s: [Path(p) for p in files] for s, files in cfg.held_out().items()}
    if cfg.format is None and preference.is_preference_data([*paths, *(p for f in held_files.values() for p in f)]):
        if held_files:
            raise DataError(
                "data.test_paths and data.val_paths are for conversations, not preference pairs",
                hint="prepare the pairs with --against DATASET to keep a test split's prompts out",
            )
        return preference.prepare_preferences(
            paths,
            out_dir,
            cfg,
            max_seq_len=max_seq_len,
            seed=seed,
            tokenizer=tokenizer,
            pii_key_file=pii_key_file,
            against=against,
            parent=parent,
            overwrite=overwrite,
        )
    if against is not None:
        raise DataError("--against applies to preference pairs", hint="use --parent to add conversations")
    out_dir = Path(out_dir)
    max_seq_len = default_of(TrainConfig, "max_seq_len") if max_seq_len is None else max_seq_len
    # Fail before the work: the --parent is the version being replaced, but the data files must survive.
    check_output(out_dir, overwrite=overwrite, inputs=[*paths, *(p for f in held_files.values() for p in f)])
    base = _load_parent(parent) if parent is not None else None
    warnings: list[str] = []
    if base is not None and held_files:
        warnings.append(
            "data.test_paths/val_paths were not re-read: the parent's splits are kept frozen, and a new example "
            "that duplicates any of their examples is dropped (in_parent)"
        )
        held_files = {}
    loaded = load_records(paths, format=cfg.format, columns=cfg.columns)
    records = loaded.records
    if not records:
        raise _no_valid_example(loaded.findings, list(loaded.formats) or [str(p) for p in paths])
    held = _load_held_out(held_files, cfg, records)
    invalid = len({(f.file, f.lines[0]) for f in loaded.findings})
    if base is None:
        drop, together = _resolve_conflicts_and_dups(records, cfg)
    else:
        taken = {str(r.get("meta", {}).get("id")) for r in base.records}
        for r in records:  # ids stay unique across versions: `data diff` matches examples by id
            rid, n = r["meta"]["id"], 1
            while r["meta"]["id"] in taken:
                n += 1
                r["meta"]["id"] = f"{rid}~{n}"
            taken.add(r["meta"]["id"])
        offset = len(base.records)
        both_drop, both_groups = _resolve_conflicts_and_dups(base.records + records, cfg)
        drop = {i - offset: why for i, why in both_drop.items() if i >= offset}
        together = []
        for g in both_groups:
            if g[0] < offset:  # the group holds a parent example: its new members go
                for i in g:
                    if i >= offset:
                        drop[i - offset] = "in_parent"
            else:
                together.append([i - offset for i in g])
    held_out_duplicates = _drop_held_out_twins(held, records, drop, cfg)
    if held_out_duplicates:
        shown = ", ".join(f"{f['source']['file']}:{f['source']['line']}" for f in held_out_duplicates[:10])
        more = f" and {len(held_out_duplicates) - 10} more" if len(held_out_duplicates) > 10 else ""
        warnings.append(
            f"dropped {len(held_out_duplicates)} example(s) that duplicate or nearly duplicate an example of "
            f"data.test_paths or data.val_paths ({shown}{more}); the manifest's held_out_duplicates lists them"
        )
    key = None
    new_key = False
    key_path = Path(pii_key_file) if pii_key_file else out_dir.with_name(out_dir.name + ".pii-key")
    if cfg.pii == "pseudonymize":
        key, new_key = _load_key(key_path, out_dir)
    kept = [i for i in range(len(records)) if i not in drop]
    log: list[dict[str, Any]] = []
    pii_counts: Counter[str] = Counter()
    if cfg.pii != "off":
        log, pii_counts, recurring = _redact(  # the held-out examples with the rest: one sweep, one numbering
            [records[i] for i in kept] + held.all(),
            cfg,
            key,
            numbered_from=base.highest_pseudonyms() if base is not None else None,
        )
        if recurring:
            warnings.append(
                f"kept {len(recurring)} PERSON value(s) as the organisation's, product's or persona's name: "
                f"{', '.join(recurring)} (keep_recurring_names=False redacts them)"
            )
        if pii.names_warning():
            warnings.append(pii.names_warning())
    counter = stats.TokenCounter(tokenizer)
    truncated = 0
    for i, t in zip(kept, counter.records([records[i] for i in kept]), strict=True):
        if t["total"] <= max_seq_len:
            continue
        if cfg.too_long == "truncate" and _truncate(records[i], counter, max_seq_len):
            records[i]["meta"]["truncated"] = True
            truncated += 1
        else:
            drop[i] = "too_long"
    if truncated:
        warnings.append(f"{truncated} example(s) truncated to {max_seq_len} tokens ({counter.method})")
    for s in held.loaded:  # kept as they are: an evaluation runs on exactly these files
        over = sum(t["total"] > max_seq_len for t in counter.records(held.records(s)))
        if over:
            warnings.append(
                f"{over} example(s) of data.{s}_paths are over {max_seq_len} tokens; kept as they are (held out)"
            )
    kept = [i for i in range(len(records)) if i not in drop]
    if not kept:
        raise DataError("every example was dropped", hint="loosen the dedup, conflicts or too_long options")
    kept_set = set(kept)
    groups = [[i for i in g if i in kept_set] for g in together]
    index = {i: n for n, i in enumerate(kept)}
    shares = {"train": cfg.split.train, "val": cfg.split.val, "test": cfg.split.test}
    # The parent's test is frozen (new examples go to train and val, in their proportion); a split from its own
    # files takes nothing from the inputs. The other shares are renormalised.
    fixed = [*(["test"] if base is not None else []), *held.loaded]
    for s in fixed:
        shares[s] = 0.0
    if fixed:
        rest = sum(shares.values())
        shares = {s: v / rest for s, v in shares.items()} if rest else {"train": 1.0}
    assignment = split_groups(
        [records[i] for i in kept],
        [[index[i] for i in g] for g in groups if g],
        shares,
        seed,
        min_test=cfg.split.min_test if base is None and "test" not in held.loaded else None,
    )
    rows: dict[str, list[dict[str, Any]]] = {s: [] for s in SPLITS}
    if base is not None:
        for r, s in zip(base.records, base.splits, strict=True):
            rows[s].append(r)
    for s in SPLITS:
        rows[s] += [_output_record(records[kept[n]]) for n in assignment[s]]
        rows[s] += [_output_record(r) for r in held.records(s)]  # in file order, none left out
    dropped = Counter(drop.values())
    counts: dict[str, Any] = {
        "input": loaded.lines_read + sum(h.lines_read for h in held.loaded.values()),
        "valid": len(records) + len(held.all()),
        "dropped": {
            k: v
            for k, v in {
                "invalid": invalid + sum(len({(f.file, f.lines[0]) for f in h.findings}) for h in held.loaded.values()),
                **{r: dropped[r] for r in DROP_REASONS},
            }.items()
            if v
        },
        "truncated": truncated,
        **{s: len(rows[s]) for s in SPLITS},
        "redacted": dict(sorted(pii_counts.items())),
    }
    if base is not None:
        counts["parent"] = {
            "dataset_hash": base.dataset_hash,
            **{s: base.splits.count(s) for s in SPLITS},
        }
        counts["new"] = {s: len(assignment[s]) for s in SPLITS}
    options = {
        **cfg.model_dump(
            mode="json", exclude={"paths", "test_paths", "val_paths", "pii_name_sample", "embedding_sample"}
        ),
        # By name, as the sources: a dataset's hash must not depend on where its inputs lay.
        **{f"{s}_files": [p.name for p in files] for s, files in held.files.items()},
        "max_seq_len": max_seq_len,
        "seed": seed,
        "tokenizer": counter.method,
        "pii_allow": sorted(cfg.pii_allow),
        "columns": dict(sorted(cfg.columns.items())),
        **({"parent_dataset_hash": base.dataset_hash} if base is not None else {}),
    }
    sources = [{"file": Path(p).name, "format": f, "sha256": sha256_file(p)} for p, f in loaded.formats.items()]
    held_sources = {
        s: [{"file": Path(p).name, "format": f, "sha256": sha256_file(p), "split": s} for p, f in h.formats.items()]
        for s, h in held.loaded.items()
    }
    sources += [src for s in SPLITS for src in held_sources.get(s, [])]
    # Where each split came from: its own files (data.test_paths, data.val_paths), or a share of data.paths (and,
    # in a new version, the parent's, whose test split is frozen).
    splits: dict[str, dict[str, Any]] = {}
    for s in SPLITS:
        if s in held_sources:
            files = [{k: v for k, v in f.items() if k != "split"} for f in held_sources[s]]
            splits[s] = {"from": f"data.{s}_paths", "files": files}
        elif base is not None:
            splits[s] = {"from": "parent" if s == "test" else "parent and data.paths"}
        else:
            splits[s] = {"from": "data.paths", "share": shares.get(s, 0.0)}
    inputs = [*paths, *(p for files in held.files.values() for p in files)]
    saved_key = False
    try:
        with atomic_dir(out_dir, overwrite=overwrite, inputs=inputs) as tmp:
            blobs = {}
            for s in SPLITS:
                write_jsonl(tmp / f"{s}.jsonl", rows[s])
                blobs[f"{s}.jsonl"] = (tmp / f"{s}.jsonl").read_bytes()
            digest = dataset_hash(blobs, options)
            write_jsonl(tmp / "redactions.jsonl", log)
            (tmp / "README.md").write_text(
                _card(
                    counts,
                    cfg,
                    max_seq_len,
                    seed,
                    digest,
                    sources,
                    pii_counts,
                    warnings,
                    {s: [p.name for p in files] for s, files in held.files.items()},
                ),
                encoding="utf-8",
            )
            write_manifest(
                tmp,
                stage="data",
                config=options,
                inputs=inputs,
                counts=counts,
                extra={
                    "dataset_hash": digest,
                    "sources": sources,
                    "splits": splits,
                    **({"held_out_duplicates": held_out_duplicates} if held.loaded else {}),
                    "warnings": warnings,
                    **(
                        {"parent": {"path": str(base.path), "dataset_hash": base.dataset_hash}}
                        if base is not None
                        else {}
                    ),
                },
            )
            if new_key:  # last, so that a dataset that fails to be written leaves no key behind
                assert key is not None
                _save_key(key_path, key)
                saved_key = True
    except BaseException:
        if saved_key:
            key_path.unlink(missing_ok=True)
        raise
    return PrepareResult(out_dir=out_dir, counts=counts, dataset_hash=digest, warnings=warnings)
