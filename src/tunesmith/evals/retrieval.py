"""Retrieval for the `rag` arms and for picking similar few-shot examples: the hybrid retriever (BM25 and MiniLM
embeddings merged by reciprocal rank fusion) lives in models/retrieval.py, shared with the document index (docs/);
this module keeps the arms' own documents, `eval.rag_documents`.
"""

from __future__ import annotations

from pathlib import Path

from tunesmith.errors import DataError
from tunesmith.models.retrieval import RRF_K, HybridRetriever

__all__ = ["RRF_K", "HybridRetriever", "load_documents"]


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
