"""The canonical conversation record, format detection and conversion (DESIGN.md, "Canonical record").

Users bring messy exports. Loading never stops at the first bad line: every defect becomes a `Finding` at its
1-based line, and every line that can be used becomes a canonical record
`{"messages": [{"role", "content", ("weight")}], "meta": {"id", "source": {"file", "line"}, "tags", ...}}`.
Records that are structurally invalid (the error kinds of a check) are reported and left out of `records`.
"""

from __future__ import annotations

import codecs
import csv
import json
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tunesmith.errors import DataError

ROLES = ("system", "user", "assistant")
FORMATS = ("messages", "prompt_completion", "alpaca", "sharegpt")
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


def _iter_jsonl(text: str, file: str) -> Iterator[tuple[int, Any]]:
    # splitlines() would also split on U+2028 inside strings; JSONL lines end in \n (or \r\n).
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        col = _undecodable(line)
        if col is not None:
            yield number, _error("invalid_json", number, f"not valid UTF-8 at column {col}", file)
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as e:
            yield number, _error("invalid_json", number, f"invalid JSON: {e.msg} at column {e.colno}", file)


def _iter_json_array(text: str, file: str) -> Iterator[tuple[int, Any]]:
    """Each element of a top-level array, at the line where it starts (the stdlib has no position API)."""
    decoder = json.JSONDecoder()
    pos = text.index("[") + 1
    n = len(text)
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
        yield line, obj


def _cell(value: Any) -> Any:
    """CSV and Parquet cells that hold JSON (a `messages` column, `meta`, `tags`) are parsed."""
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _iter_csv(text: str, file: str, columns: dict[str, str]) -> Iterator[tuple[int, Any]]:
    reader = csv.DictReader(text.splitlines(keepends=True))
    rename = {v: k for k, v in columns.items()}
    start = 2  # the header is line 1
    for row in reader:
        line = start
        start = reader.line_num + 1
        if not any((v or "").strip() for v in row.values() if isinstance(v, str)):
            continue
        yield line, {rename.get(k, k): _cell(v) for k, v in row.items() if k is not None and v not in (None, "")}


def _iter_parquet(path: Path, columns: dict[str, str]) -> Iterator[tuple[int, Any]]:
    import pyarrow.parquet as pq

    rename = {v: k for k, v in columns.items()}
    for row_number, row in enumerate(pq.read_table(path).to_pylist(), start=1):
        yield row_number, {rename.get(k, k): _cell(v) for k, v in row.items() if v is not None}


def _iter_file(path: Path, columns: dict[str, str]) -> Iterator[tuple[int, Any]]:
    file = str(path)
    if path.suffix.lower() in (".parquet", ".pq"):
        yield from _iter_parquet(path, columns)
        return
    text, _ = _decode(path.read_bytes(), path)
    if path.suffix.lower() in (".csv", ".tsv"):
        yield from _iter_csv(text, file, columns)
        return
    # A JSON array when the file starts with '['; JSONL otherwise (a single object per line).
    if text.lstrip().startswith("["):
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
        if role not in ROLES:
            what = "has no role" if role is None else f"has role {role!r}"
            findings.append(_error("unrecognized_role", line, f"message {i} {what} (expected {'/'.join(ROLES)})", file))
        content = _text(m.get("content"))
        if content is None:
            what = "has no content" if m.get("content") is None else "has content that is not text"
            findings.append(_error("missing_content", line, f"message {i} {what}", file))
        elif not content.strip():
            findings.append(_error("empty_content", line, f"message {i} ({role}) is empty", file))
        msg: dict[str, Any] = {"role": role, "content": content}
        if role == "assistant" and "weight" in m:
            msg["weight"] = m["weight"]
        messages.append(msg)
    roles = [m["role"] for m in messages]
    if findings:
        return None, findings
    if "assistant" not in roles:
        return None, [_error("no_assistant_message", line, "no assistant message to learn from", file)]
    problem = role_order_problem(roles)
    if problem:
        return None, [_error("role_order", line, problem, file)]
    meta = dict(obj["meta"]) if isinstance(obj.get("meta"), dict) else {}
    if "tags" not in meta and isinstance(obj.get("tags"), list):
        meta["tags"] = obj["tags"]
    meta.setdefault("id", f"{Path(file).name}:{line}")
    meta["source"] = {"file": file, "line": line}
    return {"messages": messages, "meta": meta}, []


def role_order_problem(roles: Sequence[str]) -> str | None:
    """Why the turns are out of order, or None. System first (at most once), then user/assistant alternating."""
    turns = list(roles)
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
        if not path.is_file():
            raise DataError(f"file not found: {path}", hint="check the path", file=path)
        try:
            items = list(_iter_file(path, columns))
        except (OSError, UnicodeError, ValueError) as e:  # pyarrow raises ArrowInvalid, a ValueError
            raise DataError(f"cannot read {path}: {e}", file=path) from None
        fmt = format
        if fmt is None:
            votes = Counter(detect_format(o) for _, o in items[:DETECT_SAMPLE] if not isinstance(o, Finding))
            votes.pop(None, None)
            if not votes:
                raise DataError(
                    "no line in a known format",
                    hint="expected OpenAI chat ('messages'), prompt/completion, alpaca or sharegpt records; "
                    "for CSV/Parquet map your columns, or force one with --format",
                    file=path,
                )
            fmt = votes.most_common(1)[0][0]
        result.formats[str(path)] = fmt
        usable = 0
        for line, obj in items:
            result.lines_read += 1
            if isinstance(obj, Finding):
                result.findings.append(obj)
                continue
            record, findings = to_record(obj, fmt, file=str(path), line=line)
            result.findings.extend(findings)
            if record is not None:
                result.records.append(record)
                usable += 1
        if usable == 0 and not items:
            raise DataError("the file is empty", file=path)
    return result
