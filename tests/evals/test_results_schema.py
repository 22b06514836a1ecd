"""results.json has one typed model (tunesmith.evals.results): its committed schema is current, files round-trip
key for key, and what is not a results.json is refused with the place it goes wrong."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.evals.test_report import _results, _synthetic_examples

from tunesmith.errors import DataError
from tunesmith.evals.compare import compare
from tunesmith.evals.forgetting import forgetting_verdict
from tunesmith.evals.results import SCHEMA_PATH, EvalResults, read_results, results_schema
from tunesmith.registry import read_evaluation

ROOT = Path(__file__).resolve().parents[2]


def test_the_committed_schema_is_current() -> None:
    committed = (ROOT / SCHEMA_PATH).read_text(encoding="utf-8")
    assert committed == results_schema(), "regenerate it: python -m tunesmith.evals.results (from the repo root)"


def test_a_file_round_trips_with_exactly_its_keys(tmp_path: Path) -> None:
    raw = json.loads(json.dumps(_results(_synthetic_examples(12))))  # as read back from disk
    results = EvalResults.model_validate(raw)
    assert results.to_json() == raw
    # Optional parts stay absent rather than becoming null: the reference arm has no delta, no arm a cost.
    assert "delta" not in results.to_json()["arms"]["base"]
    assert "cost_per_1k_requests" not in results.to_json()["arms"]["fine_tuned"]
    assert "forgetting" not in results.to_json() and "judge" not in results.to_json()
    # ...and parts assigned later are written.
    results.forgetting = forgetting_verdict(20.0, 30.0, 0.25)
    assert results.to_json()["forgetting"]["flagged"] is True
    (tmp_path / "results.json").write_text(json.dumps(results.to_json()))
    assert read_results(tmp_path) == results


def test_typed_attributes() -> None:
    results = EvalResults.of(_results(_synthetic_examples(12)))
    ft = results.arms["fine_tuned"]
    assert ft.delta["rougeL"].ci[0] <= ft.delta["rougeL"].value <= ft.delta["rougeL"].ci[1]
    assert set(ft.delta_vs) == {"base", "rag"} and results.arms["base"].delta is None
    assert ft.tokens.per_request == 120 and ft.latency_ms.p95 == 700
    k, n = ft.count("abstention")
    assert n == results.arms["fine_tuned"].n["abstention"] and k == n  # the fine-tune declines every one
    assert results.slices["billing"].n > 0 and "rougeL" in results.slices["billing"].means("rag")
    assert results.examples[1].arms["fine_tuned"].metrics["rougeL"] == -1.0
    assert results.gates[1].describe().startswith("FAILED")


def test_not_a_results_file_is_refused_with_where(tmp_path: Path) -> None:
    raw = _results(_synthetic_examples(4))
    raw["arms"]["base"]["metrcs"] = raw["arms"]["base"].pop("metrics")  # a typo
    (tmp_path / "results.json").write_text(json.dumps(raw))
    with pytest.raises(DataError, match=r"not a tunesmith results.json: arms.base.metrics: Field required"):
        read_results(tmp_path)
    assert read_evaluation(tmp_path) is None  # the registry sees no evaluation, so it cannot be promoted
    (tmp_path / "results.json").write_text("{")
    with pytest.raises(DataError, match="not JSON"):
        read_results(tmp_path / "results.json")
    with pytest.raises(DataError, match="no results.json"):
        read_results(tmp_path / "elsewhere")


def test_compare_reads_the_model_or_its_json() -> None:
    raw = _results(_synthetic_examples(12))
    typed = compare(EvalResults.of(raw), EvalResults.of(raw))
    assert typed == compare(raw, raw)
    assert typed["n_shared_examples"] == 12 and typed["arms"]["fine_tuned"]["rougeL"]["delta"] == 0.0


def test_numeric_tags_are_read_as_strings(tmp_path: Path) -> None:
    """Tags are labels, strings in results.json: a tag written as a number must not fail the eval at its end."""
    from tunesmith.evals.runner import load_test_cases

    messages = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]
    (tmp_path / "test.jsonl").write_text(json.dumps({"messages": messages, "meta": {"tags": [2024, "billing"]}}) + "\n")
    (case,) = load_test_cases(tmp_path / "test.jsonl")
    assert case.tags == ["2024", "billing"]


def test_the_schema_writer_takes_help_for_help(tmp_path, monkeypatch):
    """`python -m tunesmith.evals.results --help` wrote the schema to a file named --help."""
    from tunesmith.evals.results import main

    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0 and list(tmp_path.iterdir()) == []
    main([str(tmp_path / "schema.json")])
    assert (tmp_path / "schema.json").read_text(encoding="utf-8") == results_schema()
