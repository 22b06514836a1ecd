"""A preference pair seen by the conversation tools and grouped by its prompt: the views that let tokens, PII and
refusals apply to pairs, and the groups (copies, same prompt, near-same prompt, contradictions) that decide
dedup and leak-free splits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tunesmith.artifacts import read_jsonl
from tunesmith.data import dedup
from tunesmith.errors import DataError
from tunesmith.records import messages_key as _key

# ----------------------------------------------------------------------------------------------------------------
# Views: a pair as the conversations it trains on, so the conversation tools (tokens, PII, refusals) apply.


def conversation(pair: dict[str, Any], side: str) -> dict[str, Any]:
    """The prompt and one side as a conversation record (the message dicts are shared, not copied)."""
    return {"messages": [*pair["prompt"], *pair[side]], "meta": pair["meta"]}


def all_texts(pair: dict[str, Any]) -> dict[str, Any]:
    """Every message of a pair in one record, for the PII scan and redaction (shared message dicts)."""
    return {"messages": [*pair["prompt"], *pair["chosen"], *pair["rejected"]], "meta": pair["meta"]}


def prompt_key(messages: Sequence[dict[str, Any]]) -> str:
    """What pairs are grouped by: the prompt's user turns after normalising whitespace and case."""
    return dedup.normalize(" ".join(m.get("content") or "" for m in messages if m.get("role") == "user"))


def test_prompts(path: str | Path) -> set[str]:
    """The prompt keys of a test split: a prepared dataset directory (its test.jsonl), or a JSONL file of
    conversations (the turns before the last answer) or of pairs."""
    path = Path(path)
    file = path / "test.jsonl" if path.is_dir() else path
    if not file.is_file():
        raise DataError(f"no test split at {path}", hint="pass a prepared dataset directory or a test.jsonl")
    keys = set()
    for row in read_jsonl(file):
        if isinstance(row.get("prompt"), list):
            keys.add(prompt_key(row["prompt"]))
        elif isinstance(row.get("messages"), list):
            msgs = row["messages"]
            last = max((i for i, m in enumerate(msgs) if m.get("role") == "assistant"), default=len(msgs))
            keys.add(prompt_key(msgs[:last]))
    keys.discard("")
    return keys


@dataclass
class PromptGroups:
    identical: list[list[int]]  # the same prompt, chosen and rejected: copies
    same_prompt: list[list[int]]  # the same prompt (normalised), two or more pairs
    near: list[list[int]]  # near-same prompts (MinHash), not the same
    conflicts: list[list[int]]  # one pair's chosen is another's rejected, for the same prompt
    together: list[list[int]] = field(default_factory=list)  # what must stay in one split


def prompt_groups(pairs: Sequence[dict[str, Any]], threshold: float) -> PromptGroups:
    full: dict[tuple[Any, ...], list[int]] = {}
    by_prompt: dict[str, list[int]] = {}
    for i, p in enumerate(pairs):
        full.setdefault((_key(p["prompt"]), _key(p["chosen"]), _key(p["rejected"])), []).append(i)
        by_prompt.setdefault(prompt_key(p["prompt"]), []).append(i)
    identical = [g for g in full.values() if len(g) > 1]
    same = [g for g in by_prompt.values() if len(g) > 1]
    conflicts = []
    for g in same:
        sides = {i: (_key(pairs[i]["chosen"]), _key(pairs[i]["rejected"])) for i in g}
        present = set(sides.values())
        flipped = [i for i in g if (sides[i][1], sides[i][0]) in present]
        if flipped:
            conflicts.append(flipped)
    uf = dedup._UnionFind(len(pairs))
    for g in same:
        for i in g[1:]:
            uf.union(g[0], i)
    keys = [prompt_key(p["prompt"]) for p in pairs]
    near = []
    for g in dedup.near_groups(keys, threshold) if pairs else []:
        if len({keys[i] for i in g}) > 1:
            near.append(g)
        for i in g[1:]:
            uf.union(g[0], i)
    return PromptGroups(identical, same, near, conflicts, uf.groups())
