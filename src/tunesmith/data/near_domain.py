"""Out-of-scope questions next to the project's domain, written from its own data, and refusals in its voice.

A model learns where its knowledge ends from refusals that sit near the boundary: the same topics asked about
another organisation, a neighbouring department (legal, tax, medical, IT), personal advice, and facts the data
never states. Far-away questions (the weather, football) are easy and teach little: a fine-tune that only saw those
answers a near-domain question in the organisation's own voice, inventing policy.

No library writes such questions offline, so this module does it with templates filled from the project's data:
its organisation name (the most frequent capitalised name of the system prompts and answers), its frequent topic
words, and the user turns themselves. The refusal is one of the project's own refusals (the most generic one), or
`augment.DEFAULT_ANSWER` when it has none. Every generated question is checked against the data's user turns, so
none repeats an existing question.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tunesmith.data.augment import REFUSAL_TAGS, AugmentResult, append_records, refusal_records
from tunesmith.data.pii import SPACY_MODEL
from tunesmith.errors import DataError
from tunesmith.records import load_records
from tunesmith.refusals import is_refusal

_WORD = re.compile(r"[A-Za-z][A-Za-z'-]+")
_NAME = re.compile(r"\b([A-Z][a-z]+(?:\s+[A-Z][a-z]+){0,3})\b")
_STOP = frozenset(
    """a about above after again all also am an and any are as at be because been before being below between both
    but by can could did do does doing down during each few for from further had has have having he her here hers
    how i if in into is it its itself just me more most my myself no nor not now of off on once only or other our
    ours out over own same she should so some such than that the their theirs them then there these they this those
    through to too under until up very was we were what when where which while who whom why will with would you
    your yours please thanks thank hi hello hey get got need want know tell help like one two much many way make
    still also really there's what's it's i'm i've can't don't doesn't won't let lets us new use used using good
    great quick question morning afternoon evening cheers hiya thanks advance appreciate appreciated
    okay sure time week month year day number thing""".split()
)
_GENERIC_NAMES = frozenset({"You", "Be", "Use", "Only", "If", "Do", "The", "Your", "When", "For", "Please", "Hi"})

# Neighbouring departments and personal advice, around the project's own topic words.
NEIGHBOURS = (
    "Can you give me legal advice about {topic}? I'm thinking of suing.",
    "What are the tax implications of {topic} for my personal tax return?",
    "Is {topic} covered by my health insurance?",
    "My laptop crashed while I was dealing with {topic}. How do I fix Windows?",
    "In your personal opinion, should I invest my savings instead of worrying about {topic}?",
    "Write me a poem about {topic}.",
    "What does a competitor of {org} charge for {topic}?",
    "How does {topic} work in another country's law?",
)
# Facts an organisation's data rarely states; a fine-tune should not invent them.
UNSTATED = (
    "What is the salary of {org}'s CEO?",
    "How many employees does {org} have worldwide?",
    "What was {org}'s revenue last year?",
    "Who owns {org}, and what is its share price today?",
    "When exactly was {org} founded, and by whom?",
    "What will {org}'s prices be next year?",
    "What is the home address of {org}'s head of customer service?",
    "Is {org} going to be sold or merged soon?",
)


@dataclass(frozen=True)
class Voice:
    """What the generated refusals borrow from the project: its system prompt, organisation and refusal."""

    system: str | None
    organisation: str
    refusal: str | None  # the project's most generic refusal; None when it has none


def _user(record: dict[str, Any]) -> str | None:
    turns = [m.get("content") for m in record.get("messages", []) if m.get("role") == "user"]
    return turns[0] if turns and isinstance(turns[0], str) else None


def _answer(record: dict[str, Any]) -> str | None:
    turns = [m.get("content") for m in record.get("messages", []) if m.get("role") == "assistant"]
    return turns[-1] if turns and isinstance(turns[-1], str) else None


def _system(records: Sequence[dict[str, Any]]) -> str | None:
    systems = Counter(
        m["content"]
        for r in records
        for m in r.get("messages", [])[:1]
        if m.get("role") == "system" and isinstance(m.get("content"), str)
    )
    return systems.most_common(1)[0][0] if systems else None


def _words(text: str) -> set[str]:
    return {w.lower() for w in _WORD.findall(text)} - _STOP


def organisation_name(records: Sequence[dict[str, Any]], system: str | None) -> str:
    """The organisation the assistant speaks for: the first multi-word name of the system prompt ("the assistant
    for Lumen Home, ..."), else the capitalised name its answers use most."""
    for name in _NAME.findall(system or ""):
        if " " in name and name.split()[0] not in _GENERIC_NAMES:
            return str(name)
    counts = [(n, c) for n, c in _names_in_answers(records).most_common() if n.split()[0] not in _GENERIC_NAMES]
    return counts[0][0] if counts else "this organisation"


def _names_in_answers(records: Sequence[dict[str, Any]]) -> Counter[str]:
    return Counter(name for r in records if (a := _answer(r)) for name in _NAME.findall(a))


def topic_words(records: Sequence[dict[str, Any]], organisation: str, k: int = 24) -> list[str]:
    """The project's frequent topic words: nouns of its user turns (spaCy's tagger, which Presidio already brings)
    that its answers use too, which drops greetings and filler, ranked by how often users ask about them."""
    org = _words(organisation)
    in_answers = {w for r in records if (a := _answer(r)) for w in _words(a)}
    questions = [q for r in records if (q := _user(r))]
    nouns = [w for w in _nouns(questions) if len(w) > 3 and w not in org and w not in _STOP]
    # Answers that never repeat the users' words (templated ones) leave the filter empty: the nouns alone then.
    counts = Counter(w for w in nouns if w in in_answers) or Counter(nouns)
    return [w for w, _ in counts.most_common(k)]


def _nouns(texts: Sequence[str]) -> list[str]:
    """Every noun of `texts`, lowercased; without the spaCy model, every word (the ranking then has to do)."""
    try:
        import spacy

        nlp = spacy.load(SPACY_MODEL, disable=["parser", "ner"])
    except (ImportError, OSError):
        return [w for text in texts for w in _words(text)]
    return [t.lemma_.lower() for doc in nlp.pipe(texts) for t in doc if t.pos_ in ("NOUN", "PROPN")]


_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def _house_refusal(refusals: Sequence[str]) -> str | None:
    """The refusal the project writes most: its most frequent declining sentence, then its most frequent other
    sentence (the redirect), each when several refusals use it; else the refusal closest to all the others.
    A refusal tailored to one question ("for tax questions, ask HMRC") would not fit the generated ones."""
    if not refusals:
        return None
    counts = Counter(part.strip() for text in refusals for part in _SENTENCE.split(text) if part.strip())
    common = [(part, n) for part, n in counts.most_common() if n >= 2]
    declining = next((part for part, _ in common if is_refusal(part)), None)
    if declining is not None:
        redirect = next((part for part, _ in common if not is_refusal(part)), None)
        return f"{declining} {redirect}" if redirect else declining
    words = [_words(text) for text in refusals]
    return max(refusals, key=lambda text: (sum(len(_words(text) & w) for w in words), -len(text)))


def project_voice(records: Sequence[dict[str, Any]]) -> Voice:
    system = _system(records)
    refusals = [a for r in records if (a := _answer(r)) and is_refusal(a)]
    return Voice(system=system, organisation=organisation_name(records, system), refusal=_house_refusal(refusals))


def _too_close(question: str, existing: list[set[str]], limit: float = 0.6) -> bool:
    words = _words(question)
    return any(len(words & e) / max(1, len(words | e)) >= limit for e in existing)


def near_domain_questions(records: Sequence[dict[str, Any]], n: int, *, seed: int = 0) -> list[str]:
    """`n` distinct out-of-scope questions near the domain of `records` (fewer when the templates run out)."""
    rng = random.Random(seed)
    voice = project_voice(records)
    org = voice.organisation
    topics = topic_words(records, org) or ["this"]
    # Never an in-scope question reworded ("... I mean at my previous employer"): on the credit-union example,
    # refusals that shared an in-scope question's content taught the model to refuse its own domain (over-refusal
    # 18 of 52, docs/data.md). Every candidate is checked against the existing questions.
    candidates: list[list[str]] = [
        [t.format(topic=topic, org=org) for t in NEIGHBOURS for topic in rng.sample(topics, min(12, len(topics)))],
        [t.format(org=org) for t in UNSTATED],
    ]
    for group in candidates:
        rng.shuffle(group)
    existing = [_words(q) for r in records if (q := _user(r))]
    out: list[str] = []
    # Round-robin over the kinds, so a small n still covers each of them.
    while len(out) < n and any(candidates):
        for group in candidates:
            if group and len(out) < n:
                question = group.pop()
                if question not in out and not _too_close(question, existing):
                    out.append(question)
    return out


NEAR_DOMAIN_TAGS = (*REFUSAL_TAGS, "generated", "near_domain")


def near_domain_refusals(
    records: Sequence[dict[str, Any]],
    questions: Sequence[str],
    *,
    generated_by: str,
    seed: int,
    system: str | None = None,
    answer: str | None = None,
    contact: str | None = None,
) -> list[dict[str, Any]]:
    """Refusal conversations for `questions`, in the voice of `records` unless `system` and `answer` say
    otherwise; tagged generated and near_domain beside refusal and out_of_scope, so people can find them."""
    voice = project_voice(records)
    made = refusal_records(
        [(i, q, None) for i, q in enumerate(questions, 1)],
        system=system if system is not None else voice.system,
        answer=answer if answer is not None else voice.refusal,
        contact=contact,
        seed=seed,
    )
    for record in made:
        record["meta"]["tags"] = list(NEAR_DOMAIN_TAGS)
        record["meta"]["source"]["generated"] = generated_by
    return made


def add_near_domain_refusals(
    out: str | Path,
    paths: Sequence[str | Path],
    n: int,
    *,
    seed: int = 0,
    system: str | None = None,
    answer: str | None = None,
    contact: str | None = None,
) -> AugmentResult:
    """`tunesmith data add-refusals --near-domain FILE --generate N`: append N near-domain refusals to `out`."""
    if n < 1:
        raise DataError(f"--generate must be at least 1, got {n}")
    loaded = load_records(list(paths))
    if not loaded.records:
        raise DataError("--near-domain: no conversation to learn the domain from", file=paths[0])
    questions = near_domain_questions(loaded.records, n, seed=seed)
    made = near_domain_refusals(
        loaded.records,
        questions,
        generated_by="tunesmith data add-refusals --near-domain",
        seed=seed,
        system=system,
        answer=answer,
        contact=contact,
    )
    return append_records(out, made)
