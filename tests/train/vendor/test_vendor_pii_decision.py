"""The vendor upload applies prepare's decision of what is personal data instead of re-deciding on the train split.

Issue 30: on a clean file prepared with `pii: redact`, a word the name model takes for a name, in 10+ examples over
all the data, was kept by prepare as the deployer's name; the gate scanned train alone, where it is in fewer than
10, counted it as a customer's name and refused. The manifest's `pii` now records the kept names, the gate allows
them, and a real name left in the data is still refused. Against the local contract server, no network.
"""

from __future__ import annotations

import json

from tests.conftest import NetworkGuard
from tests.train.vendor.contract import ContractState, canned_answers, contract_server, write_project

from tunesmith.cli.main import main
from tunesmith.config import load_config

API_KEY = "sk-test-tunesmith-SECRET-0123456789abcdef"
# spaCy's small model tags this made-up firm as a PERSON (tests/data/test_pii_names.py).
DESK = "Harlan Whitby"


def _with_desk(yaml_path, every: int = 4) -> None:
    """Name the desk in every `every`-th answer: 10 of 40 examples, fewer than 10 of them in train."""
    data = yaml_path.parent / "data" / "support.jsonl"
    rows = [json.loads(line) for line in data.read_text().splitlines()]
    for i, r in enumerate(rows):
        r["messages"][1]["content"] = r["messages"][1]["content"].split(" Write to me")[0]  # no e-mail: clean
        if i % every == 0:
            r["messages"][2]["content"] += f" Ask {DESK} for more help."
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_upload_goes_through_after_prepare_and_a_planted_name_is_refused(tmp_path, monkeypatch, capsys):
    yaml_path = write_project(tmp_path)
    _with_desk(yaml_path)
    with NetworkGuard() as guard:
        assert main(["run", str(yaml_path), "--only", "prepare"]) == 0
    assert guard.attempts == []
    dataset = load_config(yaml_path).stage_dir("dataset")
    manifest = json.loads((dataset / "manifest.json").read_text())
    assert manifest["pii"]["policy"] == "redact" and DESK in manifest["pii"]["kept_names"]
    train = (dataset / "train.jsonl").read_text()
    assert 0 < train.count(DESK) < 10, "the train split alone must hold the kept name fewer than 10 times"

    state = ContractState(api_key=API_KEY, answers=canned_answers())
    with contract_server(state) as url:
        monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
        monkeypatch.setenv("OPENAI_BASE_URL", url)
        # a real name that prepare did not catch (planted after it) is refused, and nothing is sent
        rows = [json.loads(line) for line in train.splitlines()]
        rows[0]["messages"][1]["content"] += " I am Priya Raman, by the way."
        (dataset / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        assert main(["run", str(yaml_path), "--yes", "--only", "train"]) == 2
        err = capsys.readouterr().err
        assert "personal data" in err and "1 PERSON" in err
        assert state.requests == []

        # without it, the data prepare kept goes through
        (dataset / "train.jsonl").write_text(train)
        assert main(["run", str(yaml_path), "--yes", "--only", "train"]) == 0
        assert len(state.jobs) == 1
