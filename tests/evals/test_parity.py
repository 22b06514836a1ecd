"""The parity figures on hand-made answers: what counts as a run-on and what as a late stop."""

from tunesmith.config.export import ExportConfig
from tunesmith.evals.cases import TestCase
from tunesmith.evals.parity import compare, run_on_suspects
from tunesmith.models.answers import Answer

EOT = 0


def _case(i: int) -> TestCase:
    return TestCase(id=f"c{i}", tags=[], prompt=[{"role": "user", "content": f"q{i}"}], reference="")


def _answer(ids: list[int]) -> Answer:
    return Answer([1, 2], ids, bool(ids) and ids[-1] == EOT, " ".join(map(str, ids)))


def test_an_answer_that_ends_its_turn_past_the_budget_is_a_late_stop_and_one_that_never_ends_a_run_on():
    """Rounding can part an answer from the trained one late, so it needs a few more tokens than the budget: asked
    again with more, it ends its turn and is not a lost stop token; one that still does not end is a run-on."""
    cases = [_case(i) for i in range(3)]
    trained = [_answer([5, 6, EOT]), _answer([5, 7, EOT]), _answer([8, EOT])]
    exported = [_answer([5, 6, EOT]), _answer([5, 9, 9]), _answer([8, 8, 8])]  # budget of 3
    assert [c.id for c in run_on_suspects(cases, trained, exported)] == ["c1", "c2"]
    longer = {"c1": _answer([5, 9, 9, 9, EOT]), "c2": _answer([8] * 12)}
    result = compare("q8_0", "stub", cases, trained, exported, str, ExportConfig(), longer)
    assert (result.run_ons, result.run_on_cases, result.late_stops) == (1, ["c2"], ["c1"])
    assert not result.passed and any("c2" in f and "4x the token budget" in f for f in result.failures)
    assert compare("q8_0", "stub", cases, trained, exported, str, ExportConfig()).run_ons == 2  # not asked again
