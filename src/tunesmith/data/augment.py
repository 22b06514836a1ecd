"""Teach the model to say "I don't know" and to decline: refusal and negative conversations.

- `add_refusals`: out-of-scope questions (a file, or paraphrases generated from templates) answered with a
  refusal in the project's voice, tagged `refusal` and `out_of_scope` (the tags the evaluation's abstention metric
  reads).
- `add_negatives`: disallowed requests answered with the policy answer, tagged `negative`.

Both write canonical records (`{"messages": [...], "meta": {"id", "tags", "source"}}`), append them to a JSONL file
atomically (a temporary file renamed over the old one), and never add a conversation that is already there.

With `pairs=True` both write preference pairs instead (DESIGN.md, "Preference record"; train.objective: dpo): the
policy answer or the refusal is `chosen`, and `rejected` is the answer to avoid: a line's own "rejected" (the
disallowed or hallucinated answer), or, for refusals, the answer a model gives (`rejected_from`, for instance the
base model's own confident invention, generated once and stored).
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tunesmith.artifacts import dumps, write_bytes_atomic
from tunesmith.errors import DataError

REFUSAL_TAGS = ("refusal", "out_of_scope")
NEGATIVE_TAGS = ("negative",)
DEFAULT_CONTACT = "our support team"
# It says "I don't know" and "outside what I can help with" so the evaluation counts it as an abstention
# (tunesmith.refusals.REFUSAL_PATTERNS). {contact} is replaced by --contact.
DEFAULT_ANSWER = (
    "I'm sorry, I don't know the answer to that: it is outside what I can help with here. "
    "For this question, please contact {contact}."
)

# Paraphrase templates for out-of-scope questions; {topic} is filled from TOPICS.
TEMPLATES: tuple[str, ...] = (
    "Can you tell me about {topic}?",
    "What do you know about {topic}?",
    "I need some advice on {topic}.",
    "Could you help me with {topic}?",
    "Quick question about {topic}: what should I do?",
    "What's your opinion on {topic}?",
    "Explain {topic} to me, please.",
    "Do you have any tips on {topic}?",
    "I was wondering if you could answer a question about {topic}.",
    "Is there anything you can tell me regarding {topic}?",
    "Help me understand {topic}.",
    "What would you recommend for {topic}?",
)
TOPICS: tuple[str, ...] = (
    "investing my savings in stocks",
    "the weather forecast for next week",
    "a medical diagnosis for my headache",
    "writing my cover letter",
    "the result of last night's football match",
    "filing my personal tax return",
    "a recipe for lasagna",
    "fixing my car's engine noise",
    "legal advice about my lease",
    "planning a holiday in Japan",
    "choosing a new smartphone",
    "learning to play the guitar",
    "the history of the Roman Empire",
    "a competitor's pricing",
    "cryptocurrency trading",
    "my relationship problems",
    "solving my calculus homework",
    "who will win the next election",
    "training my dog",
    "setting up my home Wi-Fi router",
)


@dataclass
class AugmentResult:
    out: Path
    added: int  # new conversations appended
    duplicates: int  # skipped: already in the file, or repeated in the input
    total: int  # conversations in the file afterwards
    records: list[dict[str, Any]]  # the ones appended


# ----------------------------------------------------------------------------------------------------------------
# Records


def _conversation_key(messages: Sequence[dict[str, Any]]) -> str:
    """Two conversations are identical when their roles and contents are (meta and weights aside)."""
    return json.dumps([[m.get("role"), m.get("content")] for m in messages], ensure_ascii=False)


def to_pair(record: dict[str, Any], rejected: str, *, rejected_source: str | None = None) -> dict[str, Any]:
    """A conversation as a preference pair: its last answer chosen, `rejected` the answer to avoid."""
    prompt, chosen = record["messages"][:-1], record["messages"][-1:]
    bad = [{"role": "assistant", "content": rejected}]
    digest = hashlib.sha256(_pair_key(prompt, chosen, bad).encode("utf-8")).hexdigest()[:16]
    prefix = record["meta"]["id"].split("-", 1)[0]
    meta = {**record["meta"], "id": f"{prefix}-pair-{digest}"}
    if rejected_source is not None:
        meta["rejected_source"] = rejected_source
    return {"prompt": prompt, "chosen": chosen, "rejected": bad, "meta": meta}


def _pair_key(
    prompt: Sequence[dict[str, Any]], chosen: Sequence[dict[str, Any]], rejected: Sequence[dict[str, Any]]
) -> str:
    return "\x1e".join(_conversation_key(m) for m in (prompt, chosen, rejected))


def _record_key(obj: dict[str, Any]) -> str | None:
    """What makes two lines of an output file the same: the conversation, or the pair."""
    if isinstance(obj.get("messages"), list):
        return _conversation_key([m for m in obj["messages"] if isinstance(m, dict)])
    if all(isinstance(obj.get(k), list) for k in ("prompt", "chosen", "rejected")):
        sides = [[m for m in obj[k] if isinstance(m, dict)] for k in ("prompt", "chosen", "rejected")]
        return _pair_key(*sides)
    return None


def make_record(
    messages: list[dict[str, str]], *, tags: Sequence[str], source: dict[str, Any], prefix: str
) -> dict[str, Any]:
    """A canonical record with a content-derived id, so the same conversation always gets the same id."""
    digest = hashlib.sha256(_conversation_key(messages).encode("utf-8")).hexdigest()[:16]
    return {"messages": messages, "meta": {"id": f"{prefix}-{digest}", "tags": list(tags), "source": source}}


def _messages(system: str | None, question: str, answer: str) -> list[dict[str, str]]:
    msgs = [{"role": "system", "content": system}] if system else []
    return [*msgs, {"role": "user", "content": question}, {"role": "assistant", "content": answer}]


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


# ----------------------------------------------------------------------------------------------------------------
# Inputs


def _read_lines(path: Path) -> list[tuple[int, str]]:
    if not path.exists():
        raise DataError(f"file not found: {path}", file=path, hint="check the path (it is relative to this folder)")
    if path.is_dir():
        raise DataError(f"{path} is a directory, not a file", file=path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise DataError(f"not valid UTF-8 (byte {e.start})", file=path, hint="save the file as UTF-8") from None
    return [(n, line.rstrip("\r")) for n, line in enumerate(text.split("\n"), 1) if line.strip()]


def _json_line(path: Path, number: int, line: str) -> dict[str, Any]:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as e:
        raise DataError(
            f"invalid JSON: {e.msg} at column {e.colno}", file=path, line=number, hint="one JSON object per line"
        ) from None
    if not isinstance(obj, dict):
        raise DataError(f"expected a JSON object, got {type(obj).__name__}", file=path, line=number)
    return obj


def read_questions(path: str | Path) -> list[tuple[int, str, str | None]]:
    """(line, question, answer override) from a file of one question per line, or JSONL with "question".

    A JSONL line may carry its own "answer" (and then it replaces the default refusal for that question).
    """
    path = Path(path)
    out: list[tuple[int, str, str | None]] = []
    for number, line in _read_lines(path):
        if line.lstrip().startswith("{"):
            obj = _json_line(path, number, line)
            question = _text(obj.get("question"))
            if question is None:
                raise DataError(
                    'this line has no "question" (a non-empty string)',
                    file=path,
                    line=number,
                    hint='write {"question": "..."} per line, or plain text, one question per line',
                )
            answer = obj.get("answer")
            if answer is not None and _text(answer) is None:
                raise DataError('"answer" must be a non-empty string', file=path, line=number)
            out.append((number, question, _text(answer)))
        else:
            out.append((number, line.strip(), None))
    if not out:
        raise DataError(f"no questions in {path}", file=path, hint="one question per line, or JSONL with question")
    return out


def read_templates(path: str | Path) -> list[str]:
    """Question templates, one per line, each with a {topic} placeholder."""
    path = Path(path)
    templates = []
    for number, line in _read_lines(path):
        if "{topic}" not in line:
            raise DataError(
                "this template has no {topic} placeholder",
                file=path,
                line=number,
                hint="write templates such as: Can you tell me about {topic}?",
            )
        try:
            line.format(topic="x")
        except (KeyError, IndexError, ValueError) as e:
            raise DataError(
                f"bad template: {e!r}", file=path, line=number, hint="{topic} is the only placeholder"
            ) from None
        templates.append(line.strip())
    if not templates:
        raise DataError(f"no templates in {path}", file=path)
    return templates


def generate_questions(
    n: int, *, seed: int = 0, templates: Sequence[str] = TEMPLATES, topics: Sequence[str] = TOPICS
) -> list[str]:
    """N distinct out-of-scope questions, paraphrased from templates × topics, deterministically from `seed`."""
    if n < 1:
        raise DataError(f"--generate must be at least 1, got {n}")
    pairs = [(t, topic) for topic in topics for t in templates]
    if n > len(pairs):
        raise DataError(
            f"cannot generate {n} distinct questions from {len(templates)} templates × {len(topics)} topics "
            f"({len(pairs)} at most)",
            hint="ask for fewer, or add templates with --templates and topics with --topics",
        )
    rng = random.Random(seed)
    # Spread over topics first so that a small N is not N paraphrases of one topic.
    by_topic = {topic: rng.sample(list(templates), len(templates)) for topic in topics}
    order = rng.sample(list(topics), len(topics))
    questions: list[str] = []
    for round_ in range(len(templates)):
        for topic in order:
            questions.append(by_topic[topic][round_].format(topic=topic))
            if len(questions) == n:
                return questions
    return questions


def refusal_records(
    questions: Iterable[tuple[int, str, str | None]],
    *,
    system: str | None = None,
    answer: str | None = None,
    contact: str | None = None,
    source_file: str | None = None,
    seed: int | None = None,
) -> list[dict[str, Any]]:
    """Refusal conversations; `answer` and per-question overrides may use {contact}."""
    default = answer or DEFAULT_ANSWER
    records = []
    for number, question, override in questions:
        text = _fill_contact(override or default, contact)
        if source_file is not None:
            source: dict[str, Any] = {"file": source_file, "line": number}
        else:
            source = {"generated": "tunesmith data add-refusals", "seed": seed, "index": number}
        records.append(
            make_record(_messages(system, question, text), tags=REFUSAL_TAGS, source=source, prefix="refusal")
        )
    return records


def _fill_contact(text: str, contact: str | None) -> str:
    return text.replace("{contact}", contact or DEFAULT_CONTACT)


def negative_records(path: str | Path, *, system: str | None = None, pairs: bool = False) -> list[dict[str, Any]]:
    """Negative conversations from JSONL with "prompt" and "answer" (the policy answer), optional "system"; with
    `pairs`, preference pairs whose "rejected" (required then) is the disallowed or hallucinated answer."""
    path = Path(path)
    records = []
    for number, line in _read_lines(path):
        obj = _json_line(path, number, line)
        fields: dict[str, str] = {}
        for key in ("prompt", "answer", *(("rejected",) if pairs else ())):
            value = _text(obj.get(key))
            if value is None:
                raise DataError(
                    f'this line has no "{key}" (a non-empty string)',
                    file=path,
                    line=number,
                    hint='write {"prompt": "the disallowed request", "answer": "the policy answer"} per line'
                    + (', and "rejected": the answer to avoid, for --pairs' if pairs else ""),
                )
            fields[key] = value
        line_system = obj.get("system")
        if line_system is not None and _text(line_system) is None:
            raise DataError('"system" must be a non-empty string', file=path, line=number)
        messages = _messages(_text(line_system) or system, fields["prompt"], fields["answer"])
        source = {"file": str(path), "line": number}
        record = make_record(messages, tags=NEGATIVE_TAGS, source=source, prefix="negative")
        records.append(to_pair(record, fields["rejected"]) if pairs else record)
    if not records:
        raise DataError(f"no prompts in {path}", file=path, hint='JSONL with "prompt" and "answer" per line')
    return records


# ----------------------------------------------------------------------------------------------------------------
# Appending


def _existing_keys(out: Path) -> tuple[bytes, set[str | None], int]:
    """The file's bytes, the conversation keys already in it, and how many records it holds."""
    if not out.exists():
        return b"", set(), 0
    raw = out.read_bytes()
    keys: set[str | None] = set()
    count = 0
    for number, line in enumerate(raw.decode("utf-8-sig", errors="replace").split("\n"), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataError(
                f"the output file is not valid JSONL: {e.msg}",
                file=out,
                line=number,
                hint="fix that line, or write to a new file with --out",
            ) from None
        count += 1
        key = _record_key(obj) if isinstance(obj, dict) else None
        if key is not None:
            keys.add(key)
    return raw, keys, count


def append_records(out: str | Path, records: Sequence[dict[str, Any]]) -> AugmentResult:
    """Append the records that are not in `out` yet; write a temporary file and rename it over `out`."""
    out = Path(out)
    raw, keys, count = _existing_keys(out)
    new: list[dict[str, Any]] = []
    for record in records:
        key = _record_key(record)
        if key in keys:
            continue
        keys.add(key)
        new.append(record)
    duplicates = len(records) - len(new)
    if new:
        out.parent.mkdir(parents=True, exist_ok=True)
        body = "".join(dumps(r) + "\n" for r in new).encode("utf-8")
        if raw and not raw.endswith(b"\n"):
            raw += b"\n"
        # An existing file keeps its permissions; a new one gets the umask's.
        write_bytes_atomic(out, raw + body, mode=out.stat().st_mode & 0o777 if out.exists() else None)
    return AugmentResult(out=out, added=len(new), duplicates=duplicates, total=count + len(new), records=new)


# ----------------------------------------------------------------------------------------------------------------
# The two operations


def add_refusals(
    out: str | Path,
    *,
    questions: str | Path | None = None,
    generate: int | None = None,
    templates: str | Path | None = None,
    topics: Sequence[str] | None = None,
    system: str | None = None,
    answer: str | None = None,
    contact: str | None = None,
    seed: int = 0,
    pairs: bool = False,
    rejected_from: str | None = None,
) -> AugmentResult:
    """Append refusal conversations to `out`: for the questions in a file, or for `generate` generated ones.

    With `pairs`, preference pairs: the refusal chosen, and rejected a questions line's own "rejected" answer or,
    for the others, the greedy answer of the model `rejected_from` (a Hub id or directory), generated once and
    stored with `meta.rejected_source`.

    Without `answer`, the answer is DEFAULT_ANSWER with {contact} filled by `contact`. `templates` (a file, one
    template with {topic} per line) and `topics` replace the built-in ones for generation.
    """
    if questions is not None and generate is not None:
        raise DataError("pass --questions FILE or --generate N, not both")
    if questions is None and generate is None:
        raise DataError(
            "no questions: pass --questions FILE or --generate N",
            hint="tunesmith data add-refusals --generate 50 --contact support@example.com --out data/refusals.jsonl",
        )
    if answer is not None and _text(answer) is None:
        raise DataError("--answer must not be empty")
    if questions is not None:
        items = read_questions(questions)
        records = refusal_records(items, system=system, answer=answer, contact=contact, source_file=str(questions))
    else:
        assert generate is not None
        tpl = read_templates(templates) if templates is not None else TEMPLATES
        top = [t.strip() for t in topics if t.strip()] if topics else TOPICS
        generated = generate_questions(generate, seed=seed, templates=tpl, topics=top)
        items = [(i, q, None) for i, q in enumerate(generated, 1)]
        records = refusal_records(items, system=system, answer=answer, contact=contact, seed=seed)
    if pairs:
        records = _refusal_pairs(records, items, questions, rejected_from)
    elif rejected_from is not None:
        raise DataError("--rejected-from only applies with --pairs")
    return append_records(out, records)


def _refusal_pairs(
    records: list[dict[str, Any]],
    items: Sequence[tuple[int, str, str | None]],
    questions: str | Path | None,
    rejected_from: str | None,
) -> list[dict[str, Any]]:
    own = read_rejected(questions) if questions is not None else {}
    missing = [i for i, (number, _, _) in enumerate(items) if number not in own]
    if missing and rejected_from is None:
        number = items[missing[0]][0]
        raise DataError(
            f"{len(missing)} question(s) have no rejected answer for --pairs",
            hint='give each JSONL line a "rejected" answer, or pass --rejected-from MODEL to generate them',
            file=questions if questions is not None else None,
            line=number if questions is not None else None,
        )
    generated = (
        dict(
            zip(missing, generate_rejected(rejected_from, [records[i]["messages"][:-1] for i in missing]), strict=True)
        )
        if missing and rejected_from is not None
        else {}
    )
    out = []
    for i, (record, (number, _, _)) in enumerate(zip(records, items, strict=True)):
        if number in own:
            out.append(to_pair(record, own[number]))
        elif generated.get(i, "").strip():
            out.append(to_pair(record, generated[i], rejected_source=f"generated by {rejected_from}"))
    return out


def add_negatives(
    out: str | Path, *, prompts: str | Path, system: str | None = None, pairs: bool = False
) -> AugmentResult:
    """Append negative conversations (a disallowed request and the policy answer) to `out`; with `pairs`,
    preference pairs (the policy answer chosen, the line's "rejected" answer rejected)."""
    return append_records(out, negative_records(prompts, system=system, pairs=pairs))


def read_rejected(path: str | Path) -> dict[int, str]:
    """The "rejected" answer of each JSONL line of a questions file that has one, by line."""
    path = Path(path)
    out: dict[int, str] = {}
    for number, line in _read_lines(path):
        if line.lstrip().startswith("{"):
            value = _json_line(path, number, line).get("rejected")
            if value is not None:
                text = _text(value)
                if text is None:
                    raise DataError('"rejected" must be a non-empty string', file=path, line=number)
                out[number] = text
    return out


def generate_rejected(model: str, prompts: Sequence[list[dict[str, str]]], *, max_new_tokens: int = 96) -> list[str]:
    """A model's own greedy answers to the prompts (the base model's confident inventions, for refusal pairs)."""
    from tunesmith.models.chat import end_of_turn_ids
    from tunesmith.models.generation import generate
    from tunesmith.models.loading import generation_eos, load_for_inference, load_tokenizer

    tokenizer = load_tokenizer(model)
    lm = load_for_inference(model)
    eos = end_of_turn_ids(tokenizer, generation_eos(lm))
    predictions = generate(lm, tokenizer, list(prompts), max_new_tokens=max_new_tokens, batch_size=8, eos_ids=eos)
    return [p.text for p in predictions]
