"""The report's Migration section (issue 27): the student (fine_tuned) against the teacher (endpoint arm) with paired
intervals, per metric and per tag, and the cost of each per request; absent without an endpoint arm."""

from __future__ import annotations

from typing import Any

import numpy as np

from tunesmith.evals.report import render_report
from tunesmith.evals.report_migration import migration_section, tag_deltas
from tunesmith.evals.results import EvalResults
from tunesmith.evals.stats import aggregate, slices

ARMS = ["base", "endpoint", "fine_tuned"]


def _examples(n: int = 90) -> list[dict[str, Any]]:
    """The student equals the teacher on billing, is clearly worse on shipping and better on returns."""
    rng = np.random.default_rng(1)
    shift = {"billing": 0.0, "shipping": -0.3, "returns": 0.25}
    out = []
    for i in range(n):
        tag = ("billing", "shipping", "returns")[i % 3]
        teacher = rng.uniform(0.3, 0.7)
        scores = {"base": teacher - 0.4, "endpoint": teacher, "fine_tuned": teacher + shift[tag] + rng.normal(0, 0.03)}
        arms = {a: {"prediction": f"{a} {i}", "metrics": {"rougeL": s}} for a, s in scores.items()}
        out.append({"id": f"q{i}", "tags": [tag], "reference": "r", "prompt": f"q {i}", "arms": arms})
    return out


def _results(arms: list[str]) -> EvalResults:
    examples = _examples()
    for ex in examples:
        ex["arms"] = {a: v for a, v in ex["arms"].items() if a in arms}
    stats = aggregate(examples, arms, "base")
    for arm, (tokens, per_1k) in {"base": (100, None), "endpoint": (240, 1.2), "fine_tuned": (120, 0.3)}.items():
        if arm in stats:
            stats[arm].update(tokens={"prompt_mean": tokens - 40, "completion_mean": 40}, cost_per_1k_requests=per_1k)
    return EvalResults.model_validate(
        {
            "title": "migration",
            "created_at": "2026-12-07T00:00:00+00:00",
            "reference_arm": "base",
            "headline_metric": "rougeL",
            "metrics": ["rougeL"],
            "arms": stats,
            "slices": slices(examples, arms),
            "examples": examples,
            "dataset": {"path": "test.jsonl", "sha256": "ab" * 32, "n_test": len(examples)},
            "lineage": {"run_dir": "runs/x", "model": "tiny"},
            "gates": [],
        }
    )


def test_each_tag_reads_better_worse_or_no_difference_with_its_interval() -> None:
    deltas = tag_deltas(_results(ARMS))
    assert {tag: n for tag, (n, _) in deltas.items()} == {"billing": 30, "returns": 30, "shipping": 30}
    billing, returns, shipping = (deltas[t][1] for t in ("billing", "returns", "shipping"))
    assert billing.ci[0] <= 0 <= billing.ci[1]
    assert returns.ci[0] > 0.2 and shipping.ci[1] < -0.2


def test_the_report_has_the_migration_section_with_costs(tmp_path) -> None:
    out = tmp_path / "report.html"
    render_report(_results(ARMS), out)
    page = out.read_text(encoding="utf-8")
    section = page[page.index("Migration: student against teacher") :]
    assert "id='migration'" in section and "id='migration-tags'" in section
    rows = {
        tag: section.split(f"<td>{tag}</td>", 1)[1].split("</tr>", 1)[0] for tag in ("billing", "shipping", "returns")
    }
    assert "no difference shown" in rows["billing"] and "worse" in rows["shipping"] and "better" in rows["returns"]
    assert "student 120 tokens, $0.00030 per request; teacher 240 tokens, $0.00120 per request" in section


def test_no_section_without_a_teacher_arm() -> None:
    assert migration_section(_results(["base", "fine_tuned"])) == ""
