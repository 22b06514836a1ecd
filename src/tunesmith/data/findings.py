"""Findings that every kind of data shares: groups across files, duplicates, held-out twins, personal data, and the
report a check returns (DESIGN.md, "Findings")."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tunesmith.config import DataConfig
from tunesmith.data import dedup, pii, stats
from tunesmith.data.recurring import kept_values, without
from tunesmith.data.store import id_groups
from tunesmith.records import Finding, LoadResult


@dataclass
class CheckReport:
    format: str
    formats: dict[str, str]
    examples: int
    stats: dict[str, Any]
    findings: list[Finding]
    notes: list[str] = field(default_factory=list)  # limits of the check itself (e.g. names not covered)

    @property
    def has_errors(self) -> bool:
        return any(f.severity == "error" for f in self.findings)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = defaultdict(int)
        for f in self.findings:
            out[f.kind] += 1
        return dict(out)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "formats": self.formats,
            "examples": self.examples,
            "stats": self.stats,
            "findings": [f.to_json() for f in self.findings],
            "notes": self.notes,
        }


def group_finding(
    kind: str, records: Sequence[dict[str, Any]], indices: Sequence[int], message: str, **details: Any
) -> Finding:
    """One warning that names every line of a group, across files when it spans several."""
    sources = sorted((records[i]["meta"]["source"]["file"], records[i]["meta"]["source"]["line"]) for i in indices)
    files = {f for f, _ in sources}
    entity = details.pop("entity", None)
    if len(files) == 1:
        return Finding(
            kind, "warning", [line for _, line in sources], message, file=files.pop(), entity=entity, details=details
        )
    return Finding(
        kind,
        "warning",
        [line for _, line in sources],
        message,
        entity=entity,
        locations=[[f, line] for f, line in sources],
        details=details,
    )


def _lines(records: Sequence[dict[str, Any]], indices: Sequence[int]) -> list[int]:
    return sorted(records[i]["meta"]["source"]["line"] for i in indices)


def duplicate_findings(
    records: Sequence[dict[str, Any]], near_dup_threshold: float
) -> tuple[list[Finding], list[list[int]], list[dedup.Cluster]]:
    findings = []
    exact = dedup.exact_groups(records)
    for g in exact:
        findings.append(
            group_finding(
                "exact_duplicate",
                records,
                g,
                f"{len(g)} identical conversations (after normalising whitespace and case); prepare keeps one",
            )
        )
    clusters = dedup.clusters(records, near_dup_threshold)
    for c in clusters:
        if c.conflict:
            sides = " vs ".join(",".join(map(str, _lines(records, a))) for a in c.answers)
            findings.append(
                group_finding(
                    "conflict",
                    records,
                    c.members,
                    f"the same or near-same prompt has {len(c.answers)} materially different answers "
                    f"(lines {sides}); prepare keeps the majority answer by default",
                    answers=[_lines(records, a) for a in c.answers],
                )
            )
        else:
            findings.append(
                group_finding(
                    "near_duplicate",
                    records,
                    c.members,
                    f"{len(c.members)} examples with near-identical prompts (MinHash Jaccard >= {near_dup_threshold:g} "
                    "over character 3-grams of the user turns); prepare keeps one",
                )
            )
    return findings, exact, clusters


def held_out_findings(
    records: Sequence[dict[str, Any]], split_of: Sequence[str | None], near_dup_threshold: float
) -> list[Finding]:
    """One warning per group that ties input examples (split None) to held-out ones (data.test_paths or
    data.val_paths): exact duplicates or near-same prompts, whatever the answers. Prepare drops the inputs."""
    findings = []
    for g in dedup.linked_groups(records, near_dup_threshold):
        held = [i for i in g if split_of[i] is not None]
        inputs = [i for i in g if split_of[i] is None]
        if not held or not inputs:
            continue
        split = "test" if any(split_of[i] == "test" for i in held) else "val"
        where = ", ".join(
            f"{Path(records[i]['meta']['source']['file']).name}:{records[i]['meta']['source']['line']}" for i in held
        )
        findings.append(
            group_finding(
                "held_out_duplicate",
                records,
                g,
                f"{len(inputs)} example(s) duplicate or nearly duplicate {len(held)} example(s) of data.{split}_paths "
                f"({where}); prepare drops them, so that training never sees a twin of a {split} example",
                split=split,
            )
        )
    return findings


def duplicate_id_findings(records: Sequence[dict[str, Any]], cfg: DataConfig) -> list[Finding]:
    """One `duplicate_id` per `meta.id` that several examples hold, with every line (and file, across files).

    Lineage, review decisions and per-example results key on the id, so two examples that share one are mixed up
    downstream. A warning when prepare renames them (data.duplicate_ids: rename); an error when it would refuse,
    that is when two of them come from data.paths (a held-out file's copy is renamed either way, as it always was)."""
    held = {str(p) for files in cfg.held_out().values() for p in files}
    found = []
    for g in id_groups(records):
        rid = records[g[0]]["meta"]["id"]
        inputs = sum(records[i]["meta"]["source"]["file"] not in held for i in g)
        refuse = cfg.duplicate_ids == "refuse" and inputs > 1
        then = (
            "prepare refuses until each has its own id (data.duplicate_ids: refuse)"
            if refuse
            else f"prepare keeps it on the first and renames the others {rid}~2, ~3... (data.duplicate_ids: rename)"
        )
        finding = group_finding(
            "duplicate_id",
            records,
            g,
            f"{len(g)} examples share meta.id {rid!r}: lineage, review decisions and per-example results would mix "
            f"them up; {then}",
            id=rid,
        )
        finding.severity = "error" if refuse else "warning"
        found.append(finding)
    return found


@dataclass
class PiiScan:
    findings: list[Finding]
    counts: dict[str, int]  # values found, by entity
    kept: list[str]  # values taken for the deployer's own (names, helpline numbers and addresses) and left alone
    frequent: list[dict[str, Any]]  # the PERSON values held by the most examples: value, examples, kept


def pii_findings(records: Sequence[dict[str, Any]], cfg: DataConfig, *, name_sample: int | None = None) -> PiiScan:
    """The personal data the analyzer finds, as `cfg` says (entities, allowed values, recurring names); names are
    looked for in at most `name_sample` distinct messages (None: in all)."""
    flat = pii.record_texts(records)
    found = pii.scan(flat.texts, entities=cfg.pii_entities, allow=cfg.pii_allow, name_sample=name_sample)
    names, recurring, kept = kept_values(
        flat, found, names=cfg.keep_recurring_names, contacts=cfg.keep_recurring_contacts
    )
    found = without(flat.texts, found, recurring)
    where: dict[tuple[str, str], list[int]] = defaultdict(list)
    count: dict[str, int] = defaultdict(int)
    for owner, spans in zip(flat.owners, found, strict=True):
        for s in spans:
            where[(records[owner]["meta"]["source"]["file"], s.entity)].append(owner)
            count[s.entity] += 1
    findings = []
    for (_, entity), idx in sorted(where.items()):
        unique = sorted(set(idx))
        findings.append(
            group_finding(
                "pii",
                records,
                unique,
                f"{len(idx)} {entity} value(s) in {len(unique)} example(s); prepare redacts them by default",
                entity=entity,
            )
        )
    frequent = [
        {"value": v, "examples": n, "kept": pii.normalize_value(v) in recurring} for v, n in names.most_frequent()
    ]
    redacted = [f for f in frequent if not f["kept"]]
    if redacted:
        # A customer's name is in one or two examples; one that many examples share is more often the deployer's
        # own (a product, a team, the company) than a person, and redacting it teaches the model "<PERSON> Ltd".
        listed = ", ".join(f"{f['value']!r} ({f['examples']} examples)" for f in redacted)
        findings.append(
            Finding(
                "frequent_pii_name",
                "warning",
                [],
                f"the PERSON values prepare would redact in the most examples: {listed}; if one is your "
                "organisation's, product's or persona's name, add it to data.pii_allow",
                entity="PERSON",
                details={"values": redacted},
            )
        )
    return PiiScan(findings, dict(count), kept, frequent)


@dataclass
class Measured:
    """What a check found and measured, from which each kind of data reports its statistics."""

    loaded: LoadResult
    found: list[Finding]
    tokens: Any  # the kind's token counts (`DataKind.count_tokens`)
    counter: stats.TokenCounter
    max_seq_len: int
    scan: PiiScan | None  # None: the scan was skipped
    measures: dict[str, Any]  # the kind's own, from `DataKind.dataset_findings`


def too_long(record: dict[str, Any], message: str) -> Finding:
    src = record["meta"]["source"]
    return Finding("too_long", "error", [src["line"]], message, file=src["file"])


def sort_findings(findings: list[Finding]) -> None:
    """Errors first, then by file and line: the order the CLI and the JSON list them in."""
    findings.sort(key=lambda f: (f.severity != "error", f.file or "", f.lines[:1], f.kind))


def report(
    loaded: LoadResult, examples: int, stats: dict[str, Any], findings: list[Finding], notes: list[str]
) -> CheckReport:
    fmts = set(loaded.formats.values())
    return CheckReport(
        format=fmts.pop() if len(fmts) == 1 else "mixed",
        formats=loaded.formats,
        examples=examples,
        stats=stats,
        findings=findings,
        notes=notes,
    )
