"""Hybrid retrieval, shared by the `rag` arms (evals) and the document index (docs).

BM25 (bm25s) finds exact words such as product names and error codes; MiniLM embeddings find paraphrases.
The two rankings are merged by reciprocal rank fusion, which needs no score calibration between them.
"""

from __future__ import annotations

import numpy as np

from tunesmith.errors import DataError
from tunesmith.models.embedding import embed

RRF_K = 60  # the constant of reciprocal rank fusion (Cormack et al., 2009): damps the weight of the top ranks


class HybridRetriever:
    """Indexes `texts` once; `search` returns, per query, the indices of the k best texts, best first.

    `embeddings` (one unit-length row per text, as `embed` returns them) skips embedding the texts again: the
    document index stores its vectors and reuses them."""

    def __init__(self, texts: list[str], *, embeddings: np.ndarray | None = None) -> None:
        import bm25s

        if not texts:
            raise DataError("nothing to retrieve from", hint="check the training split, or the documents of docs.paths")
        if embeddings is not None and len(embeddings) != len(texts):
            raise ValueError(f"{len(embeddings)} embeddings for {len(texts)} texts")
        self.texts = texts
        self._bm25 = bm25s.BM25()
        self._bm25.index(bm25s.tokenize(texts, stopwords="en", show_progress=False), show_progress=False)
        self._emb = embed(texts) if embeddings is None else embeddings

    def search(self, queries: list[str], k: int) -> list[list[int]]:
        return [[i for i, _ in ranked] for ranked in self.search_scored(queries, k)]

    def search_scored(self, queries: list[str], k: int) -> list[list[tuple[int, float]]]:
        """Per query, the k best (index, fused score) pairs, best first; the score is the sum of the reciprocal
        ranks of the two rankings (higher is better)."""
        import bm25s

        k = min(k, len(self.texts))
        depth = min(len(self.texts), max(4 * k, 20))  # rank deeper than k, so fusion can promote a runner-up
        dense = embed(queries) @ self._emb.T
        results = []
        for qi, query in enumerate(queries):
            scores: dict[int, float] = {}
            tokens = bm25s.tokenize([query], stopwords="en", return_ids=False, show_progress=False)
            if tokens[0]:
                idx, _ = self._bm25.retrieve(tokens, k=depth, show_progress=False)
                for rank, i in enumerate(idx[0]):
                    scores[int(i)] = 1 / (RRF_K + rank + 1)
            for rank, i in enumerate(np.argsort(-dense[qi])[:depth]):
                scores[int(i)] = scores.get(int(i), 0.0) + 1 / (RRF_K + rank + 1)
            results.append([(i, scores[i]) for i in sorted(scores, key=lambda i: -scores[i])[:k]])
        return results
