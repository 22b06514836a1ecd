"""The canonical conversation record, format detection and conversion (DESIGN.md, "Canonical record").

Users bring messy exports. Loading never stops at the first bad line: every defect becomes a `Finding` at its
1-based line, and every line that can be used becomes a canonical record
`{"messages": [{"role", "content", ("weight")}], "meta": {"id", "source": {"file", "line"}, "tags", ...}}`.
Records that are structurally invalid (the error kinds of a check) are reported and left out of `records`.
"""

from __future__ import annotations

import base64
import codecs
import csv
import datetime as _dt
import decimal
import json
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

from tunesmith.errors import DataError

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
# How many objects are looked at to detect a file's format.
DETECT_SAMPLE = 200
# Bounds on hostile input. The json module recurses once per nesting level (10,000 levels raise RecursionError),
# and no conversation needs more than a handful; a line or CSV field past these sizes is a broken export, not data.
MAX_DEPTH = 100
MAX_LINE_BYTES = 16 * 1024 * 1024
MAX_FIELD_BYTES = 64 * 1024 * 1024


@dataclass
class Finding:
    """One problem in the data, at every line where it occurs (DESIGN.md, "Findings")."""

    kind: str
    severity: str  # "error" | "warning"
    lines: list[int]
    message: str
    file: str | None = None
    entity: str | None = None  # pii findings only
    # Groups that span several files: [file, line] pairs (then `file` is None and `lines` mixes files).
    locations: list[list[Any]] | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": self.kind,
            "severity": self.severity,
            "lines": self.lines,
            "message": self.message,
        }
        if self.file is not None:
            out["file"] = self.file
        if self.entity is not None:
            out["entity"] = self.entity
        if self.locations is not None:
            out["locations"] = self.locations
        if self.details:
            out.update(self.details)
        return out


@dataclass
class LoadResult:
    records: list[dict[str, Any]]
    findings: list[Finding]
    formats: dict[str, str]  # path -> detected (or forced) format
    lines_read: int = 0  # non-blank lines or rows, valid or not


def _error(kind: str, line: int, message: str, file: str) -> Finding:
    return Finding(kind=kind, severity="error", lines=[line], message=message, file=file)


# ----------------------------------------------------------------------------------------------------------------
# Reading containers: JSONL, JSON array, CSV, Parquet. Each yields (line, object or Finding).


def _decode(raw: bytes, path: Path) -> tuple[str, str]:
    """Return (text, encoding). UTF-16 needs a BOM; UTF-8 (with or without BOM) is the default."""
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return raw.decode("utf-16"), "utf-16"
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8) :]
    return raw.decode("utf-8", errors="surrogateescape"), "utf-8"


def _undecodable(text: str) -> int | None:
    """Column (1-based) of the first byte that was not valid UTF-8, if any (surrogateescape marks them)."""
    for i, ch in enumerate(text):
        if "\udc80" <= ch <= "\udcff":
            return i + 1
    return None


_BRACKET = re.compile(r'[\[\]{}]|"(?:[^"\\]|\\.)*"?')


def nesting_depth(text: str, limit: int = MAX_DEPTH) -> int:
    """How deep the brackets of a JSON text nest, counting up to `limit + 1` (then it stops looking).

    Brackets inside strings do not count. A text with fewer brackets than the limit cannot be too deep, which
    spares nearly every line the scan.
    """
    if text.count("[") + text.count("{") <= limit:
        return 0
    depth = deepest = 0
    for m in _BRACKET.finditer(text):
        c = m.group()
        if c in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    return deepest
        elif c in "]}":
            depth -= 1
    return deepest


def _bad_text(obj: Any, _depth: int = 0) -> str | None:
    """Why a parsed value holds something that is not Unicode text, or None.

    A lone UTF-16 surrogate (JSON's "\\ud83d" without its pair) or a byte that was not valid UTF-8 decodes into
    a Python string that cannot be encoded again: every later step (hashing, PII, writing) would fail on it.
    """
    if isinstance(obj, str):
        if obj.isascii():
            return None
        try:
            obj.encode("utf-8")
        except UnicodeEncodeError as e:
            ch = obj[e.start]
            if "\udc80" <= ch <= "\udcff":
                byte = ord(ch) - 0xDC00
                return f"byte 0x{byte:02x} is not valid UTF-8 (is the file latin-1 or cp1252? re-save it as UTF-8)"
            escaped = ch.encode("unicode_escape").decode()
            return f"a lone UTF-16 surrogate ({escaped}) at character {e.start + 1}: not valid Unicode text"
        return None
    if isinstance(obj, dict):
        for k, v in obj.items():
            why = _bad_text(k, _depth + 1) or _bad_text(v, _depth + 1)
            if why:
                return why
    elif isinstance(obj, list):
        for v in obj:
            why = _bad_text(v, _depth + 1)
            if why:
                return why
    return None


def _parse_line(line: str, number: int, file: str) -> Any:
    """One JSONL line: the object, or a Finding that says why it is not one object."""
    size = len(line.encode("utf-8", "surrogatepass"))
    if size > MAX_LINE_BYTES:
        return _error(
            "line_too_long", number, f"line of {size / 2**20:.1f} MB, over the {MAX_LINE_BYTES // 2**20} MB limit", file
        )
    col = _undecodable(line)
    if col is not None:
        byte = ord(line[col - 1]) - 0xDC00
        return _error(
            "invalid_json",
            number,
            f"not valid UTF-8 at column {col} (byte 0x{byte:02x}; is the file latin-1 or cp1252? re-save it as UTF-8)",
            file,
        )
    depth = nesting_depth(line)
    if depth > MAX_DEPTH:
        return _error("invalid_json", number, f"nested deeper than {MAX_DEPTH} levels", file)
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as e:
        if e.msg == "Extra data":
            return _error(
                "invalid_json",
                number,
                f"several JSON values on one line (the second starts at column {e.colno}); JSONL holds one object "
                "per line",
                file,
            )
        before = line[: e.pos].rstrip()
        comma = " (a trailing comma before it?)" if before.endswith(",") and e.msg.startswith("Expecting") else ""
        return _error("invalid_json", number, f"invalid JSON: {e.msg} at column {e.colno}{comma}", file)
    except RecursionError:  # the depth check counts brackets; this is only a guard
        return _error("invalid_json", number, f"nested deeper than {MAX_DEPTH} levels", file)
    except ValueError as e:
        # Python refuses integers of over 4,300 digits (a ValueError, not a JSONDecodeError): without this, one
        # such line made the whole file unreadable ("cannot read FILE") instead of being an error at its line.
        return _error("invalid_json", number, f"invalid JSON: {str(e)[:120]}", file)
    if isinstance(obj, list):
        return _error(
            "not_an_object",
            number,
            f"a JSON array of {len(obj)} value(s) on one line; JSONL holds one object per line",
            file,
        )
    why = _bad_text(obj)
    if why:
        return _error("invalid_text", number, why, file)
    return obj


def _iter_jsonl(text: str, file: str) -> Iterator[tuple[int, Any]]:
    # splitlines() would also split on U+2028 inside strings; JSONL lines end in \n (or \r\n).
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        yield number, _parse_line(line, number, file)


def _is_json_array_file(text: str) -> bool:
    """A file that starts with '[' is one JSON array only when the whole file is that one value; otherwise it is
    JSONL whose first line happens to be an array (an error at that line, not the whole file)."""
    stripped = text.lstrip()
    if not stripped.startswith("["):
        return False
    if nesting_depth(stripped, MAX_DEPTH + 1) > MAX_DEPTH + 1:
        return "\n" not in stripped.rstrip()  # too deep: report it per line unless the file is a single line
    try:
        json.loads(stripped)
    except json.JSONDecodeError as e:
        return e.msg != "Extra data"
    except (RecursionError, ValueError):  # ValueError: an integer of over 4,300 digits; read it line by line
        return False
    return True


def _iter_json_array(text: str, file: str) -> Iterator[tuple[int, Any]]:
    """Each element of a top-level array, at the line where it starts (the stdlib has no position API)."""
    decoder = json.JSONDecoder()
    pos = text.index("[") + 1
    n = len(text)
    if nesting_depth(text, MAX_DEPTH + 1) > MAX_DEPTH + 1:
        yield 1, _error("invalid_json", 1, f"nested deeper than {MAX_DEPTH} levels", file)
        return
    while True:
        while pos < n and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= n or text[pos] == "]":
            return
        line = text.count("\n", 0, pos) + 1
        try:
            obj, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as e:
            yield e.lineno, _error("invalid_json", e.lineno, f"invalid JSON: {e.msg} at column {e.colno}", file)
            return  # the rest of an array cannot be re-synchronised reliably
        except ValueError as e:  # an integer of over 4,300 digits
            yield line, _error("invalid_json", line, f"invalid JSON: {str(e)[:120]}", file)
            return
        except RecursionError:
            yield line, _error("invalid_json", line, f"nested deeper than {MAX_DEPTH} levels", file)
            return
        why = _bad_text(obj)
        if why:
            yield line, _error("invalid_text", line, why, file)
            continue
        yield line, obj


def _cell(value: Any) -> Any:
    """CSV and Parquet cells that hold JSON (a `messages` column, `meta`, `tags`) are parsed."""
    if isinstance(value, str) and value[:1] in "[{" and nesting_depth(value) <= MAX_DEPTH:
        try:
            return json.loads(value)
        except (ValueError, RecursionError):  # ValueError: not JSON, or an integer of over 4,300 digits
            return value
    return value


def json_safe(value: Any) -> Any:
    """A value as JSON can hold it. Parquet columns carry timestamps, dates, decimals and bytes; left as they are,
    `check` passes and `prepare` fails on writing ("datetime is not JSON serializable")."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, _dt.timedelta):
        return value.total_seconds()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return base64.b64encode(raw).decode("ascii")
    return str(value)


def _iter_csv(text: str, file: str, columns: dict[str, str], delimiter: str = ",") -> Iterator[tuple[int, Any]]:
    # The csv module refuses fields over 128 KB by default; a long conversation in one cell is legitimate.
    csv.field_size_limit(max(csv.field_size_limit(), MAX_FIELD_BYTES))
    reader = csv.DictReader(text.splitlines(keepends=True), delimiter=delimiter)
    rename = {v: k for k, v in columns.items()}
    start = 2  # the header is line 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            # The row's first line: the reader has not counted the line it failed on, and a runaway quote that
            # swallowed the lines after it starts here.
            line = start
            if "field larger than field limit" in str(e):
                raise DataError(
                    f"a CSV field over the {MAX_FIELD_BYTES // 2**20} MB limit",
                    hint="a cell that large is usually a broken quote; check the quoting near this line",
                    file=file,
                    line=line,
                ) from None
            raise DataError(
                f"invalid CSV: {e}", hint="check the quoting near this line", file=file, line=line
            ) from None
        line = start
        start = reader.line_num + 1
        if not any((v or "").strip() for v in row.values() if isinstance(v, str)):
            continue
        obj = {rename.get(k, k): _cell(v) for k, v in row.items() if k is not None and v not in (None, "")}
        why = _bad_text(obj)
        yield line, (_error("invalid_text", line, why, file) if why else obj)


def _iter_parquet(path: Path, columns: dict[str, str]) -> Iterator[tuple[int, Any]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        rows = pq.read_table(path).to_pylist()
    except (pa.ArrowException, OSError, ValueError) as e:
        raise DataError(
            f"cannot read the Parquet file: {e}",
            hint="the file is damaged or truncated (an interrupted copy or download?); export it again",
            file=path,
        ) from None
    rename = {v: k for k, v in columns.items()}
    for row_number, row in enumerate(rows, start=1):
        obj = {rename.get(k, k): _cell(json_safe(v)) for k, v in row.items() if v is not None}
        why = _bad_text(obj)
        yield row_number, (_error("invalid_text", row_number, why, str(path)) if why else obj)


def _iter_file(path: Path, columns: dict[str, str]) -> Iterator[tuple[int, Any]]:
    file = str(path)
    if path.suffix.lower() in (".parquet", ".pq"):
        yield from _iter_parquet(path, columns)
        return
    text, _ = _decode(path.read_bytes(), path)
    if not text.strip():
        raise DataError(
            "the file is empty" if not text else "the file is empty (only whitespace)",
            hint="pass a file with one example per line",
            file=path,
        )
    if path.suffix.lower() in (".csv", ".tsv"):
        # A .tsv read with commas was one column per line: "no line in a known format" for valid data.
        yield from _iter_csv(text, file, columns, "\t" if path.suffix.lower() == ".tsv" else ",")
        return
    # A JSON array when the whole file is one; JSONL otherwise (a single object per line).
    if _is_json_array_file(text):
        yield from _iter_json_array(text, file)
    else:
        yield from _iter_jsonl(text, file)


# ----------------------------------------------------------------------------------------------------------------
# Detection and conversion


def detect_format(obj: Any) -> str | None:
    if not isinstance(obj, dict):
        return None
    if "messages" in obj:
        return "messages"
    if "conversations" in obj:
        return "sharegpt"
    if "instruction" in obj and "output" in obj:
        return "alpaca"
    if "prompt" in obj and "completion" in obj:
        return "prompt_completion"
    return None


def _text(value: Any) -> str | None:
    """Message content as text: a string, or OpenAI's list of text parts."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and value and all(isinstance(p, dict) and p.get("type") == "text" for p in value):
        return "".join(str(p.get("text", "")) for p in value)
    return None


def _messages_from(obj: dict[str, Any], fmt: str) -> tuple[list[Any] | None, str]:
    """The raw message list of an object in `fmt`, or None and why it has none."""
    if fmt == "messages":
        msgs = obj.get("messages")
        if not isinstance(msgs, list) or not msgs:
            return None, "no 'messages' list" if "messages" not in obj else "'messages' is not a non-empty list"
        return msgs, ""
    if fmt == "sharegpt":
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
    if fmt == "alpaca":
        if "instruction" not in obj or "output" not in obj:
            return None, "no 'instruction'/'output' fields"
        instruction, extra = obj.get("instruction"), obj.get("input")
        prompt = instruction
        if isinstance(instruction, str) and isinstance(extra, str) and extra.strip():
            prompt = f"{instruction}\n\n{extra}"
        msgs = [{"role": "system", "content": obj["system"]}] if isinstance(obj.get("system"), str) else []
        return [*msgs, {"role": "user", "content": prompt}, {"role": "assistant", "content": obj["output"]}], ""
    if fmt == "prompt_completion":
        if "prompt" not in obj or "completion" not in obj:
            return None, "no 'prompt'/'completion' fields"
        msgs = [{"role": "system", "content": obj["system"]}] if isinstance(obj.get("system"), str) else []
        return [
            *msgs,
            {"role": "user", "content": obj["prompt"]},
            {"role": "assistant", "content": obj["completion"]},
        ], ""
    raise DataError(f"unknown format '{fmt}'", hint=f"use one of: {', '.join(FORMATS)}")


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


def to_record(obj: Any, fmt: str, *, file: str, line: int) -> tuple[dict[str, Any] | None, list[Finding]]:
    """Convert one parsed object; return the canonical record (None when it has an error) and its findings."""
    if not isinstance(obj, dict):
        return None, [_error("not_an_object", line, f"expected a JSON object, got {type(obj).__name__}", file)]
    raw, why = _messages_from(obj, fmt)
    if raw is None:
        return None, [_error("missing_messages", line, why, file)]
    findings: list[Finding] = []
    messages: list[dict[str, Any]] = []
    for i, m in enumerate(raw):
        if not isinstance(m, dict):
            findings.append(_error("missing_content", line, f"message {i} is not an object", file))
            continue
        role = m.get("role")
        if role not in ROLES and role not in TOOL_ROLES:
            what = "has no role" if role is None else f"has role {str(role)[:40]!r}"
            expected = "/".join(ROLES + TOOL_ROLES)
            findings.append(_error("unrecognized_role", line, f"message {i} {what} (expected {expected})", file))
        calls = role == "assistant" and ("tool_calls" in m or "function_call" in m)
        if calls:
            problem = _tool_call_problem(m, i)
            if problem:
                findings.append(_error("invalid_tool_call", line, problem, file))
        content = _text(m.get("content"))
        if content is None and calls and m.get("content") is None:
            content = ""  # a tool call needs no text; the canonical record keeps content a string
        elif content is None:
            what = "has no content" if m.get("content") is None else "has content that is not text"
            findings.append(_error("missing_content", line, f"message {i} {what}", file))
        elif not content.strip() and not calls:
            findings.append(_error("empty_content", line, f"message {i} ({role}) is empty", file))
        msg: dict[str, Any] = {"role": role, "content": content}
        if role == "assistant" and "weight" in m:
            msg["weight"] = m["weight"]
        for key in TOOL_MESSAGE_KEYS:
            if key in m and m[key] is not None and (role in TOOL_ROLES or role == "assistant"):
                msg[key] = m[key]
        messages.append(msg)
    roles = [m["role"] for m in messages]
    if findings:
        return None, findings
    if "assistant" not in roles:
        return None, [_error("no_assistant_message", line, "no assistant message to learn from", file)]
    problem = role_order_problem(roles, [has_tool_call(m) for m in messages])
    if problem:
        return None, [_error("role_order", line, problem, file)]
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


def read_items(path: Path, columns: dict[str, str] | None = None) -> list[tuple[int, Any]]:
    """Every (line, object or Finding) of one file, within the bounds above; DataError when the file cannot be read
    at all (missing, a directory, undecodable, empty). Conversation and preference loaders both start here."""
    if path.is_dir():
        raise DataError(
            f"{path} is a directory, not a data file",
            hint=f"pass the files inside it, e.g. {path}/*.jsonl",
            file=path,
        )
    if not path.is_file():
        raise DataError(f"file not found: {path}", hint="check the path", file=path)
    try:
        items = list(_iter_file(path, columns or {}))
    except UnicodeError as e:
        raise DataError(
            f"cannot decode {path}: {e}", hint="save the file as UTF-8 (or UTF-16 with a BOM)", file=path
        ) from None
    except (OSError, ValueError) as e:
        raise DataError(f"cannot read {path}: {e}", file=path) from None
    if not items:
        # Checked before format detection, which would otherwise say "no line in a known format" of a CSV or
        # Parquet file that has a header and no row.
        raise DataError(
            "the file has no rows"
            if path.suffix.lower() in (".csv", ".tsv", ".parquet", ".pq")
            else "the file is empty",
            hint="pass a file with one example per line (or row)",
            file=path,
        )
    return items


def load_records(
    paths: Sequence[str | Path], *, format: str | None = None, columns: dict[str, str] | None = None
) -> LoadResult:
    """Read every file, detecting its format unless `format` forces one.

    `columns` maps canonical field names to CSV/Parquet column names, e.g. `{"prompt": "question",
    "completion": "answer"}`. Raises DataError when a file is missing or has no line in a known format.
    """
    if format is not None and format not in FORMATS:
        raise DataError(f"unknown format '{format}'", hint=f"use one of: {', '.join(FORMATS)}")
    columns = columns or {}
    result = LoadResult(records=[], findings=[], formats={})
    if not paths:
        raise DataError("no input files", hint="pass one or more JSONL, JSON, CSV or Parquet files")
    for p in paths:
        path = Path(p)
        items = read_items(path, columns)
        fmt = format
        if fmt is None:
            votes = Counter(detect_format(o) for _, o in items[:DETECT_SAMPLE] if not isinstance(o, Finding))
            votes.pop(None, None)
            if not votes and items and all(isinstance(o, Finding) for _, o in items):
                # Every line is broken: its findings (with line and cause) say more than "no known format".
                fmt = "unknown"
            elif not votes:
                bad = sum(isinstance(o, Finding) for _, o in items)
                raise DataError(
                    "no line in a known format"
                    + (f" ({bad} of {len(items)} lines could not be read; `--json` lists why)" if bad else ""),
                    hint="expected OpenAI chat ('messages'), prompt/completion, alpaca or sharegpt records; "
                    "for CSV/Parquet map your columns, or force one with --format",
                    file=path,
                )
            else:
                fmt = votes.most_common(1)[0][0]
        result.formats[str(path)] = fmt
        for line, obj in items:
            result.lines_read += 1
            if isinstance(obj, Finding):
                result.findings.append(obj)
                continue
            record, findings = to_record(obj, fmt, file=str(path), line=line)
            result.findings.extend(findings)
            if record is not None:
                result.records.append(record)
    return result
