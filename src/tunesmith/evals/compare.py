"""`tunesmith eval compare A B`: did the second evaluation (a new fine-tune, a new prompt) really improve?

Both evaluations keep every example's scores in results.json, so the comparison is paired on the examples
they share (matched by id): the same bootstrap as within one evaluation, and just as robust to hard questions.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tunesmith.errors import DataError
from tunesmith.evals.stats import paired_bootstrap_diff


def load_results(path: Path) -> dict[str, Any]:
    """results.json of an evaluation directory (or the file itself)."""
    file = path / "results.json" if path.is_dir() else path
    if not file.exists():
        raise DataError(f"no results.json in {path}", hint="pass the directory that tunesmith eval wrote")
    return json.loads(file.read_text(encoding="utf-8"))


def compare(a: dict[str, Any], b: dict[str, Any], *, arms: list[str] | None = None, seed: int = 0) -> dict[str, Any]:
    """Per arm present in both and per metric: A's and B's means and the paired B - A delta with its 95% CI."""
    a_examples = {ex["id"]: ex for ex in a["examples"]}
    shared = [(a_examples[ex["id"]], ex) for ex in b["examples"] if ex["id"] in a_examples]
    if not shared:
        raise DataError("the two evaluations share no example ids", hint="compare evaluations of the same test split")
    common = [arm for arm in b["arms"] if arm in a["arms"]]
    arms = arms or common
    missing = [arm for arm in arms if arm not in common]
    if missing:
        raise DataError(f"arm(s) {missing} not in both evaluations", hint=f"arms in both: {', '.join(common)}")
    out: dict[str, Any] = {"n_shared_examples": len(shared), "arms": {}}
    for arm in arms:
        per_metric: dict[str, Any] = {}
        metrics = {m for _, ex in shared if arm in ex["arms"] for m in ex["arms"][arm]["metrics"]}
        for metric in sorted(metrics):
            pairs = [
                (ea["arms"][arm]["metrics"][metric], eb["arms"][arm]["metrics"][metric])
                for ea, eb in shared
                if metric in ea["arms"].get(arm, {}).get("metrics", {})
                and metric in eb["arms"].get(arm, {}).get("metrics", {})
            ]
            if not pairs:
                continue
            va, vb = zip(*pairs, strict=True)
            delta, ci = paired_bootstrap_diff(vb, va, seed=seed)
            per_metric[metric] = {
                "a": sum(va) / len(va),
                "b": sum(vb) / len(vb),
                "delta": delta,
                "ci": list(ci),
                "n": len(pairs),
            }
        out["arms"][arm] = per_metric
    return out
