"""Issue 12, output safety: no command destroys files tunesmith did not write, or leaves anything behind."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from tunesmith.cli import main as cli_main
from tunesmith.cli.main import main

ASSETS = Path(__file__).parent / "data" / "assets"
GOOD = ASSETS / "near_duplicate.jsonl"


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["data", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_prepare_out_refuses_foreign_dir_and_keeps_inputs(capsys, tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    shutil.copy(GOOD, d / "good.jsonl")
    (d / "notes.txt").write_text("mine")
    code, _, err = run(capsys, "prepare", str(GOOD), "--out", str(d), "--pii", "off")
    assert code == 2 and "--overwrite" in err
    code, _, err = run(capsys, "prepare", str(d / "good.jsonl"), "--out", str(d), "--pii", "off")
    assert code == 2 and "delete the input" in err
    assert (d / "notes.txt").read_text() == "mine" and (d / "good.jsonl").exists()
    # even with --overwrite, the input inside --out is never deleted
    code, _, err = run(capsys, "prepare", str(d / "good.jsonl"), "--out", str(d), "--pii", "off", "--overwrite")
    assert code == 2 and "input" in err and (d / "good.jsonl").exists() and (d / "notes.txt").exists()


def test_prepare_out_refuses_existing_file(capsys, tmp_path):
    f = tmp_path / "f"
    f.write_text("precious")
    code, _, err = run(capsys, "prepare", str(GOOD), "--out", str(f), "--pii", "off")
    assert code == 2 and f.read_text() == "precious" and not (tmp_path / ".f.old").exists()
    code, _, _ = run(capsys, "prepare", str(GOOD), "--out", str(f), "--pii", "off", "--overwrite")
    assert code == 0 and (f / "manifest.json").is_file()


def test_prepare_replaces_its_own_artifact(capsys, tmp_path):
    out = tmp_path / "ds"
    assert run(capsys, "prepare", str(GOOD), "--out", str(out), "--pii", "off")[0] == 0
    assert run(capsys, "prepare", str(GOOD), "--out", str(out), "--pii", "off")[0] == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]


def test_failed_prepare_leaves_no_pii_key(capsys, tmp_path):
    # every example is dropped (too long): the command fails, and no DIR.pii-key may remain
    out = tmp_path / "ds"
    code, _, _ = run(capsys, "prepare", str(GOOD), "--out", str(out), "--pii", "pseudonymize", "--max-seq-len", "1")
    assert code == 2
    assert list(tmp_path.iterdir()) == []


def test_prepare_writes_pii_key_once_dataset_written(capsys, tmp_path):
    out = tmp_path / "ds"
    code, _, _ = run(capsys, "prepare", str(GOOD), "--out", str(out), "--pii", "pseudonymize")
    assert code == 0 and (tmp_path / "ds.pii-key").is_file() and (out / "manifest.json").is_file()


def test_prepare_out_readonly_parent(capsys, monkeypatch, tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    if os.geteuid() == 0:  # root ignores directory permissions: have the OS refuse as it would a user

        def refuse(*args, **kwargs):
            raise PermissionError(13, "Permission denied")

        monkeypatch.setattr("tunesmith.artifacts.tempfile.mkdtemp", refuse)
    try:
        code, _, err = run(capsys, "prepare", str(GOOD), "--out", str(ro / "ds"), "--pii", "off")
    finally:
        ro.chmod(0o755)
    assert code == 2 and "cannot write" in err and "hint:" in err


def _dataset(capsys, tmp_path: Path) -> Path:
    ds = tmp_path / "ds"
    assert run(capsys, "prepare", str(GOOD), "--out", str(ds), "--pii", "off", "--split", "1,0,0")[0] == 0
    return ds


def test_export_out_missing_dir(capsys, tmp_path):
    ds = _dataset(capsys, tmp_path)
    out = tmp_path / "new" / "deeper" / "openai.jsonl"
    code, _, err = run(capsys, "export", str(ds), "--to", "vertex", "--out", str(out))
    assert code in (0, 1), err
    assert out.is_file() and json.loads(out.read_text().splitlines()[0])


def test_export_refuses_existing_file_without_overwrite(capsys, tmp_path):
    ds = _dataset(capsys, tmp_path)
    out = tmp_path / "x.jsonl"
    out.write_text("mine\n")
    code, _, err = run(capsys, "export", str(ds), "--to", "vertex", "--out", str(out))
    assert code == 2 and "--overwrite" in err and out.read_text() == "mine\n"
    code, _, _ = run(capsys, "export", str(ds), "--to", "vertex", "--out", str(out), "--overwrite")
    assert code in (0, 1) and out.read_text() != "mine\n"


def test_export_corrupt_train_jsonl(capsys, tmp_path):
    ds = _dataset(capsys, tmp_path)
    lines = (ds / "train.jsonl").read_text().splitlines()
    lines[1] = lines[1][: len(lines[1]) // 2]
    (ds / "train.jsonl").write_text("\n".join(lines) + "\n")
    code, _, err = run(capsys, "export", str(ds), "--to", "openai", "--out", str(tmp_path / "o.jsonl"))
    assert code == 2 and f"{ds / 'train.jsonl'}:2" in err
    assert not (tmp_path / "o.jsonl").exists()


def test_unexpected_exception_exit_3(capsys, monkeypatch, tmp_path):
    import tunesmith.data.export

    def boom(*args, **kwargs):
        raise RuntimeError("boom " + "x" * 10_000)

    monkeypatch.setattr(tunesmith.data.export, "export_dataset", boom)
    monkeypatch.setitem(cli_main._state, "debug", False)
    code, _, err = run(capsys, "export", str(tmp_path), "--to", "openai", "--out", str(tmp_path / "o.jsonl"))
    assert code == 3
    assert "error: internal error: RuntimeError: boom" in err and "--debug" in err and len(err) < 600
    monkeypatch.setitem(cli_main._state, "debug", True)
    with pytest.raises(RuntimeError):
        main(["data", "export", str(tmp_path), "--to", "openai", "--out", str(tmp_path / "o.jsonl")])
