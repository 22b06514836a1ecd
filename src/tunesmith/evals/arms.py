"""The arms that are not just the test conversation: the prompts of prompted, rag and fine_tuned_rag, and the
retrieval arm, which answers with no model at all.

Each arm is the cheaper alternative a fine-tune must beat: `prompted` is what a careful prompt engineer would do
with the same training data (instructions plus worked examples), `rag` is what a retrieval engineer would do.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Any

from tunesmith.config import Config
from tunesmith.evals.cases import TestCase
from tunesmith.evals.rag import (
    RAG_ARMS,
    Corpus,
    Retrieved,
    retrieve,
    training_corpus,
    with_passages,
    with_system,
)
from tunesmith.evals.retrieval import HybridRetriever
from tunesmith.models.generation import Prediction

ARM_DESCRIPTIONS = {
    "base": "The base model with the project's system prompt.",
    "prompted": "The base model with engineered instructions and few-shot examples from train.",
    "retrieval": "No model: the answer of the most similar training question (BM25).",
    "rag": "The base model with the top retrieved passages (hybrid BM25 + MiniLM) in the prompt, from the "
    "documents of docs.paths or else the training answers.",
    "fine_tuned": "The fine-tuned model with the same short prompt.",
    "guarded": "The fine-tuned model behind the scope guard (threshold from validation): questions nearer the "
    "out-of-scope training questions than the in-scope ones get the house refusal.",
    "fine_tuned_rag": "The fine-tuned model with the same retrieved passages in the prompt.",
    "sft": "The SFT run the preference-tuned run started from (train.init_from), with the same short prompt.",
    "endpoint": "An OpenAI-compatible endpoint (vendor API or self-hosted server).",
}
BASE_MODEL_ARMS = ("base", "prompted", "rag")
FINE_TUNED_ARMS = ("fine_tuned", "fine_tuned_rag")

DEFAULT_PROMPT = (
    "Answer the customer's last message the way the examples below do: same tone, same length, same facts. "
    "If the answer is not in what you know, say that you don't know and point to who can help."
)


@dataclass
class Pair:
    question: str
    answer: str
    id: str = ""  # the record's meta.id, or its line in train.jsonl: a training answer's locator as a source


def arm_description(arm: str, rag: Corpus | None = None) -> str:
    """What the report says an arm is; a rag arm says what it retrieved from ("rag over 23 documents")."""
    if arm in RAG_ARMS and rag is not None:
        return f"{ARM_DESCRIPTIONS[arm]} This run: {rag.label}."
    return ARM_DESCRIPTIONS[arm]


def last_user(messages: list[dict[str, str]]) -> str:
    return next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")


def training_pairs(train_rows: list[dict[str, Any]]) -> list[Pair]:
    """(last user turn, assistant reply) of every training conversation with an assistant turn."""
    pairs = []
    for n, row in enumerate(train_rows, 1):
        msgs = row["messages"]
        last = max((k for k, m in enumerate(msgs) if m["role"] == "assistant"), default=None)
        if last is not None:
            pid = str((row.get("meta") or {}).get("id") or f"line {n}")
            pairs.append(Pair(last_user(msgs[:last]), msgs[last]["content"], pid))
    return pairs


def prompted_conversations(
    conversations: list[list[dict[str, str]]],
    pairs: list[Pair],
    *,
    instructions: str | None,
    shots: int,
    selection: str,
    retriever: HybridRetriever | None,
    seed: int,
) -> list[list[dict[str, str]]]:
    """Instructions in the system prompt, then `shots` training pairs as earlier user/assistant turns.

    Shots are real turns rather than text in the system prompt, so that the chat template presents them the
    way the model saw dialogue in pre-training. `similar` picks the nearest pairs per question (retriever
    over training questions), `random` the same seeded sample for every question.
    """
    system = instructions or DEFAULT_PROMPT
    if shots and selection == "similar":
        assert retriever is not None, "similar shots need a retriever over the training questions"
        chosen = retriever.search([last_user(c) for c in conversations], shots)
    else:
        sample = random.Random(seed).sample(range(len(pairs)), min(shots, len(pairs)))
        chosen = [sample] * len(conversations)
    out = []
    for conv, idx in zip(conversations, chosen, strict=True):
        turns = []
        for i in reversed(idx):  # the most similar shot last, nearest to the question
            turns += [{"role": "user", "content": pairs[i].question}, {"role": "assistant", "content": pairs[i].answer}]
        system_turn, *rest = with_system(conv, system)
        out.append([system_turn, *turns, *rest])
    return out


def rag_conversations(
    conversations: list[list[dict[str, str]]], corpus: Corpus, k: int
) -> tuple[list[list[dict[str, str]]], list[Retrieved]]:
    """Each conversation with the top-k passages for its last question in its system prompt (evals.rag, as serve
    does it), and what was retrieved for it, with the time it took."""
    retrieved = retrieve(corpus.searcher, [last_user(c) for c in conversations], k)
    return [with_passages(c, r.hits) for c, r in zip(conversations, retrieved, strict=True)], retrieved


def retrieval_arm(train_rows: list[dict[str, Any]], cases: list[TestCase]) -> list[Prediction]:
    """The floor a fine-tune must clear: the stored answer of the training question nearest each test prompt."""
    import bm25s

    pairs = training_pairs(train_rows)
    retriever = bm25s.BM25()
    corpus = [p.question for p in pairs]
    retriever.index(bm25s.tokenize(corpus, stopwords="en", show_progress=False), show_progress=False)
    preds = []
    for case in cases:
        t0 = time.perf_counter()
        query = bm25s.tokenize([last_user(case.prompt)], stopwords="en", return_ids=False, show_progress=False)
        if query[0]:
            idx, _ = retriever.retrieve(query, k=1, show_progress=False)
            answer = pairs[int(idx[0][0])].answer
        else:  # nothing to match on (a query of stopwords only)
            answer = ""
        preds.append(Prediction(answer, 0, 0, (time.perf_counter() - t0) * 1000))
    return preds


@dataclass
class ArmPrompts:
    """The prompt of every generating arm, and for the rag arms what they retrieve from and what they got."""

    convs: dict[str, list[list[dict[str, str]]]]
    rag: Corpus | None = None
    retrieved: list[Retrieved] = field(default_factory=list)  # per test case, for rag and fine_tuned_rag alike


def arm_conversations(
    cfg: Config, cases: list[TestCase], train_rows: list[dict[str, Any]], *, documents: Corpus | None = None
) -> ArmPrompts:
    """The prompt of every generating arm: the test conversation itself, or it with shots or passages added.

    The rag arms retrieve from `documents` (evals.rag.document_corpus: the index of docs.paths) when given, else
    from the training answers."""
    ec = cfg.eval
    plain = [c.prompt for c in cases]
    convs = {arm: plain for arm in ("base", "fine_tuned", "sft", "endpoint")}
    pairs = training_pairs(train_rows)
    wants_rag = {"rag", "fine_tuned_rag"} & set(ec.arms)
    similar_shots = "prompted" in ec.arms and ec.shots and ec.shot_selection == "similar"
    needs_index = similar_shots or (wants_rag and documents is None)
    questions = HybridRetriever([p.question for p in pairs]) if needs_index else None
    if "prompted" in ec.arms:
        convs["prompted"] = prompted_conversations(
            plain,
            pairs,
            instructions=ec.prompt,
            shots=ec.shots,
            selection=ec.shot_selection,
            retriever=questions,
            seed=cfg.project.seed,
        )
    if not wants_rag:
        return ArmPrompts(convs)
    corpus = documents or training_corpus(
        [p.id for p in pairs], [p.question for p in pairs], [p.answer for p in pairs], questions
    )
    with_hits, retrieved = rag_conversations(plain, corpus, ec.rag_k)
    convs["rag"] = convs["fine_tuned_rag"] = with_hits
    return ArmPrompts(convs, corpus, retrieved)
