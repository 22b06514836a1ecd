"""Loading: every format, detection, and messy files that must not stop the read."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tunesmith.errors import DataError
from tunesmith.records import load_records

ASSETS = Path(__file__).parent / "data" / "assets"


def test_messy_file_bom_crlf_blank_lines_and_bad_bytes():
    r = load_records([ASSETS / "messy.jsonl"])
    assert r.formats == {str(ASSETS / "messy.jsonl"): "messages"}
    assert [x["meta"]["source"]["line"] for x in r.records] == [1, 3, 5]
    assert [(f.kind, f.lines) for f in r.findings] == [("invalid_json", [4])]
    assert "UTF-8" in r.findings[0].message
    # The BOM is not part of the first record, and CR is not part of any content.
    assert r.records[0]["messages"][0]["content"].startswith("You are")
    assert not any("\r" in m["content"] for x in r.records for m in x["messages"])


def test_weight_on_assistant_turns_is_kept():
    r = load_records([ASSETS / "messy.jsonl"])
    weights = [m.get("weight") for m in r.records[2]["messages"] if m["role"] == "assistant"]
    assert weights == [0, 1]


def test_prompt_completion_json_array_with_element_lines():
    r = load_records([ASSETS / "prompt_completion.json"])
    assert list(r.formats.values()) == ["prompt_completion"]
    assert [x["meta"]["source"]["line"] for x in r.records] == [2, 6]
    assert [m["role"] for m in r.records[0]["messages"]] == ["user", "assistant"]


def test_alpaca_joins_instruction_and_input():
    r = load_records([ASSETS / "alpaca.jsonl"])
    assert list(r.formats.values()) == ["alpaca"]
    assert r.records[0]["messages"][0]["content"].endswith("\n\nOrder 123")
    assert r.records[1]["messages"][0]["content"] == "What payment methods do you accept?"


def test_sharegpt_maps_speakers_to_roles():
    r = load_records([ASSETS / "sharegpt.jsonl"])
    assert list(r.formats.values()) == ["sharegpt"]
    assert [m["role"] for m in r.records[1]["messages"]] == ["system", "user", "assistant"]


def test_csv_with_column_mapping_and_multiline_cell():
    r = load_records([ASSETS / "qa.csv"], columns={"prompt": "question", "completion": "answer"})
    assert list(r.formats.values()) == ["prompt_completion"]
    assert [x["meta"]["source"]["line"] for x in r.records] == [2, 3]
    assert r.records[0]["meta"]["tags"] == ["hardware"]
    assert r.records[1]["messages"][0]["content"] == "Multi\nline question?"


def test_parquet_rows(tmp_path):
    path = tmp_path / "data.parquet"
    pq.write_table(pa.table({"instruction": ["Hi?", "Bye?"], "output": ["Hello.", "Goodbye."]}), path)
    r = load_records([path])
    assert list(r.formats.values()) == ["alpaca"]
    assert [x["meta"]["source"]["line"] for x in r.records] == [1, 2]


def test_forced_format_reports_lines_without_its_fields():
    r = load_records([ASSETS / "alpaca.jsonl"], format="prompt_completion")
    assert r.records == []
    assert [(f.kind, f.lines) for f in r.findings] == [("missing_messages", [1]), ("missing_messages", [2])]


def test_several_files_keep_their_own_format_and_lines():
    r = load_records([ASSETS / "alpaca.jsonl", ASSETS / "sharegpt.jsonl"])
    assert sorted(r.formats.values()) == ["alpaca", "sharegpt"]
    assert [(Path(x["meta"]["source"]["file"]).name, x["meta"]["source"]["line"]) for x in r.records] == [
        ("alpaca.jsonl", 1),
        ("alpaca.jsonl", 2),
        ("sharegpt.jsonl", 1),
        ("sharegpt.jsonl", 2),
    ]


def test_missing_file_and_unknown_format_are_data_errors(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_records([tmp_path / "nope.jsonl"])
    odd = tmp_path / "odd.jsonl"
    odd.write_text('{"foo": 1}\n{"bar": 2}\n')
    with pytest.raises(DataError, match="no line in a known format") as e:
        load_records([odd])
    assert e.value.file == str(odd)
