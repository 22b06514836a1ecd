"""Exact duplicates, near duplicates (MinHash LSH) and conflicting answers.

Near duplicates are judged on the normalised user turns only: two examples that ask the same thing are the same
training signal (or, with different answers, a contradiction), whatever the answer says. Prompts in chat data are
short, so shingles are character 3-grams: one changed word in a twelve-word prompt leaves a word-3-gram Jaccard
near 0.5 and a character-5-gram Jaccard near 0.8. In benchmarks/data_check.py, 89% of the planted pairs reach a
Jaccard of 0.8 over character 5-grams, 97% over character 3-grams; unrelated prompts stay far below either way.
Candidates come from datasketch's MinHashLSH (banding, so near-linear) at a threshold CANDIDATE_MARGIN below the
target, so that MinHash noise loses few true pairs; each candidate pair is then verified with the exact Jaccard of
its shingle sets. No pair is ever compared all-against-all.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

NUM_PERM = 128
SHINGLE = 3
CANDIDATE_MARGIN = 0.15
# Answers to the same prompt are "materially different" when their word sets overlap less than this, or when
# they state different numbers (14 vs 30 days) or one negates what the other does not.
ANSWER_SIMILARITY = 0.5
_NEGATIONS = frozenset("not no never cannot can't won't don't doesn't isn't aren't unable".split())
_WORD = re.compile(r"[\w']+")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


def normalize(text: str) -> str:
    """Lowercase, punctuation to spaces, whitespace collapsed."""
    return " ".join(_WORD.findall(text.lower()))


def exact_key(record: dict[str, Any]) -> str:
    """The conversation after normalising whitespace and case: equal keys are exact duplicates."""
    h = hashlib.sha256()
    for m in record["messages"]:
        h.update(f"{m['role']}\x1f{' '.join(m['content'].lower().split())}\x1e".encode())
    return h.hexdigest()


def user_text(record: dict[str, Any]) -> str:
    return normalize(" ".join(m["content"] for m in record["messages"] if m["role"] == "user"))


def answer_text(record: dict[str, Any]) -> str:
    return " ".join(m["content"] for m in record["messages"] if m["role"] == "assistant")


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
    for g in near_groups([user_text(r) for r in records], threshold):
        if len({keys[i] for i in g}) < 2:
            continue
        parts = answer_groups([answer_text(records[i]) for i in g])
        out.append(Cluster(members=g, answers=[[g[i] for i in p] for p in parts]))
    return out
