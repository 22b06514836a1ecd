"""Refusal coverage: are there enough "I don't know" examples to teach the model where its knowledge ends?

`refusal_share` warns when refusals are too many (the model then refuses too often). This is the other side: too
few refusals for the number of topics the data covers, and the fine-tune answers out-of-scope questions in the
organisation's own voice, inventing policy. What we measured on SmolLM2-135M (docs/data.md):

| data | refusals | out-of-scope test questions declined |
|---|---:|---:|
| support desk, before its near-domain refusals | 11% | 8 of 11 |
| support desk as shipped | 22% | 11 of 11 |
| an HR-policy assistant | 8% | 2 of 10 |

So the target is 15% of the examples, and at least REFUSALS_PER_TOPIC per topic. Topics are the examples' first
topic tags when they have them, otherwise clusters of the user turns (TF-IDF and k-means, k chosen by silhouette).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from tunesmith.data import dedup
from tunesmith.data.near_domain import near_domain_questions, near_domain_refusals
from tunesmith.data.stats import is_refusal
from tunesmith.records import Finding

TARGET_SHARE = 0.15
REFUSALS_PER_TOPIC = 3
# Tags that say what an example is for, not what it is about.
NOT_TOPICS = frozenset({"refusal", "out_of_scope", "negative", "generated", "needs_review", "near_domain"})
MAX_TOPICS = 15
MIN_EXAMPLES = 50  # below this the data is a sketch (too_few_examples says so), and shares mean little


@dataclass(frozen=True)
class Coverage:
    examples: int
    refusals: int
    topics: int
    topics_from: Literal["tags", "clusters", "none"]
    target: int
    missing: int  # refusals to add to reach the target (0 when covered)


def _user_text(record: dict[str, Any]) -> str:
    return " ".join(
        m["content"]
        for m in record.get("messages", [])
        if m.get("role") == "user" and isinstance(m.get("content"), str)
    )


def _topic_tags(records: Sequence[dict[str, Any]]) -> set[str]:
    """Each example's first tag that names a subject: `[cards, lost_card]` is about cards, so fine-grained second
    tags (intents) do not count as topics of their own."""
    tags: set[str] = set()
    for r in records:
        meta_tags = (r.get("meta") or {}).get("tags") or []
        first = next((t for t in meta_tags if isinstance(t, str) and t not in NOT_TOPICS), None)
        if first is not None:
            tags.add(first)
    return tags


def count_clusters(texts: Sequence[str], *, seed: int = 0) -> int:
    """How many topics the texts fall into: the k (2..MAX_TOPICS) of the best silhouette of k-means on TF-IDF."""
    if len(texts) < 20:
        return 1
    from sklearn.cluster import KMeans
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.metrics import silhouette_score

    matrix = TfidfVectorizer(stop_words="english", min_df=2).fit_transform(texts)
    if matrix.shape[1] < 2:
        return 1
    best_k, best = 1, -1.0
    for k in range(2, min(MAX_TOPICS, len(texts) // 10) + 1):
        labels = KMeans(n_clusters=k, n_init=4, random_state=seed).fit_predict(matrix)
        score = float(silhouette_score(matrix, labels, random_state=seed))
        if score > best:
            best_k, best = k, score
    return best_k


def refusal_coverage(records: Sequence[dict[str, Any]], refusals: Sequence[int]) -> Coverage:
    """`refusals` are the indices of the records whose answer declines (the check's refusal detector)."""
    n, r = len(records), len(refusals)
    refused = set(refusals)
    in_scope = [rec for i, rec in enumerate(records) if i not in refused]
    tags = _topic_tags(in_scope)
    source: Literal["tags", "clusters", "none"] = "tags"
    if len(tags) >= 2:
        topics = len(tags)
    else:
        topics = count_clusters([_user_text(rec) for rec in in_scope])
        source = "clusters" if topics > 1 else "none"
    by_share = math.ceil(max(0.0, TARGET_SHARE * n - r) / (1 - TARGET_SHARE))
    by_topic = max(0, REFUSALS_PER_TOPIC * topics - r)
    missing = max(by_share, by_topic)
    return Coverage(n, r, topics, source, r + missing, missing)


def coverage_finding(records: Sequence[dict[str, Any]], refusals: Sequence[int]) -> Finding | None:
    """`refusal_coverage` when the training examples decline too rarely for their topics; None when they do not,
    or when there are too few examples for a share to mean anything."""
    if len(records) < MIN_EXAMPLES:
        return None
    cov = refusal_coverage(records, refusals)
    if not cov.missing:
        return None
    files = sorted({str(r["meta"]["source"]["file"]) for r in records if r.get("meta", {}).get("source")})
    near = " ".join(f"--near-domain {f}" for f in files) or "--near-domain DATA.jsonl"
    about = f"{cov.topics} topics ({cov.topics_from})" if cov.topics > 1 else "one topic"
    return Finding(
        "refusal_coverage",
        "warning",
        [],
        f"only {cov.refusals} of {cov.examples} answers ({cov.refusals / cov.examples:.0%}) decline, for {about}: too "
        f"few to teach the model where its knowledge ends, so it will answer out-of-scope questions in your voice. "
        f"Add {cov.missing} more near-domain out-of-scope questions with refusals (target {cov.target}: "
        f"{TARGET_SHARE:.0%} of the examples and {REFUSALS_PER_TOPIC} a topic). `prepare` adds them itself "
        f"(data.refusals: auto); to write and review them as a file: "
        f"tunesmith data add-refusals --generate {cov.missing} {near} --out data/refusals.jsonl",
        details={
            "refusals": cov.refusals,
            "examples": cov.examples,
            "topics": cov.topics,
            "topics_from": cov.topics_from,
            "target": cov.target,
            "missing": cov.missing,
        },
    )


def top_up(
    inputs: Sequence[dict[str, Any]], rows: dict[str, list[dict[str, Any]]], threshold: float, seed: int
) -> list[dict[str, Any]]:
    """The near-domain refusals that bring `inputs` (the examples of data.paths that prepare kept, before the
    split: what `data check`'s refusal_coverage counts, so both name the same number) to the coverage target.
    They are written from the train split alone, so no test question is rephrased into train, and none is a near
    duplicate of a val or test example. [] when the coverage is met."""
    if len(inputs) < MIN_EXAMPLES:
        return []
    missing = refusal_coverage(inputs, [i for i, r in enumerate(inputs) if is_refusal(r)]).missing
    if not missing:
        return []
    # Twice as many candidates as needed: those too close to a held-out question are dropped below.
    questions = near_domain_questions(rows["train"], 2 * missing, seed=seed)
    others = [dedup.user_text(r) for r in [*rows["val"], *rows["test"]]]
    twins = {i for g in dedup.near_groups([*questions, *others], threshold) if len(g) > 1 for i in g}
    kept = [q for i, q in enumerate(questions) if i not in twins][:missing]
    return near_domain_refusals(
        rows["train"], kept, generated_by="tunesmith data prepare (data.refusals: auto)", seed=seed
    )
