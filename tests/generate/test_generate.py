"""`tunesmith data generate` against a stand-in teacher (tests/generate/standin.py, a real OpenAI-compatible server on
loopback that honours response_format): drafts from a handbook in five formats name their file, locator and passage,
are all needs_review, include near-domain refusals, never repeat a test question, and prepare refuses them until
reviewed; a killed run resumes without asking the teacher again; the confirmation, the cost ceiling, a server without
structured output, held-out documents, distillation from prompts and the judge filter (issue 27)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.docs import handbook
from tests.generate.standin import StandIn
from tunesmith.cli.main import main
from tunesmith.config import load_config
from tunesmith.data.dedup import near_groups
from tunesmith.docs import load_index
from tunesmith.generate import parse_json
from tunesmith.records import normalize

SYSTEM = "You are the assistant of Northwind Outfitters. Answer briefly."
REFUSAL = "I'm sorry, I can't help with that here. Please contact the Northwind care team."
# A test question the stand-in asks verbatim about the passage that holds its phrase: the filter must drop it.
PLANTED = {"45 days": handbook.QUESTIONS[0][0]}


def _chat(question: str, answer: str) -> dict:
    return {
        "messages": [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": question},
            {"role": "assistant", "content": answer},
        ]
    }


def make_project(root: Path, extra: str = "") -> Path:
    """The handbook (Markdown, HTML, PDF, DOCX, text), a little support data with the house refusal, and the
    handbook's questions as the test set."""
    handbook.write_handbook(root / "handbook")
    data = [
        _chat("Do you sell gift cards?", "Yes, gift cards from 10 to 200 pounds are sold in every shop."),
        _chat("Can you recommend a lawyer?", REFUSAL),
        _chat("What is your stock price?", REFUSAL),
    ]
    (root / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in data), encoding="utf-8")
    test = [_chat(q, f"See {file}: {phrase}.") for q, file, phrase in handbook.QUESTIONS]
    (root / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in test), encoding="utf-8")
    config = root / "tunesmith.yaml"
    config.write_text(
        "data:\n  pii: 'off'\n  paths: [data.jsonl]\n  test_paths: [test.jsonl]\n"
        f"docs:\n  paths: [handbook]\ngenerate:\n  max_refusal_share: 0.5\n{extra}",
        encoding="utf-8",
    )
    return config


def run(config: Path, teacher: StandIn, *args: str) -> int:
    return main(["data", "generate", str(config), "--teacher-url", teacher.url, "--teacher-model", "stand-in", *args])


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def user(record: dict) -> str:
    return next(m["content"] for m in record["messages"] if m["role"] == "user")


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("gen")
    config = make_project(root)
    with StandIn(planted=PLANTED) as teacher:
        code = run(config, teacher, "--from", "docs", "--out", str(root / "gen.jsonl"), "--yes", "--json")
        first = len(teacher.bodies)
        again = run(config, teacher, "--from", "docs", "--out", str(root / "gen.jsonl"), "--yes", "--overwrite")
        return {
            "code": code,
            "again": again,
            "root": root,
            "config": config,
            "rows": rows(root / "gen.jsonl"),
            "requests": first,
            "second_requests": len(teacher.bodies) - first,
            "structured": all(b.get("response_format", {}).get("type") == "json_schema" for b in teacher.bodies),
        }


def test_every_draft_names_its_file_locator_and_passage(generated: dict) -> None:
    assert generated["code"] == 0
    index = load_index(load_config(generated["config"]))
    by_hash = {hashlib.sha256(p.text.encode()).hexdigest(): p for p in index.passages}
    sources = set()
    for r in generated["rows"]:
        meta = r["meta"]
        passage = by_hash[meta["passage_sha256"]]
        assert meta["source"] == passage.source and meta["locator"]
        assert meta["locator"] == (passage.locator or f"passage {passage.id.rsplit('-', 1)[1]}")
        assert meta["teacher"]["model"] == "stand-in"
        sources.add(Path(meta["source"]).suffix)
    assert {".md", ".html", ".pdf", ".docx"} <= sources
    # one structured request per passage, and a rerun with the same settings asks nothing (the cache)
    assert generated["requests"] == len(index.passages) and generated["structured"]
    assert generated["again"] == 0 and generated["second_requests"] == 0


def test_all_need_review_and_some_are_near_domain_refusals_in_the_projects_voice(generated: dict) -> None:
    drafts = generated["rows"]
    assert all({"generated", "needs_review"} <= set(r["meta"]["tags"]) for r in drafts)
    refusals = [r for r in drafts if "refusal" in r["meta"]["tags"]]
    grounded = [r for r in drafts if "grounded" in r["meta"]["tags"]]
    assert refusals and grounded and len(refusals) <= len(grounded)  # max_refusal_share 0.5
    assert {r["messages"][-1]["content"] for r in refusals} == {REFUSAL}  # the project's own refusal
    assert all(r["messages"][0] == {"role": "system", "content": SYSTEM} for r in drafts)


def test_no_draft_is_a_near_duplicate_of_a_test_question(generated: dict) -> None:
    tests = [normalize(q) for q, _, _ in handbook.QUESTIONS]
    drafts = [normalize(user(r)) for r in generated["rows"]]
    assert PLANTED["45 days"] not in {user(r) for r in generated["rows"]}  # the stand-in asked it; it was dropped
    groups = near_groups([*tests, *drafts], 0.8)
    assert not [g for g in groups if min(g) < len(tests) <= max(g)]


def test_prepare_refuses_the_drafts_until_reviewed(generated: dict, tmp_path: Path, capsys) -> None:
    gen = generated["root"] / "gen.jsonl"
    code = main(["data", "prepare", str(gen), "--out", str(tmp_path / "ds"), "--pii", "off", "--refusals", "off"])
    assert code == 2 and not (tmp_path / "ds").exists()
    assert "tagged needs_review" in capsys.readouterr().err


def test_the_dataset_card_counts_generated_examples_their_teacher_and_reviewers(generated: dict, tmp_path) -> None:
    reviewed = []
    for n, r in enumerate(generated["rows"][:6]):
        tags = [t for t in r["meta"]["tags"] if t != "needs_review"] + ["reviewed"]
        by = "ana" if n % 2 else "ben"
        reviewed.append({**r, "meta": {**r["meta"], "tags": tags, "review": {"by": by, "decision": "approve"}}})
    path = tmp_path / "reviewed.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in reviewed), encoding="utf-8")
    assert main(["data", "prepare", str(path), "--out", str(tmp_path / "ds"), "--pii", "off", "--refusals", "off"]) == 0
    card = (tmp_path / "ds" / "README.md").read_text(encoding="utf-8")
    assert "## Generated examples" in card
    assert "6 example(s) were written by a teacher model" in card
    assert "`stand-in`" in card and "ana (3), ben (3)" in card


def test_a_killed_run_resumes_without_asking_again(tmp_path: Path) -> None:
    config = make_project(
        tmp_path, "  teacher:\n    base_url: http://127.0.0.1:9/v1\n    model: stand-in\n    concurrency: 1\n"
    )
    out = tmp_path / "gen.jsonl"
    with StandIn(hold_after=4) as teacher:
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        cmd = [
            sys.executable,
            "-m",
            "tunesmith.cli.main",
            "data",
            "generate",
            str(config),
            "--teacher-url",
            teacher.url,
            "--from",
            "docs",
            "--out",
            str(out),
            "--yes",
        ]
        child = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            assert teacher.held.wait(timeout=300), child.stderr.read().decode() if child.poll() is not None else ""
        finally:
            child.kill()
            child.wait(timeout=60)
        killed = list(teacher.answered)
        assert len(killed) == 4 and not out.exists()  # killed half-way: nothing written
        teacher.hold_after = None
        teacher.release.set()
        start = len(teacher.answered)
        assert (
            main(
                [
                    "data",
                    "generate",
                    str(config),
                    "--teacher-url",
                    teacher.url,
                    "--from",
                    "docs",
                    "--out",
                    str(out),
                    "--yes",
                ]
            )
            == 0
        )
        resumed = teacher.answered[start:]
    passages = len(load_index(load_config(config)).passages)
    assert not set(resumed) & set(killed)  # nothing answered before the kill was asked again
    assert len(resumed) == passages - 4 and out.exists()


def test_without_yes_nothing_is_sent(tmp_path: Path, capsys) -> None:
    config = make_project(tmp_path)
    with StandIn() as teacher:
        code = run(config, teacher, "--from", "docs", "--out", str(tmp_path / "gen.jsonl"))
        assert code == 2 and teacher.bodies == [] and not (tmp_path / "gen.jsonl").exists()
        assert "needs a confirmation" in capsys.readouterr().err
        over = ["--set", "generate.teacher.prompt_per_1m=1000", "--set", "generate.teacher.max_cost_usd=0.01"]
        teacher_cfg = f"  teacher:\n    base_url: {teacher.url}\n    model: stand-in\n"
        config.write_text(config.read_text() + teacher_cfg, encoding="utf-8")
        code = main(
            ["data", "generate", str(config), "--from", "docs", "--out", str(tmp_path / "g.jsonl"), "--yes", *over]
        )
        assert code == 2 and teacher.bodies == []
        assert "above generate.teacher.max_cost_usd" in capsys.readouterr().err


def test_a_server_without_structured_output_is_read_by_the_tolerant_parser(tmp_path: Path) -> None:
    config = make_project(tmp_path)
    with StandIn(structured=False) as teacher:
        assert run(config, teacher, "--from", "docs", "--out", str(tmp_path / "gen.jsonl"), "--yes") == 0
        with_schema = [b for b in teacher.bodies if "response_format" in b]
    # rejected by the first requests in flight at once (teacher.concurrency, 4); every later one asked without it
    assert 1 <= len(with_schema) <= 4 < len(teacher.bodies)
    drafts = rows(tmp_path / "gen.jsonl")
    assert drafts and any("grounded" in r["meta"]["tags"] for r in drafts)


def test_parse_json_finds_the_object_in_prose_and_fences() -> None:
    assert parse_json('{"a": 1}') == {"a": 1}
    assert parse_json('Sure!\n```json\n{"a": [1, 2]}\n```\nAnything else?') == {"a": [1, 2]}
    assert parse_json('Here: {"a": {"b": "}"}} and more') == {"a": {"b": "}"}}
    assert parse_json("no json here") is None


def test_held_out_documents_keep_test_questions_apart_from_train(tmp_path: Path) -> None:
    config = make_project(tmp_path, "  holdout_docs: 0.4\n")
    with StandIn() as teacher:
        code = run(
            config,
            teacher,
            "--from",
            "docs",
            "--out",
            str(tmp_path / "train.jsonl"),
            "--test-out",
            str(tmp_path / "test-gen.jsonl"),
            "--yes",
        )
    assert code == 0
    train = {r["meta"]["source"] for r in rows(tmp_path / "train.jsonl")}
    test = {r["meta"]["source"] for r in rows(tmp_path / "test-gen.jsonl")}
    assert all("held_out" in r["meta"]["tags"] for r in rows(tmp_path / "test-gen.jsonl"))
    assert len(test) == 2 and train and not train & test


def test_distillation_makes_the_teachers_answers_the_targets(tmp_path: Path) -> None:
    config = make_project(tmp_path, "  judge_min_score: 3\neval:\n  judge:\n    base_url: {url}\n    model: judge\n")
    prompts = tmp_path / "prompts.txt"
    prompts.write_text(
        "How do I reset my password?\n"
        '{"prompt": "Where is my parcel?"}\n'
        '{"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Can I pay by '
        'invoice, or only by card?"}]}\n'
        "How do I reset my password?\n"
        "Can you find me a good solicitor for my divorce?\n",
        encoding="utf-8",
    )
    with StandIn() as teacher:
        teacher.low_scores = {"parcel"}
        config.write_text(config.read_text().replace("{url}", teacher.url), encoding="utf-8")
        code = run(config, teacher, "--from", "prompts", str(prompts), "--out", str(tmp_path / "d.jsonl"), "--yes")
        plain = [b for b in teacher.bodies if "response_format" not in b]
    assert code == 0 and len(plain) == 4  # the repeated prompt is asked once
    drafts = rows(tmp_path / "d.jsonl")
    assert [user(r) for r in drafts] == [
        "How do I reset my password?",
        "Can I pay by invoice, or only by card?",
        "Can you find me a good solicitor for my divorce?",
    ]
    assert drafts[1]["messages"][0] == {"role": "system", "content": "Be brief."}
    assert drafts[0]["messages"][-1]["content"].startswith("Thank you for asking")
    assert ["refusal" in r["meta"]["tags"] for r in drafts] == [False, False, True]  # the teacher's refusal, kept
    assert all({"generated", "needs_review", "distilled"} <= set(r["meta"]["tags"]) for r in drafts)
    assert [r["meta"]["locator"] for r in drafts] == ["line 1", "line 3", "line 5"] and drafts[0]["meta"][
        "judge_score"
    ] == 4


def test_no_teacher_is_a_clear_error(tmp_path: Path, capsys) -> None:
    config = make_project(tmp_path)
    assert main(["data", "generate", str(config), "--from", "docs", "--out", str(tmp_path / "g.jsonl")]) == 2
    assert "generate.teacher is not set" in capsys.readouterr().err


def test_distillation_from_the_request_log_of_serve(tmp_path: Path) -> None:
    from tunesmith.serve.log import RequestLog

    config = make_project(tmp_path, "  language: null\nmonitor:\n  database_url: sqlite:///requests.db\n")
    log = RequestLog(f"sqlite:///{tmp_path / 'requests.db'}", redact=False)
    for n, question in enumerate(["Where is my order 1234?", "Do you price match other shops?"]):
        messages = [{"role": "user", "content": question}]
        log.record(
            id=f"r{n}",
            endpoint="chat",
            model="served",
            messages=messages,
            responses=["..."],
            prompt_tokens=5,
            completion_tokens=1,
            latency_ms=10.0,
            finish_reason="stop",
        )
    log.close()
    with StandIn() as teacher:
        assert run(config, teacher, "--from", "log", "--out", str(tmp_path / "d.jsonl"), "--yes") == 0
    drafts = rows(tmp_path / "d.jsonl")
    assert sorted(r["meta"]["locator"] for r in drafts) == ["request r0", "request r1"]
    assert all(r["meta"]["source"] == "request log" and "needs_review" in r["meta"]["tags"] for r in drafts)


def test_the_run_stops_when_the_reported_spend_passes_the_ceiling(tmp_path: Path, capsys) -> None:
    extra = (
        "  teacher:\n    base_url: http://user:secret@127.0.0.1:9/v1?key=abc\n    model: stand-in\n"
        "    concurrency: 1\n    completion_per_1m: 1000\n    max_cost_usd: 20\n"
    )
    config = make_project(tmp_path, extra)
    with StandIn() as teacher:
        teacher.usage_scale = 1000  # the estimate (25 requests x 700 tokens: $17.50) passes; the bill does not
        code = run(config, teacher, "--from", "docs", "--out", str(tmp_path / "gen.jsonl"), "--yes")
        assert code == 2 and len(teacher.answered) == 1 and not (tmp_path / "gen.jsonl").exists()
        assert "passed generate.teacher.max_cost_usd" in capsys.readouterr().err
        teacher.usage_scale = 1
        assert run(config, teacher, "--from", "docs", "--out", str(tmp_path / "gen.jsonl"), "--yes") == 0
    assert len(set(teacher.answered)) == len(teacher.answered)  # the answer before the stop was not bought twice
    drafts = rows(tmp_path / "gen.jsonl")
    assert {d["meta"]["teacher"]["base_url"] for d in drafts} == {teacher.url}  # no user:password, no ?key=


def test_personal_data_in_the_prompts_is_replaced_before_it_is_sent(tmp_path: Path) -> None:
    config = make_project(tmp_path)
    config.write_text(config.read_text().replace("pii: 'off'", "pii: redact"), encoding="utf-8")
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("My email is jane.doe@example.com, where is my order?\n", encoding="utf-8")
    with StandIn() as teacher:
        assert run(config, teacher, "--from", "prompts", str(prompts), "--out", str(tmp_path / "d.jsonl"), "--yes") == 0
        sent = json.dumps(teacher.bodies)
    assert "jane.doe@example.com" not in sent and "<EMAIL_ADDRESS>" in sent
    assert "jane.doe" not in (tmp_path / "d.jsonl").read_text(encoding="utf-8")
