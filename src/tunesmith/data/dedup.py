"""Exact duplicates, near duplicates (MinHash LSH) and conflicting answers.

Near duplicates are judged on the normalised user turns only (in a tool-calling conversation, with its calls and
tool results, see `prompt_text`): two examples that ask the same thing are the same training signal (or, with
different answers, a contradiction), whatever the answer says. Prompts in chat data are
short, so shingles are character 3-grams: one changed word in a twelve-word prompt leaves a word-3-gram Jaccard
near 0.5 and a character-5-gram Jaccard near 0.8. In benchmarks/data_check.py, 89% of the planted pairs reach a
Jaccard of 0.8 over character 5-grams, 97% over character 3-grams; unrelated prompts stay far below either way.
Candidates come from datasketch's MinHashLSH (banding, so near-linear) at a threshold CANDIDATE_MARGIN below the
target, so that MinHash noise loses few true pairs; each candidate pair is then verified with the exact Jaccard of
its shingle sets. No pair is ever compared all-against-all.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tunesmith.records import normalize as normalize  # dedup.normalize is the data package's name for it

NUM_PERM = 128
SHINGLE = 3
CANDIDATE_MARGIN = 0.15
# Answers to the same prompt are "materially different" when their word sets overlap less than this, or when
# they state different numbers (14 vs 30 days) or one negates what the other does not.
ANSWER_SIMILARITY = 0.5
_NEGATIONS = frozenset("not no never cannot can't won't don't doesn't isn't aren't unable".split())
_WORD = re.compile(r"[\w']+")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


def _squash(text: str) -> str:
    return " ".join(text.lower().split())


def _arguments_key(arguments: Any) -> str:
    """A call's arguments, the same however the JSON was spaced or its keys ordered."""
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except ValueError:
            return _squash(arguments)
    return _squash(json.dumps(arguments, sort_keys=True, ensure_ascii=False))


def tool_calls(message: dict[str, Any]) -> list[tuple[str, str]]:
    """(name, arguments key) of each tool or function call of a message; the call ids are left out (they are
    arbitrary, so two conversations that differ only by them are still duplicates)."""
    calls = [c.get("function") for c in message.get("tool_calls") or [] if isinstance(c, dict)]
    if isinstance(message.get("function_call"), dict):
        calls.append(message["function_call"])
    return [(str(c.get("name", "")), _arguments_key(c.get("arguments", ""))) for c in calls if isinstance(c, dict)]


def exact_key(record: dict[str, Any]) -> str:
    """The conversation after normalising whitespace and case: equal keys are exact duplicates.

    Tool calls (names and arguments), the name of a function result and the tool definitions are part of it: two
    conversations that differ only in what they call are different examples.
    """
    h = hashlib.sha256()
    for m in record["messages"]:
        h.update(f"{m['role']}\x1f{_squash(m.get('content') or '')}\x1e".encode())
        for name, arguments in tool_calls(m):
            h.update(f"call\x1f{name}\x1f{arguments}\x1e".encode())
        if m["role"] in ("tool", "function") and m.get("name"):
            h.update(f"name\x1f{m['name']}\x1e".encode())
    for key in ("tools", "functions", "parallel_tool_calls"):
        if record.get(key) is not None:
            h.update(f"{key}\x1f{json.dumps(record[key], sort_keys=True)}\x1e".encode())
    return h.hexdigest()


def user_text(record: dict[str, Any]) -> str:
    return normalize(" ".join(m["content"] for m in record["messages"] if m["role"] == "user"))


def prompt_text(record: dict[str, Any]) -> str:
    """What near duplicates are judged on: the user turns, and in a tool-calling conversation also the calls
    (names and arguments) and the tool results. Two conversations that ask the same thing but call different tools
    are not duplicates; and an answer that differs because the tool returned something else is no conflict."""
    parts = []
    for m in record["messages"]:
        if m["role"] in ("user", "tool", "function"):
            parts.append(m.get("content") or "")
        for name, arguments in tool_calls(m):
            parts.append(f"{name} {arguments}")
    return normalize(" ".join(parts))


def tool_signature(record: dict[str, Any]) -> tuple[Any, ...]:
    """The tool steps of a conversation: each call (name, arguments) and each tool result, normalised; () without
    tools. Near-same prompts with different signatures are not near duplicates, and not conflicts either: a
    different call is a different example, and a different tool result explains a different answer."""
    steps: list[Any] = []
    for m in record["messages"]:
        steps.extend(tool_calls(m))
        if m["role"] in ("tool", "function"):
            steps.append((m["role"], str(m.get("name") or ""), _squash(m.get("content") or "")))
    return tuple(steps)


def answer_text(record: dict[str, Any]) -> str:
    return " ".join(m["content"] for m in record["messages"] if m["role"] == "assistant" and m.get("content"))


def exact_groups(records: Sequence[dict[str, Any]]) -> list[list[int]]:
    """Groups (of record indices, in input order) of two or more exact duplicates."""
    by_key: dict[str, list[int]] = {}
    for i, r in enumerate(records):
        by_key.setdefault(exact_key(r), []).append(i)
    return [g for g in by_key.values() if len(g) > 1]


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)

    def groups(self) -> list[list[int]]:
        out: dict[int, list[int]] = {}
        for i in range(len(self.parent)):
            out.setdefault(self.find(i), []).append(i)
        return [g for g in out.values() if len(g) > 1]


def _shingles(text: str) -> set[bytes]:
    if len(text) <= SHINGLE:
        return {text.encode()}
    return {text[i : i + SHINGLE].encode() for i in range(len(text) - SHINGLE + 1)}


def near_groups(texts: Sequence[str], threshold: float, *, num_perm: int = NUM_PERM) -> list[list[int]]:
    """Connected groups of texts whose estimated Jaccard similarity is at least `threshold`.

    Identical texts are merged before hashing, so a thousand copies of "hi" cost one MinHash.
    """
    from datasketch import MinHashLSH
    from datasketch.lean_minhash import LeanMinHash
    from datasketch.minhash import MinHash

    uf = _UnionFind(len(texts))
    first: dict[str, int] = {}
    for i, t in enumerate(texts):
        if t:
            j = first.setdefault(t, i)
            if j != i:
                uf.union(j, i)
    keys = list(first.values())
    # Shingle sets are made one at a time and dropped once hashed: kept for every text, they took ~10 KB each (about
    # 10 GB at a million conversations), and only candidate pairs need them again.
    hashes = [LeanMinHash(m) for m in MinHash.generator((_shingles(texts[i]) for i in keys), num_perm=num_perm)]
    lsh = MinHashLSH(threshold=max(0.3, threshold - CANDIDATE_MARGIN), num_perm=num_perm)
    with lsh.insertion_session() as session:
        for key, m in zip(keys, hashes, strict=True):
            session.insert(key, m, check_duplication=False)
    for key, m in zip(keys, hashes, strict=True):
        candidates = [other for other in lsh.query(m) if other > key]
        a = _shingles(texts[key]) if candidates else set()
        for other in candidates:
            b = _shingles(texts[other])
            if len(a & b) >= threshold * len(a | b):
                uf.union(key, other)
    return uf.groups()


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


def answers_agree(a: str, b: str, *, similarity: float = ANSWER_SIMILARITY) -> bool:
    wa, wb = _words(a), _words(b)
    if set(_NUMBER.findall(a)) != set(_NUMBER.findall(b)):
        return False
    if bool(wa & _NEGATIONS) != bool(wb & _NEGATIONS):
        return False
    union = wa | wb
    return not union or len(wa & wb) / len(union) >= similarity


def answer_groups(answers: Sequence[str]) -> list[list[int]]:
    """Partition answers (indices) into groups that agree with the group's first answer, largest first.

    Greedy rather than optimal: groups come from near-duplicate prompts, so they are small.
    """
    groups: list[list[int]] = []
    for i, a in enumerate(answers):
        for g in groups:
            if answers_agree(answers[g[0]], a):
                g.append(i)
                break
        else:
            groups.append([i])
    return sorted(groups, key=lambda g: (-len(g), g[0]))


@dataclass
class Cluster:
    """Examples with the same or near-same prompt. `answers` partitions `members` by agreeing answers."""

    members: list[int]
    answers: list[list[int]]

    @property
    def conflict(self) -> bool:
        return len(self.answers) > 1


def clusters(records: Sequence[dict[str, Any]], threshold: float) -> list[Cluster]:
    """Near-duplicate prompt groups with their answer partition, in input order.

    A group made only of exact duplicates is left out: `exact_groups` reports it.
    """
    out = []
    keys = [exact_key(r) for r in records]
    signatures = [tool_signature(r) for r in records]
    for near in near_groups([prompt_text(r) for r in records], threshold):
        for g in _split_by(near, signatures):
            if len(g) < 2 or len({keys[i] for i in g}) < 2:
                continue
            parts = answer_groups([answer_text(records[i]) for i in g])
            out.append(Cluster(members=g, answers=[[g[i] for i in p] for p in parts]))
    return out


def _split_by(group: list[int], signatures: Sequence[Any]) -> list[list[int]]:
    """The members of a group with the same signature, in input order."""
    parts: dict[Any, list[int]] = {}
    for i in group:
        parts.setdefault(signatures[i], []).append(i)
    return list(parts.values())


def linked_groups(records: Sequence[dict[str, Any]], threshold: float) -> list[list[int]]:
    """Groups (2+) of records tied by an exact duplicate or a near-same prompt, whatever their answers: what must
    not straddle two splits, and what a held-out test example must not have in train."""
    uf = _UnionFind(len(records))
    for g in exact_groups(records):
        for i in g[1:]:
            uf.union(g[0], i)
    for c in clusters(records, threshold):
        for i in c.members[1:]:
            uf.union(c.members[0], i)
    return uf.groups()
