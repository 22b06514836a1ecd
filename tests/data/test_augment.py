"""Refusal and negative conversations: their shape, their tags, determinism, dedup, and errors by file and line."""

from __future__ import annotations

import json

import pytest

from tunesmith.data.augment import (
    DEFAULT_ANSWER,
    TOPICS,
    add_negatives,
    add_refusals,
    generate_questions,
)
from tunesmith.errors import DataError, TunesmithError
from tunesmith.evals.metrics import ABSTAIN_TAGS, is_refusal
from tunesmith.records import load_records


def read(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_refusals_from_text_and_jsonl_questions(tmp_path):
    q = tmp_path / "q.txt"
    q.write_text("What's the weather tomorrow?\n\nWho won the match?\n")
    out = tmp_path / "refusals.jsonl"
    result = add_refusals(out, questions=q, system="You are Juno.", contact="help@acme.test")
    assert (result.added, result.duplicates, result.total) == (2, 0, 2)
    rows = read(out)
    answer = DEFAULT_ANSWER.replace("{contact}", "help@acme.test")
    assert rows[0]["messages"] == [
        {"role": "system", "content": "You are Juno."},
        {"role": "user", "content": "What's the weather tomorrow?"},
        {"role": "assistant", "content": answer},
    ]
    assert set(rows[0]) == {"messages", "meta"}
    assert set(rows[0]["meta"]) == {"id", "tags", "source"}
    assert rows[0]["meta"]["tags"] == ["refusal", "out_of_scope"]
    assert rows[0]["meta"]["source"] == {"file": str(q), "line": 1}
    assert rows[1]["meta"]["source"] == {"file": str(q), "line": 3}
    assert rows[0]["meta"]["id"].startswith("refusal-") and rows[0]["meta"]["id"] != rows[1]["meta"]["id"]
    # the default answer is one the evaluation counts as an abstention on these tags
    assert is_refusal(answer) and ABSTAIN_TAGS <= set(rows[0]["meta"]["tags"])
    # and the file loads as canonical records with no findings
    loaded = load_records([out])
    assert len(loaded.records) == 2 and loaded.findings == []

    qj = tmp_path / "q.jsonl"
    qj.write_text(json.dumps({"question": "Tax advice?", "answer": "Ask {contact}."}) + "\n")
    add_refusals(out, questions=qj, answer="Sorry, I only know about Acme orders.")
    last = read(out)[-1]
    assert last["messages"] == [
        {"role": "user", "content": "Tax advice?"},
        {"role": "assistant", "content": "Ask our support team."},  # the per-line answer wins; default contact
    ]


def test_custom_answer_without_system(tmp_path):
    q = tmp_path / "q.txt"
    q.write_text("Can you book me a flight?\n")
    out = tmp_path / "r.jsonl"
    add_refusals(out, questions=q, answer="I can only help with Acme orders; ask {contact}.", contact="the desk")
    assert read(out)[0]["messages"] == [
        {"role": "user", "content": "Can you book me a flight?"},
        {"role": "assistant", "content": "I can only help with Acme orders; ask the desk."},
    ]


def test_generate_is_deterministic_with_seed_and_distinct(tmp_path):
    a = generate_questions(30, seed=7)
    assert a == generate_questions(30, seed=7)
    assert a != generate_questions(30, seed=8)
    assert len(set(a)) == 30
    topics_of_first = [next(t for t in TOPICS if t in q) for q in a[: len(TOPICS)]]
    assert sorted(topics_of_first) == sorted(TOPICS)  # a small N spreads over topics, not paraphrases of one

    out1, out2 = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    add_refusals(out1, generate=12, seed=3, contact="x@y.z")
    add_refusals(out2, generate=12, seed=3, contact="x@y.z")
    assert out1.read_bytes() == out2.read_bytes()
    rows = read(out1)
    assert len(rows) == 12
    assert rows[0]["meta"]["source"] == {"generated": "tunesmith data add-refusals", "seed": 3, "index": 1}
    assert all(r["meta"]["tags"] == ["refusal", "out_of_scope"] for r in rows)

    with pytest.raises(DataError, match="at most"):
        generate_questions(10_000)


def test_generate_with_own_templates_and_topics(tmp_path):
    tpl = tmp_path / "t.txt"
    tpl.write_text("Tell me about {topic}.\nAny news on {topic}?\n")
    out = tmp_path / "r.jsonl"
    add_refusals(out, generate=4, templates=tpl, topics=["golf", "opera"])
    users = sorted(r["messages"][0]["content"] for r in read(out))
    assert users == ["Any news on golf?", "Any news on opera?", "Tell me about golf.", "Tell me about opera."]
    bad = tmp_path / "bad.txt"
    bad.write_text("Tell me about {topic}.\nNo placeholder here\n")
    with pytest.raises(DataError) as e:
        add_refusals(out, generate=2, templates=bad)
    assert (e.value.file, e.value.line) == (str(bad), 2)


def test_appending_never_duplicates_and_keeps_existing_lines(tmp_path):
    out = tmp_path / "train.jsonl"
    existing = {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]}
    out.write_text(json.dumps(existing))  # no trailing newline: the append must not glue lines together
    first = add_refusals(out, generate=5, seed=1)
    assert (first.added, first.total) == (5, 6)
    again = add_refusals(out, generate=8, seed=1)  # the first 5 are the same questions
    assert (again.added, again.duplicates, again.total) == (3, 5, 9)
    rows = read(out)
    assert rows[0] == existing and len(rows) == 9
    keys = [json.dumps(r["messages"]) for r in rows]
    assert len(set(keys)) == len(keys)
    assert not list(tmp_path.glob(".train.jsonl.*"))  # no temporary file left

    q = tmp_path / "q.txt"
    q.write_text("Same question?\nSame question?\n")
    res = add_refusals(out, questions=q)
    assert (res.added, res.duplicates) == (1, 1)


def test_negatives_shape_and_tags(tmp_path):
    p = tmp_path / "neg.jsonl"
    p.write_text(
        json.dumps({"prompt": "Give me another customer's address.", "answer": "I can't share customer data."})
        + "\n"
        + json.dumps({"prompt": "Write a fake invoice.", "answer": "I can't help with that.", "system": "Be firm."})
        + "\n"
    )
    out = tmp_path / "train.jsonl"
    result = add_negatives(out, prompts=p, system="You are Juno.")
    assert result.added == 2
    rows = read(out)
    assert rows[0] == {
        "messages": [
            {"role": "system", "content": "You are Juno."},
            {"role": "user", "content": "Give me another customer's address."},
            {"role": "assistant", "content": "I can't share customer data."},
        ],
        "meta": {"id": rows[0]["meta"]["id"], "tags": ["negative"], "source": {"file": str(p), "line": 1}},
    }
    assert rows[0]["meta"]["id"].startswith("negative-")
    assert rows[1]["messages"][0] == {"role": "system", "content": "Be firm."}
    assert add_negatives(out, prompts=p, system="You are Juno.").added == 0


@pytest.mark.parametrize(
    "content, line, message",
    [
        ('{"prompt": "a", "answer": "b"}\n{"answer": "no prompt"}\n', 2, '"prompt"'),
        ('{"prompt": "a"}\n', 1, '"answer"'),
        ('{"prompt": "a", "answer": "b"}\n\n{not json\n', 3, "invalid JSON"),
        ('["a", "b"]\n', 1, "JSON object"),
    ],
)
def test_bad_negatives_name_file_and_line(tmp_path, content, line, message):
    p = tmp_path / "neg.jsonl"
    p.write_text(content)
    out = tmp_path / "out.jsonl"
    with pytest.raises(TunesmithError) as e:
        add_negatives(out, prompts=p)
    assert (e.value.file, e.value.line) == (str(p), line)
    assert message in e.value.message and e.value.exit_code == 2
    assert not out.exists()  # nothing written when the input is bad


def test_missing_files_and_bad_questions(tmp_path):
    missing = tmp_path / "nope.jsonl"
    for call in (
        lambda: add_negatives(tmp_path / "o.jsonl", prompts=missing),
        lambda: add_refusals(tmp_path / "o.jsonl", questions=missing),
    ):
        with pytest.raises(DataError) as e:
            call()
        assert e.value.file == str(missing) and str(missing) in str(e.value)
    q = tmp_path / "q.jsonl"
    q.write_text('{"question": "ok?"}\n{"q": "typo"}\n')
    with pytest.raises(DataError) as e:
        add_refusals(tmp_path / "o.jsonl", questions=q)
    assert (e.value.file, e.value.line) == (str(q), 2) and '"question"' in e.value.message
    with pytest.raises(DataError, match="--questions FILE or --generate N"):
        add_refusals(tmp_path / "o.jsonl")
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"messages": []}\n{oops\n')
    with pytest.raises(DataError) as e:
        add_refusals(broken, generate=1)
    assert (e.value.file, e.value.line) == (str(broken), 2)
    assert broken.read_text() == '{"messages": []}\n{oops\n'  # untouched


def test_cli_commands(tmp_path):
    import typer
    from typer.testing import CliRunner

    from tunesmith.cli.augment import add_negatives as neg_cmd
    from tunesmith.cli.augment import add_refusals as ref_cmd

    app = typer.Typer()
    app.command("add-refusals")(ref_cmd)
    app.command("add-negatives")(neg_cmd)
    out = tmp_path / "d.jsonl"
    runner = CliRunner()
    res = runner.invoke(app, ["add-refusals", "--generate", "3", "--seed", "2", "--contact", "ops", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "added 3 refusal" in res.output
    assert all("contact ops." in r["messages"][-1]["content"] for r in read(out))
    p = tmp_path / "n.jsonl"
    p.write_text('{"prompt": "x", "answer": "no"}\n')
    res = runner.invoke(app, ["add-negatives", "--prompts", str(p), "--out", str(out)])
    assert res.exit_code == 0 and "added 1 negative" in res.output and "4 in all" in res.output
    res = runner.invoke(app, ["add-negatives", "--prompts", str(p), "--out", str(out)])
    assert "added 0 negative" in res.output and "1 already there" in res.output
