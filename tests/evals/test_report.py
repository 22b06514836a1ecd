from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tunesmith.evals.report import EXAMPLES_PER_SIDE, render_report, render_summary_md
from tunesmith.evals.stats import aggregate, slices

ARMS = ["base", "rag", "fine_tuned"]
XSS = "<script>alert(1)</script>"


def _synthetic_examples(n: int) -> list[dict[str, Any]]:
    """n examples where fine_tuned clearly beats base on rougeL and rag sits in between."""
    rng = np.random.default_rng(0)
    examples = []
    for i in range(n):
        difficulty = rng.uniform(0.0, 0.5)
        should_decline = i % 5 == 0
        scores = {"base": difficulty, "rag": difficulty + 0.1, "fine_tuned": min(1.0, difficulty + 0.3)}
        arms = {}
        for arm, rouge in scores.items():
            rouge += rng.normal(0, 0.05)
            over_refused = (arm == "base" and i % 7 == 0) or (arm == "rag" and i % 11 == 0)
            refused = float(arm == "fine_tuned" if should_decline else over_refused)
            behaviour = {"abstention": refused} if should_decline else {"over_refusal": refused}
            arms[arm] = {
                "prediction": f"{arm} answer {i}",
                "metrics": {
                    "exact_match": float(rouge > 0.6),
                    "rougeL": rouge,
                    "chrf": rouge * 0.9,
                    **behaviour,
                },
            }
        examples.append(
            {
                "id": f"q{i}",
                "tags": ["refusal"] if should_decline else ["billing" if i % 2 else "shipping"],
                "reference": f"reference answer {i}",
                "prompt": f"question {i} & more",
                "arms": arms,
            }
        )
    examples[1]["arms"]["fine_tuned"]["prediction"] = XSS
    examples[1]["arms"]["fine_tuned"]["metrics"]["rougeL"] = -1.0  # the largest regression: always shown
    return examples


def _results(examples: list[dict[str, Any]]) -> dict[str, Any]:
    stats = aggregate(examples, ARMS, "base")
    costs = {"base": (80, 60, 400), "rag": (900, 70, 650), "fine_tuned": (80, 40, 350)}
    for arm, (prompt_tokens, completion_tokens, p50) in costs.items():
        stats[arm].update(
            tokens={"prompt_mean": prompt_tokens, "completion_mean": completion_tokens},
            latency_ms={"p50": p50, "p95": 2 * p50},
            throughput_rps=1000 / p50,
            description=f"the {arm} arm",
        )
    return {
        "title": "Acme support <eval> & friends",
        "created_at": "2025-01-01T00:00:00+00:00",
        "reference_arm": "base",
        "headline_metric": "rougeL",
        "metrics": ["exact_match", "rougeL", "chrf", "abstention", "over_refusal"],
        "arms": stats,
        "slices": slices(examples, ARMS),
        "examples": examples,
        "dataset": {"path": "data/acme.jsonl", "sha256": "ab" * 32, "n_test": len(examples)},
        "lineage": {"run_dir": "runs/2025-01-01", "model": "tiny-xs", "config": {"lr": 2e-4}},
        "gates": [
            {"gate": "fine_tuned.rougeL >= base.rougeL + 0.05", "passed": True, "left": 0.56, "right": 0.32},
            {"gate": "fine_tuned.over_refusal <= 0.0 & <b>", "passed": False, "left": 0.1, "right": 0.0},
        ],
    }


@pytest.fixture(scope="module")
def results() -> dict[str, Any]:
    return _results(_synthetic_examples(120))


@pytest.fixture(scope="module")
def page(results: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> str:
    out = tmp_path_factory.mktemp("report") / "report.html"
    render_report(results, out)
    return out.read_text(encoding="utf-8")


def test_report_is_written_atomically(results: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "sub" / "report.html"
    out.parent.mkdir()
    out.write_text("stale", encoding="utf-8")
    render_report(results, out)
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert [p.name for p in out.parent.iterdir()] == ["report.html"]  # no temporary file left behind


def test_report_has_the_headline_table_and_plots(page: str) -> None:
    assert 'id="headline"' in page
    plots = re.findall(r'<img class="plot"[^>]*src="data:image/png;base64,[A-Za-z0-9+/=]+"', page)
    assert len(plots) >= 2
    assert "★" in page
    assert 'class="delta better"' in page  # fine_tuned's rougeL gain has an interval above 0


def test_report_is_self_contained(page: str) -> None:
    assert "http://" not in page
    assert "https://" not in page
    assert "<link" not in page
    assert "<script" not in page


def test_report_escapes_model_output_and_metadata(page: str) -> None:
    assert XSS not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Acme support &lt;eval&gt; &amp; friends" in page
    assert "question 1 &amp; more" in page


def test_report_limits_the_example_viewer(page: str) -> None:
    # fine_tuned beats base on all but the planted regression: 1 regression, and gains capped out of 119.
    assert "Largest regressions (1)" in page
    assert f"Largest gains ({EXAMPLES_PER_SIDE})" in page
    assert page.count("<details>") == EXAMPLES_PER_SIDE + 1
    regressions = page.split("Largest regressions")[1].split("Largest gains")[0]
    assert "<code>q1</code>" in regressions


def test_report_shows_the_gates(page: str) -> None:
    assert "Quality gates" in page
    assert "fine_tuned.rougeL &gt;= base.rougeL + 0.05" in page
    assert "FAILED" in page and "&amp; &lt;b&gt;" in page


def test_report_has_slices_and_definitions(page: str) -> None:
    assert 'class="slices"' in page
    for tag in ("billing", "refusal", "shipping"):
        assert f'<td rowspan="3">{tag}</td>' in page
    assert "over_refusal (lower is better)" in page
    assert "Metric definitions" in page


def test_report_without_costs_or_other_arms(results: dict[str, Any], tmp_path: Path) -> None:
    lean = {
        **results,
        "arms": {"base": {k: v for k, v in results["arms"]["base"].items() if k in ("metrics", "ci", "n")}},
        "lineage": {},
        "slices": {},
    }
    render_report(lean, tmp_path / "report.html")
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert 'id="headline"' in html and "nothing to compare" in html


def test_summary_names_the_winner(results: dict[str, Any]) -> None:
    summary = render_summary_md(results)
    assert summary.splitlines()[2].startswith("The fine-tune paid off: fine_tuned wins on ROUGE-L against rag")
    assert "(95% CI +" in summary
    assert "| fine_tuned ★ |" in summary
    assert "| base (reference) |" in summary
    assert "120 held-out examples" in summary
    assert "✅ passed: `fine_tuned.rougeL >= base.rougeL + 0.05`" in summary
    assert "❌ FAILED" in summary


def test_summary_respects_lower_is_better(results: dict[str, Any]) -> None:
    summary = render_summary_md({**results, "headline_metric": "over_refusal"})
    assert "fine_tuned wins on over-refusal against rag" in summary
