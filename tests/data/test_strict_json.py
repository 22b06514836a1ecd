"""Issue 30, item 4: a number JSON cannot hold (NaN, Infinity) is a finding at load, and nothing tunesmith writes
holds a bare NaN or Infinity: an undefined figure is written as null and read back as NaN."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from tests.data.topics import TOPICS

from tunesmith.artifacts import read_jsonl, write_json_atomic, write_jsonl, write_manifest
from tunesmith.config import DataConfig
from tunesmith.data.check import check_files
from tunesmith.data.prepare import prepare_dataset
from tunesmith.data.split import SPLITS

ARMS = ["base", "fine_tuned"]


def _refuse(constant: str) -> None:
    raise AssertionError(f"a bare {constant}: not JSON")


def assert_strict(path: Path) -> None:
    """Every value of a .json or .jsonl file parses as JSON with no NaN or Infinity (what strict readers accept)."""
    text = path.read_text(encoding="utf-8")
    chunks = text.splitlines() if path.suffix == ".jsonl" else [text]
    for chunk in chunks:
        if chunk.strip():
            json.loads(chunk, parse_constant=_refuse)


def _example(i: int, meta: str = "") -> str:
    msgs = [
        {"role": "user", "content": f"How can I {TOPICS[i]}?"},
        {"role": "assistant", "content": f"To {TOPICS[i]}, open Settings and follow step {i} of the guide."},
    ]
    return json.dumps({"messages": msgs})[:-1] + (f', "meta": {meta}' if meta else "") + "}\n"


@pytest.mark.parametrize(("literal", "spelled"), [("NaN", "NaN"), ("Infinity", "Infinity"), ("-Infinity", "-Infinity")])
def test_a_bare_nan_in_meta_is_a_finding_at_its_line(tmp_path: Path, literal: str, spelled: str) -> None:
    path = tmp_path / "data.jsonl"
    path.write_text(_example(1) + _example(2, '{"score": ' + literal + "}") + _example(3), encoding="utf-8")
    report = check_files([path], pii_scan=False, diversity=False)
    found = [f for f in report.findings if f.kind == "invalid_number"]
    assert len(found) == 1
    f = found[0]
    assert (f.severity, f.file, f.lines) == ("error", str(path), [2])
    assert f"meta.score is {spelled}" in f.message and "null" in f.message
    assert report.examples == 3  # the example loads, with the value as null: the file is wrong, the example usable
    assert report.stats["counts"]["invalid_lines"] == 0


def test_prepare_writes_the_value_as_null_and_says_so(tmp_path: Path) -> None:
    path = tmp_path / "data.jsonl"
    lines = [_example(i, '{"score": NaN}' if i == 4 else '{"score": 0.5}') for i in range(12)]
    path.write_text("".join(lines), encoding="utf-8")
    result = prepare_dataset([path], tmp_path / "ds", DataConfig(pii="off", refusals="off"))
    assert result.counts["valid"] == 12 and "invalid" not in result.counts["dropped"]
    assert any("1 example(s) held NaN or Infinity" in w and "data.jsonl:5" in w for w in result.warnings)
    rows = [r for s in SPLITS for r in read_jsonl(tmp_path / "ds" / f"{s}.jsonl")]
    assert {r["meta"]["source"]["line"]: r["meta"]["score"] for r in rows}[5] is None
    for written in (tmp_path / "ds").glob("*.json*"):
        assert_strict(written)


def test_writers_turn_nan_into_null(tmp_path: Path) -> None:
    nan, inf = float("nan"), float("inf")
    write_json_atomic(tmp_path / "results.json", {"metrics": {"rougeL": nan}, "ci": (nan, inf), "n": 0})
    write_jsonl(tmp_path / "rows.jsonl", [{"meta": {"score": -inf}}, {"loss": 1.5}])
    (tmp_path / "out").mkdir()
    write_manifest(tmp_path / "out", stage="data", counts={"mean": nan}, extra={"dataset_hash": "x"})
    for name in ("results.json", "rows.jsonl", "out/manifest.json"):
        assert_strict(tmp_path / name)
    assert json.loads((tmp_path / "results.json").read_text()) == {
        "metrics": {"rougeL": None},
        "ci": [None, None],
        "n": 0,
    }
    assert (tmp_path / "rows.jsonl").read_text().splitlines() == ['{"meta": {"score": null}}', '{"loss": 1.5}']
    assert json.loads((tmp_path / "out" / "manifest.json").read_text())["counts"] == {"mean": None}


def _results() -> dict[str, Any]:
    """A small results.json content: two arms over four examples."""
    from tunesmith.evals.stats import aggregate, slices

    examples = [
        {
            "id": f"q{i}",
            "tags": ["billing"],
            "prompt": f"question {i}",
            "reference": f"answer {i}",
            "arms": {arm: {"prediction": f"answer {i}", "metrics": {"rougeL": 0.25 * i}} for arm in ARMS},
        }
        for i in range(4)
    ]
    return {
        "title": "strict JSON",
        "created_at": "2025-01-01T00:00:00+00:00",
        "reference_arm": "base",
        "headline_metric": "rougeL",
        "metrics": ["rougeL"],
        "arms": aggregate(examples, ARMS, "base", n_resamples=50),
        "slices": slices(examples, ARMS),
        "examples": examples,
        "dataset": {"path": "data.jsonl", "sha256": "ab" * 32, "n_test": len(examples)},
        "lineage": {},
        "gates": [{"gate": "fine_tuned.rougeL >= base.rougeL", "passed": True, "left": 0.5, "right": 0.5}],
    }


def test_results_json_with_an_undefined_metric_is_strict_and_reads_back(tmp_path: Path) -> None:
    """A mean over a metric that failed is NaN: results.json holds null, and the reader gives NaN back."""
    from tunesmith.evals.results import EvalResults, read_results

    results = EvalResults.of(_results())
    arm = results.arms["fine_tuned"]
    arm.metrics["rougeL"] = float("nan")
    arm.ci["rougeL"] = (float("nan"), float("inf"))
    results.gates[0].left = float("nan")
    write_json_atomic(tmp_path / "results.json", results.to_json())
    assert_strict(tmp_path / "results.json")
    back = read_results(tmp_path)
    assert math.isnan(back.arms["fine_tuned"].metrics["rougeL"])
    assert all(math.isnan(x) for x in back.arms["fine_tuned"].ci["rougeL"])
    assert math.isnan(back.gates[0].left)
    assert back.arms["base"].metrics == results.arms["base"].metrics
