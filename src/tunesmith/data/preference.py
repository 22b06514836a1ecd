"""Preference pairs as a data kind (`data.kinds.DataKind`; DESIGN.md, "Preference record").

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

from tunesmith.config import DataConfig
from tunesmith.data import findings, pii, stats
from tunesmith.data.card import pair_card
from tunesmith.data.findings import Measured, PiiScan, group_finding
from tunesmith.data.pair_keys import PromptGroups, all_texts, conversation, prompt_groups, prompt_key, test_prompts
from tunesmith.data.redact import decision, redact
from tunesmith.data.split import SPLITS, split_groups
from tunesmith.data.store import PiiKey, input_sources, output_row, read_prepared, unique_ids
from tunesmith.errors import DataError
from tunesmith.records import (
    Finding,
    LoadResult,
    RecordKind,
    kind_of,
    load_preferences,
    parse_transcript,
)
from tunesmith.records import messages_key as _key

__all__ = ["PreferencePairs", "is_preference_data", "load_preferences", "parse_transcript"]

SIDES = ("chosen", "rejected")
ROW = ("prompt", *SIDES)  # what a written pair holds besides its tools and meta
Tokens = dict[str, list[dict[str, int]]]  # per side, per pair: by role and in total


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


# ----------------------------------------------------------------------------------------------------------------
# Prepare


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
    pairs: list[dict[str, Any]],
    kept: list[int],
    cfg: DataConfig,
    key: PiiKey,
    warnings: list[str],
    kept_names: list[str],
) -> tuple[list[dict[str, Any]], Counter[str]]:
    if cfg.pii == "off" or not kept:
        return [], Counter()
    views = [all_texts(pairs[i]) for i in kept]  # the message dicts are the pairs': redaction edits them
    log, pii_counts, recurring = redact(views, cfg, key.key)
    for i, v in zip(kept, views, strict=True):
        pairs[i]["meta"] = v["meta"]
    if recurring:
        warnings.append(f"kept {len(recurring)} value(s) as the deployer's names or contacts: {', '.join(recurring)}")
        kept_names += recurring
    return log, pii_counts


def is_preference_data(paths: Sequence[str | Path]) -> bool:
    """Whether the files hold preference pairs rather than conversations (records.kind_of)."""
    return kind_of(paths) == "preference"


class PreferencePairs:
    """One run of check or prepare over preference pairs, grouped by their prompt; `against` is a test split (a
    prepared dataset or a test.jsonl) whose prompts the pairs must not hold, `parent` an earlier preference
    dataset. Prepare's steps keep what they learn (the groups, the parent) for the steps after them."""

    name: RecordKind = "preference"

    def __init__(self, cfg: DataConfig, *, against: str | Path | None = None, parent: str | Path | None = None) -> None:
        self.cfg = cfg
        self.against = against
        self.parent = parent
        self.warnings: list[str] = []
        self.pii_kept: list[str] = []  # values redaction kept as the deployer's names and contacts (manifest `pii`)
        self.groups = PromptGroups([], [], [], [])
        self.drop: dict[int, str] = {}
        self.base = _Parent()
        self.new_rows: dict[str, list[int]] = {}

    # -- check

    def load_all(self, paths: Sequence[str | Path]) -> LoadResult:
        return load_preferences(paths)

    def count_tokens(self, counter: stats.TokenCounter, pairs: list[dict[str, Any]]) -> Tokens:
        return {side: counter.records([conversation(p, side) for p in pairs]) for side in SIDES}

    def too_long(self, pairs: list[dict[str, Any]], tokens: Tokens, max_seq_len: int) -> list[Finding]:
        return _too_long(pairs, tokens, max_seq_len)

    def group_findings(self, pairs: list[dict[str, Any]]) -> list[Finding]:
        threshold = self.cfg.near_dup_threshold
        found = _group_findings(pairs, prompt_groups(pairs, threshold), threshold)
        return found + (_leakage(pairs, self.against) if self.against is not None else [])

    def pii_views(self, pairs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [all_texts(p) for p in pairs]

    def pii_notes(self, pairs: list[dict[str, Any]], scan: PiiScan) -> list[str]:
        names = pii.names_warning()
        return [names] if names else []

    def dataset_findings(self, pairs: list[dict[str, Any]], *, diversity: bool) -> tuple[list[Finding], dict[str, Any]]:
        n = len(pairs)
        if n >= stats.FEW_EXAMPLES:
            return [], {}
        message = f"only {n} pairs: DPO moves a model with a few hundred pairs; aim for at least {stats.FEW_EXAMPLES}"
        return [Finding("too_few_examples", "warning", [], message)], {}

    def check_stats(self, m: Measured) -> dict[str, Any]:
        pii_counts = m.scan.counts if m.scan is not None else None
        return _pair_stats(m.loaded, m.found, m.tokens, m.counter, m.max_seq_len, pii_counts, self.cfg)

    # -- prepare: copies, conflicts and leaks are dropped; a pair over the length is dropped, never truncated.

    def inputs(self, paths: Sequence[str | Path]) -> list[str | Path]:
        return list(paths)

    def load_inputs(self, paths: Sequence[str | Path]) -> LoadResult:
        return load_preferences(paths)

    def plan_drops(self, pairs: list[dict[str, Any]]) -> dict[int, str]:
        self.groups = prompt_groups(pairs, self.cfg.near_dup_threshold)
        self.drop, self.base = _pair_drops(pairs, self.groups, self.cfg, self.against, self.parent)
        return self.drop

    def redact(
        self, pairs: list[dict[str, Any]], kept: list[int], key: PiiKey
    ) -> tuple[list[dict[str, Any]], Counter[str]]:
        return _redact_pairs(pairs, kept, self.cfg, key, self.warnings, self.pii_kept)

    def fit_lengths(
        self, pairs: list[dict[str, Any]], kept: list[int], counter: stats.TokenCounter, max_seq_len: int
    ) -> None:
        for side in SIDES:
            for i, t in zip(kept, counter.records([conversation(pairs[i], side) for i in kept]), strict=True):
                if t["total"] > max_seq_len:
                    self.drop[i] = "too_long"  # a pair is not truncated: cutting one side would change what it prefers
        if self.cfg.too_long == "truncate" and "too_long" in self.drop.values():
            self.warnings.append(
                "pairs over train.max_seq_len are dropped, never truncated (data.too_long: truncate is for SFT)"
            )

    def split(self, pairs: list[dict[str, Any]], seed: int) -> dict[str, list[dict[str, Any]]]:
        if len(self.drop) == len(pairs):
            raise DataError(
                "every pair was dropped", hint="loosen the dedup or conflicts options, or raise train.max_seq_len"
            )
        self.new_rows = _assign(pairs, self.drop, self.groups, self.base, self.cfg, seed, self.parent is not None)
        return {s: [*self.base.rows[s], *[output_row(pairs[i], ROW) for i in self.new_rows[s]]] for s in SPLITS}

    def counts(
        self, loaded: LoadResult, rows: dict[str, list[dict[str, Any]]], pii_counts: Counter[str]
    ) -> dict[str, Any]:
        invalid = len({(f.file, f.lines[0]) for f in loaded.findings if f.lines})
        dropped = Counter(self.drop.values())
        counts: dict[str, Any] = {
            "kind": "preference",
            "input": loaded.lines_read,
            "valid": len(loaded.records),
            "dropped": {k: v for k, v in {"invalid": invalid, **dict(sorted(dropped.items()))}.items() if v},
            **{s: len(rows[s]) for s in SPLITS},
            "redacted": dict(sorted(pii_counts.items())),
        }
        if self.parent is not None:
            counts["parent"] = {"dataset_hash": self.base.dataset_hash, **{s: len(self.base.rows[s]) for s in SPLITS}}
            counts["new"] = {s: len(self.new_rows[s]) for s in SPLITS}
        return counts

    def options(self, max_seq_len: int, seed: int, tokenizer: str) -> dict[str, Any]:
        excluded = {"paths", "pii_name_sample", "embedding_sample", "columns", "format"}
        return {
            **self.cfg.model_dump(mode="json", exclude=excluded),
            "kind": "preference",
            "max_seq_len": max_seq_len,
            "seed": seed,
            "tokenizer": tokenizer,
            "pii_allow": sorted(self.cfg.pii_allow),
            **({"against": str(self.against)} if self.against is not None else {}),
            **({"parent_dataset_hash": self.base.dataset_hash} if self.parent is not None else {}),
        }

    def extra(self, formats: dict[str, str]) -> dict[str, Any]:
        parent = self.parent
        return {
            "kind": "preference",
            "sources": input_sources(formats),
            "warnings": self.warnings,
            "pii": decision(self.cfg, self.pii_kept),
            **({"parent": {"path": str(parent), "dataset_hash": self.base.dataset_hash}} if parent is not None else {}),
        }

    def card(
        self,
        counts: dict[str, Any],
        max_seq_len: int,
        seed: int,
        digest: str,
        sources: list[dict[str, Any]],
        pii_counts: Counter[str],
    ) -> str:
        return pair_card(counts, self.cfg, seed, digest, sources)
