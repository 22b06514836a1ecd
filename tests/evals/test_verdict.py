"""The verdict in words (evals/verdict.py), and that the report, summary.md and the CLI all open with it."""

from __future__ import annotations

import json
import re
from io import StringIO
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from rich.console import Console

from tunesmith.cli.summary import render_summary, summary_json
from tunesmith.config import load_config
from tunesmith.evals.report import render_report, render_summary_md
from tunesmith.evals.results import EvalResults
from tunesmith.evals.stats import aggregate
from tunesmith.evals.verdict import verdict

SIX = ["base", "prompted", "retrieval", "rag", "fine_tuned", "guarded"]


def synthetic(
    quality: dict[str, float],
    declines: dict[str, tuple[float, float]] | None = None,
    *,
    n: int = 100,
    headline: str = "rougeL",
) -> EvalResults:
    """n examples (every 5th out of scope); each arm's rougeL around its `quality`, and its (abstention,
    over-refusal) rates from `declines` (default (1.0, 0.0)). A guarded arm like fine_tuned in both declined
    nothing: it has fine_tuned's answers."""
    rng = np.random.default_rng(0)
    declines = declines or {}
    arms = list(quality)
    examples = []
    for i in range(n):
        difficulty = rng.uniform(-0.1, 0.1)
        out_of_scope = i % 5 == 0
        answers = {}
        for arm, q in quality.items():
            abstain, over = declines.get(arm, (1.0, 0.0))
            rate = abstain if out_of_scope else over
            k = (i // 5) if out_of_scope else (i - i // 5 - 1)  # the index among the examples of its kind
            refused = float(k < rate * (n / 5 if out_of_scope else n * 4 / 5))
            behaviour = {"abstention": refused} if out_of_scope else {"over_refusal": refused}
            score = float(np.clip(q + difficulty + rng.normal(0, 0.02), 0, 1))
            answers[arm] = {"prediction": f"{arm} {i}", "metrics": {"rougeL": score, **behaviour}}
        if "guarded" in quality and (quality["guarded"], declines.get("guarded")) == (
            quality.get("fine_tuned"),
            declines.get("fine_tuned"),
        ):
            answers["guarded"] = answers["fine_tuned"]  # the guard declined nothing
        examples.append({"id": f"q{i}", "tags": [], "prompt": "p", "reference": "r", "arms": answers})
    stats = aggregate(examples, arms, "base")
    for arm in arms:
        generates = arm != "retrieval"
        prompt = {"prompted": 460.0, "rag": 900.0}.get(arm, 120.0) if generates else 0.0
        stats[arm].update(
            tokens={"prompt_mean": prompt, "completion_mean": 45.0 if generates else 0.0},
            latency_ms={"p50": 800.0 if generates else 1.0, "p95": 900.0 if generates else 2.0},
        )
    return EvalResults.of(
        {
            "title": "Acme support",
            "created_at": "2026-01-01T00:00:00+00:00",
            "reference_arm": "base",
            "headline_metric": headline,
            "metrics": ["rougeL", "abstention", "over_refusal"],
            "arms": stats,
            "slices": {},
            "examples": examples,
            "dataset": {"path": "data/test.jsonl", "sha256": "ab" * 32, "n_test": n},
            "lineage": {"train_dir": "/a/long/path/artifacts/train"},
            "gates": [],
        }
    )


PAID_OFF = {"base": 0.1, "prompted": 0.3, "retrieval": 0.35, "rag": 0.4, "fine_tuned": 0.6, "guarded": 0.62}
NOT_PAID_OFF = {"base": 0.1, "prompted": 0.3, "retrieval": 0.5, "rag": 0.4, "fine_tuned": 0.3, "guarded": 0.3}


@pytest.fixture(scope="module")
def paid_off() -> EvalResults:
    return synthetic(PAID_OFF, {"fine_tuned": (0.7, 0.05), "guarded": (0.9, 0.05), "rag": (0.2, 0.0)})


@pytest.fixture(scope="module")
def not_paid_off() -> EvalResults:
    return synthetic(NOT_PAID_OFF, {"fine_tuned": (0.5, 0.2), "guarded": (0.5, 0.2)})


def test_paid_off_names_the_winner_the_best_alternative_the_ci_the_cost_and_the_counts(paid_off) -> None:
    v = verdict(paid_off)
    assert v.outcome == "paid_off" and v.paid_off
    assert (v.fine_tune, v.alternative) == ("guarded", "rag")  # the better of the two fine-tunes; the best other
    assert v.delta is not None and v.delta.ci[0] > 0
    assert v.text.startswith(
        "The fine-tune paid off: guarded (the fine-tune behind its scope guard) wins on ROUGE-L against rag, "
        "the best alternative, "
    )
    lo, hi = v.delta.ci
    assert f"by {v.delta.value:+.3f} (95% CI {lo:+.3f} to {hi:+.3f})" in v.text
    assert "at 165 tokens per request against 945 and a p50 latency of 800 ms against 800 ms for rag." in v.text
    assert "It declined 18/20 out-of-scope questions (abstention 0.90; rag 4/20) and 4/80 in-scope ones" in v.text
    assert v.advice == ()  # no poor figure


def test_did_not_pay_off_names_the_alternative_that_won_and_what_to_try(not_paid_off) -> None:
    v = verdict(not_paid_off)
    assert v.outcome == "worse" and not v.paid_off
    assert v.fine_tune == "fine_tuned"  # a tie with guarded: the fine-tune itself
    assert v.alternative == "retrieval"
    assert v.delta is not None and v.delta.ci[1] < 0
    assert v.text.startswith("The fine-tune did not pay off: retrieval wins on ROUGE-L, ")
    assert "(95% CI -" in v.text
    assert "at 165 tokens per request against 0" in v.text
    assert "10/20 out-of-scope questions (abstention 0.50" in v.text and "16/80 in-scope ones" in v.text
    low, high, ship = v.advice
    assert "Abstention is low (10/20" in low and "refusal_coverage" in low and "`data.refusals: auto`" in low
    assert "Over-refusal is high (16/80" in high and '"Scope guard" in docs/evaluation.md' in high
    assert ship.startswith("Until fine_tuned beats it, retrieval is the one to ship")


def test_a_difference_within_the_noise_did_not_pay_off() -> None:
    v = verdict(synthetic({"base": 0.1, "rag": 0.4, "fine_tuned": 0.4}))
    assert v.outcome == "no_clear_difference"
    assert v.delta is not None and v.delta.ci[0] <= 0 <= v.delta.ci[1]
    assert v.text.startswith("The fine-tune did not pay off: fine_tuned scores ROUGE-L ")
    assert "that the test set cannot tell from 0" in v.text


def test_a_lower_is_better_headline_counts_a_ci_below_zero_as_a_gain() -> None:
    results = synthetic(
        {"base": 0.1, "rag": 0.4, "fine_tuned": 0.4},
        {"base": (1.0, 0.3), "rag": (1.0, 0.2), "fine_tuned": (1.0, 0.0)},
        headline="over_refusal",
    )
    v = verdict(results)
    assert (v.outcome, v.alternative) == ("paid_off", "rag")
    assert "wins on over-refusal against rag" in v.text


def test_without_a_fine_tune_or_an_alternative_it_says_so() -> None:
    v = verdict(synthetic({"base": 0.1, "rag": 0.4}))
    assert v.outcome == "no_fine_tune" and v.text.startswith("No fine-tuned arm was evaluated: rag scores best")
    v = verdict(synthetic({"base": 0.1, "fine_tuned": 0.4}).model_copy(update={"reference_arm": "fine_tuned"}))
    assert v.outcome == "paid_off"  # base is an alternative, even when it is the reference
    only = synthetic({"base": 0.1, "fine_tuned": 0.4})
    only = only.model_copy(update={"arms": {"fine_tuned": only.arms["fine_tuned"]}})
    assert verdict(only).outcome == "no_alternative"


@pytest.mark.parametrize("case", ["paid_off", "not_paid_off"])
def test_the_report_opens_with_the_verdict(case: str, request, tmp_path: Path) -> None:
    results: EvalResults = request.getfixturevalue(case)
    render_report(results, tmp_path / "report.html")
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    body = page.split("<main>", 1)[1]
    first = re.search(r"<h1>[^<]*</h1><p id=\"verdict\" class=\"([a-z-]+)\">(.*?)</p>", body)
    assert first is not None, body[:500]  # the first paragraph, before the paths and hashes
    assert first.group(1) == ("paid-off" if case == "paid_off" else "not-paid-off")
    assert ("paid off" if case == "paid_off" else "did not pay off") in first.group(2)
    assert "95% CI" in first.group(2)
    assert body.index('id="verdict"') < body.index('class="meta"') < body.index('id="headline"')
    if case == "not_paid_off":
        assert "<code>tunesmith data check</code>" in body.split('id="next-steps"')[1]


@pytest.mark.parametrize("case", ["paid_off", "not_paid_off"])
def test_summary_md_opens_with_the_verdict(case: str, request) -> None:
    results: EvalResults = request.getfixturevalue(case)
    lines = render_summary_md(results).splitlines()
    assert lines[0] == "### Acme support" and lines[1] == ""
    assert lines[2] == verdict(results).text
    if case == "not_paid_off":
        assert lines[4].startswith("- Next: Abstention is low")


def cli_summary(results: EvalResults, tmp_path: Path) -> str:
    """What `tunesmith run` prints at the end, into an 80-column log file."""
    cfg = load_config(write_config(tmp_path))
    evaluation = SimpleNamespace(results=results, gates=results.gates, out_dir=cfg.stage_dir("eval"))
    out = StringIO()
    render_summary(cfg, {"eval": evaluation}, Console(file=out, width=80, force_terminal=False))
    return out.getvalue()


def write_config(tmp_path: Path) -> Path:
    path = tmp_path / "tunesmith.yaml"
    path.write_text("project: {name: acme-support-desk-with-a-long-name}\ndata: {paths: [data.jsonl]}\n")
    return path


@pytest.mark.parametrize("case", ["paid_off", "not_paid_off"])
def test_the_cli_summary_opens_with_the_verdict(case: str, request, tmp_path: Path) -> None:
    results: EvalResults = request.getfixturevalue(case)
    text = cli_summary(results, tmp_path)
    flat = " ".join(text.split())
    assert flat.startswith(verdict(results).text)
    assert ("next: Abstention is low" in flat) == (case == "not_paid_off")


@pytest.mark.parametrize("arms", [SIX, [*SIX, "fine_tuned_rag", "sft", "endpoint"]])
def test_the_cli_tables_fit_80_columns_with_full_names_and_counts(arms: list[str], tmp_path: Path) -> None:
    quality = {arm: 0.1 + 0.05 * k for k, arm in enumerate(arms)}
    declines = {arm: (0.5, 0.1) for arm in arms}
    text = cli_summary(synthetic(quality, declines, n=500), tmp_path)
    lines = text.splitlines()
    assert all(len(line) <= 80 for line in lines)
    assert not [line for line in lines if "…" in line]
    headers = [line.split() for line in lines if line.split()[:1] == ["arm"]]
    assert headers[0] == ["arm", "ROUGE-L"]  # the headline metric, whole (the synthetic data has no other)
    assert headers[1] == ["arm", "abstention", "over-refusal", "per", "req.", "batched", "alone"]
    rows = [line.split()[0] for line in lines if line.startswith(" ") and line.strip()]
    assert sorted(row for row in rows if row in arms) == sorted(arms * 2)  # each arm on one line in each table
    assert any("abstention" in line and "over-refusal" in line for line in lines)
    # the counts whole: 50/100 declined out of scope, 40/400 in scope, in each arm's row
    assert sum("0.50 (50/100)   0.10 (40/400)" in line for line in lines) == len(arms)


def test_json_has_the_verdict_the_arms_and_their_counts(paid_off, tmp_path: Path) -> None:
    cfg = load_config(write_config(tmp_path))
    evaluation = SimpleNamespace(results=paid_off, gates=paid_off.gates, out_dir=cfg.stage_dir("eval"))
    doc = json.loads(summary_json(cfg, {"eval": evaluation}))
    assert doc["eval"]["verdict"]["outcome"] == "paid_off"
    assert doc["eval"]["verdict"]["text"] == verdict(paid_off).text
    assert doc["eval"]["arms"]["guarded"]["counts"] == {"abstention": [18, 20], "over_refusal": [4, 80]}
    assert doc["eval"]["arms"]["guarded"]["delta_vs"]["rag"]["rougeL"]["ci"][0] > 0
    assert doc["eval"]["arms"]["rag"]["tokens"] == {"prompt_mean": 900.0, "completion_mean": 45.0}
    assert doc["stages"] == ["eval"] and "examples" not in doc["eval"]
