"""Quality filters on generated examples, before anyone reviews them: length, language, exact and near duplicates
(against each other, the existing data and the test split), an optional judge score, and the share of refusals.

Duplicates are the data stage's own (data/dedup.py: normalised user turns, MinHash LSH verified by exact Jaccard at
data.near_dup_threshold), so a generated question that `prepare` would drop as a twin of a test question never
reaches a reviewer. The language is py3langid's guess on the question and answer together (one sentence alone is
too short to tell reliably).
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tunesmith.config import GenerateConfig
from tunesmith.data.dedup import near_groups
from tunesmith.records import normalize

# py3langid's normalised probability above which a text is taken to be in the language it guessed: sure guesses on a
# sentence or two are 0.99 or more (English, German, French, Latin here), unsure ones on a few words under 0.1.
SURE_OF_LANGUAGE = 0.9
REASONS = {
    "length": "question or answer shorter than generate.min_chars, or answer longer than generate.max_chars",
    "language": "not in generate.language (py3langid sure of another language)",
    "duplicate": "exact or near duplicate of another generated example (the first is kept)",
    "in_data": "exact or near duplicate of an example of data.paths",
    "in_test": "exact or near duplicate of a test question (data.test_paths, the prepared test split, --test-out)",
    "judge": "scored below generate.judge_min_score by the judge",
    "refusal_share": "refusals over generate.max_refusal_share of the kept examples",
}


@dataclass
class Filtered:
    kept: list[dict[str, Any]]
    dropped: Counter[str] = field(default_factory=Counter)


def _turn(record: dict[str, Any], role: str) -> str:
    texts = [m["content"] for m in record["messages"] if m["role"] == role and isinstance(m.get("content"), str)]
    return " ".join(texts)


def is_refusal_example(record: dict[str, Any]) -> bool:
    return "refusal" in record.get("meta", {}).get("tags", [])


def _length_ok(record: dict[str, Any], cfg: GenerateConfig) -> bool:
    question, answer = _turn(record, "user"), _turn(record, "assistant")
    return len(question) >= cfg.min_chars and cfg.min_chars <= len(answer) <= cfg.max_chars


@functools.cache
def _identifier() -> Any:
    from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_modelpath(MODEL_DIR / MODEL_FILE, norm_probs=True)


def _language_ok(record: dict[str, Any], language: str | None) -> bool:
    """Dropped only when py3langid is sure it is another language: on a few words ("Q?", "test") its guess is
    noise (Serbian at 2% here), and a short answer in the right language must not be lost to it."""
    if language is None:
        return True
    guess, confidence = _identifier().classify(f"{_turn(record, 'user')}\n{_turn(record, 'assistant')}")
    return bool(guess == language or confidence < SURE_OF_LANGUAGE)


def _duplicates(
    records: Sequence[dict[str, Any]], existing: Sequence[str], test: Sequence[str], threshold: float
) -> dict[int, str]:
    """{index of a generated record: reason} for the ones that repeat a test question, an example of the data, or
    an earlier generated one; `existing` and `test` are user texts."""
    texts = [normalize(t) for t in (*test, *existing)] + [normalize(_turn(r, "user")) for r in records]
    n_test, n_old = len(test), len(test) + len(existing)
    out: dict[int, str] = {}
    for group in near_groups(texts, threshold):
        members = sorted(group)
        if members[0] < n_test:
            reason = "in_test"
        elif members[0] < n_old:
            reason = "in_data"
        else:
            reason = "duplicate"
        for i in members[1:] if reason == "duplicate" else members:
            if i >= n_old:
                out[i - n_old] = reason
    return out


def cap_refusals(records: list[dict[str, Any]], share: float) -> tuple[list[dict[str, Any]], int]:
    """Keep every non-refusal and at most `share` of the result as refusals (the first ones); (kept, dropped)."""
    answers = sum(1 for r in records if not is_refusal_example(r))
    allowed = len(records) if share >= 1 else int(share * answers / (1 - share))
    kept, seen = [], 0
    for r in records:
        if is_refusal_example(r):
            seen += 1
            if seen > allowed:
                continue
        kept.append(r)
    return kept, len(records) - len(kept)


def quality_filter(
    records: Sequence[dict[str, Any]],
    cfg: GenerateConfig,
    *,
    existing: Sequence[str],
    test: Sequence[str],
    threshold: float,
    judge: Callable[[list[dict[str, Any]]], list[int | None]] | None = None,
    refusal_cap: bool = True,
) -> Filtered:
    """The records that pass every filter, in order, and how many each filter dropped (REASONS)."""
    result = Filtered(kept=[])
    stage: list[dict[str, Any]] = []
    for r in records:
        reason = "length" if not _length_ok(r, cfg) else "language" if not _language_ok(r, cfg.language) else None
        if reason:
            result.dropped[reason] += 1
        else:
            stage.append(r)
    twins = _duplicates(stage, existing, test, threshold)
    for reason in twins.values():
        result.dropped[reason] += 1
    stage = [r for i, r in enumerate(stage) if i not in twins]
    if judge is not None and cfg.judge_min_score is not None and stage:
        scores = judge(stage)
        for r, score in zip(stage, scores, strict=True):
            r["meta"]["judge_score"] = score
        passed = [r for r, s in zip(stage, scores, strict=True) if s is not None and s >= cfg.judge_min_score]
        result.dropped["judge"] += len(stage) - len(passed)
        stage = passed
    if refusal_cap:
        stage, capped = cap_refusals(stage, cfg.max_refusal_share)
        if capped:
            result.dropped["refusal_share"] += capped
    result.kept = stage
    return result
