"""A model card with every export (issue 28, item 6): `tunesmith export` writes model_card.md into the exported
directory, the card of the run's latest evaluation (the one whose lineage names the run's manifest), or, when no
evaluation names the run, a card that says so and gives the training settings and the data."""

from __future__ import annotations

import json
from pathlib import Path

from tests.evals.test_model_card import _results

from tunesmith.artifacts import sha256_file
from tunesmith.cli.main import main
from tunesmith.evals.model_card import export_card, latest_evaluation
from tunesmith.evals.results import EvalResults


def _project(root: Path) -> Path:
    """artifacts/ with a prepared dataset and an adapter run (the manifests as prepare and train write them)."""
    artifacts = root / "artifacts"
    _results(artifacts)  # writes artifacts/dataset and artifacts/train with their manifests
    train = artifacts / "train"
    manifest = json.loads((train / "manifest.json").read_text())
    manifest["dataset"] = {"dataset_hash": "d" * 64}
    manifest["method"] = "lora"
    (train / "manifest.json").write_text(json.dumps(manifest))
    (train / "adapter").mkdir()
    (train / "adapter" / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "x", "r": 16}))
    return train


def _evaluation(directory: Path, train: Path, *, created_at: str, title: str, sha: str | None = None) -> None:
    results: EvalResults = _results(directory / "_manifests")
    results.created_at, results.title = created_at, title
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "results.json").write_text(json.dumps(results.to_json()))
    lineage = {"train_manifest_sha256": sha or sha256_file(train / "manifest.json")}
    (directory / "manifest.json").write_text(json.dumps({"stage": "eval", "lineage": lineage}))


def test_an_export_without_an_evaluation_gets_a_card_that_says_so(tmp_path: Path) -> None:
    train = _project(tmp_path)
    _evaluation(tmp_path / "artifacts" / "eval", train, created_at="2025-05-01T10:00:00", title="other", sha="f" * 64)
    card = export_card(train, kind="adapter")
    assert card.evaluation is None  # the only evaluation names another run
    text = card.text
    assert "**Not evaluated.**" in text and "tunesmith run tunesmith.yaml --from eval" in text
    assert "| learning rate | 0.002 |" in text and "| epochs | 3.0 |" in text  # the training settings
    assert "419 examples read, 417 valid" in text and "| PERSON | 8 |" in text  # the data and its redactions
    assert "English spaCy model" in text  # the known limits that hold without an evaluation
    assert f"| train manifest sha256 | `{sha256_file(train / 'manifest.json')}` |" in text


def test_an_export_gets_the_card_of_the_latest_evaluation_of_its_run(tmp_path: Path) -> None:
    train = _project(tmp_path)
    artifacts = tmp_path / "artifacts"
    _evaluation(artifacts / "eval", train, created_at="2025-05-01T10:00:00", title="older: eval")
    _evaluation(artifacts / "served" / "abc" / "eval", train, created_at="2025-06-01T10:00:00", title="newer: eval")
    _evaluation(artifacts / "eval-other", train, created_at="2025-07-01T10:00:00", title="x: eval", sha="f" * 64)
    found = latest_evaluation(train)
    assert found is not None and found[0] == (artifacts / "served" / "abc" / "eval").resolve()
    card = export_card(train, kind="merged")
    assert card.evaluation == found[0]
    assert card.text.startswith("# Model card: newer\n\n> Exported with `tunesmith export` (merged)")
    assert "## Verdict" in card.text and "The fine-tune paid off" in card.text and "## Evaluation" in card.text


def test_tunesmith_export_writes_the_card_into_the_export_and_its_manifest(tmp_path: Path, capsys) -> None:
    train = _project(tmp_path)
    _evaluation(tmp_path / "artifacts" / "eval", train, created_at="2025-05-01T10:00:00", title="acme: eval")
    out = tmp_path / "exported"
    assert main(["export", str(train), "--adapter", str(out), "--base", "org/base"]) == 0
    card = (out / "model_card.md").read_text(encoding="utf-8")
    assert card.startswith("# Model card: acme\n\n> Exported with `tunesmith export` (adapter)")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["outputs"]["model_card.md"] == sha256_file(out / "model_card.md")
    assert "model_card.md written with the export (the card of evaluation" in capsys.readouterr().out
