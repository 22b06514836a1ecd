"""Issue 30, item 6: one dataset, one hash, whichever entry point prepared it.

The hash covered the tokenizer by its path, so the quickstart (its own folder), `tunesmith run --only prepare` (the
project's folder) and `data prepare --model DIR` gave three hashes for identical splits. Prepare only: no training.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from rich.console import Console

from tunesmith import pipeline
from tunesmith.artifacts import read_jsonl
from tunesmith.cli.main import main
from tunesmith.data.split import SPLITS

EXAMPLE = Path(__file__).parents[2] / "examples" / "support-desk"


def _manifest(dataset: Path) -> dict:
    return json.loads((dataset / "manifest.json").read_text(encoding="utf-8"))


def test_quickstart_run_only_prepare_and_data_prepare_give_one_hash(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(pipeline, "STAGES", ("prepare",))  # the quickstart as it is, stopped after prepare
    quick, _ = pipeline.quickstart(tmp_path / "quick", tiny=True, console=Console(quiet=True))
    quick_ds = quick.stage_dir("dataset")

    project = tmp_path / "elsewhere" / "project"
    shutil.copytree(EXAMPLE / "data", project / "data")
    shutil.copy(EXAMPLE / "tunesmith-tiny.yaml", project / "tunesmith.yaml")
    assert main(["run", str(project / "tunesmith.yaml"), "--only", "prepare"]) == 0
    run_ds = project / "artifacts" / "dataset"

    cli_ds = tmp_path / "cli-dataset"
    args = ["data", "prepare", str(project / "data" / "support.jsonl"), "--out", str(cli_ds), "--json"]
    args += ["--model", str(project / "models" / "tiny"), "--max-seq-len", str(quick.train.max_seq_len)]
    for value in quick.data.pii_allow:
        args += ["--pii-allow", value]
    assert main([*args, "--dedup", quick.data.dedup, "--conflicts", quick.data.conflicts]) == 0

    for s in SPLITS:  # the same rows...
        assert (
            read_jsonl(quick_ds / f"{s}.jsonl")
            == read_jsonl(run_ds / f"{s}.jsonl")
            == read_jsonl(cli_ds / f"{s}.jsonl")
        )
    hashes = {_manifest(d)["dataset_hash"] for d in (quick_ds, run_ds, cli_ds)}
    assert len(hashes) == 1  # ...and one hash
    assert str(tmp_path) not in json.dumps(_manifest(run_ds)["config"])  # nothing in what is hashed names a path
