"""The format registry: every file format a record can come in, of either kind, with its detection and conversion.

A file's format is the one most of its first objects are in, among the formats of the kind being loaded; which
kind a set of files holds is decided here too (`kind_of`), so that no stage votes on formats of its own.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Literal

from tunesmith.errors import DataError
from tunesmith.records.conversation import FORMATS, to_record
from tunesmith.records.pairs import to_preference
from tunesmith.records.reading import Finding, LoadResult, invalid_number, read_items

RecordKind = Literal["conversation", "preference"]
# How many objects are looked at to detect a file's format.
DETECT_SAMPLE = 200


@dataclass(frozen=True)
class RecordFormat:
    name: str
    kind: RecordKind
    detect: Callable[[dict[str, Any]], bool]
    # (object, file=, line=) -> the canonical record (None when invalid) and its findings
    convert: Callable[..., tuple[dict[str, Any] | None, list[Finding]]]


def _pair_keys(obj: dict[str, Any]) -> bool:
    return "chosen" in obj or "rejected" in obj


# In detection order: an object is in the first format of its kind that recognises it.
REGISTRY: tuple[RecordFormat, ...] = (
    RecordFormat("messages", "conversation", lambda o: "messages" in o, partial(to_record, fmt="messages")),
    RecordFormat("sharegpt", "conversation", lambda o: "conversations" in o, partial(to_record, fmt="sharegpt")),
    RecordFormat(
        "alpaca", "conversation", lambda o: "instruction" in o and "output" in o, partial(to_record, fmt="alpaca")
    ),
    RecordFormat(
        "prompt_completion",
        "conversation",
        lambda o: "prompt" in o and "completion" in o,
        partial(to_record, fmt="prompt_completion"),
    ),
    RecordFormat(
        "openai_dpo",
        "preference",
        lambda o: "input" in o and ("preferred_output" in o or "non_preferred_output" in o),
        partial(to_preference, fmt="openai_dpo"),
    ),
    RecordFormat("trl", "preference", lambda o: _pair_keys(o) and "prompt" in o, partial(to_preference, fmt="trl")),
    RecordFormat("hh", "preference", lambda o: _pair_keys(o) and "prompt" not in o, partial(to_preference, fmt="hh")),
)
_BY_NAME = {f.name: f for f in REGISTRY}
PREFERENCE_FORMATS = tuple(f.name for f in REGISTRY if f.kind == "preference")


def detect_format(obj: Any, kind: RecordKind = "conversation") -> str | None:
    if not isinstance(obj, dict):
        return None
    return next((f.name for f in REGISTRY if f.kind == kind and f.detect(obj)), None)


def _votes(items: Sequence[tuple[int, Any]], kind: RecordKind) -> Counter[str]:
    sample = [o for _, o in items[:DETECT_SAMPLE] if not isinstance(o, Finding)]
    return Counter(f for f in (detect_format(o, kind) for o in sample) if f)


def kind_of(paths: Sequence[str | Path]) -> RecordKind:
    """Preference pairs when most objects of some file are pairs rather than conversations; else conversations.

    A file that cannot be read says nothing here: the loader that runs next reports it with its own error."""
    for p in paths:
        try:
            items = read_items(Path(p))
        except DataError:
            continue
        if sum(_votes(items, "preference").values()) > sum(_votes(items, "conversation").values()):
            return "preference"
    return "conversation"


def file_format(path: str | Path) -> tuple[RecordKind, str]:
    """The kind and format of one file, detected as the loaders detect them (`tunesmith init` names them before
    any load): DataError when the file cannot be read or holds no line in a known format."""
    path = Path(path)
    items = read_items(path)
    if sum(_votes(items, "preference").values()) > sum(_votes(items, "conversation").values()):
        return "preference", _preference_format(path, items)
    return "conversation", _conversation_format(path, items)


def _conversation_format(path: Path, items: list[tuple[int, Any]]) -> str:
    votes = _votes(items, "conversation")
    if votes:
        return votes.most_common(1)[0][0]
    bad = sum(isinstance(o, Finding) for _, o in items)
    if bad == len(items):
        return "unknown"  # every line is broken: its findings (with line and cause) say more than "no known format"
    raise DataError(
        "no line in a known format"
        + (f" ({bad} of {len(items)} lines could not be read; `--json` lists why)" if bad else ""),
        hint="expected OpenAI chat ('messages'), prompt/completion, alpaca or sharegpt records; "
        "for CSV/Parquet map your columns, or force one with --format",
        file=path,
    )


def _preference_format(path: Path, items: list[tuple[int, Any]]) -> str:
    votes = _votes(items, "preference")
    if votes:
        return votes.most_common(1)[0][0]
    if all(isinstance(o, Finding) for _, o in items):
        return "unknown"  # every line is broken: its findings say more
    conversations = sum(_votes(items, "conversation").values())
    what = "conversations, not preference pairs" if conversations else "no line in a preference format"
    raise DataError(
        f"{path.name} holds {what}",
        hint="expected TRL {prompt, chosen, rejected}, OpenAI DPO {input, preferred_output, "
        "non_preferred_output} or HH {chosen, rejected} records; check conversations and pairs "
        "in separate runs",
        file=path,
    )


def _load(
    paths: Sequence[str | Path],
    kind: RecordKind,
    choose: Callable[[Path, list[tuple[int, Any]]], str],
    columns: dict[str, str],
) -> LoadResult:
    result = LoadResult(records=[], findings=[], formats={})
    for p in paths:
        path = Path(p)
        items = read_items(path, columns)
        fmt = choose(path, items)
        result.formats[str(path)] = fmt
        for line, obj in items:
            result.lines_read += 1
            if isinstance(obj, Finding):
                result.findings.append(obj)
                continue
            # Pairs are converted in each object's own format (a file may mix TRL and HH records); conversations
            # in the file's.
            own = (detect_format(obj, kind) or fmt) if kind == "preference" else fmt
            record, findings = _BY_NAME[own].convert(obj, file=str(path), line=line)
            result.findings.extend(findings)
            if record is not None:
                # What a record keeps (meta, tools, weights) is written as JSON later: a NaN in it is an error at
                # its line, and null in the record, rather than a file that strict readers reject.
                record, bad = invalid_number(record, line, str(path))
                result.repaired.extend([bad] if bad is not None else [])
                result.records.append(record)
    return result


def load_records(
    paths: Sequence[str | Path], *, format: str | None = None, columns: dict[str, str] | None = None
) -> LoadResult:
    """Read every file of conversations, detecting its format unless `format` forces one.

    `columns` maps canonical field names to CSV/Parquet column names, e.g. `{"prompt": "question",
    "completion": "answer"}`. Raises DataError when a file is missing or has no line in a known format.
    """
    if format is not None and format not in FORMATS:
        raise DataError(f"unknown format '{format}'", hint=f"use one of: {', '.join(FORMATS)}")
    if not paths:
        raise DataError("no input files", hint="pass one or more JSONL, JSON, CSV or Parquet files")
    forced = format
    choose = (lambda _path, _items: forced) if forced is not None else _conversation_format
    return _load(paths, "conversation", choose, columns or {})


def load_preferences(paths: Sequence[str | Path]) -> LoadResult:
    """Read every file of preference pairs; `records` holds the canonical pairs, `findings` every defect."""
    if not paths:
        raise DataError("no input files", hint="pass one or more JSONL or JSON files of preference pairs")
    return _load(paths, "preference", _preference_format, {})
