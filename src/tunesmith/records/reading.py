"""Reading data files within bounds: JSONL, JSON arrays, CSV and Parquet, each item at its 1-based line.

Users bring messy exports. Reading never stops at the first bad line: each line is an object or a `Finding` that
says why it is not one, so that every kind of record (conversations, preference pairs) loads from the same readers.
"""

from __future__ import annotations

import base64
import codecs
import csv
import datetime as _dt
import decimal
import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tunesmith.errors import DataError

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
    records: list[Any]  # canonical conversations or preference pairs, by the loader
    findings: list[Finding]
    formats: dict[str, str]  # path -> detected (or forced) format
    lines_read: int = 0  # non-blank lines or rows, valid or not
    # Errors in records that were loaded all the same, repaired (a NaN in meta is null): the file is wrong and the
    # check says so, but the example is usable, so these are not invalid lines.
    repaired: list[Finding] = field(default_factory=list)


def error(kind: str, line: int, message: str, file: str) -> Finding:
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


def non_finite(obj: Any, where: str = "") -> tuple[str, float] | None:
    """The first number JSON cannot hold (NaN, Infinity, -Infinity) and where it is (`meta.score`), or None.

    Python's json reads the bare `NaN` and `Infinity` that pandas and numpy write; strict readers (the OpenAI upload,
    most JSON libraries) reject a file that holds one, so a record that carries one is not written as it is."""
    if isinstance(obj, float):
        return (where or "the value", obj) if not math.isfinite(obj) else None
    if isinstance(obj, dict):
        items: Any = obj.items()
    elif isinstance(obj, (list, tuple)):
        items = enumerate(obj)
    else:
        return None
    for key, value in items:
        found = non_finite(value, f"{where}[{key}]" if isinstance(key, int) else f"{where}.{key}" if where else key)
        if found:
            return found
    return None


def invalid_number(record: dict[str, Any], line: int, file: str) -> tuple[dict[str, Any], Finding | None]:
    """A converted record with every NaN and Infinity (in `meta`, its tools, a message's weight) made null, and the
    `invalid_number` error at its line; the record as it is and None when every number is finite.

    Null is what such a value means (a score nobody computed), and the example is worth keeping; the error still
    says the source file is not JSON, so that it is fixed where it was exported."""
    found = non_finite(record)
    if found is None:
        return record, None
    where, value = found
    spelled = "NaN" if math.isnan(value) else "Infinity" if value > 0 else "-Infinity"
    nulled = json.loads(json.dumps(record), parse_constant=lambda _: None)  # NaN, Infinity, -Infinity -> None
    return nulled, error(
        "invalid_number",
        line,
        f"{where} is {spelled}: JSON has no NaN or Infinity, and strict readers (the OpenAI upload) reject the "
        "file; prepare writes it as null. Write null, or the value as a string, where the file is exported",
        file,
    )


def _parse_line(line: str, number: int, file: str) -> Any:
    """One JSONL line: the object, or a Finding that says why it is not one object."""
    size = len(line.encode("utf-8", "surrogatepass"))
    if size > MAX_LINE_BYTES:
        return error(
            "line_too_long", number, f"line of {size / 2**20:.1f} MB, over the {MAX_LINE_BYTES // 2**20} MB limit", file
        )
    col = _undecodable(line)
    if col is not None:
        byte = ord(line[col - 1]) - 0xDC00
        return error(
            "invalid_json",
            number,
            f"not valid UTF-8 at column {col} (byte 0x{byte:02x}; is the file latin-1 or cp1252? re-save it as UTF-8)",
            file,
        )
    depth = nesting_depth(line)
    if depth > MAX_DEPTH:
        return error("invalid_json", number, f"nested deeper than {MAX_DEPTH} levels", file)
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as e:
        if e.msg == "Extra data":
            return error(
                "invalid_json",
                number,
                f"several JSON values on one line (the second starts at column {e.colno}); JSONL holds one object "
                "per line",
                file,
            )
        before = line[: e.pos].rstrip()
        comma = " (a trailing comma before it?)" if before.endswith(",") and e.msg.startswith("Expecting") else ""
        return error("invalid_json", number, f"invalid JSON: {e.msg} at column {e.colno}{comma}", file)
    except RecursionError:  # the depth check counts brackets; this is only a guard
        return error("invalid_json", number, f"nested deeper than {MAX_DEPTH} levels", file)
    except ValueError as e:
        # Python refuses integers of over 4,300 digits (a ValueError, not a JSONDecodeError): without this, one
        # such line made the whole file unreadable ("cannot read FILE") instead of being an error at its line.
        return error("invalid_json", number, f"invalid JSON: {str(e)[:120]}", file)
    if isinstance(obj, list):
        return error(
            "not_an_object",
            number,
            f"a JSON array of {len(obj)} value(s) on one line; JSONL holds one object per line",
            file,
        )
    why = _bad_text(obj)
    if why:
        return error("invalid_text", number, why, file)
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
        yield 1, error("invalid_json", 1, f"nested deeper than {MAX_DEPTH} levels", file)
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
            yield e.lineno, error("invalid_json", e.lineno, f"invalid JSON: {e.msg} at column {e.colno}", file)
            return  # the rest of an array cannot be re-synchronised reliably
        except ValueError as e:  # an integer of over 4,300 digits
            yield line, error("invalid_json", line, f"invalid JSON: {str(e)[:120]}", file)
            return
        except RecursionError:
            yield line, error("invalid_json", line, f"nested deeper than {MAX_DEPTH} levels", file)
            return
        why = _bad_text(obj)
        if why:
            yield line, error("invalid_text", line, why, file)
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
        yield line, (error("invalid_text", line, why, file) if why else obj)


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
        yield row_number, (error("invalid_text", row_number, why, str(path)) if why else obj)


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


def read_items(path: Path, columns: dict[str, str] | None = None) -> list[tuple[int, Any]]:
    """Every (line, object or Finding) of one file, within the bounds above; DataError when the file cannot be read
    at all (missing, a directory, undecodable, empty). Every loader starts here."""
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
