"""`tunesmith init`: a folder of the user's files becomes a commented tunesmith.yaml that loads, whose data checks,
and that is never replaced."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import yaml

from tunesmith.cli.main import main
from tunesmith.config import load_config
from tunesmith.errors import DataError
from tunesmith.init import Objectives, gates, init_project, survey

SYSTEM = "You are the assistant of Acme Bank's members."


def _chat(q: str, a: str, tags: list[str] | None = None) -> str:
    row = {
        "messages": [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": q},
            {"role": "assistant", "content": a},
        ]
    }
    return json.dumps(row | ({"meta": {"tags": tags}} if tags else {}))


def _project(root: Path, *, docs: bool = False) -> Path:
    (root / "data").mkdir(parents=True)
    train = [_chat(f"How do I open account type {i}?", f"Open type {i} in the app under Accounts.") for i in range(12)]
    (root / "data" / "members.jsonl").write_text("\n".join(train) + "\n", encoding="utf-8")
    pc = [json.dumps({"prompt": f"What is fee {i}?", "completion": f"Fee {i} is {i} dollars."}) for i in range(5)]
    (root / "data" / "fees.jsonl").write_text("\n".join(pc) + "\n", encoding="utf-8")
    test = [
        _chat("How do I close an account?", "Close it in the app."),
        _chat("Weather?", "I can't help.", ["out_of_scope"]),
    ]
    (root / "data" / "test.jsonl").write_text("\n".join(test) + "\n", encoding="utf-8")
    (root / "notes.json").write_text('{"owner": "ops"}', encoding="utf-8")  # not chat data: skipped, said why
    if docs:
        (root / "docs").mkdir()
        (root / "docs" / "fees.md").write_text("# Fees\n\nNo monthly fee.\n", encoding="utf-8")
    return root


def test_init_yes_writes_a_config_that_loads_and_checks_and_is_never_replaced(tmp_path, capsys):
    root = _project(tmp_path / "acme", docs=True)
    argv = ["init", str(root), "--yes", "--min-gain", "0.05", "--max-tokens", "800", "--max-latency-ms", "1500"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    path = root / "tunesmith.yaml"
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# tunesmith.yaml, written by `tunesmith init`")
    raw = yaml.safe_load(text)
    assert raw["data"]["paths"] == ["data/fees.jsonl", "data/members.jsonl"]
    assert raw["data"]["test_paths"] == ["data/test.jsonl"]
    assert raw["docs"]["paths"] == ["docs"]
    assert raw["model"] == {"base": "models/smollm2-135m-instruct", "get": "smollm2-135m-instruct"}
    assert "fine_tuned.rougeL >= prompted.rougeL + 0.05" in raw["eval"]["gates"]
    assert "fine_tuned.tokens_per_request <= 800" in raw["eval"]["gates"]
    assert "fine_tuned.latency_p50_ms <= 1500" in raw["eval"]["gates"]
    assert "(prompt_completion, conversation)" in text and "not used: notes.json" in text
    assert set(raw) == {"project", "data", "docs", "model", "eval"}  # the smallest set of keys
    cfg = load_config(path)
    assert cfg.project.name == "acme" and cfg.eval.gates == raw["eval"]["gates"]
    for command in ("tunesmith run", "--only check", "tunesmith docs index", "tunesmith ui"):
        assert command in out

    # The data stage accepts what init found: formats detected the same way, the test file as the test split.
    files = [str(cfg.path(p)) for p in cfg.data.paths]
    check = ["data", "check", *files, "--test-file", str(cfg.path(cfg.data.test_paths[0]))]
    assert main([*check, "--no-pii", "--no-embeddings", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["examples"] == 12 + 5 + 2  # both data files and the test file

    # A second call refuses, and leaves the file as it was.
    assert main(["init", str(root), "--yes"]) == 2
    err = capsys.readouterr().err
    assert "tunesmith.yaml already exists" in err and "move it away" in err
    assert path.read_text(encoding="utf-8") == text


def test_init_refuses_a_config_it_did_not_write(tmp_path):
    from tunesmith.errors import OutputError

    root = _project(tmp_path / "p")
    (root / "tunesmith.yaml").write_text("project: {name: mine}\n", encoding="utf-8")
    with pytest.raises(OutputError, match="already exists"):
        init_project(root)
    assert (root / "tunesmith.yaml").read_text(encoding="utf-8") == "project: {name: mine}\n"


def test_survey_detects_formats_test_file_and_task(tmp_path):
    root = _project(tmp_path / "p")
    found = survey(root)
    assert [(f.path, f.format) for f in found.data] == [
        ("data/fees.jsonl", "prompt_completion"),
        ("data/members.jsonl", "messages"),
    ]
    assert [f.path for f in found.test] == ["data/test.jsonl"] and found.task == "conversation"
    assert found.docs is None and [p for p, _ in found.unused] == ["notes.json"]
    # --test names the test file: a file named test* is then data like any other.
    found = survey(root, test=["data/fees.jsonl"])
    assert [f.path for f in found.test] == ["data/fees.jsonl"]
    assert "data/test.jsonl" in [f.path for f in found.data]


def test_preference_pairs_are_a_dpo_task(tmp_path):
    (tmp_path / "pairs.jsonl").write_text(
        "\n".join(json.dumps({"prompt": f"q{i}", "chosen": "good", "rejected": "bad"}) for i in range(4)) + "\n"
    )
    result = init_project(tmp_path, Objectives(min_gain=None))
    cfg = load_config(result.path)
    assert cfg.train.objective == "dpo" and cfg.data.paths == ["pairs.jsonl"] and cfg.eval.gates == []


def test_a_folder_without_chat_data_is_a_usage_error(tmp_path):
    (tmp_path / "readme.json").write_text('{"x": 1}')
    with pytest.raises(DataError, match="no file of chat data"):
        init_project(tmp_path)
    assert not (tmp_path / "tunesmith.yaml").exists()


def test_every_gate_init_writes_parses_and_names_a_default_arm():
    from tunesmith.config import EvalConfig

    written = gates(Objectives(0.1, 500, 900))
    assert len(written) == 6
    assert EvalConfig(gates=written).gates == written  # parsed, every arm in the default eval.arms


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_in_a_terminal_init_asks_for_the_objectives(tmp_path, monkeypatch, capsys):
    root = _project(tmp_path / "p")
    monkeypatch.setattr("sys.stdin", _Terminal("0.1\n700\n\n"))  # gain, tokens, latency left blank
    assert main(["init", str(root)]) == 0
    cfg = load_config(root / "tunesmith.yaml")
    assert "fine_tuned.rougeL >= rag.rougeL + 0.1" in cfg.eval.gates
    assert "fine_tuned.tokens_per_request <= 700" in cfg.eval.gates
    assert not any("latency" in g for g in cfg.eval.gates)
