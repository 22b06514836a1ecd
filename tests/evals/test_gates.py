import pytest

from tunesmith.errors import ConfigError
from tunesmith.evals.gates import check_gate
from tunesmith.evals.results import EvalResults


def _arm(rouge: float) -> dict:
    return {"metrics": {"rougeL": rouge}, "ci": {"rougeL": [rouge, rouge]}, "n": {"rougeL": 1}}


# The smallest valid results.json: gates read only the arms' metrics.
RESULTS = EvalResults.model_validate(
    {
        "title": "gates",
        "created_at": "2025-01-01T00:00:00+00:00",
        "reference_arm": "base",
        "headline_metric": "rougeL",
        "metrics": ["rougeL"],
        "arms": {"base": _arm(0.20), "fine_tuned": _arm(0.30)},
        "slices": {},
        "examples": [],
        "dataset": {"path": "test.jsonl", "sha256": "0" * 64, "n_test": 0},
        "lineage": {},
        "gates": [],
    }
)


@pytest.mark.parametrize(
    "gate,passed",
    [
        ("fine_tuned.rougeL >= base.rougeL + 0.05", True),
        ("fine_tuned.rougeL >= base.rougeL + 0.15", False),
        ("fine_tuned.rougeL > 0.3", False),
        ("fine_tuned.rougeL >= 0.3", True),
        ("base.rougeL < fine_tuned.rougeL - 0.05", True),
    ],
)
def test_gates(gate, passed):
    assert check_gate(gate, RESULTS).passed is passed


def test_bad_gates_are_usage_errors():
    with pytest.raises(ConfigError, match="cannot parse"):
        check_gate("fine_tuned.rougeL is good", RESULTS)
    with pytest.raises(ConfigError, match="no arm 'rag'"):
        check_gate("rag.rougeL >= 0.1", RESULTS)
    with pytest.raises(ConfigError, match="no metric 'bleu'"):
        check_gate("base.bleu >= 0.1", RESULTS)


def test_a_bad_cli_gate_stops_the_evaluation_before_any_work(tmp_path):
    """`tunesmith eval --gate` is parsed first: here no dataset exists, and the gate's error is what the user sees,
    not a preparation or an evaluation that would be lost to the typo at the end."""
    from tunesmith.config import load_config
    from tunesmith.evals.runner import evaluate

    (tmp_path / "tunesmith.yaml").write_text("data: {paths: [missing.jsonl]}\n", encoding="utf-8")
    cfg = load_config(tmp_path / "tunesmith.yaml")
    with pytest.raises(ConfigError, match="cannot parse gate"):
        evaluate(cfg, gates=["fine_tuned.rougeL >> 0.3"])
    assert not (tmp_path / "artifacts").exists()


def test_gates_read_an_arms_tokens_and_latency():
    """The objectives `tunesmith init` writes: a tokens-per-request and a p50 latency ceiling on the fine-tune."""
    data = RESULTS.to_json()
    data["arms"]["fine_tuned"] |= {"tokens": {"prompt_mean": 500.0, "completion_mean": 60.0}}
    data["arms"]["fine_tuned"] |= {"latency_ms": {"p50": 900.0, "p95": 2100.0}}
    results = EvalResults.model_validate(data)
    assert check_gate("fine_tuned.tokens_per_request <= 600", results).passed
    assert not check_gate("fine_tuned.tokens_per_request <= 500", results).passed
    assert check_gate("fine_tuned.latency_p50_ms <= 1000", results).passed
    assert not check_gate("fine_tuned.latency_p95_ms <= 2000", results).passed
    with pytest.raises(ConfigError, match="no metric 'tokens_per_request'"):
        check_gate("base.tokens_per_request <= 600", results)  # base has no token figures here
