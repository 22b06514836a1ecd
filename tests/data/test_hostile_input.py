"""Issue 12, hostile input: one test per defect of the issue's "Why" that is about data files, named after it.

The output-safety defects (an --out over the user's files, read-only folders, exports) are in
tests/test_hostile_output.py, the YAML ones in tests/test_hostile_config.py, and the recurring-name over-redaction
in tests/data/test_pii_names.py. Each test here asserts the message a user sees (with file and line) and the exit
code: 0 done, 1 a check found errors, 2 the input is unusable; never a traceback, never the internal-error 3.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tunesmith.cli import main as cli_main
from tunesmith.cli.main import main
from tunesmith.config import DataConfig
from tunesmith.data import pii
from tunesmith.data.check import check_files
from tunesmith.data.prepare import prepare_dataset
from tunesmith.errors import DataError
from tunesmith.records import load_records
from tunesmith.records import reading as records

HOSTILE = Path(__file__).parent / "assets" / "hostile"
ALL_TRAIN = {"train": 1.0, "val": 0.0, "test": 0.0}


@pytest.fixture(autouse=True)
def _no_debug(monkeypatch):
    monkeypatch.setitem(cli_main._state, "debug", False)


def _conv(q: str, a: str) -> dict:
    return {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}


def _good(n: int = 1) -> list[str]:
    topics = ["passwords", "invoices", "shipping", "refunds", "discounts", "exports", "two-factor login"]
    return [
        json.dumps(_conv(f"Tell me about {topics[i % len(topics)]}, case {i}.", f"Here is how {i} works."))
        for i in range(n)
    ]


def _run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["data", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def _only(findings, kind: str):
    found = [f for f in findings if f.kind == kind]
    assert len(found) == 1, [f.to_json() for f in findings]
    return found[0]


# ---- 3. tracebacks ---------------------------------------------------------------------------------------------


def test_deep_nested_json_is_an_error_at_its_line_not_a_recursion_error(tmp_path):
    src = tmp_path / "deep.jsonl"
    a, b = _good(2)
    src.write_text(f"{a}\n{'[' * 10_000}{']' * 10_000}\n{b}\n")
    loaded = load_records([src])
    f = _only(loaded.findings, "invalid_json")
    assert f.lines == [2] and f.file == str(src) and "nested deeper than 100 levels" in f.message
    assert len(loaded.records) == 2


def test_deep_nested_json_file_on_one_line_is_an_error_at_line_1(capsys, tmp_path):
    src = tmp_path / "deep.json"
    src.write_text('{"messages": ' * 10_000 + "1" + "}" * 10_000)
    code, out, err = _run(capsys, "check", str(src), "--no-pii", "--no-embeddings", "--json")
    assert code == 1, err
    [f] = [f for f in json.loads(out)["findings"] if f["severity"] == "error"]
    assert f["kind"] == "invalid_json" and f["lines"] == [1] and "nested deeper" in f["message"]


def test_lone_surrogate_is_a_finding_not_a_traceback(capsys):
    src = HOSTILE / "lone_surrogate.jsonl"
    loaded = load_records([src])
    f = _only(loaded.findings, "invalid_text")
    assert f.lines == [1] and "lone UTF-16 surrogate (\\ud83d)" in f.message
    # dedup hashed the text with .encode() and raised UnicodeEncodeError before; now the line never gets there
    code, out, err = _run(capsys, "check", str(src), "--no-pii", "--no-embeddings", "--json")
    assert code == 1 and "Traceback" not in err
    assert any(f["kind"] == "invalid_text" and f["lines"] == [1] for f in json.loads(out)["findings"])


def test_latin1_csv_is_a_finding_at_its_row_not_a_unicode_error(capsys, tmp_path):
    src = HOSTILE / "latin1.csv"
    loaded = load_records([src])
    assert [(f.kind, f.lines) for f in loaded.findings] == [("invalid_text", [2]), ("invalid_text", [3])]
    assert "latin-1" in loaded.findings[0].message and "UTF-8" in loaded.findings[0].message
    code, _, err = _run(capsys, "prepare", str(src), "--out", str(tmp_path / "ds"))
    assert code == 2 and f"error: {src}:2: no valid example" in err and "not valid UTF-8" in err


def test_csv_field_over_the_default_csv_limit_is_read(tmp_path):
    src = tmp_path / "long.csv"
    question = "a long question " * 15_000  # 240,000 characters: over the csv module's default of 131,072
    src.write_text(f'prompt,completion\n"{question}",ok\nq,a\n')
    loaded = load_records([src])
    assert loaded.findings == [] and loaded.records[0]["messages"][0]["content"] == question


def test_csv_field_over_the_loader_limit_is_an_error_at_its_line(monkeypatch, tmp_path):
    # The loader's own limit (64 MB) with a small stand-in: a cell past it is a broken quote, named at its line.
    monkeypatch.setattr(records, "MAX_FIELD_BYTES", 2**20)
    src = tmp_path / "broken.csv"
    src.write_text('prompt,completion\nq,a\n"' + "x" * 2**21 + '",b\n')
    before = csv.field_size_limit(2**20)  # the loader only ever raises the process-wide limit
    try:
        with pytest.raises(DataError) as e:
            load_records([src])
    finally:
        csv.field_size_limit(before)
    assert e.value.file == str(src) and e.value.line == 3 and e.value.hint
    assert e.value.message == "a CSV field over the 1 MB limit"


def test_message_over_spacy_limit_is_chunked(monkeypatch):
    """spaCy refuses a text over nlp.max_length (E088). Shrunk here (5,000 characters, windows of 2,000) so the
    test is fast: the real limit, 1,000,000, takes minutes of NER on two cores."""
    engine, _ = pii.analyzer()
    nlp = engine.nlp_engine.nlp["en"]
    monkeypatch.setattr(nlp, "max_length", 5_000)
    monkeypatch.setattr(pii, "CHUNK_CHARS", 2_000)
    filler = "The parcel left the depot on time and the weather was fine. "
    head = "word " * 397  # 1,985 characters: the first address straddles the first window's edge
    text = head + "jane.doe@example.com " + filler * 150 + "Reply to sam.roe@example.org today."
    assert len(text) > nlp.max_length
    [spans] = pii.scan([text], entities=["EMAIL_ADDRESS"])
    assert [text[s.start : s.end] for s in spans] == ["jane.doe@example.com", "sam.roe@example.org"]
    monkeypatch.setattr(pii, "CHUNK_CHARS", 10**9)  # without windows, spaCy's own error: what users got
    with pytest.raises(ValueError, match="E088"):
        pii.scan([text + " "], entities=["EMAIL_ADDRESS"])


def test_parquet_timestamp_meta_prepares(tmp_path):
    src = HOSTILE / "timestamp_meta.parquet"
    report = check_files([src], pii_scan=False, diversity=False)
    assert not report.has_errors
    out = tmp_path / "ds"
    prepare_dataset([src], out, DataConfig(pii="off", split=ALL_TRAIN))  # "datetime is not JSON serializable"
    rows = [json.loads(line) for line in (out / "train.jsonl").open()]
    assert sorted(r["meta"]["created"] for r in rows) == ["2024-01-02T03:04:05", "2024-02-03T04:05:06"]
    assert {r["meta"]["day"] for r in rows} == {"2024-01-02", "2024-02-03"}


def test_integer_over_python_digit_limit_is_an_error_at_its_line(tmp_path):
    # json.loads raises a ValueError (not a JSONDecodeError) past 4,300 digits: the whole file was "cannot read"
    loaded = load_records([HOSTILE / "huge_integer.jsonl"])
    f = _only(loaded.findings, "invalid_json")
    assert f.lines == [1] and "4300 digits" in f.message
    assert len(loaded.records) == 1


# ---- 4. silent data loss ---------------------------------------------------------------------------------------


def test_json_array_line_is_an_error_at_its_line(tmp_path):
    src = HOSTILE / "array_line.jsonl"  # line 1: an array of two conversations; lines 2-12: one each
    loaded = load_records([src])
    f = _only(loaded.findings, "not_an_object")
    assert f.lines == [1] and "JSON array of 2 value(s) on one line" in f.message
    assert len(loaded.records) == 11 and loaded.lines_read == 12
    result = prepare_dataset([src], tmp_path / "ds", DataConfig(pii="off"))
    assert result.counts["input"] == 12 and result.counts["valid"] == 11 and result.counts["dropped"]["invalid"] == 1


def test_two_json_objects_on_one_line_is_an_error_at_its_line():
    loaded = load_records([HOSTILE / "two_objects_line.jsonl"])
    f = _only(loaded.findings, "invalid_json")
    assert f.lines == [1] and "several JSON values on one line" in f.message
    assert [r["meta"]["source"]["line"] for r in loaded.records] == [2]


# ---- 5. valid data rejected: OpenAI's tool-calling format (loading; prepare and export: test_tool_format.py) ----


def test_tool_calling_format_is_accepted_with_its_tools():
    loaded = load_records([HOSTILE / "tool_calls.jsonl", HOSTILE / "function_call.jsonl"])
    assert loaded.findings == []
    calls, parallel, legacy = loaded.records
    assert [m["role"] for m in calls["messages"]] == ["system", "user", "assistant", "tool", "assistant"]
    assert calls["messages"][2]["tool_calls"][0]["function"]["name"] == "get_weather"
    assert calls["messages"][3]["tool_call_id"] == "call_1" and calls["tools"][0]["type"] == "function"
    assert [m["role"] for m in parallel["messages"]] == ["user", "assistant", "tool", "tool", "assistant"]
    assert legacy["messages"][1]["function_call"]["name"] == "get_weather"
    assert legacy["messages"][2] == {"role": "function", "content": '{"temp_c": 18}', "name": "get_weather"}
    assert legacy["functions"][0]["name"] == "get_weather"


def test_invalid_tool_calls_are_findings_at_their_lines():
    loaded = load_records([HOSTILE / "invalid_tool_calls.jsonl"])
    by_line = {f.lines[0]: (f.kind, f.message) for f in loaded.findings}
    assert by_line[1] == ("invalid_tool_call", "message 1 has 'tool_calls' that is not a non-empty list")
    assert by_line[2] == ("invalid_tool_call", "message 1 tool call 0 has arguments that are not a JSON string")
    assert by_line[3] == ("invalid_tool_call", "message 1 tool call 0 has no function name")
    assert by_line[4][0] == "role_order" and "does not follow an assistant tool call" in by_line[4][1]
    assert by_line[5][0] == "invalid_tool_call"
    assert by_line[6] == ("invalid_tool_call", "message 1 has a 'function_call' with no name")
    assert [r["meta"]["source"]["line"] for r in loaded.records] == [7]


# ---- 6. a failed prepare leaves a file -------------------------------------------------------------------------


def test_pseudonymize_with_no_valid_example_leaves_no_key(capsys, tmp_path):
    # tests/test_hostile_output.py covers "every example dropped"; this is the prepare that fails at loading
    work = tmp_path / "work"
    work.mkdir()
    code, _, err = _run(
        capsys, "prepare", str(HOSTILE / "latin1.jsonl"), "--out", str(work / "ds"), "--pii", "pseudonymize"
    )
    assert code == 2 and "no valid example" in err
    assert list(work.iterdir()) == []


# ---- 7. messages that don't help -------------------------------------------------------------------------------


def test_empty_file_says_empty(capsys):
    src = HOSTILE / "empty.jsonl"
    code, _, err = _run(capsys, "check", str(src), "--no-pii", "--no-embeddings")
    assert code == 2 and f"error: {src}: the file is empty\n" in err and "hint:" in err


def test_whitespace_only_file_says_empty(capsys, tmp_path):
    src = HOSTILE / "whitespace_only.jsonl"
    code, _, err = _run(capsys, "prepare", str(src), "--out", str(tmp_path / "ds"), "--pii", "off")
    assert code == 2 and f"error: {src}: the file is empty (only whitespace)" in err


def test_header_only_csv_says_it_has_no_rows(capsys):
    src = HOSTILE / "header_only.csv"
    code, _, err = _run(capsys, "check", str(src), "--no-pii", "--no-embeddings")
    assert code == 2 and f"error: {src}: the file has no rows" in err and "known format" not in err


def test_latin1_jsonl_names_the_line_and_the_encoding(capsys):
    src = HOSTILE / "latin1.jsonl"
    code, out, _ = _run(capsys, "check", str(src), "--no-pii", "--no-embeddings", "--json")
    assert code == 1
    findings = [f for f in json.loads(out)["findings"] if f["kind"] == "invalid_json"]
    assert [f["lines"] for f in findings] == [[1], [2]]
    assert "not valid UTF-8 at column" in findings[0]["message"] and "latin-1" in findings[0]["message"]


def test_trailing_comma_names_the_line_and_the_comma(capsys):
    src = HOSTILE / "trailing_comma.jsonl"
    code, out, _ = _run(capsys, "check", str(src), "--no-pii", "--no-embeddings", "--json")
    assert code == 1
    findings = [f for f in json.loads(out)["findings"] if f["kind"] == "invalid_json"]
    assert [f["lines"] for f in findings] == [[1], [2]]
    assert all("a trailing comma before it?" in f["message"] for f in findings)


def test_directory_is_not_file_not_found(capsys):
    src = HOSTILE / "directory.jsonl"
    code, _, err = _run(capsys, "check", str(src), "--no-pii", "--no-embeddings")
    assert code == 2 and "is a directory, not a data file" in err and "not found" not in err
    assert f"hint: pass the files inside it, e.g. {src}/*.jsonl" in err


def test_truncated_parquet_has_hint(capsys):
    src = HOSTILE / "truncated.parquet"
    code, _, err = _run(capsys, "check", str(src), "--no-pii", "--no-embeddings")
    assert code == 2 and f"error: {src}: cannot read the Parquet file" in err
    assert "hint: the file is damaged or truncated" in err


def test_no_valid_example_names_the_file(capsys, tmp_path):
    src = HOSTILE / "trailing_comma.jsonl"
    code, _, err = _run(capsys, "prepare", str(src), "--out", str(tmp_path / "ds"), "--pii", "off")
    assert code == 2
    assert f"error: {src}:1: no valid example to prepare in {src}" in err
    assert "a trailing comma before it?" in err and f"hint: run `tunesmith data check {src}`" in err


def test_no_valid_example_names_every_file(capsys, tmp_path):
    a, b = HOSTILE / "content_number.jsonl", HOSTILE / "missing_roles.jsonl"
    code, _, err = _run(capsys, "prepare", str(a), str(b), "--out", str(tmp_path / "ds"), "--pii", "off")
    assert code == 2 and f"no valid example to prepare in {a}, {b}" in err and f"error: {a}:1:" in err


def test_tsv_is_read_with_tabs(tmp_path):
    loaded = load_records([HOSTILE / "tabs.tsv"])
    assert loaded.findings == [] and loaded.formats == {str(HOSTILE / "tabs.tsv"): "prompt_completion"}
    assert loaded.records[1]["messages"][1]["content"] == "Click your name, then Log out."


# ---- 8. counters taken for phone numbers -----------------------------------------------------------------------


def test_question_number_is_not_a_phone():
    # The conversation said "Question number N ... item N" for N up to 10,000 and got 90 PHONE_NUMBER
    # findings ("item 1646" scored 0.75). Every ninth N of it here, PHONE_NUMBER only (no NER): seconds, not minutes.
    texts = [f"Question number {n}: what is in item {n}? See also item {n + 1}." for n in range(1, 10_000, 9)]
    real = "Call our desk at +1 415-555-0132 or (212) 555-0199."
    found = pii.scan([*texts, real], entities=["PHONE_NUMBER"])
    false_positives = [texts[i][s.start : s.end] for i, spans in enumerate(found[:-1]) for s in spans]
    assert false_positives == []
    assert [real[s.start : s.end] for s in found[-1]] == ["+1 415-555-0132", "(212) 555-0199"]
