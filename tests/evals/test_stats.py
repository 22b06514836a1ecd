from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from tunesmith.evals.stats import aggregate, bootstrap_ci, paired_bootstrap_diff, slices, winner


def test_bootstrap_ci_matches_the_normal_theory_interval() -> None:
    n = 2000
    values = np.random.default_rng(123).normal(0.5, 0.1, size=n)
    lo, hi = bootstrap_ci(values)
    assert lo < 0.5 < hi
    assert lo < values.mean() < hi
    expected_width = 2 * 1.96 * 0.1 / math.sqrt(n)
    assert hi - lo == pytest.approx(expected_width, rel=0.15)


def test_bootstrap_ci_is_deterministic_per_seed() -> None:
    values = np.random.default_rng(1).uniform(size=300)
    assert bootstrap_ci(values, seed=7) == bootstrap_ci(values, seed=7)
    assert bootstrap_ci(values, seed=7) != bootstrap_ci(values, seed=8)


def test_bootstrap_ci_widens_with_confidence() -> None:
    values = np.random.default_rng(2).uniform(size=300)
    lo50, hi50 = bootstrap_ci(values, confidence=0.5)
    lo99, hi99 = bootstrap_ci(values, confidence=0.99)
    assert lo99 < lo50 < hi50 < hi99


def test_bootstrap_ci_of_a_constant_and_of_one_value() -> None:
    assert bootstrap_ci(np.full(50, 0.25)) == pytest.approx((0.25, 0.25))
    assert bootstrap_ci([0.7]) == pytest.approx((0.7, 0.7))


@pytest.mark.parametrize(
    "kwargs", [{"values": []}, {"values": [1.0], "confidence": 1.0}, {"values": [1.0], "n_resamples": 0}]
)
def test_bootstrap_ci_rejects_bad_input(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        bootstrap_ci(**kwargs)


def test_paired_diff_of_an_exact_shift() -> None:
    a = np.random.default_rng(3).uniform(size=500)
    b = a + 0.1
    value, (lo, hi) = paired_bootstrap_diff(b, a)
    assert value == pytest.approx(0.1, abs=1e-9)
    assert lo == pytest.approx(0.1, abs=1e-9)
    assert hi == pytest.approx(0.1, abs=1e-9)
    value, _ = paired_bootstrap_diff(a, b)
    assert value == pytest.approx(-0.1, abs=1e-9)


def test_paired_diff_finds_a_shift_that_unpaired_intervals_miss() -> None:
    # Examples differ a lot in difficulty (spread 0..1) while the fine-tune adds 0.03 to each, with little
    # noise: the arms' own intervals overlap, but pairing cancels the difficulty and the gain is clear.
    rng = np.random.default_rng(4)
    base = rng.uniform(size=200)
    tuned = base + 0.03 + rng.normal(0, 0.02, size=200)
    value, (lo, hi) = paired_bootstrap_diff(tuned, base)
    assert 0 < lo < 0.03 < hi
    assert value == pytest.approx(0.03, abs=0.005)
    base_lo, base_hi = bootstrap_ci(base)
    tuned_lo, tuned_hi = bootstrap_ci(tuned)
    assert tuned_lo < base_hi  # overlapping


def test_paired_diff_rejects_unpaired_samples() -> None:
    with pytest.raises(ValueError):
        paired_bootstrap_diff([1.0, 2.0], [1.0])


def _example(i: int, tags: list[str], base: dict[str, float], ft: dict[str, float]) -> dict[str, Any]:
    return {
        "id": f"ex{i}",
        "tags": tags,
        "reference": "ref",
        "prompt": "prompt",
        "arms": {"base": {"prediction": "b", "metrics": base}, "ft": {"prediction": "f", "metrics": ft}},
    }


@pytest.fixture
def examples() -> list[dict[str, Any]]:
    # abstention only on refusal-tagged examples, over_refusal on the others; base lacks semantic_sim on ex4.
    return [
        _example(
            1,
            ["billing"],
            {"rougeL": 0.2, "semantic_sim": 0.5, "over_refusal": 0.0},
            {"rougeL": 0.6, "semantic_sim": 0.9, "over_refusal": 0.0},
        ),
        _example(
            2,
            ["billing", "refusal"],
            {"rougeL": 0.4, "semantic_sim": 0.7, "abstention": 0.0},
            {"rougeL": 0.4, "semantic_sim": 0.7, "abstention": 1.0},
        ),
        _example(
            3,
            ["shipping"],
            {"rougeL": 0.0, "semantic_sim": 0.3, "over_refusal": 1.0},
            {"rougeL": 0.5, "semantic_sim": 0.6, "over_refusal": 0.0},
        ),
        _example(
            4,
            ["refusal"],
            {"rougeL": 0.6, "abstention": 0.0},
            {"rougeL": 1.0, "semantic_sim": 0.8, "abstention": 1.0},
        ),
    ]


def test_aggregate_means_counts_and_deltas(examples: list[dict[str, Any]]) -> None:
    stats = aggregate(examples, ["base", "ft"], "base")
    base, ft = stats["base"], stats["ft"]

    assert base["metrics"] == pytest.approx(
        {"rougeL": 0.3, "semantic_sim": 0.5, "over_refusal": 0.5, "abstention": 0.0}
    )
    assert base["n"] == {"rougeL": 4, "semantic_sim": 3, "over_refusal": 2, "abstention": 2}
    assert ft["metrics"] == pytest.approx(
        {"rougeL": 0.625, "semantic_sim": 0.75, "over_refusal": 0.0, "abstention": 1.0}
    )
    assert ft["n"] == {"rougeL": 4, "semantic_sim": 4, "over_refusal": 2, "abstention": 2}

    assert "delta" not in base
    delta = ft["delta"]
    assert delta["rougeL"]["value"] == pytest.approx(0.325)  # per-example diffs 0.4, 0, 0.5, 0.4
    assert delta["semantic_sim"]["value"] == pytest.approx(0.7 / 3)  # ex1..ex3 only: 0.4, 0, 0.3
    assert delta["over_refusal"]["value"] == pytest.approx(-0.5)
    assert delta["abstention"] == {"value": pytest.approx(1.0), "ci": pytest.approx([1.0, 1.0])}

    for arm in (base, ft):
        for metric, (lo, hi) in arm["ci"].items():
            assert lo <= arm["metrics"][metric] <= hi
    lo, hi = delta["rougeL"]["ci"]
    assert 0.0 <= lo <= 0.325 <= hi <= 0.5


def test_focus_arm_has_paired_deltas_against_every_other_arm(examples: list[dict[str, Any]]) -> None:
    stats = aggregate(examples, ["base", "ft"], "base", focus_arms=["ft"])
    assert set(stats["ft"]["delta_vs"]) == {"base"} and "delta_vs" not in stats["base"]
    assert stats["ft"]["delta_vs"]["base"] == stats["ft"]["delta"]
    flipped = aggregate(examples, ["base", "ft"], "ft", focus_arms=["base"])
    assert flipped["base"]["delta_vs"]["ft"]["rougeL"]["value"] == pytest.approx(-0.325)


def test_aggregate_is_deterministic_and_rejects_an_unknown_reference(examples: list[dict[str, Any]]) -> None:
    assert aggregate(examples, ["base", "ft"], "base", seed=3) == aggregate(examples, ["base", "ft"], "base", seed=3)
    with pytest.raises(ValueError):
        aggregate(examples, ["base", "ft"], "rag")


def test_slices(examples: list[dict[str, Any]]) -> None:
    by_tag = slices(examples, ["base", "ft"])
    assert list(by_tag) == ["billing", "refusal", "shipping"]
    assert by_tag["billing"]["n"] == 2
    assert by_tag["billing"]["base"] == pytest.approx(
        {"rougeL": 0.3, "semantic_sim": 0.6, "over_refusal": 0.0, "abstention": 0.0}
    )
    assert by_tag["billing"]["ft"]["rougeL"] == pytest.approx(0.5)
    assert by_tag["refusal"]["n"] == 2
    assert by_tag["refusal"]["base"] == pytest.approx({"rougeL": 0.5, "semantic_sim": 0.7, "abstention": 0.0})
    assert by_tag["refusal"]["ft"] == pytest.approx({"rougeL": 0.7, "semantic_sim": 0.75, "abstention": 1.0})
    assert by_tag["shipping"] == {
        "base": pytest.approx({"rougeL": 0.0, "semantic_sim": 0.3, "over_refusal": 1.0}),
        "ft": pytest.approx({"rougeL": 0.5, "semantic_sim": 0.6, "over_refusal": 0.0}),
        "n": 1,
    }


def test_slices_rejects_an_arm_named_n(examples: list[dict[str, Any]]) -> None:
    with pytest.raises(ValueError):
        slices(examples, ["base", "n"])


def test_winner(examples: list[dict[str, Any]]) -> None:
    stats = aggregate(examples, ["base", "ft"], "base")
    assert winner(stats, "rougeL") == "ft"
    assert winner(stats, "over_refusal", lower_is_better=True) == "ft"
    assert winner(stats, "over_refusal") == "base"
    assert winner(stats, "chrf") is None
    tie = {"a": {"metrics": {"m": 0.5}}, "b": {"metrics": {"m": 0.5}}, "c": {"metrics": {"m": 0.1}}}
    assert winner(tie, "m") is None
    assert winner(tie, "m", lower_is_better=True) == "c"
