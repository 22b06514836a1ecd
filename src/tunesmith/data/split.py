"""Seeded, stratified train/val/test split that keeps near-duplicate groups whole.

Written here rather than with scikit-learn: `GroupShuffleSplit` does not stratify and `StratifiedGroupKFold` gives
folds, not three shares. Groups are ordered by stratum (the first of `meta.tags`) and shuffled with the seed inside
each stratum; each group then goes to the split furthest below its share so far. Walking the strata in order with
one running balance spreads every stratum over the splits in proportion, however small it is.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

SPLITS = ("train", "val", "test")


def stratum(record: dict[str, Any]) -> str:
    tags = record.get("meta", {}).get("tags")
    return str(tags[0]) if isinstance(tags, list) and tags else ""


# A tag with a test minimum still keeps this share of its examples out of test, so that training sees it.
MAX_TEST_SHARE_OF_TAG = 0.6


def _tags(record: dict[str, Any]) -> list[str]:
    tags = record.get("meta", {}).get("tags")
    return [str(t) for t in tags] if isinstance(tags, list) else []


def split_groups(
    records: Sequence[dict[str, Any]],
    groups: Sequence[Sequence[int]],
    shares: dict[str, float],
    seed: int,
    min_test: dict[str, int] | None = None,
) -> dict[str, list[int]]:
    """Assign record indices to splits. `groups` lists indices that must stay together; others are singletons.

    `min_test` reserves test examples for rare tags first (seeded); the running balance then fills the rest, so
    the overall shares hold and the other strata give up a little of their test share.
    """
    grouped = {i for g in groups for i in g}
    units = [sorted(g) for g in groups] + [[i] for i in range(len(records)) if i not in grouped]
    rng = random.Random(seed)
    out: dict[str, list[int]] = {s: [] for s in SPLITS}
    reserved: set[int] = set()
    for tag, wanted in sorted((min_test or {}).items()):
        with_tag = [u for u in sorted(units) if u[0] not in reserved and tag in _tags(records[u[0]])]
        rng.shuffle(with_tag)
        cap = int(MAX_TEST_SHARE_OF_TAG * sum(len(u) for u in with_tag))
        taken = 0
        for u in with_tag:
            if taken >= wanted or taken + len(u) > cap:
                break
            out["test"].extend(u)
            reserved.update(u)
            taken += len(u)
    by_stratum: dict[str, list[list[int]]] = {}
    for u in sorted(units):
        if u[0] not in reserved:
            by_stratum.setdefault(stratum(records[u[0]]), []).append(u)
    ordered = []
    for key in sorted(by_stratum):
        units_here = by_stratum[key]
        rng.shuffle(units_here)
        ordered.extend(units_here)
    total = len(reserved)
    for u in ordered:
        total += len(u)
        best = max(SPLITS, key=lambda s: (shares.get(s, 0.0) * total - len(out[s]), -SPLITS.index(s)))
        out[best].extend(u)
    return {s: sorted(v) for s, v in out.items()}
