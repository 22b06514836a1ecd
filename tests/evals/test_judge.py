from __future__ import annotations

import pytest

from tunesmith.config import JudgeConfig
from tunesmith.evals.judge import combine, parse_verdict, run_judge


def test_parse_verdict_takes_the_last_verdict_line() -> None:
    assert parse_verdict("A is better.\nVERDICT: A") == "A"
    assert parse_verdict("verdict: **b**") == "B"
    assert parse_verdict("First VERDICT: A, on reflection VERDICT: tie") == "TIE"
    assert parse_verdict("I prefer the first one.") is None


@pytest.mark.parametrize(
    ("first", "second", "combined"),
    [
        ("arm", "arm", "arm"),
        ("arm", "reference", "tie"),  # a flip between orders is position bias, not a preference
        ("arm", "tie", "arm"),
        ("reference", "tie", "reference"),
        ("tie", "tie", "tie"),
        (None, "arm", "arm"),
        (None, None, None),
    ],
)
def test_combine_both_orders(first, second, combined) -> None:
    assert combine(first, second) == combined


def test_kappa_against_human_labels(openai_stub) -> None:
    # The stub always answers "VERDICT: A": every example is a tie. Humans say tie on two, arm on two.
    examples = [
        {
            "id": f"e{i}",
            "prompt": "q",
            "reference": "r",
            "arms": {"fine_tuned": {"prediction": "x"}, "base": {"prediction": "y"}},
        }
        for i in range(4)
    ]
    labels = {("e0", "c"): "tie", ("e1", "c"): "tie", ("e2", "c"): "arm", ("e3", "c"): "arm"}
    cfg = JudgeConfig(base_url=openai_stub.url, model="stub-judge", rubric={"c": "Which?"}, arm="fine_tuned", limit=4)
    summary = run_judge(cfg, examples, "base", human_labels=labels)
    d = summary["dimensions"]["c"]
    # Observed agreement 0.5; the judge is constant, so expected agreement is 0.5 too: kappa 0.
    assert d["kappa"] == pytest.approx(0.0) and d["human_n"] == 4 and d["win_rate"] == 0.5
