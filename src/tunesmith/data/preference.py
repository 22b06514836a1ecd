"""Preference pairs: loading, checking and preparing (DESIGN.md, "Preference record").

A preference pair is `{"prompt": [messages], "chosen": [messages], "rejected": [messages], "meta": {...}}`, the
message lists in the canonical form of records.py. Three formats load into it, detected per file:

- `trl`: TRL's `{"prompt", "chosen", "rejected"}`, each a string or a list of messages;
- `openai_dpo`: OpenAI's DPO JSONL, `{"input": {"messages": [...]}, "preferred_output": [...],
  "non_preferred_output": [...]}`;
- `hh`: Anthropic HH-style `{"chosen", "rejected"}` full transcripts (`"\\n\\nHuman: ...\\n\\nAssistant: ..."` or
  message lists): the prompt is what both sides share before their last turn.

Reading reuses the bounded readers of records.py (`read_items`), and each side is validated as a conversation
(prompt + answer) by `records.to_record`, so roles, order and content follow the same rules as SFT data. Findings
and splits are keyed by the prompt: a prompt's pairs never straddle splits.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tunesmith.artifacts import check_output, sha256_file
from tunesmith.config import DataConfig, TrainConfig, default_of
from tunesmith.data import findings, pii, stats
from tunesmith.data.card import pair_card
from tunesmith.data.findings import CheckReport, group_finding, pii_findings
from tunesmith.data.pair_keys import PromptGroups, all_texts, conversation, prompt_groups, prompt_key, test_prompts
from tunesmith.data.redact import load_key, redact
from tunesmith.data.split import SPLITS, split_groups
from tunesmith.data.store import PiiKey, PrepareResult, no_valid_example, read_prepared, unique_ids, write_dataset
from tunesmith.errors import DataError
from tunesmith.records import (
    TOOL_RECORD_KEYS,
    Finding,
    LoadResult,
    kind_of,
    load_preferences,
    parse_transcript,
)
from tunesmith.records import messages_key as _key

__all__ = ["is_preference_data", "load_preferences", "parse_transcript", "check_preferences", "prepare_preferences"]

SIDES = ("chosen", "rejected")


def _too_long(pairs: list[dict[str, Any]], tokens: dict[str, list[dict[str, int]]], max_seq_len: int) -> list[Finding]:
    out = []
    for i, p in enumerate(pairs):
        lengths = {side: tokens[side][i]["total"] for side in SIDES}
        over = [f"{side} {n}" for side, n in lengths.items() if n > max_seq_len]
        if over:
            out.append(
                findings.too_long(
                    p,
                    f"prompt + {' and prompt + '.join(over)} tokens, over the sequence length {max_seq_len} "
                    "(train.max_seq_len)",
                )
            )
    return out


def _group_findings(pairs: list[dict[str, Any]], groups: PromptGroups, threshold: float) -> list[Finding]:
    """Pairs of one prompt (copies among them), near-same prompts, and pairs that contradict each other."""
    out = []
    identical_of = {i: g for g in groups.identical for i in g}
    for g in groups.same_prompt:
        copies = sorted({tuple(identical_of[i]) for i in g if i in identical_of})
        extra = (
            f"; {sum(len(c) - 1 for c in copies)} of them are copies of another pair, which prepare drops"
            if copies
            else ""
        )
        out.append(
            group_finding(
                "exact_duplicate",
                pairs,
                g,
                f"{len(g)} pairs share one prompt (after normalising whitespace and case): prepare keeps them in "
                f"one split{extra}",
                identical=[sorted(pairs[i]["meta"]["source"]["line"] for i in c) for c in copies],
            )
        )
    for g in groups.near:
        out.append(
            group_finding(
                "near_duplicate",
                pairs,
                g,
                f"{len(g)} pairs with near-identical prompts (MinHash Jaccard >= {threshold:g}); prepare "
                "keeps them in one split",
            )
        )
    for g in groups.conflicts:
        out.append(
            group_finding(
                "conflict",
                pairs,
                g,
                f"{len(g)} pairs of one prompt contradict each other (one's chosen is another's rejected); "
                "prepare drops them unless data.conflicts is keep",
            )
        )
    return out


def _leakage(pairs: list[dict[str, Any]], test: str | Path) -> list[Finding]:
    held = test_prompts(test)
    out = []
    for p in pairs:
        if prompt_key(p["prompt"]) in held:
            src = p["meta"]["source"]
            out.append(
                Finding(
                    "leakage",
                    "error",
                    [src["line"]],
                    f"the prompt is in the test split of {test}: training on it inflates the evaluation; "
                    "prepare --against drops it",
                    file=src["file"],
                )
            )
    return out


def _pair_stats(
    loaded: LoadResult,
    found: list[Finding],
    tokens: dict[str, list[dict[str, int]]],
    counter: stats.TokenCounter,
    max_seq_len: int,
    pii_counts: dict[str, int] | None,
    cfg: DataConfig,
) -> dict[str, Any]:
    """The statistics of a check of pairs; `pii_counts` None: the scan was skipped."""
    pairs = loaded.records
    n = len(pairs)
    chosen_tokens = [t["total"] for t in tokens["chosen"]]
    rejected_tokens = [t["total"] for t in tokens["rejected"]]
    totals = [c + r for c, r in zip(chosen_tokens, rejected_tokens, strict=True)]
    assistant = sum(t.get("assistant", 0) for side in SIDES for t in tokens[side])
    refusals = sum(stats.is_refusal(conversation(p, "chosen")) for p in pairs)
    per_epoch = sum(
        min(max_seq_len, c) + min(max_seq_len, r) for c, r in zip(chosen_tokens, rejected_tokens, strict=True)
    )
    epochs = stats.default_epochs(n)
    return {
        "kind": "preference",
        "token_counter": counter.method,
        "counts": {
            "files": len(loaded.formats),
            "lines": loaded.lines_read,
            "examples": n,
            "pairs": n,
            "prompts": len({prompt_key(p["prompt"]) for p in pairs}),
            "invalid_lines": len({(f.file, f.lines[0]) for f in loaded.findings if f.lines}),
            "errors": sum(f.severity == "error" for f in found),
            "warnings": sum(f.severity == "warning" for f in found),
        },
        # A pair trains on both sequences: prompt + chosen and prompt + rejected.
        "tokens_per_example": {
            "total": stats.distribution(totals),
            "chosen": stats.distribution(chosen_tokens),
            "rejected": stats.distribution(rejected_tokens),
        },
        "tokens_total": sum(totals),
        "assistant_token_share": round(assistant / max(1, sum(totals)), 4),
        "system_prompt_coverage": round(sum(p["prompt"][0]["role"] == "system" for p in pairs) / n, 4) if n else 0.0,
        "refusal_share": round(refusals / n, 4) if n else 0.0,  # of the chosen answers
        "max_seq_len": max_seq_len,
        "default_epochs": epochs,
        "estimated_training_tokens_per_epoch": per_epoch,
        "estimated_training_tokens": per_epoch * epochs,
        "pii": {"entities": list(cfg.pii_entities or pii.DEFAULT_ENTITIES), "found": pii_counts}
        if pii_counts is not None
        else {"skipped": True},
    }


def check_preferences(
    loaded: LoadResult,
    cfg: DataConfig | None = None,
    *,
    max_seq_len: int | None = None,
    tokenizer: Any = None,
    pii_scan: bool = True,
    test: str | Path | None = None,
) -> CheckReport:
    """Every finding of preference data: the loader's, too long, duplicates and conflicts of the prompt, PII, and
    leakage (a pair whose prompt is in the test split at `test`, a prepared dataset or a test.jsonl), with the
    settings of the data section (`cfg`; its defaults if None) and the sequence length (train.max_seq_len; its
    default if None)."""
    cfg = cfg or DataConfig()
    max_seq_len = default_of(TrainConfig, "max_seq_len") if max_seq_len is None else max_seq_len
    pairs = loaded.records
    found = list(loaded.findings)
    notes: list[str] = []
    counter = stats.TokenCounter(tokenizer)
    tokens = {side: counter.records([conversation(p, side) for p in pairs]) for side in SIDES}
    found += _too_long(pairs, tokens, max_seq_len)
    found += _group_findings(pairs, prompt_groups(pairs, cfg.near_dup_threshold), cfg.near_dup_threshold)
    if test is not None:
        found += _leakage(pairs, test)
    pii_counts: dict[str, int] = {}
    if pii_scan and pairs:
        scan = pii_findings([all_texts(p) for p in pairs], cfg, name_sample=cfg.pii_name_sample or None)
        found += scan.findings
        pii_counts = scan.counts
        if pii.names_warning():
            notes.append(pii.names_warning())
    n = len(pairs)
    if n < stats.FEW_EXAMPLES:
        found.append(
            Finding(
                "too_few_examples",
                "warning",
                [],
                f"only {n} pairs: DPO moves a model with a few hundred pairs; aim for at least {stats.FEW_EXAMPLES}",
            )
        )
    findings.sort_findings(found)
    report_stats = _pair_stats(loaded, found, tokens, counter, max_seq_len, pii_counts if pii_scan else None, cfg)
    return findings.report(loaded, n, report_stats, found, notes)


# ----------------------------------------------------------------------------------------------------------------
# Prepare


def _output_pair(p: dict[str, Any]) -> dict[str, Any]:
    meta = dict(p["meta"])
    meta["source"] = {"file": Path(meta["source"]["file"]).name, "line": meta["source"]["line"]}
    tools = {k: p[k] for k in TOOL_RECORD_KEYS if k in p}
    return {"prompt": p["prompt"], "chosen": p["chosen"], "rejected": p["rejected"], **tools, "meta": meta}


@dataclass
class _Parent:
    """A parent preference dataset: its rows by split, and the split of each of its prompts."""

    dataset_hash: str | None = None
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: {s: [] for s in SPLITS})
    splits: dict[str, str] = field(default_factory=dict)  # prompt key -> the parent's split


def _pair_drops(
    pairs: list[dict[str, Any]],
    groups: PromptGroups,
    cfg: DataConfig,
    against: str | Path | None,
    parent: str | Path | None,
) -> tuple[dict[int, str], _Parent]:
    """Why each dropped pair goes: copies, conflicts, a prompt of the test split at `against`, and (with a parent)
    a pair the parent has or whose prompt is in its test split."""
    drop: dict[int, str] = {}
    if cfg.dedup != "off":
        for g in groups.identical:
            for i in g[1:]:
                drop.setdefault(i, "exact_duplicate")
    if cfg.conflicts != "keep":
        for g in groups.conflicts:
            for i in g:
                drop[i] = "conflict"
    if against is not None:
        held = test_prompts(against)
        for i, p in enumerate(pairs):
            if prompt_key(p["prompt"]) in held:
                drop[i] = "leakage"
    base = _Parent()
    if parent is None:
        return drop, base
    manifest, base.rows = read_prepared(parent, what="--parent ")
    if any("messages" in r for s in SPLITS for r in base.rows[s]):
        raise DataError(
            f"--parent {parent} holds conversations, not preference pairs",
            hint="pass the previous preference dataset; to keep an SFT test split out, use --against",
        )
    base.dataset_hash = str(manifest.get("dataset_hash", ""))
    full_keys = set()
    for split_name in SPLITS:
        for r in base.rows[split_name]:
            base.splits[prompt_key(r["prompt"])] = split_name
            full_keys.add((_key(r["prompt"]), _key(r["chosen"]), _key(r["rejected"])))
    for i, p in enumerate(pairs):
        if (_key(p["prompt"]), _key(p["chosen"]), _key(p["rejected"])) in full_keys:
            drop[i] = "in_parent"
        elif base.splits.get(prompt_key(p["prompt"])) == "test":
            drop[i] = "leakage"
    unique_ids(pairs, {str(r.get("meta", {}).get("id")) for s in SPLITS for r in base.rows[s]})
    return drop, base


def _assign(
    pairs: list[dict[str, Any]],
    drop: dict[int, str],
    groups: PromptGroups,
    base: _Parent,
    cfg: DataConfig,
    seed: int,
    with_parent: bool,
) -> dict[str, list[int]]:
    """The new pairs of each split. The pairs of one prompt go together; with a parent, a group whose prompt the
    parent has joins its split, and the others go to train and val (the parent's test split is frozen)."""
    forced: dict[str, list[int]] = {s: [] for s in SPLITS}
    free: list[int] = []
    kept_set = {i for i in range(len(pairs)) if i not in drop}
    grouped = {i for g in groups.together for i in g}
    for g in [*groups.together, *([i] for i in range(len(pairs)) if i not in grouped)]:
        members = [i for i in g if i in kept_set]
        if not members:
            continue
        home = next((base.splits[k] for i in members if (k := prompt_key(pairs[i]["prompt"])) in base.splits), None)
        if home is not None:
            forced[home] += members
        else:
            free += members
    free.sort()
    index = {i: n for n, i in enumerate(free)}
    together = [[index[i] for i in g if i in index] for g in groups.together]
    shares = {"train": cfg.split.train, "val": cfg.split.val, "test": cfg.split.test}
    if with_parent:
        rest = shares["train"] + shares["val"]
        shares = {"train": shares["train"] / rest, "val": shares["val"] / rest, "test": 0.0} if rest else {"train": 1.0}
    assignment = split_groups(
        [pairs[i] for i in free],
        [g for g in together if len(g) > 1],
        shares,
        seed,
        min_test=cfg.split.min_test if not with_parent else None,
    )
    return {s: sorted([free[n] for n in assignment[s]] + forced[s]) for s in SPLITS}


def _redact_pairs(
    pairs: list[dict[str, Any]], kept: list[int], cfg: DataConfig, key: PiiKey, warnings: list[str]
) -> tuple[list[dict[str, Any]], Counter[str]]:
    if cfg.pii == "off" or not kept:
        return [], Counter()
    views = [all_texts(pairs[i]) for i in kept]  # the message dicts are the pairs': redaction edits them
    log, pii_counts, recurring = redact(views, cfg, key.key)
    for i, v in zip(kept, views, strict=True):
        pairs[i]["meta"] = v["meta"]
    if recurring:
        warnings.append(f"kept {len(recurring)} PERSON value(s) as names of the deployer: {', '.join(recurring)}")
    return log, pii_counts


def prepare_preferences(
    paths: Sequence[str | Path],
    out_dir: str | Path,
    cfg: DataConfig,
    *,
    max_seq_len: int | None = None,
    seed: int = 0,
    tokenizer: Any = None,
    pii_key_file: str | Path | None = None,
    against: str | Path | None = None,
    parent: str | Path | None = None,
    overwrite: bool = False,
) -> PrepareResult:
    """Write train/val/test.jsonl of pairs, manifest.json, README.md and redactions.jsonl into `out_dir`, atomically.

    Copies of a pair are dropped (one kept) unless `cfg.dedup` is off; contradicting pairs per `cfg.conflicts`
    (keep keeps them, otherwise both go); pairs over `max_seq_len` (train.max_seq_len; its default if None) on
    either side are dropped; personal data is redacted as in SFT data, with the audit log; `against` (a prepared
    dataset or a test.jsonl) drops the pairs whose prompt is in that test split (`leakage`). The pairs of one
    prompt never straddle splits.

    With `parent` (a preference dataset written by an earlier prepare), the new version holds every parent pair
    unchanged and in its split (its test split is frozen); a new pair identical to a parent pair is dropped
    (`in_parent`), one whose prompt is in the parent's test split too (`leakage`), one whose prompt the parent
    has in train or val joins that split, and the others go to train and val in their proportion.
    """
    out_dir = Path(out_dir)
    max_seq_len = default_of(TrainConfig, "max_seq_len") if max_seq_len is None else max_seq_len
    check_output(out_dir, overwrite=overwrite, inputs=list(paths))
    loaded = load_preferences(paths)
    pairs = loaded.records
    if not pairs:
        raise no_valid_example(loaded.findings, list(loaded.formats) or [str(p) for p in paths])
    invalid = len({(f.file, f.lines[0]) for f in loaded.findings if f.lines})
    groups = prompt_groups(pairs, cfg.near_dup_threshold)
    drop, base = _pair_drops(pairs, groups, cfg, against, parent)
    warnings: list[str] = []
    key = PiiKey(Path(pii_key_file) if pii_key_file else out_dir.with_name(out_dir.name + ".pii-key"))
    if cfg.pii == "pseudonymize":
        key.key, key.new = load_key(key.path, out_dir)
    kept = [i for i in range(len(pairs)) if i not in drop]
    log, pii_counts = _redact_pairs(pairs, kept, cfg, key, warnings)
    counter = stats.TokenCounter(tokenizer)
    for side in SIDES:
        for i, t in zip(kept, counter.records([conversation(pairs[i], side) for i in kept]), strict=True):
            if t["total"] > max_seq_len:
                drop[i] = "too_long"  # a pair is not truncated: cutting one side would change what it prefers
    if cfg.too_long == "truncate" and "too_long" in drop.values():
        warnings.append(
            "pairs over train.max_seq_len are dropped, never truncated (data.too_long: truncate is for SFT)"
        )
    if len(drop) == len(pairs):
        raise DataError(
            "every pair was dropped", hint="loosen the dedup or conflicts options, or raise train.max_seq_len"
        )
    new_rows = _assign(pairs, drop, groups, base, cfg, seed, parent is not None)
    rows = {s: [*base.rows[s], *[_output_pair(pairs[i]) for i in new_rows[s]]] for s in SPLITS}
    dropped = Counter(drop.values())
    counts: dict[str, Any] = {
        "kind": "preference",
        "input": loaded.lines_read,
        "valid": len(pairs),
        "dropped": {k: v for k, v in {"invalid": invalid, **dict(sorted(dropped.items()))}.items() if v},
        **{s: len(rows[s]) for s in SPLITS},
        "redacted": dict(sorted(pii_counts.items())),
    }
    if parent is not None:
        counts["parent"] = {"dataset_hash": base.dataset_hash, **{s: len(base.rows[s]) for s in SPLITS}}
        counts["new"] = {s: len(new_rows[s]) for s in SPLITS}
    options = {
        **cfg.model_dump(mode="json", exclude={"paths", "pii_name_sample", "embedding_sample", "columns", "format"}),
        "kind": "preference",
        "max_seq_len": max_seq_len,
        "seed": seed,
        "tokenizer": counter.method,
        "pii_allow": sorted(cfg.pii_allow),
        **({"against": str(against)} if against is not None else {}),
        **({"parent_dataset_hash": base.dataset_hash} if parent is not None else {}),
    }
    sources = [{"file": Path(p).name, "format": f, "sha256": sha256_file(p)} for p, f in loaded.formats.items()]
    extra = {
        "kind": "preference",
        "sources": sources,
        "warnings": warnings,
        **({"parent": {"path": str(parent), "dataset_hash": base.dataset_hash}} if parent is not None else {}),
    }
    digest = write_dataset(
        out_dir,
        rows,
        options=options,
        log=log,
        card=lambda digest: pair_card(counts, cfg, seed, digest, sources),
        manifest={"inputs": list(paths), "counts": counts, "extra": extra},
        pii_key=key,
        overwrite=overwrite,
    )
    return PrepareResult(out_dir=out_dir, counts=counts, dataset_hash=digest, warnings=warnings)


def is_preference_data(paths: Sequence[str | Path]) -> bool:
    """Whether the files hold preference pairs rather than conversations (records.kind_of)."""
    return kind_of(paths) == "preference"
