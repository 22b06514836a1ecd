"""Drift of live prompts against the training prompts: embeddings, topics, lengths.

Three views, because each misses what another sees:
- **Embedding drift** on MiniLM sentence embeddings, two ways. The domain classifier (as Evidently does it): train a
  classifier to tell training prompts from traffic; its cross-validated ROC AUC is 0.5 when it cannot, and
  Evidently's threshold is 0.55. MMD with an RBF kernel and a permutation test gives a p-value. Drift fires when
  both agree: the AUC says the shift is large enough to matter, the p-value that it is not small-sample noise (with
  60 prompts, an AUC of 0.56 happens by chance; with 100,000, a negligible shift is "significant").
- **Topic coverage**: KMeans clusters of the training prompts. A prompt farther from every centroid than the
  `unseen_quantile` of the training prompts' own distances is an unseen topic; the report lists such prompts, so a
  person sees *what* is new, not only that something is.
- **PSI** of prompt lengths (words), on quantile bins of the training lengths.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from tunesmith.config import MonitorConfig
from tunesmith.models.embedding import embed
from tunesmith.monitor.signal import Signal


def classifier_auc(ref: np.ndarray, cur: np.ndarray, *, seed: int = 0) -> float:
    """Cross-validated ROC AUC of a linear classifier telling `cur` from `ref` (0.5: indistinguishable).

    A ridge classifier rather than a logistic regression: the same linear boundary for this purpose, solved in
    closed form, 20-50x faster on 384-dimensional embeddings.
    """
    from sklearn.linear_model import RidgeClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    x = np.vstack([ref, cur])
    y = np.r_[np.zeros(len(ref)), np.ones(len(cur))]
    folds = StratifiedKFold(n_splits=min(5, len(cur), len(ref)), shuffle=True, random_state=seed)
    scores = cross_val_predict(RidgeClassifier(alpha=1.0), x, y, cv=folds, method="decision_function")
    return float(roc_auc_score(y, scores))


def mmd_test(ref: np.ndarray, cur: np.ndarray, *, permutations: int = 200, seed: int = 0) -> tuple[float, float]:
    """Squared MMD (RBF kernel, median-distance bandwidth) and its permutation-test p-value."""
    x = np.vstack([ref, cur]).astype(np.float64)
    sq = np.sum(x * x, axis=1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2 * x @ x.T, 0)
    bandwidth = np.median(d2[np.triu_indices_from(d2, k=1)]) or 1.0
    k = np.exp(-d2 / bandwidth)
    n = len(ref)

    def stat(idx: np.ndarray) -> float:
        a, b = idx[:n], idx[n:]
        return float(k[np.ix_(a, a)].mean() + k[np.ix_(b, b)].mean() - 2 * k[np.ix_(a, b)].mean())

    observed = stat(np.arange(len(x)))
    rng = np.random.default_rng(seed)
    beats = sum(stat(rng.permutation(len(x))) >= observed for _ in range(permutations))
    return observed, (beats + 1) / (permutations + 1)


def psi(ref: Sequence[float], cur: Sequence[float], *, bins: int = 5) -> float:
    """Population stability index of `cur` against `ref`, on quantile bins of `ref` (0.1 moderate, 0.25 large)."""
    edges = np.unique(np.quantile(np.asarray(ref, dtype=float), np.linspace(0, 1, bins + 1)[1:-1]))
    r = np.bincount(np.searchsorted(edges, ref, side="right"), minlength=len(edges) + 1) / len(ref)
    c = np.bincount(np.searchsorted(edges, cur, side="right"), minlength=len(edges) + 1) / len(cur)
    r, c = np.clip(r, 1e-4, None), np.clip(c, 1e-4, None)
    return float(np.sum((c - r) * np.log(c / r)))


@dataclass
class Topic:
    id: int
    example: str  # the training prompt nearest the centroid: a readable name for the cluster
    train_share: float
    traffic_share: float


@dataclass
class DriftReport(Signal):
    _not_in_json = ("unseen_mask",)

    n_reference: int
    n_traffic: int
    auc: float
    mmd: float
    mmd_p: float
    embedding_drift: bool
    unseen_share: float
    unseen_examples: list[str]
    topic_drift: bool
    length_psi: float
    length_drift: bool
    topics: list[Topic] = field(default_factory=list)
    unseen_mask: list[bool] = field(default_factory=list)

    def reasons(self) -> list[str]:
        out = []
        if self.embedding_drift:
            out.append(f"embedding drift: classifier AUC {self.auc:.3f}, MMD p={self.mmd_p:.3f}")
        if self.topic_drift:
            out.append(f"unseen topics: {self.unseen_share:.0%} of traffic is far from every training topic")
        if self.length_drift:
            out.append(f"prompt length drift: PSI {self.length_psi:.3f}")
        return out


def _words(texts: Sequence[str]) -> list[int]:
    return [len(t.split()) for t in texts]


def detect_drift(
    reference: Sequence[str],
    traffic: Sequence[str],
    cfg: MonitorConfig,
    *,
    seed: int = 0,
    embed_fn: Callable[[Sequence[str]], np.ndarray] = embed,
    reference_emb: np.ndarray | None = None,
    traffic_emb: np.ndarray | None = None,
) -> DriftReport:
    """Compare traffic prompts with training prompts. Pass embeddings to skip encoding (tests, repeated runs)."""
    from sklearn.cluster import KMeans

    ref = reference_emb if reference_emb is not None else embed_fn(reference)
    cur = traffic_emb if traffic_emb is not None else embed_fn(traffic)
    auc = classifier_auc(ref, cur, seed=seed)
    mmd, p = mmd_test(ref, cur, permutations=cfg.permutations, seed=seed)

    k = max(1, min(cfg.topics, len(ref) // 5))
    km = KMeans(n_clusters=k, n_init=4, random_state=seed).fit(ref)
    ref_dist = km.transform(ref)
    radius = float(np.quantile(ref_dist.min(axis=1), cfg.unseen_quantile))
    cur_dist = km.transform(cur)
    unseen = cur_dist.min(axis=1) > radius
    order = np.argsort(-cur_dist.min(axis=1))  # the most foreign first
    unseen_examples = [traffic[i] for i in order if unseen[i]][:10]
    cur_topic = cur_dist.argmin(axis=1)
    topics = [
        Topic(
            id=t,
            example=reference[int(np.argmin(ref_dist[:, t]))],
            train_share=float(np.mean(km.labels_ == t)),
            traffic_share=float(np.mean((cur_topic == t) & ~unseen)),
        )
        for t in range(k)
    ]
    length_psi = psi(_words(reference), _words(traffic))
    unseen_share = float(unseen.mean())
    return DriftReport(
        n_reference=len(ref),
        n_traffic=len(cur),
        auc=auc,
        mmd=mmd,
        mmd_p=p,
        embedding_drift=auc > cfg.auc_threshold and p < cfg.mmd_alpha,
        unseen_share=unseen_share,
        unseen_examples=unseen_examples,
        topic_drift=unseen_share > cfg.max_unseen_share,
        length_psi=length_psi,
        length_drift=length_psi > cfg.psi_threshold,
        topics=topics,
        unseen_mask=[bool(u) for u in unseen],
    )
