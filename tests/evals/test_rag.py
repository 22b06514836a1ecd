"""The rag arms over the document index (issue 25, item 3): passages from docs.paths in the prompt, their sources in
results.json, the report and the dashboard as escaped citations, retrieval time in the latency; without documents,
the training answers, said as such; the old folder-of-.txt key refused with a pointer to docs.paths."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tunesmith.config import Config, DataConfig, DocsConfig, EvalConfig, ModelConfig, ServeConfig, load_config
from tunesmith.docs import Hit, Passage
from tunesmith.errors import ConfigError
from tunesmith.evals.rag import (
    INSTRUCTION,
    Retrieved,
    add_retrieval_time,
    passages_prompt,
    with_passages,
)
from tunesmith.evals.results import read_results, results_schema
from tunesmith.evals.runner import evaluate
from tunesmith.models.generation import Prediction

SYSTEM = "You are the support assistant of Acme."
TRAIN = [
    ("How do I return an item?", "You can return any item within 30 days for a full refund."),
    ("Where is my order?", "Track your order from the link in your confirmation email."),
    ("How long does shipping take?", "Standard shipping takes 3 to 5 working days."),
]
TEST = [
    ("Can I get a refund for an item?", "Any item can be returned within 30 days for a full refund."),
    ("Is the tent waterproof?", "The Ridge tent has a 3000 mm hydrostatic head."),
]
RETURNS = """# Returns `<script>alert(1)</script>`

## Refund window

Any item can be returned within 30 days of delivery for a full refund `<b>to the original card</b>`.
"""
TENTS = """<html><head><title>Tents</title><script>track()</script></head><body><nav>Home | Shop</nav>
<h1>Ridge tent</h1><h2>Waterproofing</h2><p>The Ridge tent has a 3000 mm hydrostatic head and taped seams.</p>
<footer>© Acme</footer></body></html>"""


def _row(q: str, a: str, i: int) -> dict[str, Any]:
    messages = [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": q},
        {"role": "assistant", "content": a},
    ]
    return {"messages": messages, "meta": {"id": f"t{i}", "tags": []}}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Path:
    root = tmp_path_factory.mktemp("ragproject")
    (root / "dataset").mkdir()
    for name, rows in (("train", TRAIN), ("test", TEST)):
        lines = [json.dumps(_row(q, a, i)) for i, (q, a) in enumerate(rows)]
        (root / "dataset" / f"{name}.jsonl").write_text("\n".join(lines) + "\n")
    (root / "train").mkdir()
    (root / "train" / "model").symlink_to(tiny_model_dir)  # the "fine-tune" is the base model itself
    (root / "kb").mkdir()
    (root / "kb" / "returns.md").write_text(RETURNS)
    (root / "kb" / "tents.html").write_text(TENTS)
    return root


def _config(root: Path, tiny_model_dir: Path, paths: list[str]) -> Config:
    return Config(
        root=root,
        model=ModelConfig(base=str(tiny_model_dir)),
        data=DataConfig(pii="off"),
        docs=DocsConfig(paths=paths),
        eval=EvalConfig(
            arms=["base", "rag", "fine_tuned_rag"],
            max_new_tokens=4,
            batch_size=2,
            rag_k=2,
            latency_sample=0,
            forgetting=False,
        ),
    )


def _evaluate(root: Path, tiny_model_dir: Path, paths: list[str], out: str) -> dict[str, Any]:
    cfg = _config(root, tiny_model_dir, paths)
    evaluate(cfg, dataset_dir=root / "dataset", train_dir=root / "train", out_dir=root / out)
    return json.loads((root / out / "results.json").read_text())


@pytest.fixture(scope="module")
def over_documents(project: Path, tiny_model_dir: Path) -> dict[str, Any]:
    return _evaluate(project, tiny_model_dir, ["kb"], "eval_docs")


@pytest.fixture(scope="module")
def over_training(project: Path, tiny_model_dir: Path) -> dict[str, Any]:
    return _evaluate(project, tiny_model_dir, [], "eval_train")


def test_rag_answers_carry_their_document_sources(over_documents: dict[str, Any]) -> None:
    for ex in over_documents["examples"]:
        assert "sources" not in ex["arms"]["base"]
        for arm in ("rag", "fine_tuned_rag"):
            sources = ex["arms"][arm]["sources"]
            assert len(sources) == 2 and all(set(s) == {"source", "locator", "text", "score"} for s in sources)
            assert {s["source"] for s in sources} == {"kb/returns.md", "kb/tents.html"}
            assert [s["score"] for s in sources] == sorted((s["score"] for s in sources), reverse=True)
        assert ex["arms"]["rag"]["sources"] == ex["arms"]["fine_tuned_rag"]["sources"]
    first, second = (ex["arms"]["rag"]["sources"][0] for ex in over_documents["examples"])
    assert first["source"] == "kb/returns.md" and first["locator"].endswith("Refund window")
    assert "30 days" in first["text"]
    assert second["source"] == "kb/tents.html" and "3000 mm" in second["text"]
    assert "track()" not in second["text"] and "Home | Shop" not in second["text"]  # the chrome is dropped
    rag = over_documents["rag"]
    assert rag["over"] == "documents" and rag["documents"] == 2 and rag["label"] == "rag over 2 documents"
    assert rag["index_hash"] and rag["passages"] >= 2
    assert "rag over 2 documents" in over_documents["arms"]["rag"]["description"]


def test_results_with_sources_validate(project: Path, over_documents: dict[str, Any]) -> None:
    results = read_results(project / "eval_docs")  # the typed model: unknown or missing keys are refused
    assert results.to_json() == over_documents  # read and written alike
    assert results.examples[0].arms["rag"].sources[0].citation.startswith("kb/returns.md, ")
    schema = json.loads(results_schema())
    assert set(schema["$defs"]["Source"]["required"]) == {"source", "locator", "text", "score"}
    assert "sources" in schema["$defs"]["ArmAnswer"]["properties"] and "rag" in schema["properties"]


def test_the_report_shows_the_citations_escaped(project: Path, over_documents: dict[str, Any], tmp_path: Path) -> None:
    from tunesmith.evals.report import render_report

    assert "rag over 2 documents" in (project / "eval_docs" / "report.html").read_text()
    moved = json.loads(json.dumps(over_documents))
    for n, ex in enumerate(moved["examples"]):  # the viewer opens the examples where rag moved against base
        ex["arms"]["rag"]["metrics"]["rougeL"] = ex["arms"]["base"]["metrics"]["rougeL"] + (0.5 if n else -0.5)
    render_report(moved, tmp_path / "report.html")
    page = (tmp_path / "report.html").read_text()
    assert "<cite>kb/tents.html, Ridge tent &gt; Waterproofing</cite>" in page
    assert "kb/returns.md, Returns &lt;script&gt;alert(1)&lt;/script&gt; &gt; Refund window" in page
    assert "<script>alert(1)</script>" not in page and "<b>to the original card</b>" not in page
    assert "&lt;b&gt;to the original card&lt;/b&gt;" in page


def test_without_documents_rag_is_over_the_training_answers(project: Path, over_training: dict[str, Any]) -> None:
    assert over_training["rag"] == {
        "over": "training answers",
        "label": "rag over training answers",
        "documents": 1,
        "passages": len(TRAIN),
    }
    sources = over_training["examples"][0]["arms"]["rag"]["sources"]
    assert sources[0]["source"] == "train.jsonl" and sources[0]["locator"] == "t0"
    assert sources[0]["text"] == f"Q: {TRAIN[0][0]}\nA: {TRAIN[0][1]}"
    assert "rag over training answers" in (project / "eval_train" / "report.html").read_text()


def test_the_prompt_numbers_the_passages_under_their_citations() -> None:
    hits = [
        Hit(Passage("a-0", "kb/returns.pdf", "p. 2", "Refunds take 5 days.", "a"), 0.03),
        Hit(Passage("b-0", "kb/faq.md", "", "We ship abroad.", "b"), 0.02),
    ]
    assert (
        passages_prompt(hits)
        == f"{INSTRUCTION}\n\n[1] kb/returns.pdf, p. 2\nRefunds take 5 days.\n\n[2] kb/faq.md\nWe ship abroad."
    )
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "refund?"}]
    assert with_passages(messages, hits)[0]["content"] == f"{SYSTEM}\n\n{passages_prompt(hits)}"
    assert with_passages(messages[1:], hits)[0] == {"role": "system", "content": passages_prompt(hits)}
    assert with_passages(messages, []) == messages


def test_retrieval_time_is_part_of_each_rag_answer_latency() -> None:
    runs = {
        "base": ([Prediction("a", 1, 1, 100.0), Prediction("b", 1, 1, 200.0)], 1.0),
        "rag": ([Prediction("a", 1, 1, 100.0), Prediction("b", 1, 1, 200.0)], 1.0),
        "fine_tuned_rag": ([Prediction("a", 1, 1, 50.0), Prediction("b", 1, 1, 60.0)], 2.0),
    }
    add_retrieval_time(runs, [Retrieved([], 7.0), Retrieved([], 13.0)])
    assert [p.latency_ms for p in runs["base"][0]] == [100.0, 200.0] and runs["base"][1] == 1.0
    assert [p.latency_ms for p in runs["rag"][0]] == [107.0, 213.0] and runs["rag"][1] == pytest.approx(1.02)
    assert [p.latency_ms for p in runs["fine_tuned_rag"][0]] == [57.0, 73.0]
    assert runs["fine_tuned_rag"][1] == pytest.approx(2.02)


def test_one_request_alone_waits_for_its_retrieval_too() -> None:
    from tunesmith.evals.efficiency import single_request
    from tunesmith.evals.generation import SingleLatency

    sample = [SingleLatency(100.0, 10.0, 5), SingleLatency(300.0, 30.0, 5)]
    plain, rag = single_request(sample, []), single_request(sample, [7.0, 9.0, 1000.0])
    assert (plain.n, plain.p50_ms, plain.max_ms, plain.first_token_p50_ms) == (2, 200.0, 300.0, 20.0)
    assert (rag.p50_ms, rag.max_ms, rag.first_token_p50_ms) == (208.0, 309.0, 28.0)  # the first two prompts' own
    assert rag.tokens_per_s == plain.tokens_per_s == pytest.approx(25.0)  # generation's rate


def test_eval_rag_documents_is_refused_with_a_pointer_to_docs_paths(tmp_path: Path) -> None:
    config = tmp_path / "tunesmith.yaml"
    config.write_text("eval:\n  rag_k: 2\n  rag_documents: handbook\n")
    with pytest.raises(ConfigError) as e:
        load_config(config)
    assert "'eval.rag_documents' is now docs.paths" in e.value.message and e.value.line == 3
    config.write_text("eval:\n  rag_chunk_words: 100\n")
    with pytest.raises(ConfigError, match="docs.chunk_tokens"):
        load_config(config)


def test_serving_with_retrieval_needs_documents(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="docs.paths names no documents"):
        load_config(_yaml(tmp_path, "serve:\n  rag_models: [served]\n"))
    cfg = load_config(_yaml(tmp_path, "docs:\n  paths: [kb]\nserve:\n  rag_models: [served]\n"))
    assert cfg.serve == ServeConfig(rag_models=["served"])


def _yaml(root: Path, text: str) -> Path:
    (root / "tunesmith.yaml").write_text(text)
    return root / "tunesmith.yaml"


def test_a_bad_docs_setup_fails_before_any_model_loads(
    project: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tunesmith.errors import DataError
    from tunesmith.evals import runner

    def no_model(*args: object, **kwargs: object) -> None:
        raise AssertionError("a model was planned before the document index")

    monkeypatch.setattr(runner, "_plan_models", no_model)
    (project / "empty").mkdir(exist_ok=True)
    (project / "empty" / "scan.pdf").write_bytes(b"not a pdf")
    cfg = _config(project, tiny_model_dir, ["empty"])
    with pytest.raises(DataError, match="no passage"):
        evaluate(cfg, dataset_dir=project / "dataset", train_dir=project / "train", out_dir=project / "eval_bad")


def test_the_dashboard_shows_the_citations_escaped(
    project: Path, tiny_model_dir: Path, over_documents: dict[str, Any]
) -> None:
    import shutil

    from fastapi.testclient import TestClient

    from tunesmith.ui.app import create_app

    cfg = _config(project, tiny_model_dir, ["kb"])
    shutil.copytree(project / "eval_docs", cfg.stage_dir("eval"), dirs_exist_ok=True)
    page = TestClient(create_app(cfg)).get("/evals").text
    assert '<span class="rag-corpus">rag over 2 documents</span>' in page
    assert "<cite>kb/tents.html, Ridge tent &gt; Waterproofing</cite>" in page
    assert "<cite>kb/returns.md, Returns &lt;script&gt;alert(1)&lt;/script&gt; &gt; Refund window</cite>" in page
    assert "<script>alert(1)</script>" not in page
