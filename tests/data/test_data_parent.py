"""`prepare --parent`: a new version keeps its parent whole, freezes its test split, and records the lineage."""

from __future__ import annotations

import json
import random
import string
from pathlib import Path

import pytest

from tunesmith.artifacts import read_jsonl
from tunesmith.cli.main import main
from tunesmith.config import DataConfig
from tunesmith.data.diff import diff_datasets
from tunesmith.data.prepare import prepare_dataset
from tunesmith.errors import DataError

SYSTEM = "You are the support assistant for Acme Widgets."


def _words(rng: random.Random, n: int) -> str:
    return " ".join("".join(rng.choices(string.ascii_lowercase, k=6)) for _ in range(n))


def _write(path: Path, rows: list[tuple[str, str]]) -> Path:
    with open(path, "w") as f:
        for prompt, answer in rows:
            msgs = [
                {"role": "system", "content": SYSTEM},
                {"role": "user", "content": prompt},
                {"role": "assistant", "content": answer},
            ]
            f.write(json.dumps({"messages": msgs}) + "\n")
    return path


def _split_ids(d: Path) -> dict[str, list[str]]:
    return {s: [r["meta"]["id"] for r in read_jsonl(d / f"{s}.jsonl")] for s in ("train", "val", "test")}


def _split_rows(d: Path) -> dict[str, list[dict]]:
    return {s: read_jsonl(d / f"{s}.jsonl") for s in ("train", "val", "test")}


@pytest.fixture(scope="module")
def versions(tmp_path_factory):
    """v1 from 40 examples; v2 = v1 + reviewed.jsonl (new examples, one copy of a v1 test prompt, one with PII)."""
    tmp = tmp_path_factory.mktemp("lineage")
    rng = random.Random(1)
    base = [(_words(rng, 10) + "?", "Answer " + _words(rng, 8)) for _ in range(40)]
    v1 = tmp / "v1"
    prepare_dataset([_write(tmp / "data.jsonl", base)], v1, DataConfig(pii="off"))
    test_prompt = read_jsonl(v1 / "test.jsonl")[0]["messages"][1]["content"]
    new = [(_words(rng, 10) + "?", "Answer " + _words(rng, 8)) for _ in range(20)]
    new.append((test_prompt + "!", "A different answer " + _words(rng, 8)))  # twin of a frozen test example
    new.append(("Hi, this is Margaret Thornton, my email is margaret.t@example.org", "Thanks, noted."))
    # the same file name as the parent's input: ids must still be unique across versions
    (tmp / "data2").mkdir()
    reviewed = _write(tmp / "data2" / "data.jsonl", new)
    v2 = tmp / "v2"
    result = prepare_dataset([reviewed], v2, DataConfig(pii="redact"), parent=v1)
    return tmp, v1, v2, result


def test_parent_examples_are_kept_in_their_splits_and_test_is_frozen(versions):
    _, v1, v2, result = versions
    before, after = _split_rows(v1), _split_rows(v2)
    assert after["test"] == before["test"]  # byte for byte the same records: evaluations stay comparable
    for s in ("train", "val"):
        assert after[s][: len(before[s])] == before[s]
    ids = [i for rows in _split_ids(v2).values() for i in rows]
    assert len(ids) == len(set(ids))  # new ids never collide with the parent's
    new = result.counts["new"]
    assert new["test"] == 0 and new["train"] + new["val"] == 21  # 20 new + the PII one; the test twin dropped
    assert result.counts["dropped"] == {"in_parent": 1}
    assert result.counts["parent"]["test"] == len(before["test"])


def test_new_examples_get_the_same_pii_treatment(versions):
    _, _, v2, result = versions
    text = "".join((v2 / f).read_text() for f in ("train.jsonl", "val.jsonl", "test.jsonl", "README.md"))
    assert "Margaret" not in text and "margaret.t@example.org" not in text
    assert "<PERSON>" in text and result.counts["redacted"]["EMAIL_ADDRESS"] == 1


def test_manifest_records_the_parent_and_the_hash_depends_on_it(versions, tmp_path):
    tmp, v1, v2, result = versions
    manifest = json.loads((v2 / "manifest.json").read_text())
    parent_hash = json.loads((v1 / "manifest.json").read_text())["dataset_hash"]
    assert manifest["parent"] == {"path": str(v1), "dataset_hash": parent_hash}
    assert manifest["dataset_hash"] == result.dataset_hash != parent_hash
    assert "Parent dataset" in (v2 / "README.md").read_text()
    # same parent and inputs, same hash: the lineage is reproducible
    again = prepare_dataset(
        [tmp / "data2" / "data.jsonl"], tmp_path / "v2b", DataConfig(pii="redact"), parent=v1
    ).dataset_hash
    assert again == result.dataset_hash


def test_diff_shows_parent_to_child(versions, capsys):
    _, v1, v2, _ = versions
    d = diff_datasets(v1, v2)
    assert d.b_is_child_of_a and not diff_datasets(v2, v1).b_is_child_of_a
    assert d.splits["test"]["added"] == 0 and d.splits["test"]["removed"] == 0
    assert d.splits["train"]["added"] + d.splits["val"]["added"] == 21 and not d.moved
    assert main(["data", "diff", str(v1), str(v2)]) == 0
    assert "child of A" in capsys.readouterr().out


def test_cli_parent(versions, tmp_path, capsys):
    tmp, v1, _, _ = versions
    out = tmp_path / "v2cli"
    code = main(["data", "prepare", str(tmp / "data2" / "data.jsonl"), "--parent", str(v1), "--out", str(out)])
    assert code == 0 and "test frozen" in capsys.readouterr().out
    assert json.loads((out / "manifest.json").read_text())["parent"]["path"] == str(v1)


def test_parent_must_be_a_prepared_dataset(tmp_path):
    src = _write(tmp_path / "a.jsonl", [("How do I reset it?", "Hold the button.")])
    with pytest.raises(DataError, match="not a prepared dataset"):
        prepare_dataset([src], tmp_path / "out", DataConfig(pii="off"), parent=tmp_path)
    assert not (tmp_path / "out").exists()


def test_new_version_in_place(tmp_path):
    """The retraining loop writes the child over its parent's directory: the parent is read before it is replaced."""
    rng = random.Random(2)
    first = _write(tmp_path / "a.jsonl", [(_words(rng, 10) + "?", "Answer " + _words(rng, 8)) for _ in range(30)])
    more = _write(tmp_path / "b.jsonl", [(_words(rng, 10) + "?", "Answer " + _words(rng, 8)) for _ in range(5)])
    ds = tmp_path / "ds"
    v1 = prepare_dataset([first], ds, DataConfig(pii="off"))
    test_before = (ds / "test.jsonl").read_bytes()
    v2 = prepare_dataset([more], ds, DataConfig(pii="off"), parent=ds)
    assert (ds / "test.jsonl").read_bytes() == test_before
    assert v2.counts["train"] + v2.counts["val"] == v1.counts["train"] + v1.counts["val"] + 5
    assert json.loads((ds / "manifest.json").read_text())["parent"]["dataset_hash"] == v1.dataset_hash
