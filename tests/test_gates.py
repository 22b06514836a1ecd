import pytest

from tunesmith.errors import ConfigError
from tunesmith.evals.gates import check_gate

RESULTS = {"arms": {"base": {"metrics": {"rougeL": 0.20}}, "fine_tuned": {"metrics": {"rougeL": 0.30}}}}


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
