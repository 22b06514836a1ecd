"""The preference pair (DESIGN.md, "Preference record") and its conversion from TRL, OpenAI DPO and HH formats.

A pair is `{"prompt": [messages], "chosen": [messages], "rejected": [messages], "meta": {...}}`, the message lists
in the canonical form. Each side is validated as a conversation (prompt + answer) by `to_record`, so roles, order
and content follow the same rules as SFT data.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, NotRequired, TypedDict

from tunesmith.records.conversation import TOOL_RECORD_KEYS, Message, to_record
from tunesmith.records.reading import Finding, error

PREFERENCE_FORMATS = ("trl", "openai_dpo", "hh")
SIDES = ("chosen", "rejected")
# An HH transcript: turns that start with "Human:" or "Assistant:" after a blank line (or at the start).
_HH_TURN = re.compile(r"(?:^|\n\n)(Human|Assistant):[ \t]?")
_WORD = re.compile(r"[\w']+")


class PreferencePair(TypedDict):
    """The canonical preference pair; the tool definitions travel with it as with a conversation."""

    prompt: list[Message]
    chosen: list[Message]
    rejected: list[Message]
    meta: dict[str, Any]
    tools: NotRequired[list[Any]]
    functions: NotRequired[list[Any]]
    parallel_tool_calls: NotRequired[bool]


def normalize(text: str) -> str:
    """Lowercase, punctuation to spaces, whitespace collapsed."""
    return " ".join(_WORD.findall(text.lower()))


def parse_transcript(text: str) -> list[dict[str, str]] | None:
    """An HH-style transcript as messages, or None when it has no `Human:`/`Assistant:` turn."""
    parts = _HH_TURN.split(text)
    if len(parts) < 3:
        return None
    messages = []
    if parts[0].strip():  # text before the first turn: a system preamble
        messages.append({"role": "system", "content": parts[0].strip()})
    for speaker, content in zip(parts[1::2], parts[2::2], strict=True):
        messages.append({"role": "user" if speaker == "Human" else "assistant", "content": content.strip()})
    return messages


def _messages(value: Any, role: str) -> list[Any] | None:
    """A side as a message list: a string is one message of `role`; a single message object is wrapped."""
    if isinstance(value, str):
        return [{"role": role, "content": value}]
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list):
        return value
    return None


def _empty(value: Any) -> bool:
    """Absent or empty: None, blank text, an empty list, or messages whose contents are all blank."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, dict):
        value = [value]
    if isinstance(value, list):
        if not value:
            return True
        if any(isinstance(m, dict) and (m.get("tool_calls") or m.get("function_call")) for m in value):
            return False  # a tool call is an answer without text
        contents = [m.get("content") if isinstance(m, dict) else m for m in value]
        return all(isinstance(c, str) and not c.strip() for c in contents)
    return False


def messages_key(messages: Sequence[dict[str, Any]]) -> tuple[tuple[str, str], ...]:
    """Messages compared by role and normalised content: what makes two answers or two prompts the same."""
    return tuple((m["role"], normalize(m.get("content") or "")) for m in messages)


def _raw_sides(obj: dict[str, Any], fmt: str) -> tuple[Any, Any, Any]:
    """(prompt, chosen, rejected) as they are in the object, before validation."""
    if fmt == "openai_dpo":
        inp = obj.get("input")
        return (
            (inp.get("messages") if isinstance(inp, dict) else None),
            obj.get("preferred_output"),
            obj.get("non_preferred_output"),
        )
    if fmt == "trl":
        return obj.get("prompt"), obj.get("chosen"), obj.get("rejected")
    return None, obj.get("chosen"), obj.get("rejected")


def _split_hh(chosen: Any, rejected: Any, *, file: str, line: int) -> tuple[list[Any] | None, Any, Any, list[Finding]]:
    """The shared prompt of two full transcripts, and each side's last turn."""
    sides: dict[str, list[Any] | None] = {}
    findings: list[Finding] = []
    for name, value in (("chosen", chosen), ("rejected", rejected)):
        msgs = parse_transcript(value) if isinstance(value, str) else _messages(value, "assistant")
        if msgs is None:
            findings.append(
                error(
                    f"missing_{name}",
                    line,
                    f"'{name}' is not a Human:/Assistant: transcript or a list of messages",
                    file,
                )
            )
        elif not msgs or not isinstance(msgs[-1], dict) or msgs[-1].get("role") != "assistant":
            findings.append(error(f"missing_{name}", line, f"the {name} transcript does not end with an answer", file))
            msgs = None
        sides[name] = msgs
    c, r = sides["chosen"], sides["rejected"]
    if c is None or r is None:
        return None, None, None, findings
    pc, pr = c[:-1], r[:-1]
    try:
        same = messages_key(pc) == messages_key(pr)
    except (AttributeError, KeyError, TypeError):
        same = pc == pr  # malformed messages: the conversation check below names them
    if not same:
        where = next((i for i, (a, b) in enumerate(zip(pc, pr, strict=False)) if a != b), min(len(pc), len(pr)))
        findings.append(
            error(
                "prompt_mismatch",
                line,
                f"the chosen and rejected transcripts differ before their last turn (from message {where}: "
                f"{len(pc)} vs {len(pr)} messages before the answers); a pair must answer the same conversation",
                file,
            )
        )
        return None, None, None, findings
    return pc, [c[-1]], [r[-1]], findings


def _sides_as_records(
    base: dict[str, Any],
    prompt: list[Any],
    chosen: list[Any],
    rejected: list[Any],
    *,
    file: str,
    line: int,
) -> tuple[dict[str, dict[str, Any]], list[Finding]]:
    """Each side with its prompt is a conversation: the same rules as SFT data (roles, order, content)."""
    converted: dict[str, dict[str, Any]] = {}
    findings: list[Finding] = []
    seen: set[tuple[str, str]] = set()
    for name, side in (("chosen", chosen), ("rejected", rejected)):
        record, problems = to_record({**base, "messages": [*prompt, *side]}, "messages", file=file, line=line)
        for f in problems:
            if (f.kind, f.message) not in seen:
                seen.add((f.kind, f.message))
                f.message = f"{name} side: {f.message}"
                findings.append(f)
        if record is not None:
            converted[name] = record
    return converted, findings


def to_preference(obj: Any, fmt: str, *, file: str, line: int) -> tuple[dict[str, Any] | None, list[Finding]]:
    """Convert one parsed object into a canonical pair; None when it has an error, and its findings."""
    if not isinstance(obj, dict):
        return None, [error("not_an_object", line, f"expected a JSON object, got {type(obj).__name__}", file)]
    prompt_raw, chosen_raw, rejected_raw = _raw_sides(obj, fmt)
    findings: list[Finding] = []
    for name, value in (("chosen", chosen_raw), ("rejected", rejected_raw)):
        if _empty(value):
            label = {"openai_dpo": {"chosen": "preferred_output", "rejected": "non_preferred_output"}}.get(fmt, {})
            key = label.get(name, name)
            what = "absent" if key not in obj else "empty"
            findings.append(error(f"missing_{name}", line, f"'{key}' is {what}", file))
    if findings:
        return None, findings
    if fmt == "hh":
        prompt, chosen, rejected, findings = _split_hh(chosen_raw, rejected_raw, file=file, line=line)
        if findings:
            return None, findings
    else:
        prompt = _messages(prompt_raw, "user")
        chosen, rejected = _messages(chosen_raw, "assistant"), _messages(rejected_raw, "assistant")
        if prompt is None or _empty(prompt):
            where = "'input.messages'" if fmt == "openai_dpo" else "'prompt'"
            return None, [error("missing_prompt", line, f"{where} is absent or empty", file)]
        for name, side in (("chosen", chosen), ("rejected", rejected)):
            if side is None:
                findings.append(error(f"missing_{name}", line, f"'{name}' is not text or a list of messages", file))
        if findings:
            return None, findings
    assert prompt is not None and chosen is not None and rejected is not None
    meta = obj.get("meta") if isinstance(obj.get("meta"), dict) else {}
    base: dict[str, Any] = {"meta": meta}
    if isinstance(obj.get("tags"), list):
        base["tags"] = obj["tags"]
    inp = obj.get("input")
    tools: dict[str, Any] = inp if fmt == "openai_dpo" and isinstance(inp, dict) else obj
    for key in TOOL_RECORD_KEYS:
        if tools.get(key) is not None:
            base[key] = tools[key]
    converted, findings = _sides_as_records(base, prompt, chosen, rejected, file=file, line=line)
    if findings:
        return None, findings
    n = len(prompt)
    c, r = converted["chosen"], converted["rejected"]
    pair: dict[str, Any] = {"prompt": c["messages"][:n], "chosen": c["messages"][n:], "rejected": r["messages"][n:]}
    if messages_key(pair["chosen"]) == messages_key(pair["rejected"]):
        return None, [
            error("identical_pair", line, "chosen and rejected are the same answer: the pair teaches nothing", file)
        ]
    for key in TOOL_RECORD_KEYS:
        if key in c:
            pair[key] = c[key]
    pair["meta"] = c["meta"]
    return pair, []
