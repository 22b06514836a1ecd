"""One refusal detector: the data check, the evaluation and the monitor count the same answers as refusals."""

import pytest

from tunesmith.data import stats
from tunesmith.evals import metrics
from tunesmith.monitor import outcomes
from tunesmith.refusals import is_refusal

ANSWERS = [
    ("I don\u2019t know the answer to that.", True),  # a curly apostrophe: the check missed it
    ("I can only help with Lumen Home orders and devices.", True),  # the check missed it
    ("I'm not sure; please ask the store.", True),  # the evaluation missed it
    ("As an AI, I have no opinion on that.", True),
    ("I don't have that information.", True),
    ("Your order ships in 3-5 business days.", False),
    ("I know exactly how to fix that: hold the button for 5 seconds.", False),
]


@pytest.mark.parametrize(("answer", "declines"), ANSWERS)
def test_check_eval_and_monitor_agree(answer, declines):
    record = {"messages": [{"role": "user", "content": "?"}, {"role": "assistant", "content": answer}]}
    assert is_refusal(answer) is declines
    assert stats.is_refusal(record) is declines
    assert metrics.is_refusal(answer) is declines
    assert outcomes.is_refusal is is_refusal
