"""Means, bootstrap confidence intervals and paired deltas of per-example scores.

A held-out set of a few hundred examples is noisy: a 0.02 gain can be luck. Every mean therefore comes with
a percentile-bootstrap interval, and every comparison with the reference arm is a *paired* bootstrap over the
same examples, which cancels the variance that comes from some questions simply being harder than others.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

# Bound on the resample index matrix (resamples x examples) held in memory at once: about 80 MB of int64.
_MAX_CELLS = 10_000_000
FOCUS_ARMS = ("fine_tuned", "guarded")  # the arms a user would deploy: each compared with every other arm


def _resampled_means(values: np.ndarray, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    n = len(values)
    per_chunk = max(1, _MAX_CELLS // n)
    chunks = []
    for start in range(0, n_resamples, per_chunk):
        idx = rng.integers(0, n, size=(min(per_chunk, n_resamples - start), n))
        chunks.append(values[idx].mean(axis=1))
    return np.concatenate(chunks)


def bootstrap_ci(
    values: ArrayLike, *, n_resamples: int = 2000, confidence: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean: no normality assumption, which 0/1 metrics would break."""
    values = np.asarray(values, dtype=float)
    if values.ndim != 1 or len(values) == 0:
        raise ValueError("bootstrap_ci needs a non-empty 1-D array of values")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be at least 1, got {n_resamples}")
    means = _resampled_means(values, n_resamples, np.random.default_rng(seed))
    tail = (1 - confidence) / 2
    lo, hi = np.quantile(means, [tail, 1 - tail])
    return float(lo), float(hi)


def share_ci(k: int, n: int, *, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a share k/n (scipy), for counts such as red-team prompts declined.

    Not the bootstrap: at 16/16 a percentile bootstrap collapses to [1, 1], as if 16 prompts proved a model never
    fails; Wilson's lower bound there is 0.81. (NaN, NaN) when n is 0: nothing was measured."""
    if n == 0:
        return math.nan, math.nan
    from scipy.stats import binomtest

    ci = binomtest(k, n).proportion_ci(confidence_level=confidence, method="wilson")
    return float(ci.low), float(ci.high)


def paired_bootstrap_diff(
    a: ArrayLike, b: ArrayLike, *, n_resamples: int = 2000, confidence: float = 0.95, seed: int = 0
) -> tuple[float, tuple[float, float]]:
    """Mean of a - b and its interval, resampling examples rather than each arm on its own.

    Resampling the per-example differences is the same as drawing the same example indices for both arms.
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"paired samples differ in shape: {a.shape} vs {b.shape}")
    diff = a - b
    return float(diff.mean()), bootstrap_ci(diff, n_resamples=n_resamples, confidence=confidence, seed=seed)


def _scores_by_metric(examples: Sequence[dict[str, Any]], arm: str) -> dict[str, dict[int, float]]:
    """{metric: {example position: score}} for one arm, keeping only the examples that have each metric."""
    scores: dict[str, dict[int, float]] = {}
    for i, example in enumerate(examples):
        result = example["arms"].get(arm)
        if result is None:
            continue
        for metric, value in result["metrics"].items():
            scores.setdefault(metric, {})[i] = float(value)
    return scores


def _deltas(
    scores: dict[str, dict[int, float]], ref_scores: dict[str, dict[int, float]], **bootstrap: Any
) -> dict[str, dict[str, Any]]:
    deltas = {}
    for metric, by_example in scores.items():
        shared = [i for i in by_example if i in ref_scores.get(metric, {})]
        if not shared:
            continue
        value, (lo, hi) = paired_bootstrap_diff(
            [by_example[i] for i in shared], [ref_scores[metric][i] for i in shared], **bootstrap
        )
        deltas[metric] = {"value": value, "ci": [lo, hi]}
    return deltas


def aggregate(
    examples: Sequence[dict[str, Any]],
    arms: Sequence[str],
    reference_arm: str,
    *,
    seed: int = 0,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    focus_arms: Sequence[str] = FOCUS_ARMS,
) -> dict[str, dict[str, Any]]:
    """Per arm: mean, interval and count of each metric, and the paired delta against the reference arm.

    The focus arms (the fine-tune, bare and guarded) also get `delta_vs`: the paired delta against every other arm,
    because the
    question a user asks is "does it beat what I would do instead", and that is prompting or RAG as often as
    the bare base model.

    Each metric is averaged over the examples that have it for that arm (abstention exists only on examples
    that should be declined), and deltas over the examples that have it in both arms. Every bootstrap uses the
    same seed, so adding an arm or a metric does not move the intervals of the others.
    """
    if reference_arm not in arms:
        raise ValueError(f"reference arm {reference_arm!r} is not among the arms {list(arms)}")
    bootstrap: dict[str, Any] = {"n_resamples": n_resamples, "confidence": confidence, "seed": seed}
    ref_scores = _scores_by_metric(examples, reference_arm)
    stats: dict[str, dict[str, Any]] = {}
    for arm in arms:
        scores = ref_scores if arm == reference_arm else _scores_by_metric(examples, arm)
        arm_stats: dict[str, Any] = {"metrics": {}, "ci": {}, "n": {}}
        for metric, by_example in scores.items():
            values = np.fromiter(by_example.values(), dtype=float)
            arm_stats["metrics"][metric] = float(values.mean())
            arm_stats["ci"][metric] = list(bootstrap_ci(values, **bootstrap))
            arm_stats["n"][metric] = len(values)
        if arm != reference_arm:
            arm_stats["delta"] = _deltas(scores, ref_scores, **bootstrap)
        if arm in focus_arms:
            arm_stats["delta_vs"] = {
                other: _deltas(scores, _scores_by_metric(examples, other), **bootstrap)
                for other in arms
                if other != arm
            }
        stats[arm] = arm_stats
    return stats


def _means(examples: Sequence[dict[str, Any]], arm: str) -> dict[str, float]:
    return {
        metric: float(np.mean(list(by_example.values())))
        for metric, by_example in _scores_by_metric(examples, arm).items()
    }


def slices(examples: Sequence[dict[str, Any]], arms: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Per tag: each arm's metric means over the examples with that tag, and how many there are.

    An overall win can hide a regression on one kind of question; this is where it shows.
    """
    if "n" in arms:
        raise ValueError("an arm cannot be named 'n': slices use that key for the example count")
    tags = sorted({tag for example in examples for tag in example.get("tags", ())})
    breakdown: dict[str, dict[str, Any]] = {}
    for tag in tags:
        subset = [example for example in examples if tag in example.get("tags", ())]
        per_arm: dict[str, Any] = {arm: _means(subset, arm) for arm in arms}
        per_arm["n"] = len(subset)
        breakdown[tag] = per_arm
    return breakdown


def winner(arm_stats: dict[str, dict[str, Any]], metric: str, lower_is_better: bool = False) -> str | None:
    """The arm with the best mean on `metric`; None when no arm has it, or when the best mean is shared."""
    means = {
        arm: s["metrics"][metric]
        for arm, s in arm_stats.items()
        if metric in s["metrics"] and not math.isnan(s["metrics"][metric])
    }
    if not means:
        return None
    best = min(means.values()) if lower_is_better else max(means.values())
    leaders = [arm for arm, mean in means.items() if mean == best]
    return leaders[0] if len(leaders) == 1 else None
