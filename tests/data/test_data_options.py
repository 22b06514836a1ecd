"""Every prepare/check option reachable from tunesmith.yaml (DataConfig) and the CLI; bad values exit 2."""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path

import pytest

from tunesmith.artifacts import read_jsonl
from tunesmith.cli import data as data_cli
from tunesmith.cli.main import main
from tunesmith.config import DataConfig
from tunesmith.data.prepare import prepare_dataset

ASSETS = Path(__file__).parent / "assets"
COLUMNS = "prompt=question,completion=answer"


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["data", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["prepare", "IN", "--out", "OUT", "--pii", "foo"], "redact, pseudonymize, off"),
        (["prepare", "IN", "--out", "OUT", "--dedup", "fuzzy"], "near, exact, off"),
        (["prepare", "IN", "--out", "OUT", "--conflicts", "vote"], "majority, drop, keep"),
        (["prepare", "IN", "--out", "OUT", "--too-long", "cut"], "drop, truncate"),
        (["check", "IN", "--format", "chatml"], "messages, prompt_completion"),
        (["check", "IN", "--columns", "prompt"], "--columns prompt=question"),
        (["prepare", "IN", "--out", "OUT", "--split", "0.5,0.5"], "see `tunesmith data prepare --help`"),
    ],
)
def test_unknown_values_exit_2_with_a_hint(capsys, tmp_path, args, needle):
    args = [
        str(ASSETS / "near_duplicate.jsonl") if a == "IN" else str(tmp_path / "o") if a == "OUT" else a for a in args
    ]
    code, _, err = run(capsys, *args, "--no-pii" if args[0] == "check" else "--json")
    assert code == 2 and needle in " ".join(re.sub("[│╭╮╰╯─]", " ", err).split())  # rich boxes wrap lines
    assert not (tmp_path / "o").exists()


def test_export_target_is_checked(capsys, tmp_path):
    code, _, err = run(capsys, "export", str(tmp_path), "--to", "anthropic", "--out", str(tmp_path / "x.jsonl"))
    assert code == 2 and "openai, bedrock, vertex" in err


def test_columns_from_the_cli(capsys):
    code, _, err = run(capsys, "check", str(ASSETS / "qa.csv"), "--no-pii", "--no-embeddings", "--json")
    assert code == 2  # no column the loader knows: nothing usable
    code, out, _ = run(
        capsys, "check", str(ASSETS / "qa.csv"), "--columns", COLUMNS, "--no-pii", "--no-embeddings", "--json"
    )
    data = json.loads(out)
    assert code == 0 and data["format"] == "prompt_completion" and data["examples"] == 2


def test_prepare_options_come_from_data_config(tmp_path):
    """columns, pii_allow and keep_recurring_names are read from the config when not passed."""
    r = prepare_dataset(
        [ASSETS / "qa.csv"],
        tmp_path / "csv",
        DataConfig(pii="off", columns=dict(prompt="question", completion="answer")),
    )
    assert r.counts["valid"] == 2
    manifest = json.loads((tmp_path / "csv" / "manifest.json").read_text())
    assert manifest["config"]["columns"] == {"completion": "answer", "prompt": "question"}
    cfg = DataConfig(pii="redact", pii_allow=["jane.doe@example.com"], split={"train": 1, "val": 0, "test": 0})
    r = prepare_dataset([ASSETS / "pii.jsonl"], tmp_path / "allow", cfg)
    text = json.dumps(read_jsonl(tmp_path / "allow" / "train.jsonl"))
    assert "jane.doe@example.com" in text and "EMAIL_ADDRESS" not in r.counts["redacted"]


def test_every_data_config_key_has_a_cli_option():
    """A key of the `data:` section of tunesmith.yaml that the CLI cannot set is a gap (and vice versa)."""
    cli = set(inspect.signature(data_cli.prepare).parameters) | set(inspect.signature(data_cli.check).parameters)
    keys = set(DataConfig.model_fields) - {"paths"}  # paths are the FILE arguments
    assert keys <= cli, keys - cli
