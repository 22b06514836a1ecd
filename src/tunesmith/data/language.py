"""Problematic language in the answers a model would learn from: the `problematic_language` finding (issue 31).

A fine-tune copies its answers' tone as readily as their facts: an insult or a slur among the training answers can
come back to a customer. Two detectors, the categories of data.language_check:
- `offensive`: alt-profanity-check's classifier (TF-IDF and a calibrated linear SVM trained on ~200k human-labelled
  comments), whose model ships inside the wheel, so nothing is downloaded. Each answer is scored whole
  (against data.language_threshold) and, when it has several sentences, sentence by sentence (against
  data.language_sentence_threshold): one insult in a long, polite answer is diluted when the answer is scored
  whole. It knows profanity and insults well and hate or threats worded politely poorly (docs/data.md
  has its precision and recall, by category, on tests/data/assets/language/labelled.jsonl).
- `blocklist`: a phrase of eval.blocklist, the list the evaluation applies (tunesmith/blocklist.py): the
  organisation's own disallowed content, which no general classifier knows.
Only what the model is trained to say is read: assistant messages, and the chosen answers of preference pairs (a
rejected answer is meant to be bad).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tunesmith import blocklist as phrases
from tunesmith.config import DataConfig
from tunesmith.errors import ConfigError
from tunesmith.records import Finding

CLASSIFIER = "alt-profanity-check"  # the distribution that ships the offensive classifier
_SENTENCES = re.compile(r"(?<=[.!?])\s+|\n+")


@dataclass
class Flag:
    """Why one item's answers are problematic: the categories that fired, the classifier's highest probability
    (None when it was not asked) and the blocklisted phrases found."""

    index: int
    categories: list[str]
    score: float | None = None
    phrases: list[str] = field(default_factory=list)


@functools.lru_cache(maxsize=1)
def _classifier() -> Any:  # profanity_check.predict_prob
    """The classifier, loaded from the wheel once per process (~2 s, mostly importing scikit-learn)."""
    try:
        from profanity_check import predict_prob
    except ImportError:
        raise ConfigError(
            f"data.language_check has offensive, and the classifier ({CLASSIFIER}) is not installed",
            hint=f"pip install {CLASSIFIER} (make install does), or set data.language_check: [blocklist]",
        ) from None

    return predict_prob


def answers(item: dict[str, Any]) -> list[str]:
    """The texts an item trains the model to say: its assistant messages (conversations) or its chosen answer."""
    messages = item["chosen"] if "chosen" in item else item.get("messages", [])
    return [m["content"] for m in messages if m.get("role") == "assistant" and isinstance(m.get("content"), str)]


def offensive_scores(texts: Sequence[str]) -> list[tuple[float, float]]:
    """Per text, the classifier's probability of offensive language for the whole text and the highest for one of
    its sentences (0.0 for a text of one sentence)."""
    parts = {t: [s for s in _SENTENCES.split(t) if s.strip()] for t in dict.fromkeys(texts)}
    unique = list(dict.fromkeys([*parts, *(s for ss in parts.values() if len(ss) > 1 for s in ss)]))
    if not unique:
        return [(0.0, 0.0) for _ in texts]
    prob = dict(zip(unique, (float(p) for p in _classifier()(unique)), strict=True))
    return [(prob[t], max((prob[s] for s in parts[t]), default=0.0) if len(parts[t]) > 1 else 0.0) for t in texts]


def _offensive(scores: Sequence[tuple[float, float]], cfg: DataConfig) -> bool:
    return any(w >= cfg.language_threshold or s >= cfg.language_sentence_threshold for w, s in scores)


def flag(items: Sequence[dict[str, Any]], cfg: DataConfig, blocklist: Sequence[str] = ()) -> list[Flag]:
    """The items whose answers hold problematic language, as data.language_check and the thresholds say;
    `blocklist` is eval.blocklist."""
    said = [answers(item) for item in items]
    check = set(cfg.language_check)
    scores = offensive_scores([t for ts in said for t in ts]) if "offensive" in check else None
    found, pos = [], 0
    for index, texts in enumerate(said):
        mine = [] if scores is None else scores[pos : pos + len(texts)]
        pos += len(texts)
        seen = {p for t in texts for p in phrases.hits(t, blocklist)} if "blocklist" in check else set()
        hit = [p for p in blocklist if p in seen]
        categories = [*(["offensive"] if _offensive(mine, cfg) else []), *(["blocklist"] if hit else [])]
        if categories:
            score = max((max(w, s) for w, s in mine), default=None) if scores is not None else None
            found.append(Flag(index, categories, score, hit))
    return found


def findings(items: Sequence[dict[str, Any]], flags: Sequence[Flag], cfg: DataConfig) -> list[Finding]:
    """One `problematic_language` finding per flagged item, at its file and line."""
    then = (
        "prepare drops it (data.problematic_language: drop)"
        if cfg.problematic_language == "drop"
        else "prepare keeps it and trains on it (data.problematic_language: keep)"
    )
    out = []
    for f in flags:
        why = []
        if "offensive" in f.categories:
            why.append(f"offensive language (classifier probability {f.score:.2f})")
        if f.phrases:
            why.append("blocklisted phrase(s) " + ", ".join(repr(p) for p in f.phrases) + " (eval.blocklist)")
        src = items[f.index]["meta"]["source"]
        out.append(
            Finding(
                "problematic_language",
                cfg.language_severity,
                [src["line"]],
                f"an answer the model would learn holds {' and '.join(why)}; {then}",
                file=src["file"],
                details={
                    "categories": f.categories,
                    "score": None if f.score is None else round(f.score, 3),
                    "phrases": f.phrases,
                },
            )
        )
    return out
