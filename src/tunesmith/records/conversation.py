"""The canonical conversation record (DESIGN.md, "Canonical record") and its conversion from each format.

A canonical record is `{"messages": [{"role", "content", ("weight")}], "meta": {"id", "source": {"file", "line"},
"tags", ...}}`. Records that are structurally invalid (the error kinds of a check) are reported and left out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal, NotRequired, TypedDict, get_args

from tunesmith.errors import DataError
from tunesmith.records.reading import Finding, error

ROLES = ("system", "user", "assistant")
# OpenAI's tool-calling fine-tuning format: `tool` answers an assistant's `tool_calls`; `function` answers the older
# `function_call`. Their messages are context (never trained) and sit between an assistant call and its answer.
TOOL_ROLES = ("tool", "function")
# Message keys of the tool-calling format, kept as they are in the canonical record.
TOOL_MESSAGE_KEYS = ("tool_calls", "tool_call_id", "function_call", "name")
# Record-level keys of the same format: the tool (or function) definitions the conversation could call.
TOOL_RECORD_KEYS = ("tools", "functions", "parallel_tool_calls")
# The conversation formats a file can be in: the one list, which `data.format` and `--format` are checked against.
Format = Literal["messages", "prompt_completion", "alpaca", "sharegpt"]
FORMATS: tuple[str, ...] = get_args(Format)
# ShareGPT exports name their speakers in many ways; these are the ones seen in the wild.
SHAREGPT_ROLES = {
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "model": "assistant",
    "chatgpt": "assistant",
    "bing": "assistant",
    "bard": "assistant",
    "system": "system",
}


class Message(TypedDict):
    """One message of a canonical record; the tool keys (TOOL_MESSAGE_KEYS) only where the format has them."""

    role: str
    content: str
    weight: NotRequired[float]
    tool_calls: NotRequired[list[dict[str, Any]]]
    tool_call_id: NotRequired[str]
    function_call: NotRequired[dict[str, Any]]
    name: NotRequired[str]


class Conversation(TypedDict):
    """The canonical conversation record; `meta` holds id, source {file, line}, tags and the redactions."""

    messages: list[Message]
    meta: dict[str, Any]
    tools: NotRequired[list[Any]]
    functions: NotRequired[list[Any]]
    parallel_tool_calls: NotRequired[bool]


def _text(value: Any) -> str | None:
    """Message content as text: a string, or OpenAI's list of text parts."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and value and all(isinstance(p, dict) and p.get("type") == "text" for p in value):
        return "".join(str(p.get("text", "")) for p in value)
    return None


# Each conversation format's raw message list, or None and why it has none. Validation is `to_record`'s, shared.


def _system(obj: dict[str, Any]) -> list[Any]:
    return [{"role": "system", "content": obj["system"]}] if isinstance(obj.get("system"), str) else []


def _from_messages(obj: dict[str, Any]) -> tuple[list[Any] | None, str]:
    msgs = obj.get("messages")
    if not isinstance(msgs, list) or not msgs:
        return None, "no 'messages' list" if "messages" not in obj else "'messages' is not a non-empty list"
    return msgs, ""


def _from_sharegpt(obj: dict[str, Any]) -> tuple[list[Any] | None, str]:
    turns = obj.get("conversations")
    if not isinstance(turns, list) or not turns:
        return None, "no 'conversations' list"
    msgs = []
    if isinstance(obj.get("system"), str) and obj["system"].strip():
        msgs.append({"role": "system", "content": obj["system"]})
    for t in turns:
        if not isinstance(t, dict):
            msgs.append(t)
            continue
        speaker = t.get("from")
        role = SHAREGPT_ROLES.get(str(speaker).lower(), speaker) if speaker is not None else None
        m = {"content": t["value"]} if "value" in t else {}
        if role is not None:
            m["role"] = role
        msgs.append(m)
    return msgs, ""


def _from_alpaca(obj: dict[str, Any]) -> tuple[list[Any] | None, str]:
    if "instruction" not in obj or "output" not in obj:
        return None, "no 'instruction'/'output' fields"
    instruction, extra = obj.get("instruction"), obj.get("input")
    prompt = instruction
    if isinstance(instruction, str) and isinstance(extra, str) and extra.strip():
        prompt = f"{instruction}\n\n{extra}"
    return [*_system(obj), {"role": "user", "content": prompt}, {"role": "assistant", "content": obj["output"]}], ""


def _from_prompt_completion(obj: dict[str, Any]) -> tuple[list[Any] | None, str]:
    if "prompt" not in obj or "completion" not in obj:
        return None, "no 'prompt'/'completion' fields"
    return [
        *_system(obj),
        {"role": "user", "content": obj["prompt"]},
        {"role": "assistant", "content": obj["completion"]},
    ], ""


_SOURCES: dict[str, Callable[[dict[str, Any]], tuple[list[Any] | None, str]]] = {
    "messages": _from_messages,
    "sharegpt": _from_sharegpt,
    "alpaca": _from_alpaca,
    "prompt_completion": _from_prompt_completion,
}


def _tool_call_problem(m: dict[str, Any], i: int) -> str | None:
    """Why an assistant message's `tool_calls` / `function_call` is not in OpenAI's shape, or None."""
    calls = m.get("tool_calls")
    if calls is not None:
        if not isinstance(calls, list) or not calls:
            return f"message {i} has 'tool_calls' that is not a non-empty list"
        for k, c in enumerate(calls):
            fn = c.get("function") if isinstance(c, dict) else None
            if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
                return f"message {i} tool call {k} has no function name"
            if not isinstance(fn.get("arguments", ""), str):
                return f"message {i} tool call {k} has arguments that are not a JSON string"
    fc = m.get("function_call")
    if fc is not None:
        if not isinstance(fc, dict) or not isinstance(fc.get("name"), str):
            return f"message {i} has a 'function_call' with no name"
        if not isinstance(fc.get("arguments", ""), str):
            return f"message {i} has 'function_call' arguments that are not a JSON string"
    return None


def has_tool_call(message: dict[str, Any]) -> bool:
    return bool(message.get("tool_calls") or message.get("function_call"))


def text_slots(record: dict[str, Any]) -> Iterator[tuple[int, str, dict[str, Any], str]]:
    """Every text of a record that may hold personal data, as (message index, field, container, key).

    The content of each message (tool outputs included), and the arguments of each tool or function call: those
    are text too ("look up the order of jane@example.com"). `container[key]` is the string.
    """
    for i, m in enumerate(record["messages"]):
        yield i, "content", m, "content"
        for k, call in enumerate(m.get("tool_calls") or []):
            fn = call.get("function") if isinstance(call, dict) else None
            if isinstance(fn, dict) and isinstance(fn.get("arguments"), str):
                yield i, f"tool_calls.{k}.arguments", fn, "arguments"
        fc = m.get("function_call")
        if isinstance(fc, dict) and isinstance(fc.get("arguments"), str):
            yield i, "function_call.arguments", fc, "arguments"


def _message(m: dict[str, Any], i: int, *, file: str, line: int) -> tuple[dict[str, Any], list[Finding]]:
    """Message `i` in canonical form, and what is wrong with it."""
    findings: list[Finding] = []
    role = m.get("role")
    if role not in ROLES and role not in TOOL_ROLES:
        what = "has no role" if role is None else f"has role {str(role)[:40]!r}"
        expected = "/".join(ROLES + TOOL_ROLES)
        findings.append(error("unrecognized_role", line, f"message {i} {what} (expected {expected})", file))
    calls = role == "assistant" and ("tool_calls" in m or "function_call" in m)
    if calls:
        problem = _tool_call_problem(m, i)
        if problem:
            findings.append(error("invalid_tool_call", line, problem, file))
    content = _text(m.get("content"))
    if content is None and calls and m.get("content") is None:
        content = ""  # a tool call needs no text; the canonical record keeps content a string
    elif content is None:
        what = "has no content" if m.get("content") is None else "has content that is not text"
        findings.append(error("missing_content", line, f"message {i} {what}", file))
    elif not content.strip() and not calls:
        findings.append(error("empty_content", line, f"message {i} ({role}) is empty", file))
    msg: dict[str, Any] = {"role": role, "content": content}
    if role == "assistant" and "weight" in m:
        msg["weight"] = m["weight"]
    for key in TOOL_MESSAGE_KEYS:
        if key in m and m[key] is not None and (role in TOOL_ROLES or role == "assistant"):
            msg[key] = m[key]
    return msg, findings


def to_record(obj: Any, fmt: str, *, file: str, line: int) -> tuple[dict[str, Any] | None, list[Finding]]:
    """Convert one parsed object; return the canonical record (None when it has an error) and its findings."""
    if not isinstance(obj, dict):
        return None, [error("not_an_object", line, f"expected a JSON object, got {type(obj).__name__}", file)]
    if fmt not in _SOURCES:
        raise DataError(f"unknown format '{fmt}'", hint=f"use one of: {', '.join(FORMATS)}")
    raw, why = _SOURCES[fmt](obj)
    if raw is None:
        return None, [error("missing_messages", line, why, file)]
    findings: list[Finding] = []
    messages: list[dict[str, Any]] = []
    for i, m in enumerate(raw):
        if not isinstance(m, dict):
            findings.append(error("missing_content", line, f"message {i} is not an object", file))
            continue
        msg, problems = _message(m, i, file=file, line=line)
        findings += problems
        messages.append(msg)
    roles = [m["role"] for m in messages]
    if findings:
        return None, findings
    if "assistant" not in roles:
        return None, [error("no_assistant_message", line, "no assistant message to learn from", file)]
    problem = role_order_problem(roles, [has_tool_call(m) for m in messages])
    if problem:
        return None, [error("role_order", line, problem, file)]
    meta = dict(obj["meta"]) if isinstance(obj.get("meta"), dict) else {}
    if "tags" not in meta and isinstance(obj.get("tags"), list):
        meta["tags"] = obj["tags"]
    meta.setdefault("id", f"{Path(file).name}:{line}")
    meta["source"] = {"file": file, "line": line}
    record: dict[str, Any] = {"messages": messages}
    for key in TOOL_RECORD_KEYS:
        if obj.get(key) is not None:
            record[key] = obj[key]
    record["meta"] = meta
    return record, []


def role_order_problem(roles: Sequence[str], calls: Sequence[bool] | None = None) -> str | None:
    """Why the turns are out of order, or None. System first (at most once), then user/assistant alternating.

    Tool (or function) messages answer an assistant's call: they follow an assistant message with `tool_calls`
    (`calls[i]`, when given) or another tool message, and an assistant message follows them. That step (call,
    results, answer) counts as one assistant turn.
    """
    roles = list(roles)
    calls = list(calls) if calls is not None else [False] * len(roles)
    turns: list[str] = []
    for i, role in enumerate(roles):
        if role in TOOL_ROLES:
            before = roles[i - 1] if i else None
            if before not in TOOL_ROLES and not (before == "assistant" and calls[i - 1]):
                return f"a {role} message at position {i} does not follow an assistant tool call"
            continue
        if i and roles[i - 1] in TOOL_ROLES:
            if role != "assistant":
                return f"a {role} message at position {i} follows tool results; the assistant must answer them"
            continue  # the answer that uses the tool results: part of the same assistant turn
        turns.append(role)
    if roles and roles[-1] in TOOL_ROLES:
        return "the conversation ends with a tool result; nothing follows it to learn from"
    if turns and turns[0] == "system":
        turns = turns[1:]
    if "system" in turns:
        return f"a system message at position {list(roles).index('system', 1)}; it may only come first"
    if not turns:
        return "no user or assistant turn"
    if turns[0] != "user":
        return "the conversation starts with the assistant; the first turn must be the user's"
    for i in range(1, len(turns)):
        if turns[i] == turns[i - 1]:
            offset = len(roles) - len(turns)
            return f"two {turns[i]} turns in a row (messages {i - 1 + offset} and {i + offset})"
    if turns[-1] != "assistant":
        return "the last turn is the user's; nothing follows it to learn from"
    return None


def as_conversation(row: dict[str, Any]) -> dict[str, Any]:
    """A written record as a conversation: a preference pair (DESIGN.md, "Preference record") becomes its prompt
    and chosen answer, so the stages that read conversations (eval test cases, retrieval) can read pair datasets."""
    if "messages" in row or not isinstance(row.get("prompt"), list) or not isinstance(row.get("chosen"), list):
        return row
    return {"messages": [*row["prompt"], *row["chosen"]], "meta": row.get("meta", {})}
