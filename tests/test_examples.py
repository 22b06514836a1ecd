"""The second and third example domains are what their generators write (seeded, standard library only), so a
change to a generator or a hand edit of the data cannot drift apart unnoticed; and they keep the natural refusal
share that makes them a test of abstention beyond the hand-tuned demo (issue 24)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).parents[1] / "examples"
# (example, training file, training conversations, test questions in scope, test questions out of scope)
DOMAINS = [
    ("credit-union", "members.jsonl", 270, 52, 14),
    ("hr-policy", "employees.jsonl", 260, 60, 12),
]


@pytest.mark.parametrize(("name", "train", "n_train", "n_in", "n_out"), DOMAINS)
def test_the_example_data_is_what_its_generator_writes(tmp_path, name, train, n_train, n_in, n_out):
    folder = EXAMPLES / name
    subprocess.run([sys.executable, str(folder / "generate.py"), "--out-dir", str(tmp_path)], check=True)
    for file in (train, "test.jsonl"):
        assert (tmp_path / file).read_bytes() == (folder / "data" / file).read_bytes(), f"{name}/data/{file}"
    rows = [json.loads(line) for line in (folder / "data" / train).read_text(encoding="utf-8").splitlines()]
    refusals = sum("refusal" in r["meta"]["tags"] for r in rows)
    assert len(rows) == n_train and 0.05 <= refusals / n_train <= 0.08  # a real log's share, not the demo's 22%
    test = [json.loads(line) for line in (folder / "data" / "test.jsonl").read_text(encoding="utf-8").splitlines()]
    out = sum("out_of_scope" in r["meta"]["tags"] for r in test)
    assert (len(test) - out, out) == (n_in, n_out)
