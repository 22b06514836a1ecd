"""`prepare_dataset`: PII never reaches the output, splits never leak, the hash is a content hash."""

from __future__ import annotations

import json
import random
import shutil
import string
from pathlib import Path

import pytest

from tunesmith.artifacts import read_jsonl
from tunesmith.config import DataConfig
from tunesmith.data import store as prepare_mod
from tunesmith.data.prepare import prepare_dataset
from tunesmith.errors import DataError

ASSETS = Path(__file__).parent / "assets"
RAW_PII = [
    "John Smith",
    "jane.doe@example.com",
    "(415) 555-0132",
    "4111 1111 1111 1111",
    "DE89 3704 0044 0532 0130 00",
    "192.168.1.44",
    "536-22-8741",
]
OFF = DataConfig(pii="off")


def all_output_text(out: Path) -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted(out.iterdir()) if p.is_file())


@pytest.mark.parametrize("mode", ["redact", "pseudonymize"])
def test_no_raw_pii_in_any_output_file(tmp_path, mode):
    out = tmp_path / "ds"
    result = prepare_dataset([ASSETS / "pii.jsonl"], out, DataConfig(pii=mode), pii_key_file=tmp_path / "pii.key")
    text = all_output_text(out)
    for value in [*RAW_PII, "John", "Smith"]:
        assert value not in text, value
    assert set(result.counts["redacted"]) == {
        "PERSON",
        "EMAIL_ADDRESS",
        "PHONE_NUMBER",
        "CREDIT_CARD",
        "IBAN_CODE",
        "IP_ADDRESS",
        "US_SSN",
    }
    log = read_jsonl(out / "redactions.jsonl")
    assert {"id", "message", "start", "end", "entity", "operator", "detector", "score"} <= set(log[0])


def test_pseudonyms_are_consistent_and_keyed(tmp_path):
    rows = []
    for seed_dir in ("a", "b"):
        out = tmp_path / seed_dir
        prepare_dataset(
            [ASSETS / "pii.jsonl"],
            out,
            DataConfig(pii="pseudonymize", split={"train": 1, "val": 0, "test": 0}),
            pii_key_file=tmp_path / "pii.key",
        )
        rows.append({r["meta"]["source"]["line"]: r["messages"][1]["content"] for r in read_jsonl(out / "train.jsonl")})
    first, again = rows
    name = first[1].split(" and ")[0].removeprefix("Hi, this is ")
    assert name.startswith("<PERSON_") and first[8].startswith(f"{name} again")
    assert first == again  # same key, same pseudonyms
    assert (tmp_path / "pii.key").exists() and not list((tmp_path / "a").glob("*.key"))


def test_key_inside_the_output_is_refused(tmp_path):
    with pytest.raises(DataError, match="inside the output"):
        prepare_dataset(
            [ASSETS / "pii.jsonl"], tmp_path / "ds", DataConfig(pii="pseudonymize"), pii_key_file=tmp_path / "ds" / "k"
        )


def _grouped_corpus(path: Path, groups: int = 40) -> None:
    """Groups of three near-identical prompts; prompts of different groups share no words."""
    rng = random.Random(0)
    rows = []
    for g in range(groups):
        base = " ".join("".join(rng.choices(string.ascii_lowercase, k=6)) for _ in range(10))
        for variant in range(3):
            rows.append(
                {
                    "messages": [
                        {"role": "user", "content": base + "?" * (variant + 1)},
                        {"role": "assistant", "content": f"answer {g}"},
                    ],
                    "meta": {"id": f"g{g}v{variant}", "tags": [["billing", "shipping"][g % 2]]},
                }
            )
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_near_duplicate_groups_never_straddle_splits(tmp_path):
    src = tmp_path / "grouped.jsonl"
    _grouped_corpus(src)
    # refusals off: this is about groups and splits; coverage would add refusals to train.
    cfg = DataConfig(pii="off", dedup="off", refusals="off", split={"train": 0.6, "val": 0.2, "test": 0.2})
    result = prepare_dataset([src], tmp_path / "ds", cfg, seed=3)
    where = {}
    for split in ("train", "val", "test"):
        for r in read_jsonl(tmp_path / "ds" / f"{split}.jsonl"):
            where.setdefault(r["meta"]["id"].split("v")[0], set()).add(split)
    assert len(where) == 40 and all(len(s) == 1 for s in where.values())
    assert result.counts["test"] >= 15 and result.counts["val"] >= 15
    # Stratified: both tags reach the test split.
    tags = {r["meta"]["tags"][0] for r in read_jsonl(tmp_path / "ds" / "test.jsonl")}
    assert tags == {"billing", "shipping"}


def test_dedup_and_conflict_policies(tmp_path):
    r = prepare_dataset([ASSETS / "exact_duplicate.jsonl", ASSETS / "near_duplicate.jsonl"], tmp_path / "a", OFF)
    # Both files start with the same four conversations; the second adds a near copy of its third line.
    assert r.counts["dropped"] == {"exact_duplicate": 5, "near_duplicate": 1}
    r = prepare_dataset([ASSETS / "conflict.jsonl"], tmp_path / "b", OFF)
    assert r.counts["dropped"] == {"conflict": 2}  # a 1-1 tie has no majority
    r = prepare_dataset([ASSETS / "conflict.jsonl"], tmp_path / "c", DataConfig(pii="off", conflicts="keep"))
    assert "conflict" not in r.counts["dropped"]


def test_invalid_lines_and_too_long(tmp_path):
    r = prepare_dataset([ASSETS / "too_long.jsonl"], tmp_path / "a", OFF, max_seq_len=100)
    assert r.counts["dropped"] == {"too_long": 1}
    r = prepare_dataset(
        [ASSETS / "too_long.jsonl"], tmp_path / "b", DataConfig(pii="off", too_long="truncate"), max_seq_len=100
    )
    assert r.counts["truncated"] == 1 and not r.counts["dropped"]
    long = [
        x
        for s in ("train", "val", "test")
        for x in read_jsonl(tmp_path / "b" / f"{s}.jsonl")
        if x["meta"].get("truncated")
    ]
    assert len(long) == 1 and len(long[0]["messages"][-1]["content"].split()) < 100
    r = prepare_dataset([ASSETS / "role_order.jsonl"], tmp_path / "c", OFF)
    assert r.counts["dropped"] == {"invalid": 2} and r.counts["input"] == 5


def test_hash_depends_on_content_and_options_only(tmp_path):
    a, b = tmp_path / "x" / "in.jsonl", tmp_path / "y" / "in.jsonl"
    for p in (a, b):
        p.parent.mkdir()
        shutil.copy(ASSETS / "near_duplicate.jsonl", p)
    h1 = prepare_dataset([a], tmp_path / "o1", OFF).dataset_hash
    h2 = prepare_dataset([b], tmp_path / "o2", OFF).dataset_hash
    assert h1 == h2
    manifest = json.loads((tmp_path / "o1" / "manifest.json").read_text())
    assert manifest["dataset_hash"] == h1 and set(manifest["outputs"]) >= {"train.jsonl", "README.md"}
    lines = b.read_text().splitlines()
    lines[0] = lines[0].replace("reset", "change")
    b.write_text("\n".join(lines) + "\n")
    assert prepare_dataset([b], tmp_path / "o3", OFF).dataset_hash != h1
    assert prepare_dataset([a], tmp_path / "o4", OFF, seed=1).dataset_hash != h1


def test_output_directory_is_atomic(tmp_path, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(prepare_mod, "write_manifest", boom)
    with pytest.raises(RuntimeError):
        prepare_dataset([ASSETS / "near_duplicate.jsonl"], tmp_path / "ds", OFF)
    assert list(tmp_path.iterdir()) == []


def test_card_names_counts_sources_removals_and_policy(tmp_path):
    prepare_dataset([ASSETS / "exact_duplicate.jsonl"], tmp_path / "ds", DataConfig(pii="redact"))
    card = (tmp_path / "ds" / "README.md").read_text()
    for text in ("| train |", "exact_duplicate.jsonl", "exact duplicates", "PII policy: **redact**", "Seed 0"):
        assert text in card


def test_check_and_prepare_read_the_training_sequence_length(tmp_path, tiny_model_dir):
    """`tunesmith run` checks and prepares at train.max_seq_len, the length training truncates at: no example
    that training would cut reaches train.jsonl."""
    from rich.console import Console

    from tunesmith.config import Config
    from tunesmith.pipeline import run_check, run_prepare

    shutil.copy(ASSETS / "too_long.jsonl", tmp_path / "data.jsonl")
    cfg = Config(
        root=tmp_path,
        model={"base": str(tiny_model_dir)},
        data={"paths": ["data.jsonl"], "pii": "off", "split": {"train": 1, "val": 0, "test": 0}},
        train={"max_seq_len": 100},
    )
    quiet = Console(quiet=True)
    report = run_check(cfg, quiet)
    assert report.stats["max_seq_len"] == 100 and [f.lines for f in report.findings if f.kind == "too_long"]
    result = run_prepare(cfg, quiet)
    assert result.counts["dropped"] == {"too_long": len([f for f in report.findings if f.kind == "too_long"])}
    manifest = json.loads((cfg.stage_dir("dataset") / "manifest.json").read_text())
    assert manifest["config"]["max_seq_len"] == 100
