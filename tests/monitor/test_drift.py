"""Drift detection: quiet on traffic like the training data, loud (with examples) on another domain.

Embeddings are computed once per module, and each seed only resamples them: 20 seeds run in seconds.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from tunesmith.artifacts import read_jsonl
from tunesmith.config import MonitorConfig
from tunesmith.monitor.drift import detect_drift, mmd_test, psi
from tunesmith.pipeline import example_dir

COOKING = [
    f"{verb} {dish} {extra}"
    for verb, dish, extra in itertools.product(
        ["How long should I bake", "What spices go well with", "Can I freeze", "How do I keep moist"],
        ["a sourdough loaf", "roast chicken thighs", "a lentil curry", "banana bread", "salmon fillets"],
        ["for a dinner party?", "without an oven thermometer?", "at high altitude?"],
    )
]  # 60 prompts about cooking: nothing like a smart-home support desk


@pytest.fixture(scope="module")
def pools():
    from tunesmith.monitor.drift import embed

    rows = read_jsonl(example_dir() / "data" / "support.jsonl")
    support = list(dict.fromkeys(r["messages"][-2]["content"] for r in rows if r["messages"][-2]["role"] == "user"))
    return support, embed(support), COOKING, embed(COOKING)


def _sample(texts, emb, idx):
    return [texts[i] for i in idx], emb[idx]


def test_in_distribution_traffic_rarely_fires(pools):
    support, emb, _, _ = pools
    cfg = MonitorConfig(permutations=100)
    fired = []
    for seed in range(20):
        order = np.random.default_rng(seed).permutation(len(support))
        ref_t, ref_e = _sample(support, emb, order[:200])
        cur_t, cur_e = _sample(support, emb, order[200:300])
        report = detect_drift(ref_t, cur_t, cfg, seed=seed, reference_emb=ref_e, traffic_emb=cur_e)
        fired.append(report.fired)
    assert sum(fired) <= 1, f"false alarms on {sum(fired)} of 20 seeds"  # at most 5%


def test_another_domain_fires_and_names_unseen_examples(pools):
    support, emb, cooking, cooking_emb = pools
    order = np.random.default_rng(0).permutation(len(support))
    ref_t, ref_e = _sample(support, emb, order[:200])
    cur_t = [support[i] for i in order[200:240]] + cooking
    cur_e = np.vstack([emb[order[200:240]], cooking_emb])
    report = detect_drift(ref_t, cur_t, MonitorConfig(permutations=100), reference_emb=ref_e, traffic_emb=cur_e)
    assert report.fired and report.embedding_drift and report.topic_drift
    assert report.auc > 0.7 and report.mmd_p < 0.05
    # The support data has a few off-topic prompts of its own (a French phrase to translate), so a held-out one may
    # be flagged too; nearly every example named, and nearly everything flagged, is a cooking question.
    assert len(report.unseen_examples) == 10 and sum(x in cooking for x in report.unseen_examples) >= 8
    flagged = [t for t, u in zip(cur_t, report.unseen_mask, strict=True) if u]
    assert sum(t in cooking for t in flagged) >= 0.9 * len(flagged)
    assert report.unseen_share >= 0.5  # most of the 60 cooking prompts of 100 are flagged
    assert any("unseen topics" in r for r in report.reasons())


def test_mmd_and_psi_respond_to_a_shift():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(80, 8)), rng.normal(size=(80, 8))
    assert mmd_test(a, b, permutations=100)[1] > 0.05
    assert mmd_test(a, b + 1.0, permutations=100)[1] < 0.05
    lengths = rng.integers(5, 30, size=500)
    assert psi(lengths, lengths) < 0.01
    assert psi(lengths, lengths * 3) > 0.25
