"""Bad input (issue 25, item 6): each hostile file gives a finding that names it and says what to do, never a
traceback, and the good files are indexed all the same."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from tests.docs import handbook
from tunesmith.cli.main import main
from tunesmith.config import load_config
from tunesmith.docs import build_index, load_index

HOSTILE = {
    "locked.pdf": "encrypted",
    "scan.pdf": "no_text_layer",
    "corrupt.docx": "corrupt",
    "bomb.docx": "zip_bomb",
    "huge.txt": "too_large",
    "app.html": "no_text",
    "latin.txt": "not_utf8",
    "truncated.pdf": "unreadable",
    "notes.xlsx": "unsupported",
}


def _hostile(folder: Path) -> None:
    folder.mkdir()
    handbook.make_pdf(folder / "locked.pdf", [("Secret", "Salaries of every employee.")], password="s3cret")
    handbook.make_scanned_pdf(folder / "scan.pdf")
    (folder / "corrupt.docx").write_bytes(b"PK\x03\x04 this is not really a zip archive" * 10)
    with zipfile.ZipFile(folder / "bomb.docx", "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", b"\0" * (20 << 20))  # 20 MB of zeros, ~20 KB zipped
    with open(folder / "huge.txt", "wb") as f:  # 200 MB, sparse: no time spent writing it
        f.truncate(200 << 20)
    scripts = "".join(f"<script>var x{i} = '{'a' * 500}';</script>" for i in range(50))
    (folder / "app.html").write_text(f"<html><head>{scripts}</head><body><div id='root'></div>{scripts}</body></html>")
    (folder / "latin.txt").write_bytes("Café opening hours: 8 to 18, crème brûlée on Fridays.".encode("cp1252"))
    pdf = handbook.make_pdf(folder / "whole.pdf", [("x", "y")]).read_bytes()
    (folder / "truncated.pdf").write_bytes(pdf[: len(pdf) // 3])
    (folder / "whole.pdf").unlink()
    (folder / "notes.xlsx").write_bytes(b"not read")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("hostile")
    handbook.write_handbook(root / "good")
    _hostile(root / "bad")
    cfg = load_config(handbook.project(root, ["good", "bad", "missing.md"]))
    out = build_index(cfg)
    return cfg, json.loads((out / "manifest.json").read_text())


def test_each_hostile_file_gives_its_finding(built) -> None:
    _, manifest = built
    kinds = {Path(f["file"]).name: f["kind"] for f in manifest["findings"]}
    for name, kind in HOSTILE.items():
        assert kinds.get(name if kind != "unsupported" else "bad") == kind, (name, kinds)
    assert kinds["missing.md"] == "not_found"
    for f in manifest["findings"]:
        assert f["message"] and f["hint"] and f["file"], f


def test_the_good_files_are_indexed_all_the_same(built) -> None:
    cfg, manifest = built
    index = load_index(cfg)
    sources = {p.source for p in index.passages}
    assert {
        f"good/{n}" for n in ("returns.md", "shipping.html", "warranty.pdf", "leave.docx", "security.txt")
    } <= sources
    assert "bad/latin.txt" in sources  # read as cp1252, with a warning
    assert any("Café" in p.text and "brûlée" in p.text for p in index.passages)
    status = {r["source"]: r["status"] for r in manifest["files"]}
    assert status["bad/huge.txt"] == "skipped" and status["bad/locked.pdf"] == "skipped"
    assert not any("Salaries" in p.text for p in index.passages)


def test_the_console_names_the_file_and_what_to_do(tmp_path: Path, capsys) -> None:
    handbook.write_handbook(tmp_path / "good")
    bad = tmp_path / "bad"
    bad.mkdir()
    handbook.make_scanned_pdf(bad / "scan.pdf")
    config = handbook.project(tmp_path, ["good", "bad"])
    assert main(["docs", "index", str(config)]) == 0
    out = capsys.readouterr().out.replace("\n", " ")
    assert "bad/scan.pdf" in out and "no_text_layer" in out and "ocrmypdf" in out
    assert "Traceback" not in out


def test_every_file_failing_exits_2_and_writes_nothing(tmp_path: Path, capsys) -> None:
    (tmp_path / "bad").mkdir()
    handbook.make_scanned_pdf(tmp_path / "bad" / "scan.pdf")
    (tmp_path / "bad" / "corrupt.docx").write_bytes(b"garbage")
    config = handbook.project(tmp_path, ["bad"])
    assert main(["docs", "index", str(config)]) == 2
    captured = capsys.readouterr()
    assert "no_text_layer" in captured.out and "corrupt" in captured.out and "no passage" in captured.err
    assert not (tmp_path / "artifacts" / "docs").exists()


def test_paths_outside_the_project_and_an_empty_list_are_config_errors(tmp_path: Path, capsys) -> None:
    config = handbook.project(tmp_path, ["../elsewhere"])
    assert main(["docs", "index", str(config)]) == 2
    assert "outside the project folder" in capsys.readouterr().err
    config = handbook.project(tmp_path, [])
    config.write_text("docs:\n  paths: []\n")
    assert main(["docs", "index", str(config)]) == 2
    assert "docs.paths is empty" in capsys.readouterr().err
