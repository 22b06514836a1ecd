"""`tunesmith eval compare A B`: did the second evaluation (a new fine-tune, a new prompt) really improve?

Both evaluations keep every example's scores in results.json, so the comparison is paired on the examples
they share (matched by id): the same bootstrap as within one evaluation, and just as robust to hard questions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tunesmith.errors import DataError
from tunesmith.evals.results import EvalResults
from tunesmith.evals.results import read_results as load_results
from tunesmith.evals.stats import paired_bootstrap_diff

__all__ = ["compare", "load_results"]


def compare(
    a: EvalResults | Mapping[str, Any],
    b: EvalResults | Mapping[str, Any],
    *,
    arms: list[str] | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Per arm present in both and per metric: A's and B's means and the paired B - A delta with its 95% CI."""
    a, b = EvalResults.of(a), EvalResults.of(b)
    a_examples = {ex.id: ex for ex in a.examples}
    shared = [(a_examples[ex.id], ex) for ex in b.examples if ex.id in a_examples]
    if not shared:
        raise DataError("the two evaluations share no example ids", hint="compare evaluations of the same test split")
    common = [arm for arm in b.arms if arm in a.arms]
    arms = arms or common
    missing = [arm for arm in arms if arm not in common]
    if missing:
        raise DataError(f"arm(s) {missing} not in both evaluations", hint=f"arms in both: {', '.join(common)}")
    out: dict[str, Any] = {"n_shared_examples": len(shared), "arms": {}}
    for arm in arms:
        per_metric: dict[str, Any] = {}
        answers = [(ea.arms[arm], eb.arms[arm]) for ea, eb in shared if arm in ea.arms and arm in eb.arms]
        metrics = {m for _, ex in shared if arm in ex.arms for m in ex.arms[arm].metrics}
        for metric in sorted(metrics):
            pairs = [
                (xa.metrics[metric], xb.metrics[metric])
                for xa, xb in answers
                if metric in xa.metrics and metric in xb.metrics
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
