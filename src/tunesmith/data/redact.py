"""Personal data out of what is kept: redaction or keyed pseudonyms, with an audit log that never holds a value.

The pseudonymization key lives outside the dataset, or the dataset would ship the means to test guesses against its
pseudonyms.
"""

from __future__ import annotations

import json
import os
import secrets
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tunesmith.config import DataConfig
from tunesmith.data import pii
from tunesmith.data.recurring import kept_values, without
from tunesmith.errors import DataError
from tunesmith.records import TOOL_RECORD_KEYS

# A found value shorter than this is not swept from the rest of the dataset: "Al" would hit every "al" word.
SWEEP_MIN_LEN = 3


def load_key(path: Path, out_dir: Path) -> tuple[bytes, bool]:
    """The pseudonymization key, and whether it is new. It must live outside the dataset, or the dataset would
    ship the means to test guesses against its pseudonyms. A new key is only generated here: `save_key` writes
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


def save_key(path: Path, key: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key.hex() + "\n")


class _Replacer:
    """What each found value becomes (a typed placeholder, or its numbered pseudonym), and the sweep that finds
    every other occurrence of a found value."""

    def __init__(
        self,
        texts: list[str],
        found: list[list[pii.Span]],
        cfg: DataConfig,
        key: bytes | None,
        numbered_from: dict[str, int] | None,
    ) -> None:
        self.cfg, self.key = cfg, key
        self.entity_of: dict[str, pii.Span] = {}
        for text, spans in zip(texts, found, strict=True):
            for s in spans:
                self.entity_of.setdefault(pii.normalize_value(text[s.start : s.end]), s)
        self.pattern = pii.whole_words({v for v in self.entity_of}, SWEEP_MIN_LEN)
        self.names: dict[tuple[str, str], str] = {}
        if cfg.pii == "pseudonymize":
            assert key is not None
            by_entity: dict[str, set[str]] = {}
            for value, s in self.entity_of.items():
                by_entity.setdefault(s.entity, set()).add(pii.digest(key, s.entity, value))
            for entity, digests in by_entity.items():
                for n, d in enumerate(sorted(digests), start=1 + (numbered_from or {}).get(entity, 0)):
                    self.names[(entity, d)] = f"<{entity}_{n}>"

    def placeholder(self, span: pii.Span, value: str) -> str:
        if self.cfg.pii == "redact":
            return f"<{span.entity}>"
        assert self.key is not None
        return self.names[(span.entity, pii.digest(self.key, span.entity, span.value or value))]

    def with_sweep(self, text: str, spans: list[pii.Span]) -> list[pii.Span]:
        """Add every other occurrence of a found value; overlapping spans merge into one (over-redacting a
        little rather than leaving half a name), standing for the value of their widest part."""
        if self.pattern is None:
            return spans
        extra = []
        for m in self.pattern.finditer(text):
            seen = self.entity_of[pii.normalize_value(m.group())]
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

    def clean(self, obj: Any) -> Any:
        if isinstance(obj, str):
            return pii.splice(obj, self.with_sweep(obj, []), self.placeholder)
        if isinstance(obj, list):
            return [self.clean(x) for x in obj]
        if isinstance(obj, dict):
            return {k: self.clean(v) for k, v in obj.items()}
        return obj


def redact(
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
    _, recurring, kept = kept_values(flat, found, names=cfg.keep_recurring_names, contacts=cfg.keep_recurring_contacts)
    found = without(texts, found, recurring)
    replacer = _Replacer(texts, found, cfg, key, numbered_from)
    log: list[dict[str, Any]] = []
    counts: Counter[str] = Counter()
    operator = "replace" if cfg.pii == "redact" else "pseudonymize"
    per_record: list[Counter[str]] = [Counter() for _ in records]
    for owner, (index, where, container, slot), spans in zip(flat.owners, flat.slots, found, strict=True):
        spans = replacer.with_sweep(container[slot], spans)
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
        container[slot] = pii.splice(container[slot], spans, replacer.placeholder)
    for r, redacted in zip(records, per_record, strict=True):
        r["meta"] = {k: (v if k == "source" else replacer.clean(v)) for k, v in r["meta"].items()}
        # The tool definitions are the deployer's text, not a customer's, but a value found elsewhere is swept
        # from them too: the promise is that no found value is written anywhere.
        for k in TOOL_RECORD_KEYS:
            if k in r:
                r[k] = replacer.clean(r[k])
        if redacted:
            r["meta"]["redactions"] = dict(sorted(redacted.items()))
        counts.update(redacted)
    raw_values = [text[s.start : s.end] for text, spans in zip(texts, found, strict=True) for s in spans]
    _assert_no_raw(records, raw_values)
    return log, counts, kept


def decision(cfg: DataConfig, kept_names: list[str]) -> dict[str, Any]:
    """What prepare decided is personal data, for the manifest's `pii`: the policy, the entities, the values allowed
    and those it kept as the deployer's names and contacts (`kept_names`, counted over all the data). A later gate
    (the vendor upload) applies this decision to the split it sends instead of re-deciding on that subset, where a
    name kept for recurring in 10 examples overall recurs in 8 and would be counted as a customer's."""
    return {
        "policy": cfg.pii,
        "entities": list(cfg.pii_entities or pii.DEFAULT_ENTITIES),
        "allow": sorted(cfg.pii_allow),
        "kept_names": sorted(kept_names),
    }


def recorded_allow(dataset_dir: Path) -> list[str] | None:
    """What prepare's recorded decision (the manifest's `pii`) lets through: the values it allowed and those it kept
    as the deployer's names and contacts, counted over all the data. None when the dataset records no redaction
    (pii off, no dataset yet, or one written before the decision was recorded).

    Every later reader of personal data applies this instead of re-deciding on its own subset: the vendor upload
    (where a kept name recurs less in one split), and the document index (where "Lumen" recurs in a handbook's
    passages less than in the conversations, and was redacted as a <PERSON> in the passages RAG reads)."""
    manifest = dataset_dir / "manifest.json"
    recorded = json.loads(manifest.read_text(encoding="utf-8")).get("pii") if manifest.exists() else None
    if not isinstance(recorded, dict) or recorded.get("policy") not in ("redact", "pseudonymize"):
        return None
    return sorted({*recorded.get("allow", []), *recorded.get("kept_names", [])})


def decided_allow(pii_allow: Sequence[str], dataset_dir: Path) -> list[str]:
    """data.pii_allow with what prepare's recorded decision let through (recorded_allow): the values every later
    scan of this project's text (served answers, the request log, review exports, safety figures) leaves alone, so
    the helpline the model was trained to give is not logged as <PHONE_NUMBER> and retrained on that way."""
    return sorted({*pii_allow, *(recorded_allow(dataset_dir) or [])})


def _assert_no_raw(records: list[dict[str, Any]], raw_values: list[str]) -> None:
    """The promise of the PII policy, checked on what will be written rather than trusted. A value counts as
    present as a whole word, as the sweep replaces it ("Lumen" in "lumenhome.example" is not the name)."""
    pattern = pii.whole_words(set(raw_values), SWEEP_MIN_LEN)
    if pattern is not None and pattern.search(json.dumps(records, ensure_ascii=False)):
        raise RuntimeError("a PII value survived redaction; refusing to write the dataset")
