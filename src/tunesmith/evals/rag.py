"""Retrieval-augmented answers, shared by the `rag` and `fine_tuned_rag` arms and by `serve` (serve.rag_models).

Both put the same text into the system prompt: an instruction, then the top `eval.rag_k` passages numbered, each
under its citation ("source, locator"), so that what the evaluation measured is what serving answers with. Each
answer keeps the passages it was given as its `sources`.

Where the passages come from: the document index (`tunesmith.docs`, docs.paths) when the config names documents;
otherwise the training answers, each pair found by its question, which the report then names "rag over training
answers" so that nobody mistakes it for RAG over the organisation's documents.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal, Protocol

from rich.console import Console

from tunesmith.config import Config
from tunesmith.docs import Hit, Passage
from tunesmith.evals.results import citation_text
from tunesmith.models.generation import Prediction
from tunesmith.models.retrieval import HybridRetriever

INSTRUCTION = "Use these passages if they answer the question; do not invent facts."
TRAINING_SOURCE = "train.jsonl"  # the source of a training pair as a passage
Over = Literal["documents", "training answers"]
OVER_DOCUMENTS: Over = "documents"
OVER_TRAINING: Over = "training answers"
RAG_ARMS = ("rag", "fine_tuned_rag")


class Searcher(Protocol):
    def search(self, queries: list[str], k: int) -> list[list[Hit]]: ...


class TrainingAnswers:
    """The fallback corpus: each training pair as a passage (`Q: ... A: ...`), found by its question alone (the
    answer's words would match every question on the same topic)."""

    def __init__(self, ids: Sequence[str], questions: Sequence[str], answers: Sequence[str], retriever: Any) -> None:
        self.passages = [
            Passage(id=i, source=TRAINING_SOURCE, locator=i, text=f"Q: {q}\nA: {a}", sha256="")
            for i, q, a in zip(ids, questions, answers, strict=True)
        ]
        self.retriever: HybridRetriever = retriever  # over `questions`, shared with the prompted arm's similar shots

    def search(self, queries: list[str], k: int) -> list[list[Hit]]:
        return [[Hit(self.passages[i], s) for i, s in hits] for hits in self.retriever.search_scored(queries, k)]


@dataclass(frozen=True)
class Corpus:
    """What the rag arms retrieve from, and how the report names it."""

    searcher: Searcher
    over: Over
    documents: int  # distinct source files (1, train.jsonl, for the training answers)
    passages: int
    index_hash: str | None = None

    @property
    def label(self) -> str:
        if self.over == OVER_TRAINING:
            return "rag over training answers"
        return f"rag over {self.documents} document{'s' if self.documents != 1 else ''}"

    def to_json(self) -> dict[str, Any]:
        """The `rag` part of results.json."""
        out: dict[str, Any] = {
            "over": self.over,
            "label": self.label,
            "documents": self.documents,
            "passages": self.passages,
        }
        if self.index_hash:
            out["index_hash"] = self.index_hash
        return out


def document_corpus(cfg: Config, console: Console | None = None) -> Corpus | None:
    """The document index when docs.paths names documents (built first if it is missing or stale, so a bad docs
    setup fails here, before any model loads); None when it names none."""
    if not cfg.docs.paths:
        return None
    from tunesmith.docs import ensure_index

    index = ensure_index(cfg, console=console)
    return Corpus(
        index,
        OVER_DOCUMENTS,
        documents=len({p.source for p in index.passages}),
        passages=len(index.passages),
        index_hash=index.manifest.get("index_hash"),
    )


def training_corpus(ids: Sequence[str], questions: Sequence[str], answers: Sequence[str], retriever: Any) -> Corpus:
    searcher = TrainingAnswers(ids, questions, answers, retriever)
    return Corpus(searcher, OVER_TRAINING, documents=1, passages=len(searcher.passages))


def citation(passage: Passage) -> str:
    return citation_text(passage.source, passage.locator)


def passages_prompt(hits: Sequence[Hit]) -> str:
    """The text the rag arms and serve add to the system prompt: the instruction, then each passage numbered under
    its citation."""
    context = "\n\n".join(f"[{n}] {citation(h.passage)}\n{h.passage.text}" for n, h in enumerate(hits, 1))
    return f"{INSTRUCTION}\n\n{context}"


def with_system(messages: list[dict[str, Any]], extra: str) -> list[dict[str, Any]]:
    """The conversation with `extra` appended to its system prompt (or as the system prompt if it has none)."""
    if messages and messages[0]["role"] == "system":
        return [{**messages[0], "content": f"{messages[0]['content']}\n\n{extra}"}, *messages[1:]]
    return [{"role": "system", "content": extra}, *messages]


def with_passages(messages: list[dict[str, Any]], hits: Sequence[Hit]) -> list[dict[str, Any]]:
    """The conversation as the model sees it with retrieval: the passages in its system prompt."""
    return with_system(messages, passages_prompt(hits)) if hits else messages


@dataclass(frozen=True)
class Retrieved:
    """One question's passages, best first, and the time it took to find them."""

    hits: list[Hit]
    ms: float

    def sources(self) -> list[dict[str, Any]]:
        """The passages as an answer carries them: results.json's `sources`, and serve's."""
        return [
            {"source": h.passage.source, "locator": h.passage.locator, "text": h.passage.text, "score": h.score}
            for h in self.hits
        ]


def retrieve(searcher: Searcher, questions: Sequence[str], k: int) -> list[Retrieved]:
    """Each question searched on its own, as a served request is, so that its time is what one user waits."""
    out = []
    for question in questions:
        t0 = time.perf_counter()
        [hits] = searcher.search([question], k)
        out.append(Retrieved(hits, (time.perf_counter() - t0) * 1000))
    return out


def add_retrieval_time(runs: dict[str, tuple[list[Prediction], float]], retrieved: Sequence[Retrieved]) -> None:
    """Retrieval is part of a rag arm's cost: each answer's latency gains its question's retrieval time, and the
    arm's wall time (hence its throughput) the time of all of them. Each rag arm would retrieve in deployment, so
    both pay it, though the evaluation retrieves once for the two."""
    total_s = sum(r.ms for r in retrieved) / 1000
    for arm in RAG_ARMS:
        if arm not in runs or not retrieved:
            continue
        preds, wall_s = runs[arm]
        timed = [replace(p, latency_ms=p.latency_ms + r.ms) for p, r in zip(preds, retrieved, strict=True)]
        runs[arm] = (timed, wall_s + total_s)
