"""`tunesmith data ...` through the real entry point, in-process: exit codes, JSON, export and diff."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tunesmith.artifacts import read_jsonl
from tunesmith.cli.main import main
from tunesmith.data.export import openai_format_errors

ASSETS = Path(__file__).parent / "assets"
FAST = ["--no-pii", "--no-embeddings"]


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["data", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_check_exit_codes(capsys, tmp_path):
    code, out, _ = run(capsys, "check", str(ASSETS / "near_duplicate.jsonl"), *FAST)
    assert code == 0 and "near_duplicate" in out
    code, out, _ = run(capsys, "check", str(ASSETS / "role_order.jsonl"), *FAST)
    assert code == 1 and "role_order" in out
    code, _, err = run(capsys, "check", str(tmp_path / "missing.jsonl"), *FAST)
    assert code == 2 and "file not found" in err


def test_check_json_and_html_report(capsys, tmp_path):
    report = tmp_path / "r.html"
    code, out, _ = run(capsys, "check", str(ASSETS / "invalid_json.jsonl"), *FAST, "--json", "--report", str(report))
    data = json.loads(out)
    assert code == 1 and data["format"] == "messages" and data["examples"] == 4
    assert {"kind": "invalid_json", "lines": [3]}.items() <= data["findings"][0].items()
    assert "invalid_json" in report.read_text()


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("prep") / "ds"
    code = main(
        [
            "data",
            "prepare",
            str(ASSETS / "near_duplicate.jsonl"),
            str(ASSETS / "conflict.jsonl"),
            "--out",
            str(out),
            "--pii",
            "off",
            "--split",
            "0.6,0.2,0.2",
        ]
    )
    assert code == 0
    return out


def test_prepare_writes_every_file(dataset):
    names = {p.name for p in dataset.iterdir()}
    assert names == {"train.jsonl", "val.jsonl", "test.jsonl", "manifest.json", "README.md", "redactions.jsonl"}


def test_prepare_rejects_bad_split(capsys, tmp_path):
    code, _, err = run(
        capsys, "prepare", str(ASSETS / "pii.jsonl"), "--out", str(tmp_path / "x"), "--split", "0.9,0.9,0"
    )
    assert code == 2 and "add up to 1" in err
    assert not (tmp_path / "x").exists()


def test_export_openai_passes_the_cookbook_checks(capsys, dataset, tmp_path):
    out = tmp_path / "openai.jsonl"
    code, _, _ = run(capsys, "export", str(dataset), "--to", "openai", "--out", str(out), "--json")
    rows = read_jsonl(out)
    assert code == 1  # fewer than OpenAI's minimum of 10 examples
    assert rows and openai_format_errors(rows) == {}
    assert all(set(r) == {"messages"} for r in rows)


def test_export_bedrock_and_vertex_shapes(capsys, dataset, tmp_path):
    run(capsys, "export", str(dataset), "--to", "bedrock", "--out", str(tmp_path / "b.jsonl"))
    row = read_jsonl(tmp_path / "b.jsonl")[0]
    assert row["schemaVersion"] == "bedrock-conversation-2024" and row["messages"][0]["role"] == "user"
    assert row["system"][0]["text"] and row["messages"][0]["content"][0]["text"]
    run(capsys, "export", str(dataset), "--to", "vertex", "--out", str(tmp_path / "v.jsonl"))
    row = read_jsonl(tmp_path / "v.jsonl")[0]
    assert [c["role"] for c in row["contents"]] == ["user", "model"] and "systemInstruction" in row


def test_openai_checks_catch_all_seven_cookbook_kinds():
    ok = {"messages": [{"role": "user", "content": "Hi?"}, {"role": "assistant", "content": "Hello.", "weight": 1}]}
    bad = [
        [1],  # data_type
        {"prompt": "x"},  # missing_messages_list
        {"messages": [{"role": "user"}, {"role": "assistant", "content": "a"}]},  # message_missing_key + content
        {"messages": [{"role": "user", "content": "q", "tool": 1}, {"role": "assistant", "content": "a"}]},
        {"messages": [{"role": "bot", "content": "x"}]},  # unrecognized_role + no assistant
        {"messages": [{"role": "user", "content": ""}, {"role": "assistant", "content": "a"}]},  # missing_content
    ]
    assert openai_format_errors([ok]) == {}
    assert openai_format_errors(bad) == {
        "data_type": 1,
        "missing_messages_list": 1,
        "message_missing_key": 1,
        "message_unrecognized_key": 1,
        "unrecognized_role": 1,
        "missing_content": 2,
        "example_missing_assistant_message": 1,
    }


def test_diff_between_versions(capsys, dataset, tmp_path):
    code, out, _ = run(capsys, "diff", str(dataset), str(dataset), "--json")
    assert code == 0 and json.loads(out)["same"] is True
    other = tmp_path / "other"
    args = [
        str(ASSETS / "near_duplicate.jsonl"),
        str(ASSETS / "conflict.jsonl"),
        "--pii",
        "off",
        "--split",
        "0.6,0.2,0.2",
    ]
    assert main(["data", "prepare", *args, "--out", str(other), "--conflicts", "keep"]) == 0
    capsys.readouterr()
    code, out, _ = run(capsys, "diff", str(dataset), str(other), "--json")
    d = json.loads(out)
    assert d["same"] is False
    assert sum(s["added"] for s in d["splits"].values()) == 2  # both sides of the conflict are kept
    assert d["options"]["conflicts"] == ["majority", "keep"]
