"""Hybrid retrieval for the `rag` arms and for picking similar few-shot examples.

BM25 (bm25s) finds exact words such as product names and error codes; MiniLM embeddings find paraphrases.
The two rankings are merged by reciprocal rank fusion, which needs no score calibration between them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tunesmith.errors import DataError
from tunesmith.models.embedding import embed

RRF_K = 60  # the constant of reciprocal rank fusion (Cormack et al., 2009): damps the weight of the top ranks


class HybridRetriever:
    """Indexes `texts` once; `search` returns, per query, the indices of the k best texts, best first."""

    def __init__(self, texts: list[str]) -> None:
        import bm25s

        if not texts:
            raise DataError("nothing to retrieve from", hint="check the training split or eval.rag_documents")
        self.texts = texts
        self._bm25 = bm25s.BM25()
        self._bm25.index(bm25s.tokenize(texts, stopwords="en", show_progress=False), show_progress=False)
        self._emb = embed(texts)

    def search(self, queries: list[str], k: int) -> list[list[int]]:
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
            results.append(sorted(scores, key=lambda i: -scores[i])[:k])
        return results


def load_documents(folder: Path, chunk_words: int) -> list[str]:
    """The .txt and .md files of `folder`, cut into chunks of `chunk_words` words, each prefixed by its file name."""
    if not folder.is_dir():
        raise DataError(f"eval.rag_documents: no folder {folder}", hint="point it at a folder of .txt/.md files")
    chunks = []
    for path in sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".txt", ".md") and p.is_file()):
        words = path.read_text(encoding="utf-8", errors="replace").split()
        for start in range(0, len(words), chunk_words):
            chunks.append(f"[{path.name}] " + " ".join(words[start : start + chunk_words]))
    if not chunks:
        raise DataError(f"eval.rag_documents: no .txt or .md text in {folder}")
    return chunks
