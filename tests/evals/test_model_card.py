"""The model card (evals/model_card.py): every section from results.json and the manifests its lineage names."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.evals.test_verdict import SIX, synthetic

from tunesmith.evals.model_card import model_card, write_model_card
from tunesmith.evals.results import EvalResults

SYSTEM = "You are the assistant of Acme | Bank.\nBe brief."


def _results(root: Path, n: int = 60) -> EvalResults:
    """A paid-off evaluation whose lineage names a dataset and a run with manifests, as prepare and train write."""
    dataset, train = root / "dataset", root / "train"
    dataset.mkdir(parents=True)
    train.mkdir()
    row = {"messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "q"}]}
    (dataset / "train.jsonl").write_text(json.dumps(row) + "\n", encoding="utf-8")
    (dataset / "manifest.json").write_text(
        json.dumps(
            {
                "stage": "data",
                "config": {"pii": "redact", "pii_allow": ["1-800-555-0199"]},
                "counts": {
                    "input": 419,
                    "valid": 417,
                    "dropped": {"exact_duplicate": 3},
                    "train": 329,
                    "val": 41,
                    "test": 41,
                    "redacted": {"PERSON": 8, "EMAIL_ADDRESS": 2},
                },
                "dataset_hash": "d" * 64,
                "sources": [{"file": "support.jsonl", "format": "messages", "sha256": "a" * 64}],
            }
        )
    )
    (train / "manifest.json").write_text(
        json.dumps(
            {
                "stage": "train",
                "config": {"train": {"method": "lora", "epochs": 3.0, "learning_rate": 0.002, "lora": {"r": 16}}},
                "counts": {"steps": 126, "train_loss": 0.5055, "eval_loss": 0.0671},
                "base_model": {"id": "models/smollm2-135m-instruct"},
            }
        )
    )
    results = synthetic(
        {"base": 0.2, "prompted": 0.4, "retrieval": 0.3, "rag": 0.35, "fine_tuned": 0.7, "guarded": 0.7},
        {"fine_tuned": (0.5, 0.05), "guarded": (0.5, 0.05)},  # the guard declined nothing more
        n=n,
    )
    results.lineage = results.lineage.model_copy(
        update={
            "dataset_dir": str(dataset),
            "train_dir": str(train),
            "dataset_hash": "d" * 64,
            "train_manifest_sha256": "t" * 64,
        }
    )
    return results


def test_the_card_has_every_section_for_the_people_who_sign_off(tmp_path: Path) -> None:
    results = _results(tmp_path)
    card = model_card(results, project="acme-bank")
    assert card.startswith("# Model card: acme-bank\n")
    verdict_at = card.index("## Verdict")
    assert "The fine-tune paid off" in card[verdict_at:] and "Next: Abstention is low" in card
    # intended use: the project and its system prompt, on one quoted line with its '|' kept from splitting a table
    assert "> You are the assistant of Acme \\| Bank. Be brief." in card
    # data sources and counts, from the dataset manifest
    assert "| support.jsonl | messages | `aaaaaaaaaaaa` |" in card
    assert "419 examples read, 417 valid; dropped: exact duplicate 3." in card
    assert "Splits: train 329, val 41, test 41." in card
    # personal data: the mode and the redactions by type
    assert "`data.pii: redact`" in card and "| PERSON | 8 |" in card and "| EMAIL_ADDRESS | 2 |" in card
    assert "1 value(s) were allowed" in card
    # training settings, from the train manifest
    assert "base model `models/smollm2-135m-instruct`" in card
    assert "| learning rate | 0.002 |" in card and "| steps | 126 |" in card and "| lora | r 16," in card
    # the evaluation table with CIs and the behaviour counts
    ft = results.arms["fine_tuned"]
    assert f"| fine_tuned | {ft.metrics['rougeL']:.3f} [{ft.ci['rougeL'][0]:.3f}, " in card
    k, n = ft.count("abstention") or (0, 0)
    assert f"| {k / n:.2f} ({k}/{n}) |" in card
    # known limits: the English-only parts and the test set size
    assert "English spaCy model" in card and "English refusal phrases" in card
    assert "The figures come from 60 test examples: their 95% CIs are wide" in card
    assert f"Abstention rests on {n} test questions only." in card
    # lineage hashes
    assert f"| dataset hash | `{'d' * 64}` |" in card and f"| train manifest sha256 | `{'t' * 64}` |" in card


def test_a_card_without_manifests_says_so(tmp_path: Path) -> None:
    results = synthetic({arm: 0.5 for arm in SIX})
    path = write_model_card(results, tmp_path)
    card = path.read_text(encoding="utf-8")
    assert path.name == "model_card.md"
    assert "No dataset manifest" in card and "No training manifest" in card and "Unknown: no dataset manifest" in card
    assert "did not pay off" in card


@pytest.mark.parametrize("n", [150])
def test_a_large_test_set_is_not_called_small(tmp_path: Path, n: int) -> None:
    card = model_card(_results(tmp_path, n=n))
    assert f"The figures come from {n} test examples." in card and "CIs are wide" not in card
