"""The conversation steps of `data prepare`: duplicates and conflicts among the user turns, truncation by whole
turns, held-out files and a parent version, and what the manifest and the card say about them."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from tunesmith.config import DataConfig
from tunesmith.data import dedup, pii, stats
from tunesmith.data.redact import redact
from tunesmith.data.sources import HeldOut, Parent
from tunesmith.data.split import SPLITS, split_groups
from tunesmith.data.store import PiiKey, input_sources, output_row, unique_ids
from tunesmith.errors import DataError
from tunesmith.records import has_tool_call

ROW = ("messages",)  # what a written example holds besides its tools and meta

# Why an example is left out, in the order the counts and the dataset card list them.
DROP_REASONS = (
    "exact_duplicate",
    "near_duplicate",
    "conflict",
    "too_long",
    "in_parent",
    "in_test_paths",
    "in_val_paths",
    "problematic_language",
)


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


def _turns(messages: list[dict[str, Any]]) -> list[int]:
    """Where each user turn starts. A turn runs to the next user message: the user's question and the whole
    assistant step that answers it (tool calls, their results and the answer), which is never cut apart."""
    return [i for i, m in enumerate(messages) if m["role"] == "user"]


def truncate(record: dict[str, Any], counter: stats.TokenCounter, max_len: int) -> bool:
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


@dataclass
class Plan:
    """What happens to each loaded example: why it is dropped, and the groups that must share a split."""

    drop: dict[int, str]
    together: list[list[int]]
    warnings: list[str] = field(default_factory=list)


def drops(
    records: list[dict[str, Any]], base: Parent | None, cfg: DataConfig
) -> tuple[dict[int, str], list[list[int]]]:
    """Duplicates and conflicts among the new examples, and (with a parent) the new ones tied to a parent's."""
    if base is None:
        return _resolve_conflicts_and_dups(records, cfg)
    unique_ids(records, {str(r.get("meta", {}).get("id")) for r in base.records})
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
    return drop, together


def redact_kept(
    records: list[dict[str, Any]], kept: list[int], held: HeldOut, base: Parent | None, cfg: DataConfig, key: PiiKey
) -> tuple[list[dict[str, Any]], Counter[str], list[str], list[str]]:
    """The audit log, the counts by entity, the warnings, and the values kept as the deployer's names and contacts."""
    if cfg.pii == "off":
        return [], Counter(), [], []
    log, pii_counts, recurring = redact(  # the held-out examples with the rest: one sweep, one numbering
        [records[i] for i in kept] + held.all(),
        cfg,
        key.key,
        numbered_from=base.highest_pseudonyms() if base is not None else None,
    )
    warnings = []
    if recurring:
        warnings.append(
            f"kept {len(recurring)} value(s) as the organisation's, product's or persona's own name or contact: "
            f"{', '.join(recurring)} (keep_recurring_names=False, keep_recurring_contacts=False redact them)"
        )
    if names := pii.names_warning():
        warnings.append(names)
    return log, pii_counts, warnings, recurring


def fit_lengths(
    records: list[dict[str, Any]],
    kept: list[int],
    held: HeldOut,
    plan: Plan,
    cfg: DataConfig,
    max_seq_len: int,
    counter: stats.TokenCounter,
) -> int:
    """Truncate or drop what is over `max_seq_len` (data.too_long); held-out examples are only warned about."""
    truncated = 0
    for i, t in zip(kept, counter.records([records[i] for i in kept]), strict=True):
        if t["total"] <= max_seq_len:
            continue
        if cfg.too_long == "truncate" and truncate(records[i], counter, max_seq_len):
            records[i]["meta"]["truncated"] = True
            truncated += 1
        else:
            plan.drop[i] = "too_long"
    if truncated:
        plan.warnings.append(f"{truncated} example(s) truncated to {max_seq_len} tokens ({counter.method})")
    for s in held.loaded:  # kept as they are: an evaluation runs on exactly these files
        over = sum(t["total"] > max_seq_len for t in counter.records(held.records(s)))
        if over:
            plan.warnings.append(
                f"{over} example(s) of data.{s}_paths are over {max_seq_len} tokens; kept as they are (held out)"
            )
    return truncated


def split(
    records: list[dict[str, Any]], plan: Plan, held: HeldOut, base: Parent | None, cfg: DataConfig, seed: int
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, list[int]], dict[str, float]]:
    """The rows of each split (the parent's first, then the new examples, then the held-out files'), the new
    examples' assignment, and the shares used."""
    kept = [i for i in range(len(records)) if i not in plan.drop]
    if not kept:
        raise DataError("every example was dropped", hint="loosen the dedup, conflicts or too_long options")
    kept_set = set(kept)
    groups = [[i for i in g if i in kept_set] for g in plan.together]
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
        rows[s] += [output_row(records[kept[n]], ROW) for n in assignment[s]]
        rows[s] += [output_row(r, ROW) for r in held.records(s)]  # in file order, none left out
    return rows, assignment, shares


def sources(
    formats: dict[str, str], held: HeldOut, base: Parent | None, shares: dict[str, float]
) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """The manifest's sources (the inputs, then the held-out files) and where each split came from: its own files
    (data.test_paths, data.val_paths), or a share of data.paths (and, in a new version, the parent's)."""
    sources = input_sources(formats)
    held_sources = {s: [{**src, "split": s} for src in input_sources(h.formats)] for s, h in held.loaded.items()}
    sources += [src for s in SPLITS for src in held_sources.get(s, [])]
    splits: dict[str, dict[str, Any]] = {}
    for s in SPLITS:
        if s in held_sources:
            files = [{k: v for k, v in f.items() if k != "split"} for f in held_sources[s]]
            splits[s] = {"from": f"data.{s}_paths", "files": files}
        elif base is not None:
            splits[s] = {"from": "parent" if s == "test" else "parent and data.paths"}
        else:
            splits[s] = {"from": "data.paths", "share": shares.get(s, 0.0)}
    return sources, splits


def counts(
    lines_read: int,
    records: list[dict[str, Any]],
    invalid: int,
    plan: Plan,
    truncated: int,
    held: HeldOut,
    rows: dict[str, list[dict[str, Any]]],
    pii_counts: Counter[str],
    base: Parent | None,
    assignment: dict[str, list[int]],
) -> dict[str, Any]:
    dropped = Counter(plan.drop.values())
    counts: dict[str, Any] = {
        "input": lines_read + sum(h.lines_read for h in held.loaded.values()),
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
        counts["parent"] = {"dataset_hash": base.dataset_hash, **{s: base.splits.count(s) for s in SPLITS}}
        counts["new"] = {s: len(assignment[s]) for s in SPLITS}
    return counts


def options(
    cfg: DataConfig, held: HeldOut, max_seq_len: int, seed: int, tokenizer: str, base: Parent | None
) -> dict[str, Any]:
    """What the dataset hash covers besides the rows: every setting that changes them."""
    return {
        **cfg.model_dump(
            mode="json", exclude={"paths", "test_paths", "val_paths", "pii_name_sample", "embedding_sample"}
        ),
        # By name, as the sources: a dataset's hash must not depend on where its inputs lay.
        **{f"{s}_files": [p.name for p in files] for s, files in held.files.items()},
        "max_seq_len": max_seq_len,
        "seed": seed,
        "tokenizer": tokenizer,
        "pii_allow": sorted(cfg.pii_allow),
        "columns": dict(sorted(cfg.columns.items())),
        **({"parent_dataset_hash": base.dataset_hash} if base is not None else {}),
    }


def held_out_warning(duplicates: list[dict[str, Any]]) -> str:
    shown = ", ".join(f"{f['source']['file']}:{f['source']['line']}" for f in duplicates[:10])
    more = f" and {len(duplicates) - 10} more" if len(duplicates) > 10 else ""
    return (
        f"dropped {len(duplicates)} example(s) that duplicate or nearly duplicate an example of "
        f"data.test_paths or data.val_paths ({shown}{more}); the manifest's held_out_duplicates lists them"
    )
