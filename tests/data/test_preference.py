"""Preference pairs: the three formats into one record, a fixture per finding kind at known lines, prepare."""

import json
from pathlib import Path

import pytest

from tunesmith.config import DataConfig
from tunesmith.data.check import check_files
from tunesmith.data.preference import is_preference_data, load_preferences, parse_transcript
from tunesmith.data.prepare import prepare_dataset
from tunesmith.errors import DataError

ASSETS = Path(__file__).parent / "assets" / "preference"


def kinds(report) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for f in report.findings:
        if f.kind != "too_few_examples":
            out.setdefault(f.kind, []).extend(f.lines)
    return out


def check(name: str, *, pii_scan: bool = False, test=None, max_seq_len=None, **data):
    return check_files(
        [ASSETS / name], DataConfig(**data), max_seq_len=max_seq_len, pii_scan=pii_scan, diversity=False, test=test
    )


@pytest.mark.parametrize(
    ("name", "fmt", "pairs"),
    [("trl.jsonl", "trl", 3), ("trl_conversational.jsonl", "trl", 2), ("openai_dpo.jsonl", "openai_dpo", 2)]
    + [("hh.jsonl", "hh", 2)],
)
def test_each_format_loads_into_the_canonical_pair(name, fmt, pairs):
    loaded = load_preferences([ASSETS / name])
    assert loaded.formats == {str(ASSETS / name): fmt}
    assert loaded.findings == []
    assert len(loaded.records) == pairs
    for i, p in enumerate(loaded.records):
        assert set(p) <= {"prompt", "chosen", "rejected", "meta", "tools", "parallel_tool_calls"}
        assert p["prompt"][-1]["role"] == "user"
        assert [m["role"] for m in p["chosen"]] == ["assistant"] == [m["role"] for m in p["rejected"]]
        assert p["meta"]["source"] == {"file": str(ASSETS / name), "line": i + 1}
        assert p["meta"]["id"]


def test_string_and_conversational_forms_agree():
    trl = load_preferences([ASSETS / "trl.jsonl"]).records[0]
    assert trl["prompt"] == [{"role": "user", "content": "Where is my order?"}]
    assert trl["chosen"] == [{"role": "assistant", "content": "Send me the order number and I will check."}]
    assert load_preferences([ASSETS / "trl.jsonl"]).records[2]["meta"]["tags"] == ["out_of_scope"]
    conv = load_preferences([ASSETS / "trl_conversational.jsonl"]).records[0]
    assert conv["prompt"][0]["role"] == "system" and conv["meta"]["id"] == "conv-1"
    dpo = load_preferences([ASSETS / "openai_dpo.jsonl"]).records[0]
    assert dpo["rejected"][0]["content"] == "It is 12 degrees and sunny."
    assert dpo["parallel_tool_calls"] is True


def test_hh_transcripts_split_at_the_last_turn():
    pair = load_preferences([ASSETS / "hh.jsonl"]).records[1]
    assert [m["role"] for m in pair["prompt"]] == ["user", "assistant", "user"]
    assert pair["prompt"][2]["content"] == "Track order LH-12345"
    assert pair["chosen"][0]["content"] == "It ships tomorrow."
    assert pair["rejected"][0]["content"] == "Orders cannot be tracked."
    assert parse_transcript("no turns here") is None


@pytest.mark.parametrize(
    ("name", "kind", "lines"),
    [
        ("identical_pair.jsonl", "identical_pair", [2]),
        ("missing_chosen.jsonl", "missing_chosen", [2, 3]),
        ("missing_rejected.jsonl", "missing_rejected", [2, 3]),
        ("prompt_mismatch.jsonl", "prompt_mismatch", [2]),
    ],
)
def test_each_preference_finding_at_its_lines(name, kind, lines):
    report = check(name)
    assert kinds(report) == {kind: lines}
    assert all(f.severity == "error" and f.file == str(ASSETS / name) for f in report.findings if f.kind == kind)
    assert report.has_errors
    assert report.examples == 3 - len(lines) if name != "prompt_mismatch.jsonl" else report.examples == 1


def test_existing_kinds_apply_to_pairs():
    report = check("messy.jsonl", max_seq_len=100, pii_scan=True, pii_entities=["EMAIL_ADDRESS"])
    found = kinds(report)
    assert found["invalid_json"] == [5]
    assert found["too_long"] == [3]
    assert found["pii"] == [4]
    assert found["conflict"] == [6, 7]
    # Lines 1, 2 and 8 share a prompt (2 differs in case and spaces; 8 is a copy of 1), 6 and 7 share one too.
    assert sorted(found["exact_duplicate"]) == [1, 2, 6, 7, 8]
    dup = next(f for f in report.findings if f.kind == "exact_duplicate" and 1 in f.lines)
    assert dup.details["identical"] == [[1, 8]]
    assert report.stats["counts"]["pairs"] == 7 and report.stats["counts"]["prompts"] == 4


def test_near_duplicate_prompts(tmp_path):
    rows = [
        {
            "prompt": "How do I reset the Lumen Hub to factory settings?",
            "chosen": "Hold reset 10 s.",
            "rejected": "No.",
        },
        {"prompt": "How do I reset the Lumen Hub to factory settings now?", "chosen": "Hold it.", "rejected": "Never."},
        {"prompt": "Do you ship abroad?", "chosen": "To the EU.", "rejected": "To Mars."},
    ]
    f = tmp_path / "near.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    report = check_files([f], DataConfig(near_dup_threshold=0.7), pii_scan=False, diversity=False)
    assert kinds(report) == {"near_duplicate": [1, 2]}


def test_leakage_against_a_test_split(tmp_path):
    test = tmp_path / "test.jsonl"
    test.write_text(
        json.dumps(
            {
                "messages": [
                    {"role": "user", "content": "Can I return the HUB?"},
                    {"role": "assistant", "content": "Yes."},
                ]
            }
        )
        + "\n"
    )
    report = check("trl.jsonl", test=test)
    assert kinds(report) == {"leakage": [2]}


def test_bad_input_is_a_finding_or_a_data_error_never_a_traceback(tmp_path):
    f = tmp_path / "odd.jsonl"
    lines = [
        '{"prompt": "q", "chosen": 3, "rejected": "r"}',
        '{"prompt": "q", "chosen": [{"role": "robot", "content": "x"}], "rejected": "r"}',
        '{"prompt": "", "chosen": "a", "rejected": "b"}',
        '["not", "an", "object"]',
        '{"chosen": "plain text", "rejected": "\\n\\nHuman: q\\n\\nAssistant: a"}',
        '{"prompt": "q", "chosen": "a", "rejected": "b"}',
    ]
    f.write_text("\n".join(lines) + "\n")
    report = check_files([f], pii_scan=False, diversity=False)
    found = kinds(report)
    assert found == {
        "missing_chosen": [1, 5],
        "unrecognized_role": [2],
        "missing_prompt": [3],
        "not_an_object": [4],
    }
    assert report.examples == 1
    conversations = tmp_path / "sft.jsonl"
    conversations.write_text(
        '{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}\n'
    )
    assert not is_preference_data([conversations])
    with pytest.raises(DataError, match="conversations, not preference pairs"):
        load_preferences([conversations])


def pairs_file(tmp_path: Path, n_prompts: int = 12) -> Path:
    rows = []
    for i in range(n_prompts):
        for k in range(2):  # two pairs per prompt: they must land in one split
            rows.append(
                {
                    "prompt": f"Question number {i} about product {i * 7}",
                    "chosen": f"Helpful answer {k} for {i}",
                    "rejected": f"Wrong answer {k} for {i}",
                    "meta": {"id": f"p{i}-{k}"},
                }
            )
    rows.append(dict(rows[0]))  # a copy: dropped
    rows.append(
        {"prompt": "Mail jane.doe@example.com please", "chosen": "Writing to jane.doe@example.com.", "rejected": "No."}
    )
    f = tmp_path / "pairs.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return f


def split_prompts(out: Path) -> dict[str, set[str]]:
    return {
        s: {r["prompt"][-1]["content"] for r in map(json.loads, (out / f"{s}.jsonl").read_text().splitlines())}
        for s in ("train", "val", "test")
    }


def test_prepare_splits_by_prompt_redacts_and_versions(tmp_path):
    f = pairs_file(tmp_path)
    cfg = DataConfig(pii_entities=["EMAIL_ADDRESS"], split={"train": 0.6, "val": 0.2, "test": 0.2})
    result = prepare_dataset([f], tmp_path / "ds", cfg, seed=0)
    out = result.out_dir
    c = result.counts
    assert c["kind"] == "preference" and c["valid"] == 26
    assert c["dropped"] == {"exact_duplicate": 1}
    assert c["train"] + c["val"] + c["test"] == 25 and c["test"] > 0
    prompts = split_prompts(out)
    assert not (prompts["train"] & prompts["test"]) and not (prompts["train"] & prompts["val"])
    assert not (prompts["val"] & prompts["test"])
    text = "".join((out / f"{s}.jsonl").read_text() for s in ("train", "val", "test"))
    assert "jane.doe@example.com" not in text and "<EMAIL_ADDRESS>" in text
    log = [json.loads(x) for x in (out / "redactions.jsonl").read_text().splitlines()]
    assert len(log) == 2 and {e["entity"] for e in log} == {"EMAIL_ADDRESS"}
    assert "jane" not in (out / "redactions.jsonl").read_text()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["kind"] == "preference" and manifest["dataset_hash"] == result.dataset_hash
    assert manifest["counts"]["redacted"] == {"EMAIL_ADDRESS": 2}
    row = json.loads((out / "train.jsonl").read_text().splitlines()[0])
    assert set(row) == {"prompt", "chosen", "rejected", "meta"} and row["meta"]["source"]["file"] == "pairs.jsonl"
    again = prepare_dataset([f], tmp_path / "ds2", cfg, seed=0)
    assert again.dataset_hash == result.dataset_hash


def test_prepare_with_parent_freezes_test_and_drops_leakage(tmp_path):
    f = pairs_file(tmp_path)
    cfg = DataConfig(pii="off", split={"train": 0.6, "val": 0.2, "test": 0.2})
    v1 = prepare_dataset([f], tmp_path / "v1", cfg, seed=0)
    test_prompt = next(iter(split_prompts(v1.out_dir)["test"]))
    train_prompt = next(iter(split_prompts(v1.out_dir)["train"]))
    new = tmp_path / "reviewed.jsonl"
    new.write_text(
        "".join(
            json.dumps(r) + "\n"
            for r in [
                {"prompt": test_prompt, "chosen": "A corrected answer.", "rejected": "The logged answer."},
                {"prompt": train_prompt, "chosen": "Another correction.", "rejected": "Another logged answer."},
                {"prompt": "A brand new question", "chosen": "Correction.", "rejected": "Logged."},
            ]
        )
    )
    v2 = prepare_dataset([new], tmp_path / "v2", cfg, seed=0, parent=v1.out_dir)
    assert v2.counts["dropped"] == {"leakage": 1}
    assert v2.counts["parent"]["test"] == v1.counts["test"] == v2.counts["test"]
    assert v2.counts["new"]["test"] == 0 and v2.counts["new"]["train"] + v2.counts["new"]["val"] == 2
    rows = [json.loads(x) for x in (v2.out_dir / "train.jsonl").read_text().splitlines()]
    assert any(r["chosen"][0]["content"] == "Another correction." for r in rows)  # joined its prompt's split
    manifest = json.loads((v2.out_dir / "manifest.json").read_text())
    assert manifest["parent"]["dataset_hash"] == v1.dataset_hash
    against = prepare_dataset([new], tmp_path / "v3", cfg, seed=0, against=v1.out_dir)
    assert against.counts["dropped"] == {"leakage": 1}


# ----------------------------------------------------------------------------------------------------------------
# Where pairs come from: add-negatives and add-refusals write pairs that load and check like any others.


def test_add_negatives_writes_pairs(tmp_path):
    from tunesmith.data.augment import add_negatives

    prompts = tmp_path / "disallowed.jsonl"
    prompts.write_text(
        json.dumps(
            {"prompt": "Give me a customer's address", "answer": "I can't share that.", "rejected": "12 Elm St."}
        )
        + "\n"
        + json.dumps({"prompt": "Say our Hub cures colds", "answer": "I can't claim that.", "rejected": "It does!"})
        + "\n"
    )
    out = tmp_path / "pairs.jsonl"
    result = add_negatives(out, prompts=prompts, system="You are Juno.", pairs=True)
    assert result.added == 2
    assert add_negatives(out, prompts=prompts, system="You are Juno.", pairs=True).duplicates == 2
    loaded = load_preferences([out])
    assert loaded.findings == [] and len(loaded.records) == 2
    pair = loaded.records[0]
    assert pair["prompt"][0] == {"role": "system", "content": "You are Juno."}
    assert pair["chosen"][0]["content"] == "I can't share that." and pair["rejected"][0]["content"] == "12 Elm St."
    assert pair["meta"]["tags"] == ["negative"]
    no_rejected = tmp_path / "plain.jsonl"
    no_rejected.write_text(json.dumps({"prompt": "p", "answer": "a"}) + "\n")
    with pytest.raises(DataError, match='no "rejected"') as err:
        add_negatives(tmp_path / "x.jsonl", prompts=no_rejected, pairs=True)
    assert err.value.line == 1


def test_add_refusals_writes_pairs_with_the_models_own_answer(tmp_path, tiny_model_dir):
    from tunesmith.data.augment import add_refusals

    questions = tmp_path / "oos.jsonl"
    questions.write_text(
        json.dumps({"question": "Who won the 1998 World Cup?", "rejected": "Brazil, 3-0."})
        + "\n"
        + json.dumps({"question": "What is the capital of Peru?"})
        + "\n"
    )
    with pytest.raises(DataError, match="no rejected answer") as err:
        add_refusals(tmp_path / "x.jsonl", questions=questions, pairs=True)
    assert err.value.line == 2
    out = tmp_path / "refusal_pairs.jsonl"
    add_refusals(out, questions=questions, pairs=True, rejected_from=str(tiny_model_dir), contact="support@x.test")
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert rows[0]["rejected"][0]["content"] == "Brazil, 3-0." and "rejected_source" not in rows[0]["meta"]
    assert rows[1]["meta"]["rejected_source"] == f"generated by {tiny_model_dir}"
    assert all(set(r["meta"]["tags"]) == {"refusal", "out_of_scope"} for r in rows)
    assert "support@x.test" in rows[1]["chosen"][0]["content"]
    loaded = load_preferences([out])
    assert len(loaded.records) == len(rows)


def test_thumbs_down_with_a_correction_becomes_a_redacted_pair_in_the_next_version(tmp_path):
    """The loop: a served answer rated down and corrected -> export-review --pairs -> prepare --parent."""
    from tunesmith.config import Config
    from tunesmith.monitor.run import export_review
    from tunesmith.serve.log import RequestLog

    log = RequestLog(f"sqlite:///{tmp_path / 'log.db'}", redact=False)  # export must redact anyway
    for rid, prompt in (("chatcmpl-1", "Can I get a refund on the Plug?"), ("chatcmpl-2", "Hi")):
        log.record(
            id=rid,
            endpoint="chat",
            model="current",
            messages=[{"role": "user", "content": prompt}],
            responses=["No refunds, ever."],
            prompt_tokens=8,
            completion_tokens=4,
            latency_ms=1.0,
            finish_reason="stop",
        )
    log.add_feedback("chatcmpl-1", -1.0, "Yes: write to jane.roe@example.com within 30 days for a refund.")
    log.add_feedback("chatcmpl-2", 1.0, "Hello!")  # rated up: no pair
    cfg = Config(root=tmp_path)
    out = tmp_path / "review_pairs.jsonl"
    assert export_review(cfg, out, since="1d", log=log, pairs=True) == 1
    assert "jane.roe" not in out.read_text()
    v1 = prepare_dataset([pairs_file(tmp_path)], tmp_path / "v1", DataConfig(pii="off"), seed=0)
    # The exported pair is tagged needs_review; this test is about its redaction, so it goes in unreviewed, on purpose.
    unreviewed = DataConfig(pii_entities=["EMAIL_ADDRESS"], allow_unreviewed=True)
    v2 = prepare_dataset([out], tmp_path / "v2", unreviewed, parent=v1.out_dir)
    assert v2.counts["new"]["train"] + v2.counts["new"]["val"] == 1
    rows = [
        json.loads(x)
        for s in ("train", "val")
        for x in (v2.out_dir / f"{s}.jsonl").read_text().splitlines()
        if "chatcmpl-1" in x
    ]
    assert len(rows) == 1
    assert rows[0]["chosen"][0]["content"] == "Yes: write to <EMAIL_ADDRESS> within 30 days for a refund."
    assert rows[0]["rejected"][0]["content"] == "No refunds, ever."
    assert "correction" in rows[0]["meta"]["tags"]


def test_eval_reads_a_pair_test_split_with_the_chosen_answer_as_reference(tmp_path):
    from tunesmith.evals.runner import load_test_cases

    f = pairs_file(tmp_path, n_prompts=3)
    v1 = prepare_dataset([f], tmp_path / "ds", DataConfig(pii="off", split={"train": 0.0, "val": 0.0, "test": 1.0}))
    cases = load_test_cases(v1.out_dir / "test.jsonl")
    assert len(cases) == v1.counts["test"] > 0
    chosen = {json.loads(x)["chosen"] for x in f.read_text().splitlines()}
    assert {c.reference for c in cases} <= chosen and all(c.prompt[-1]["role"] == "user" for c in cases)


def test_export_pairs_to_openai_dpo_round_trips(tmp_path):
    from tunesmith.data.export import export_dataset

    f = pairs_file(tmp_path)
    rows = f.read_text().splitlines()
    tool = {
        "prompt": [{"role": "user", "content": "Look it up"}],
        "chosen": [
            {"role": "assistant", "content": "", "tool_calls": [{"function": {"name": "f", "arguments": "{}"}}]}
        ],
        "rejected": [{"role": "assistant", "content": "No."}],
    }
    f.write_text("\n".join([*rows, json.dumps(tool)]) + "\n")
    ds = prepare_dataset([f], tmp_path / "ds", DataConfig(pii="off", split={"train": 1.0, "val": 0.0, "test": 0.0}))
    out = tmp_path / "openai_dpo.jsonl"
    result = export_dataset(ds.out_dir, "openai", out)
    assert result.written == ds.counts["train"] - 1 and result.errors == []
    assert [d["reason"] for d in result.dropped] == [
        "preferred_output calls a tool; OpenAI's DPO format takes text outputs"
    ]
    first = json.loads(out.read_text().splitlines()[0])
    assert set(first) == {"input", "preferred_output", "non_preferred_output"}
    assert first["input"]["messages"][-1]["role"] == "user"
    back = load_preferences([out])  # what we write is what we read as openai_dpo
    assert back.formats == {str(out): "openai_dpo"} and back.findings == [] and len(back.records) == result.written
    with pytest.raises(DataError, match="only --to openai"):
        export_dataset(ds.out_dir, "bedrock", tmp_path / "b.jsonl")


def test_cli_check_and_prepare_on_pairs(tmp_path, capsys):
    from tunesmith.cli.main import main

    assert main(["data", "check", str(ASSETS / "missing_chosen.jsonl"), "--no-pii", "--no-embeddings", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["format"] == "trl"
    assert [(f["kind"], f["lines"], f["file"]) for f in report["findings"] if f["severity"] == "error"] == [
        ("missing_chosen", [2], str(ASSETS / "missing_chosen.jsonl")),
        ("missing_chosen", [3], str(ASSETS / "missing_chosen.jsonl")),
    ]
    assert main(["data", "check", str(ASSETS / "trl.jsonl"), "--no-pii", "--no-embeddings"]) == 0
    broken = tmp_path / "broken.jsonl"
    broken.write_text("{not json\n")
    assert main(["data", "check", str(broken), "--no-pii", "--no-embeddings"]) == 1  # a finding, not a traceback
    capsys.readouterr()
    out = tmp_path / "ds"
    assert main(["data", "prepare", str(ASSETS / "trl.jsonl"), "--out", str(out), "--pii", "off", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["counts"]["kind"] == "preference"
