"""`data generate --from docs`: questions and grounded answers from each passage of the document index, and
near-domain questions the documents do not answer, answered with the project's own refusal.

One teacher request per passage asks for both, with a JSON schema. A grounded example keeps the passage it came
from (file, locator, the sha256 of the passage's text); a near-domain question gets the house refusal of the
project's data (`near_domain.project_voice`), never the teacher's wording, so the refusals sound like the rest of the
data. A held-out-document split (generate.holdout_docs) sends every question of some whole documents to the test
file: a test question then has no sibling passage in train to be answered from by rote.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tunesmith.config import GenerateConfig
from tunesmith.data.augment import DEFAULT_ANSWER, DEFAULT_CONTACT, REFUSAL_TAGS, make_record
from tunesmith.data.near_domain import Voice
from tunesmith.data.unreviewed import NEEDS_REVIEW
from tunesmith.docs import Passage
from tunesmith.generate.teacher import Answer, Request

GENERATED_TAGS = ("generated", NEEDS_REVIEW)
DIFFICULTIES = ("easy", "medium", "hard")

PASSAGE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "questions": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "question": {"type": "string"},
                    "answer": {"type": "string"},
                    "difficulty": {"type": "string", "enum": list(DIFFICULTIES)},
                },
                "required": ["question", "answer", "difficulty"],
                "additionalProperties": False,
            },
        },
        "unanswerable": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["questions", "unanswerable"],
    "additionalProperties": False,
}

TEACHER_SYSTEM = (
    "You write training data for the assistant of {org}. You are given one passage of {org}'s documents. Questions "
    "must sound like real users: vary the phrasing (direct, indirect, a short message, a longer one with context) "
    "and the difficulty. Answers must use only facts stated in the passage, in the assistant's voice{voice}. "
    "Reply with JSON only."
)


@dataclass(frozen=True)
class PassageJob:
    passage: Passage
    request: Request


def passage_hash(passage: Passage) -> str:
    """The sha256 of the passage's own text (Passage.sha256 is the whole file's): which words the answer rests on."""
    return hashlib.sha256(passage.text.encode("utf-8")).hexdigest()


def passage_requests(passages: Sequence[Passage], cfg: GenerateConfig, voice: Voice) -> list[PassageJob]:
    """One request per passage: generate.questions_per_passage grounded questions with answers, and
    generate.near_domain_per_passage near-domain questions that the passage and the documents do not answer."""
    style = f" (the assistant's instructions: {voice.system})" if voice.system else ""
    system = TEACHER_SYSTEM.format(org=voice.organisation, voice=style)
    jobs = []
    for p in passages:
        where = f"{p.source}, {p.locator}" if p.locator else p.source
        user = (
            f"Passage from {where}:\n<passage>\n{p.text}\n</passage>\n\n"
            f"Write {cfg.questions_per_passage} questions that this passage answers, each with its answer and its "
            'difficulty (easy, medium or hard), in "questions". '
            f'Then write {cfg.near_domain_per_passage} questions in "unanswerable": near this topic, that a user of '
            f"{voice.organisation} might ask, but that neither this passage nor any policy document of "
            f"{voice.organisation} would answer (another company's terms, legal, tax or medical advice, personal "
            "opinions, facts about the organisation that are never published)."
        )
        messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        jobs.append(PassageJob(p, Request.of(messages, PASSAGE_SCHEMA, "passage_questions")))
    return jobs


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def grounded(data: Any) -> list[tuple[str, str, str | None]]:
    """(question, answer, difficulty) of a parsed answer, skipping malformed items (the parser is tolerant)."""
    items = data.get("questions") if isinstance(data, dict) else None
    out = []
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and (q := _text(item.get("question"))) and (a := _text(item.get("answer"))):
            difficulty = item.get("difficulty") if item.get("difficulty") in DIFFICULTIES else None
            out.append((q, a, difficulty))
    return out


def unanswerable(data: Any) -> list[str]:
    items = data.get("unanswerable") if isinstance(data, dict) else None
    return [q for item in (items if isinstance(items, list) else []) if (q := _text(item))]


def _messages(system: str | None, question: str, answer: str) -> list[dict[str, str]]:
    head = [{"role": "system", "content": system}] if system else []
    return [*head, {"role": "user", "content": question}, {"role": "assistant", "content": answer}]


def locator_of(passage: Passage) -> str:
    """The passage's page or heading path; for a document with neither (plain text), its place in the document,
    "passage 3" (the passage id counts the document's passages in reading order), so every draft can be found."""
    return passage.locator or f"passage {passage.id.rsplit('-', 1)[-1]}"


def passage_records(job: PassageJob, answer: Answer, voice: Voice, teacher: dict[str, str]) -> list[dict[str, Any]]:
    """The examples of one passage's answer: grounded ones, then near-domain refusals; each names its passage."""
    p = job.passage
    meta = {
        "source": p.source,
        "locator": locator_of(p),
        "passage_sha256": passage_hash(p),
        "passage_id": p.id,
        "teacher": teacher,
        "generated_by": "tunesmith data generate --from docs",
    }
    refusal = (voice.refusal or DEFAULT_ANSWER).replace("{contact}", DEFAULT_CONTACT)
    records = []
    for question, text, difficulty in grounded(answer.data):
        tags = [*GENERATED_TAGS, "grounded", *([difficulty] if difficulty else [])]
        record = make_record(_messages(voice.system, question, text), tags=tags, source={}, prefix="generated")
        records.append({**record, "meta": {**record["meta"], **meta}})
    for question in unanswerable(answer.data):
        tags = [*GENERATED_TAGS, *REFUSAL_TAGS, "near_domain"]
        record = make_record(_messages(voice.system, question, refusal), tags=tags, source={}, prefix="generated")
        records.append({**record, "meta": {**record["meta"], **meta}})
    return records


def held_out_documents(sources: Sequence[str], share: float, seed: int) -> set[str]:
    """The documents whose questions all go to the test file: round(share x documents), at least one when share > 0,
    never all of them (train needs some), seeded."""
    unique = sorted(set(sources))
    if share <= 0 or len(unique) < 2:
        return set()
    k = min(len(unique) - 1, max(1, round(share * len(unique))))
    return set(random.Random(seed).sample(unique, k))
