"""Issue 30, item 5: examples that share a meta.id are a `duplicate_id` finding with every line (and file), and
prepare renames them (`data.duplicate_ids: rename`, the default) or refuses (`refuse`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.data.topics import TOPICS

from tunesmith.artifacts import read_jsonl
from tunesmith.cli.main import main
from tunesmith.config import DataConfig
from tunesmith.data.check import check_files
from tunesmith.data.prepare import prepare_dataset
from tunesmith.data.split import SPLITS
from tunesmith.errors import DataError


def _write(path: Path, ids: list[str], start: int = 0) -> Path:
    rows = [
        {
            "messages": [
                {"role": "user", "content": f"How can I {TOPICS[start + i]}?"},
                {"role": "assistant", "content": f"To {TOPICS[start + i]}, open Settings and follow step {i}."},
            ],
            "meta": {"id": rid},
        }
        for i, rid in enumerate(ids)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _ids(out: Path) -> list[str]:
    return sorted(r["meta"]["id"] for s in SPLITS for r in read_jsonl(out / f"{s}.jsonl"))


def test_duplicate_id_in_one_file_names_both_lines(tmp_path: Path) -> None:
    path = _write(tmp_path / "a.jsonl", ["t1", "t2", "t1", "t3", "t2", "t4"])
    report = check_files([path], pii_scan=False, diversity=False)
    found = sorted((f.lines, f.file, f.severity) for f in report.findings if f.kind == "duplicate_id")
    assert found == [([1, 3], str(path), "warning"), ([2, 5], str(path), "warning")]
    assert not report.has_errors  # prepare renames them by default
    assert "t1~2" in next(f.message for f in report.findings if f.lines == [1, 3])


def test_duplicate_id_across_files_names_both_files(tmp_path: Path) -> None:
    a = _write(tmp_path / "a.jsonl", ["t1", "t2", "t3"])
    b = _write(tmp_path / "b.jsonl", ["t9", "t2"], start=5)
    report = check_files([a, b], pii_scan=False, diversity=False)
    (f,) = [f for f in report.findings if f.kind == "duplicate_id"]
    assert f.file is None and f.locations == [[str(a), 2], [str(b), 2]]


def test_prepare_renames_all_but_the_first(tmp_path: Path) -> None:
    path = _write(tmp_path / "a.jsonl", ["t1", "t2", "t1", "t3", "t1", "t1~2", "t5", "t6", "t7", "t8"])
    prepare_dataset([path], tmp_path / "ds", DataConfig(pii="off", refusals="off"))
    ids = _ids(tmp_path / "ds")
    assert len(ids) == len(set(ids)) == 10
    rows = {
        r["meta"]["source"]["line"]: r["meta"]["id"] for s in SPLITS for r in read_jsonl(tmp_path / "ds" / f"{s}.jsonl")
    }
    assert (rows[1], rows[3], rows[5], rows[6]) == ("t1", "t1~2", "t1~3", "t1~2~2")


def test_refuse_is_an_error_in_check_and_stops_prepare(tmp_path: Path) -> None:
    path = _write(tmp_path / "a.jsonl", ["t1", "t2", "t1", "t3", "t4", "t5", "t6", "t7", "t8", "t9"])
    cfg = DataConfig(pii="off", refusals="off", duplicate_ids="refuse")
    report = check_files([path], cfg, pii_scan=False, diversity=False)
    assert [(f.kind, f.severity, f.lines) for f in report.findings if f.kind == "duplicate_id"] == [
        ("duplicate_id", "error", [1, 3])
    ]
    with pytest.raises(DataError) as e:
        prepare_dataset([path], tmp_path / "ds", cfg)
    assert "a.jsonl:1, a.jsonl:3" in e.value.message and e.value.line == 3
    assert not (tmp_path / "ds").exists()
    prepare_dataset([path], tmp_path / "ds", cfg.model_copy(update={"duplicate_ids": "rename"}))
    assert "t1~2" in _ids(tmp_path / "ds")


def test_the_cli_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path / "a.jsonl", ["t1", "t2", "t1", "t3", "t4", "t5", "t6", "t7", "t8", "t9"])
    args = ["data", "prepare", str(path), "--out", str(tmp_path / "ds"), "--pii", "off", "--refusals", "off"]
    assert main([*args, "--duplicate-ids", "refuse"]) == 2
    assert "meta.id 't1' is held by 2 examples" in capsys.readouterr().err
    assert main(args) == 0
