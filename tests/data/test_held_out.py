"""`data.test_paths` and `data.val_paths`: your own test (validation) set, used as it is, with no twin in train."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tunesmith.artifacts import read_jsonl
from tunesmith.cli.main import main
from tunesmith.config import Config, DataConfig, load_config
from tunesmith.data import dedup
from tunesmith.data.check import check_files
from tunesmith.data.prepare import prepare_dataset
from tunesmith.errors import ConfigError, DataError

SYSTEM = {"role": "system", "content": "You are Juno, Lumen Home's support assistant."}
TOPICS = [
    ("How do I pair the Lumen Hub with my phone?", "Open the app, tap Add device and hold the Hub button for 5 s."),
    ("Can I return a doorbell after 40 days?", "Returns are accepted within 30 days; after that we offer a repair."),
    ("Why does my smart plug click at night?", "A schedule is switching it; check Automations in the app."),
    ("Is the camera waterproof?", "The outdoor camera is rated IP65: rain is fine, submersion is not."),
    ("What does the blue light on the Hub mean?", "Blue means it is updating; leave it plugged in for ten minutes."),
    ("Do you ship to Canada?", "Yes, to every province; delivery takes 5 to 8 business days."),
]
WORDS = (
    "lamp kettle router blinds thermostat speaker lock sensor garage socket heater camera battery charger cable "
    "firmware schedule scene routine voice bridge outlet dimmer motion leak smoke window door garden porch "
    "warranty invoice refund shipping label courier address billing account password family guest hotspot"
).split()


def chat(question: str, answer: str, tag: str | None = None) -> dict:
    row = {"messages": [SYSTEM, {"role": "user", "content": question}, {"role": "assistant", "content": answer}]}
    return {**row, "meta": {"tags": [tag]}} if tag else row


def write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def filler(n: int = 40) -> list[dict]:
    """Unrelated examples: seeded random words, so that no two are near duplicates of each other."""
    import random

    rng = random.Random(0)
    return [
        chat(f"Question {i} about {' '.join(rng.sample(WORDS, 7))}?", f"Answer {i}: {' '.join(rng.sample(WORDS, 9))}.")
        for i in range(n)
    ]


# Twins of test examples planted among the inputs: an exact copy, near-identical prompts (a typo, case and
# punctuation, a dropped word), and the same prompt with another answer (a conflict).
PLANTED = [
    chat(*TOPICS[0]),
    chat("how do I pair the lumen hub with my phone", TOPICS[0][1]),
    chat("Can I return a doorbel after 40 days?", TOPICS[1][1]),
    chat("Why does my smart plug click at night??", "It is a relay: nothing to worry about."),
    chat("Is the camera waterproof?", "No."),
    chat("What does the blue light on Hub mean?", TOPICS[4][1]),
]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    write(tmp_path / "support.jsonl", filler()[:20] + PLANTED + filler()[20:])
    test = [chat(q, a) for q, a in TOPICS]
    write(tmp_path / "reviewed-test.jsonl", test + [test[0]])  # a duplicate inside the test set stays
    return tmp_path


def twins(a: list[dict], b: list[dict], threshold: float) -> list[list[int]]:
    """Groups that tie a record of `a` to one of `b`: duplicates or near-same prompts."""
    return [g for g in dedup.linked_groups(a + b, threshold) if min(g) < len(a) <= max(g)]


def test_train_never_holds_a_twin_of_a_test_example(project):
    cfg = DataConfig(pii="off", test_paths=[str(project / "reviewed-test.jsonl")])
    result = prepare_dataset([project / "support.jsonl"], project / "ds", cfg)
    rows = {s: read_jsonl(project / "ds" / f"{s}.jsonl") for s in ("train", "val", "test")}
    source = read_jsonl(project / "reviewed-test.jsonl")
    # The test split is the file, as it is: every line, in order, its duplicate included.
    assert [r["messages"] for r in rows["test"]] == [r["messages"] for r in source]
    assert result.counts["test"] == len(source) == 7
    # Every planted twin is gone, and nothing the split kept is a twin of a test example.
    assert result.counts["dropped"] == {"in_test_paths": len(PLANTED)}
    assert not twins(rows["test"], rows["train"] + rows["val"], cfg.near_dup_threshold)
    assert not twins(rows["test"], rows["train"] + rows["val"], 0.5)  # not even at a looser threshold
    assert len(rows["train"]) + len(rows["val"]) == len(filler())
    manifest = json.loads((project / "ds" / "manifest.json").read_text())
    assert manifest["splits"]["test"]["from"] == "data.test_paths"
    assert [f["file"] for f in manifest["splits"]["test"]["files"]] == ["reviewed-test.jsonl"]
    assert manifest["splits"]["train"]["from"] == manifest["splits"]["val"]["from"] == "data.paths"
    assert manifest["splits"]["train"]["share"] == pytest.approx(0.8 / 0.9)
    assert manifest["config"]["test_files"] == ["reviewed-test.jsonl"]
    dups = manifest["held_out_duplicates"]
    assert [d["source"]["line"] for d in dups] == list(range(21, 21 + len(PLANTED)))
    assert {d["split"] for d in dups} == {"test"} and all(d["matches"] for d in dups)
    assert any("data.test_paths" in w for w in result.warnings)
    assert any(s["file"] == "reviewed-test.jsonl" and s["split"] == "test" for s in manifest["sources"])


def test_shares_are_renormalised_and_val_paths_work_alike(project):
    write(project / "val.jsonl", [chat("Does the Hub need a subscription?", "No, every feature is free.")])
    cfg = DataConfig(
        pii="off",
        test_paths=[str(project / "reviewed-test.jsonl")],
        val_paths=[str(project / "val.jsonl")],
        split={"train": 0.6, "val": 0.2, "test": 0.2, "min_test": {"x": 3}},
    )
    result = prepare_dataset([project / "support.jsonl"], project / "ds", cfg)
    assert result.counts["val"] == 1 and result.counts["test"] == 7  # the files, and nothing else
    assert result.counts["train"] == len(filler())  # both shares come from files: the inputs all go to train
    manifest = json.loads((project / "ds" / "manifest.json").read_text())
    assert manifest["splits"]["val"]["from"] == "data.val_paths"


def test_val_twins_are_dropped_too(project):
    write(project / "val.jsonl", [chat(*TOPICS[0])])
    cfg = DataConfig(pii="off", val_paths=[str(project / "val.jsonl")])
    result = prepare_dataset([project / "support.jsonl"], project / "ds", cfg)
    assert result.counts["dropped"] == {"in_val_paths": 2}  # the exact copy and the lower-case one
    assert result.counts["val"] == 1 and result.counts["test"] > 0  # test still comes from the inputs


def test_held_out_files_are_redacted_like_the_rest(tmp_path):
    write(tmp_path / "in.jsonl", filler())
    write(tmp_path / "test.jsonl", [chat("My email is jane.doe@example.com, where is my order?", "On its way.")])
    cfg = DataConfig(pii="redact", pii_entities=["EMAIL_ADDRESS"], test_paths=[str(tmp_path / "test.jsonl")])
    result = prepare_dataset([tmp_path / "in.jsonl"], tmp_path / "ds", cfg)
    text = (tmp_path / "ds" / "test.jsonl").read_text()
    assert "jane.doe@example.com" not in text and "<EMAIL_ADDRESS>" in text
    assert result.counts["redacted"] == {"EMAIL_ADDRESS": 1}


def test_check_reports_the_twins_and_not_the_test_sets_own_duplicates(project):
    cfg = DataConfig(test_paths=[str(project / "reviewed-test.jsonl")])
    report = check_files([project / "support.jsonl"], cfg, pii_scan=False, diversity=False)
    held = [f for f in report.findings if f.kind == "held_out_duplicate"]
    planted_lines = set(range(21, 21 + len(PLANTED)))
    flagged = {line for f in held for file, line in f.locations or [] if file.endswith("support.jsonl")}
    assert flagged == planted_lines and all("data.test_paths" in f.message for f in held)
    # the test file's own duplicate (lines 1 and 7) is not reported: prepare keeps both
    dups = [f for f in report.findings if f.kind in ("exact_duplicate", "near_duplicate", "conflict")]
    assert not any((f.file or "").endswith("reviewed-test.jsonl") for f in dups)
    assert report.stats["counts"]["files"] == 2  # the test file is checked like the inputs


def test_preference_pairs_refuse_held_out_files(tmp_path):
    pair = {"prompt": "Do you ship abroad?", "chosen": "To the EU.", "rejected": "No idea."}
    write(tmp_path / "pairs.jsonl", [pair])
    cfg = DataConfig(test_paths=[str(tmp_path / "pairs.jsonl")])
    with pytest.raises(DataError, match="not preference pairs"):
        prepare_dataset([tmp_path / "pairs.jsonl"], tmp_path / "ds", DataConfig(test_paths=[str(tmp_path / "t")]))
    with pytest.raises(DataError, match="not preference pairs"):
        check_files([tmp_path / "pairs.jsonl"], cfg)


def test_config_keys_are_checked(tmp_path):
    (tmp_path / "tunesmith.yaml").write_text("data:\n  paths: [a.jsonl]\n  test_paths: [a.jsonl]\n")
    with pytest.raises(ConfigError, match="in both data.paths and data.test_paths"):
        load_config(tmp_path / "tunesmith.yaml")
    (tmp_path / "tunesmith.yaml").write_text("data:\n  paths: [a.jsonl]\n  test_paths: [../outside.jsonl]\n")
    with pytest.raises(ConfigError, match="data.test_paths"):
        load_config(tmp_path / "tunesmith.yaml")
    cfg = Config(root=tmp_path, data={"test_paths": ["t.jsonl"], "val_paths": ["v/v.jsonl"]})
    assert cfg.data_section().test_paths == [str(tmp_path / "t.jsonl")]
    assert cfg.data_section().val_paths == [str(tmp_path / "v" / "v.jsonl")] and cfg.data.test_paths == ["t.jsonl"]


def test_cli_test_file(project, capsys):
    args = ["data", "prepare", str(project / "support.jsonl"), "--test-file", str(project / "reviewed-test.jsonl")]
    assert main([*args, "--pii", "off", "--out", str(project / "ds"), "--json"]) == 0
    counts = json.loads(capsys.readouterr().out)["counts"]
    assert counts["test"] == 7 and counts["dropped"] == {"in_test_paths": len(PLANTED)}
    assert main(["data", "check", str(project / "support.jsonl"), "--test-file", str(project / "reviewed-test.jsonl"),
                 "--no-pii", "--no-embeddings", "--json"]) == 0  # fmt: skip
    kinds = {f["kind"] for f in json.loads(capsys.readouterr().out)["findings"]}
    assert "held_out_duplicate" in kinds


def test_the_evaluation_runs_on_exactly_the_test_files(project, tiny_model_dir):
    """`tunesmith run`: prepare from tunesmith.yaml (test_paths relative to it), then the eval's examples are the
    test file's, one for one."""
    from rich.console import Console

    from tunesmith.evals.runner import evaluate

    (project / "tunesmith.yaml").write_text(
        f"model: {{base: {tiny_model_dir}}}\n"
        "data: {paths: [support.jsonl], test_paths: [reviewed-test.jsonl], pii: off}\n"
        "eval: {arms: [retrieval], reference_arm: retrieval, forgetting: false}\n"
    )
    cfg = load_config(project / "tunesmith.yaml")
    result = evaluate(cfg, console=Console(quiet=True))  # prepares the dataset first
    source = read_jsonl(project / "reviewed-test.jsonl")
    examples = result.results.examples
    assert [e.prompt for e in examples] == [r["messages"][1]["content"] for r in source]
    assert [e.reference for e in examples] == [r["messages"][2]["content"] for r in source]
    train = read_jsonl(cfg.stage_dir("dataset") / "train.jsonl")
    assert not twins(source, train, cfg.data.near_dup_threshold)
