"""Retrieval for the `rag` arms and for picking similar few-shot examples: the hybrid retriever (BM25 and MiniLM
embeddings merged by reciprocal rank fusion) lives in models/retrieval.py, shared with the document index (docs/).

The rag arms' documents are the document index (docs.paths, evals/rag.py); `eval.rag_documents`, the folder of
.txt files it replaces, is refused at load with a pointer to docs.paths.
"""

from __future__ import annotations

from tunesmith.models.retrieval import RRF_K, HybridRetriever

__all__ = ["RRF_K", "HybridRetriever"]
