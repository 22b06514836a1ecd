"""`data check`: every finding in the input, with statistics, before anything is trained.

Loading reports the structural errors; this module adds length, duplicates, conflicts, personal data and the
dataset-level guidance. It never stops at the first problem, and it changes nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tunesmith.config import DataConfig, TrainConfig, default_of
from tunesmith.data import dedup, pii, stats
from tunesmith.errors import DataError
from tunesmith.records import Finding, LoadResult, load_records

__all__ = ["CheckReport", "Finding", "check_files", "check_records"]


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


@dataclass
class PiiScan:
    findings: list[Finding]
    counts: dict[str, int]  # values found, by entity
    kept: list[str]  # PERSON values taken for the deployer's own names and left alone
    frequent: list[dict[str, Any]]  # the PERSON values held by the most examples: value, examples, kept


def pii_findings(records: Sequence[dict[str, Any]], cfg: DataConfig, *, name_sample: int | None = None) -> PiiScan:
    """The personal data the analyzer finds, as `cfg` says (entities, allowed values, recurring names); names are
    looked for in at most `name_sample` distinct messages (None: in all)."""
    flat = pii.record_texts(records)
    found = pii.scan(flat.texts, entities=cfg.pii_entities, allow=cfg.pii_allow, name_sample=name_sample)
    names = pii.name_counts(flat.texts, found, flat.owners, flat.system)
    recurring = names.recurring() if cfg.keep_recurring_names else set()
    found = pii.without(flat.texts, found, recurring)
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
    kept = sorted(names.forms.get(v, v) for v in recurring)
    return PiiScan(findings, dict(count), kept, frequent)


def check_records(
    loaded: LoadResult,
    cfg: DataConfig | None = None,
    *,
    max_seq_len: int | None = None,
    tokenizer: Any = None,
    diversity: bool = True,
    pii_scan: bool = True,
    held_out: Mapping[str, str] | None = None,
) -> CheckReport:
    """Every finding in `loaded`, with the settings of the data section (`cfg`; its defaults if None).

    `max_seq_len` is train.max_seq_len, the one sequence length (its default if None): longer examples are
    `too_long`. `tokenizer` is the base model's (approximate counts if None). `diversity` and `pii_scan` switch the
    two slow parts off (`--no-embeddings`, `--no-pii`). `held_out` maps the files of data.test_paths and
    data.val_paths to their split: they are checked like the rest, but not for duplicates among themselves (prepare
    keeps them whole); an input example tied to one of theirs is a `held_out_duplicate`, which prepare drops."""
    cfg = cfg or DataConfig()
    max_seq_len = default_of(TrainConfig, "max_seq_len") if max_seq_len is None else max_seq_len
    records = loaded.records
    findings = list(loaded.findings)
    pii_name_sample = cfg.pii_name_sample or None  # 0: every message
    notes: list[str] = []
    counter = stats.TokenCounter(tokenizer)
    tokens = counter.records(records)
    for r, t in zip(records, tokens, strict=True):
        if t["total"] > max_seq_len:
            src = r["meta"]["source"]
            findings.append(
                Finding(
                    "too_long",
                    "error",
                    [src["line"]],
                    f"{t['total']} tokens, over the sequence length {max_seq_len} (train.max_seq_len)",
                    file=src["file"],
                )
            )
    held_out = held_out or {}
    split_of = [held_out.get(r["meta"]["source"]["file"]) for r in records]
    inputs = [r for r, s in zip(records, split_of, strict=True) if s is None]
    dup_findings, _, _ = duplicate_findings(inputs, cfg.near_dup_threshold)
    findings += dup_findings
    if held_out:
        findings += held_out_findings(records, split_of, cfg.near_dup_threshold)
    pii_counts: dict[str, int] = {}
    frequent_names: list[dict[str, Any]] = []
    if pii_scan and records:
        scan = pii_findings(records, cfg, name_sample=pii_name_sample)
        findings += scan.findings
        pii_counts, recurring, frequent_names = scan.counts, scan.kept, scan.frequent
        distinct = len({m["content"] for r in records for m in r["messages"]})
        wanted = set(cfg.pii_entities or pii.DEFAULT_ENTITIES)
        if pii_name_sample is not None and distinct > pii_name_sample and wanted & pii.MODEL_ENTITIES:
            notes.append(
                f"names ({', '.join(sorted(wanted & pii.MODEL_ENTITIES))}) were looked for in a seeded sample of "
                f"{pii_name_sample:,} of {distinct:,} distinct messages (the name model costs ~3-6 ms a message); "
                "the other entities in every message. `prepare` looks everywhere; --pii-name-sample 0 checks all"
            )
        if frequent_names:
            notes.append(
                "PERSON values in the most examples: "
                + ", ".join(f"{f['value']} ({f['examples']}{', kept' if f['kept'] else ''})" for f in frequent_names)
            )
        if recurring:
            notes.append(
                f"not reported as PII: {', '.join(recurring)}: PERSON values in {pii.RECURRING_MIN}+ examples, or in "
                "the system prompt of most, are taken for the organisation's, product's or persona's name "
                "(keep_recurring_names=False reports them)"
            )
        if pii.names_warning():
            notes.append(pii.names_warning())
    n = len(records)
    if n < stats.FEW_EXAMPLES:
        findings.append(
            Finding(
                "too_few_examples",
                "warning",
                [],
                f"only {n} examples: expect the model to pick up format and tone, not new "
                f"knowledge; aim for at least {stats.FEW_EXAMPLES}, ideally several hundred",
            )
        )
    with_system = [r["messages"][0]["role"] == "system" for r in records]
    if 0 < sum(with_system) < n:
        missing = [i for i, s in enumerate(with_system) if not s]
        findings.append(
            group_finding(
                "missing_system",
                records,
                missing,
                f"{len(missing)} of {n} examples have no system prompt while the others do; the model will behave "
                "differently with and without one",
            )
        )
    refusals = [i for i, r in enumerate(records) if stats.is_refusal(r)]
    refusal_share = len(refusals) / n if n else 0.0
    if refusal_share > stats.REFUSAL_SHARE:
        findings.append(
            group_finding(
                "refusal_share",
                records,
                refusals,
                f"{refusal_share:.0%} of answers are refusals or 'I don't know' (over {stats.REFUSAL_SHARE:.0%}); "
                "the model will refuse about that often at inference",
            )
        )
    div = stats.diversity(records, embeddings=diversity, sample=cfg.embedding_sample) if n else {}
    low = []
    if n >= 2 and div.get("distinct_2", 1) < stats.LOW_DISTINCT_2:
        low.append(f"distinct-2 {div['distinct_2']:.2f} < {stats.LOW_DISTINCT_2}")
    if n >= 2 and div.get("embedding_spread", 1) < stats.LOW_EMBEDDING_SPREAD:
        low.append(f"embedding spread {div['embedding_spread']:.2f} < {stats.LOW_EMBEDDING_SPREAD}")
    if low:
        findings.append(
            Finding(
                "low_diversity",
                "warning",
                [],
                f"the prompts are much alike ({'; '.join(low)}): the model will learn these "
                "questions rather than the task; add varied prompts",
            )
        )
    findings.sort(key=lambda f: (f.severity != "error", f.file or "", f.lines[:1], f.kind))
    totals = [t["total"] for t in tokens]
    # `tool` (tool results and definitions) only when some example uses tools, so plain data keeps its table.
    roles = ("system", "user", "assistant", *(("tool",) if any("tool" in t for t in tokens) else ()))
    role_tokens = {role: sum(t.get(role, 0) for t in tokens) for role in roles}
    epochs = stats.default_epochs(len(inputs))  # the held-out examples are not trained on
    per_epoch = sum(min(max_seq_len, t) for t, s in zip(totals, split_of, strict=True) if s is None)
    report_stats: dict[str, Any] = {
        "token_counter": counter.method,
        "counts": {
            "files": len(loaded.formats),
            "lines": loaded.lines_read,
            "examples": n,
            "invalid_lines": len({(f.file, f.lines[0]) for f in loaded.findings}),
            "errors": sum(f.severity == "error" for f in findings),
            "warnings": sum(f.severity == "warning" for f in findings),
        },
        "messages_per_example": stats.distribution([len(r["messages"]) for r in records]),
        "tokens_per_example": {
            "total": stats.distribution(totals),
            **{role: stats.distribution([t.get(role, 0) for t in tokens]) for role in roles},
        },
        "tokens_total": sum(totals),
        "assistant_token_share": round(role_tokens["assistant"] / max(1, sum(role_tokens.values())), 4),
        "system_prompt_coverage": round(sum(with_system) / n, 4) if n else 0.0,
        "refusal_share": round(refusal_share, 4),
        "max_seq_len": max_seq_len,
        "default_epochs": epochs,
        "estimated_training_tokens_per_epoch": per_epoch,
        "estimated_training_tokens": per_epoch * epochs,
        "pii": {
            "entities": list(cfg.pii_entities or pii.DEFAULT_ENTITIES),
            "found": pii_counts,
            "frequent_names": frequent_names,
            "score_threshold": pii.SCORE_THRESHOLD,
            "name_sample": pii_name_sample,
        }
        if pii_scan
        else {"skipped": True},
        "diversity": div,
    }
    fmts = set(loaded.formats.values())
    return CheckReport(
        format=fmts.pop() if len(fmts) == 1 else "mixed",
        formats=loaded.formats,
        examples=n,
        stats=report_stats,
        findings=findings,
        notes=notes,
    )


def check_files(
    paths: Sequence[str | Path],
    cfg: DataConfig | None = None,
    *,
    max_seq_len: int | None = None,
    tokenizer: Any = None,
    diversity: bool = True,
    pii_scan: bool = True,
    test: str | Path | None = None,
) -> CheckReport:
    """Load and check with the settings of the data section (`cfg`; its defaults if None) and the sequence length
    (train.max_seq_len; its default if None); raises DataError (exit 2) when nothing usable can be read.

    Files of preference pairs (TRL, OpenAI DPO, HH) are detected and checked as pairs (data/preference.py);
    `test` (a prepared dataset or a test.jsonl) then adds the pairs whose prompt is in that test split."""
    from tunesmith.data import preference

    cfg = cfg or DataConfig()
    held_out = {str(p): s for s, files in cfg.held_out().items() for p in files}
    if cfg.format is None and preference.is_preference_data([*paths, *held_out]):
        if held_out:
            raise DataError(
                "data.test_paths and data.val_paths are for conversations, not preference pairs",
                hint="check the pairs with --against DATASET to find the prompts of a test split",
            )
        return preference.check_preferences(
            preference.load_preferences(paths),
            cfg,
            max_seq_len=max_seq_len,
            tokenizer=tokenizer,
            pii_scan=pii_scan,
            test=test,
        )
    loaded = load_records([*paths, *held_out], format=cfg.format, columns=cfg.columns)
    return check_records(
        loaded,
        cfg,
        max_seq_len=max_seq_len,
        tokenizer=tokenizer,
        diversity=diversity,
        pii_scan=pii_scan,
        held_out=held_out,
    )
