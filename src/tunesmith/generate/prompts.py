"""`data generate --from prompts|data|log`: the prompts whose teacher answers become training targets (distillation
from a model you are leaving), and the records those answers make.

The prompts come from a file (one prompt a line; JSONL with "prompt", or with "messages" in the canonical form, whose
turns up to the last user turn are kept), from the user turns of data.paths (the conversations a vendor fine-tune was
trained on), or from the request log of `tunesmith serve` (monitor.database_url: logged traffic).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tunesmith.config import DataConfig
from tunesmith.data.augment import make_record
from tunesmith.errors import DataError
from tunesmith.generate.documents import GENERATED_TAGS
from tunesmith.generate.teacher import Answer, Request
from tunesmith.refusals import is_refusal


@dataclass(frozen=True)
class Prompt:
    messages: tuple[tuple[str, str], ...]  # (role, content), ending with a user turn
    source: str  # file name, or "request log"
    locator: str  # "line 3", or the logged request's id


def _context(messages: Sequence[Any]) -> tuple[tuple[str, str], ...] | None:
    """System and user/assistant turns up to the last user turn; None when there is no user turn."""
    turns: list[tuple[str, str]] = [
        (str(m["role"]), m["content"])
        for m in messages
        if isinstance(m, dict)
        and m.get("role") in ("system", "user", "assistant")
        and isinstance(m.get("content"), str)
    ]
    last = max((i for i, (r, _) in enumerate(turns) if r == "user"), default=None)
    return tuple(turns[: last + 1]) if last is not None else None


def _file_prompt(path: Path, number: int, line: str) -> Prompt:
    if not line.lstrip().startswith("{"):
        return Prompt((("user", line.strip()),), path.name, f"line {number}")
    try:
        obj = json.loads(line)
    except ValueError as e:
        raise DataError(f"invalid JSON: {e}", file=path, line=number, hint="one JSON object per line") from None
    messages: tuple[tuple[str, str], ...] | None = None
    if isinstance(obj, dict) and isinstance(obj.get("prompt"), str) and obj["prompt"].strip():
        messages = (("user", obj["prompt"].strip()),)
    elif isinstance(obj, dict) and isinstance(obj.get("messages"), list):
        messages = _context(obj["messages"])
    if not messages:
        raise DataError(
            'this line has no prompt: write plain text, {"prompt": "..."}, or {"messages": [...]} with a user turn',
            file=path,
            line=number,
        )
    return Prompt(messages, path.name, f"line {number}")


def prompts_from_file(path: Path) -> list[Prompt]:
    if not path.is_file():
        raise DataError(f"prompt file not found: {path}", file=path, hint="check the path")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise DataError(f"not valid UTF-8 (byte {e.start})", file=path, hint="save the file as UTF-8") from None
    prompts = [_file_prompt(path, n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    if not prompts:
        raise DataError(f"no prompts in {path}", file=path, hint='one prompt a line, or JSONL with "prompt"')
    return prompts


def prompts_from_records(records: Sequence[dict[str, Any]]) -> list[Prompt]:
    """The context up to the first answer of each conversation (its system prompt and first user turn)."""
    out = []
    for r in records:
        first = next((i for i, m in enumerate(r["messages"]) if m["role"] == "assistant"), len(r["messages"]))
        context = _context(r["messages"][:first])
        source = r.get("meta", {}).get("source") or {}
        if context:
            out.append(Prompt(context, Path(str(source.get("file", "?"))).name, f"line {source.get('line', 0)}"))
    return out


def prompts_from_log(messages_by_id: Sequence[tuple[str, list[dict[str, Any]]]]) -> list[Prompt]:
    return [Prompt(c, "request log", f"request {rid}") for rid, m in messages_by_id if (c := _context(m))]


def redact_prompts(prompts: Sequence[Prompt], policy: DataConfig) -> tuple[list[Prompt], Counter[str]]:
    """The prompts with personal data replaced by typed placeholders (`<EMAIL_ADDRESS>`) before they leave the
    machine, as the document index treats its passages (data.pii, the allowed values and the names prepare kept);
    the counts by entity. data.pii: off sends them as they are."""
    if policy.pii == "off" or not prompts:
        return list(prompts), Counter()
    from tunesmith.data.redact import redact

    records: list[dict[str, Any]] = [
        {"messages": [{"role": r, "content": c} for r, c in p.messages], "meta": {"id": str(i)}}
        for i, p in enumerate(prompts)
    ]
    _, counts, _ = redact(records, policy.model_copy(update={"pii": "redact"}), None)
    out = [
        Prompt(tuple((m["role"], m["content"]) for m in r["messages"]), p.source, p.locator)
        for p, r in zip(prompts, records, strict=True)
    ]
    return out, counts


def distill_requests(prompts: Sequence[Prompt]) -> list[Request]:
    """The teacher is asked exactly what the user's model was asked: plain text, no schema, no added prompt."""
    unique = {p.messages: p for p in prompts}  # a prompt asked twice is asked once
    return [Request(messages) for messages in unique]


def distill_record(prompt: Prompt, answer: Answer, teacher: dict[str, str]) -> dict[str, Any] | None:
    text = answer.text.strip()
    if not text:
        return None
    messages = [{"role": r, "content": c} for r, c in prompt.messages] + [{"role": "assistant", "content": text}]
    # The teacher's refusals keep the tag the evaluation and the split read (tunesmith.refusals' one detector).
    refusal = ["refusal"] if is_refusal(text) else []
    record = make_record(messages, tags=[*GENERATED_TAGS, "distilled", *refusal], source={}, prefix="distilled")
    meta = {
        "source": prompt.source,
        "locator": prompt.locator,
        "teacher": teacher,
        "generated_by": "tunesmith data generate --from prompts",
    }
    return {**record, "meta": {**record["meta"], **meta}}
