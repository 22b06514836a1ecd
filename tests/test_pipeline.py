"""The whole loop on the bundled example, with the xs tiny model, offline, under a network guard."""

import json
import re
import shutil
from io import StringIO
from pathlib import Path

import pytest
from rich.console import Console

from tunesmith.artifacts import sha256_file
from tunesmith.cli.main import main
from tunesmith.cli.summary import render_summary
from tunesmith.config import load_config
from tunesmith.pipeline import run_pipeline

EXAMPLE = Path(__file__).parents[1] / "examples" / "support-desk"
FAST = [
    "model.tiny.size=xs",
    "train.epochs=1",
    "train.batch_size=16",
    "eval.limit=12",
    "eval.max_new_tokens=12",
    "eval.batch_size=12",
    "eval.gates=[]",
    "eval.arms=[base,retrieval,fine_tuned]",
]


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    dest = tmp_path_factory.mktemp("project")
    shutil.copytree(EXAMPLE / "data", dest / "data")
    shutil.copy(EXAMPLE / "tunesmith-tiny.yaml", dest / "tunesmith.yaml")
    return dest


@pytest.fixture(scope="module")
def log() -> StringIO:
    """What the run printed, as `tunesmith quickstart --tiny > log` would have it: an 80-column file."""
    return StringIO()


def log_console(out: StringIO) -> Console:
    return Console(file=out, width=80, force_terminal=False)


@pytest.fixture(scope="module")
def ran(project, log):
    from tests.conftest import NetworkGuard

    cfg = load_config(project / "tunesmith.yaml", FAST)
    with NetworkGuard() as guard:
        result = run_pipeline(cfg, console=log_console(log))
    assert guard.attempts == [], f"the pipeline tried to reach the network: {guard.attempts}"
    return cfg, result


def manifest(d: Path) -> dict:
    return json.loads((d / "manifest.json").read_text())


def test_every_stage_writes_a_manifest_with_hashes(ran):
    cfg, result = ran
    assert result.stages == ["check", "prepare", "train", "eval"]
    source = cfg.path("data/support.jsonl")
    for stage in ("check", "dataset", "train", "eval"):
        m = manifest(cfg.stage_dir(stage))
        assert m["versions"]["transformers"] and m["versions"]["tunesmith"]
        assert m["outputs"], stage
        for name, digest in m["outputs"].items():
            assert sha256_file(cfg.stage_dir(stage) / name) == digest
    assert manifest(cfg.stage_dir("check"))["inputs"][0]["sha256"] == sha256_file(source)
    train_inputs = {Path(i["path"]).name: i["sha256"] for i in manifest(cfg.stage_dir("train"))["inputs"]}
    assert train_inputs["train.jsonl"] == sha256_file(cfg.stage_dir("dataset") / "train.jsonl")


def test_train_writes_adapter_and_metrics_and_links_the_dataset(ran):
    cfg, _ = ran
    train_dir = cfg.stage_dir("train")
    assert (train_dir / "adapter" / "adapter_config.json").exists()
    metrics = [json.loads(line) for line in (train_dir / "metrics.jsonl").read_text().splitlines()]
    assert any("loss" in m for m in metrics) and any("eval_loss" in m for m in metrics)
    m = manifest(train_dir)
    assert m["dataset"]["dataset_hash"] == manifest(cfg.stage_dir("dataset"))["dataset_hash"]
    assert m["labels"]["role_trained"].keys() == {"assistant"}


def test_eval_compares_the_three_arms_on_the_test_split(ran):
    cfg, result = ran
    out = cfg.stage_dir("eval")
    results = json.loads((out / "results.json").read_text())
    assert set(results["arms"]) == {"base", "retrieval", "fine_tuned"}
    assert len(results["examples"]) == 12
    for arm in results["arms"].values():
        assert {"rougeL", "exact_match", "token_f1", "chrf", "semantic_sim"} <= set(arm["metrics"])
    assert "delta" in results["arms"]["fine_tuned"] and "delta" not in results["arms"]["base"]
    assert set(results["arms"]["fine_tuned"]["delta_vs"]) == {"base", "retrieval"}
    assert "ci" in results["arms"]["fine_tuned"]["delta_vs"]["retrieval"]["rougeL"]
    # The retrieval arm answers with a training answer: on FAQ data it is far above a random base model.
    assert results["arms"]["retrieval"]["metrics"]["rougeL"] > results["arms"]["base"]["metrics"]["rougeL"]
    html = (out / "report.html").read_text()
    assert 'id="headline"' in html and "data:image/png;base64," in html
    assert "fine_tuned" in (out / "summary.md").read_text()


def test_a_log_file_shows_progress_during_training_and_evaluation(ran, log):
    """Not a terminal, so no bars: paced lines with done/total while each stage runs, not only at its end."""
    text = log.getvalue()
    train = [(int(k), int(n)) for k, n in re.findall(r"^train: (\d+)/(\d+) steps", text, re.M)]
    assert len(train) >= 4 and train[-1][0] == train[-1][1]
    assert [k for k, n in train if 0 < k < n]  # lines while it trains
    assert text.index("train: 0/") < text.index("train: lora")  # before the stage's own last line
    for arm in ("base", "fine_tuned"):  # the arms that generate
        answers = re.findall(rf"^eval {arm}: (\d+)/12 answers", text, re.M)
        assert answers[0] == "0" and answers[-1] == "12"
    assert text.index("eval fine_tuned: 12/12") < text.index("scoring answers")


def test_the_end_summary_reads_whole_in_80_columns(ran):
    cfg, result = ran
    out = StringIO()
    render_summary(cfg, result.outputs, log_console(out))
    lines = out.getvalue().splitlines()
    assert lines[1].startswith("The fine-tune ")  # the verdict first
    assert not [line for line in lines if "…" in line]
    assert all(len(line) <= 80 for line in lines)
    assert any(line.split()[:3] == ["arm", "ROUGE-L", "token"] for line in lines)
    assert any(line.split()[:2] == ["arm", "over-refusal"] for line in lines)  # no test question to decline here
    assert len(re.findall(r"\d\.\d\d \(\d+/12\)", out.getvalue())) == 3  # each arm's rate with its count, whole


def test_only_train_and_a_failing_gate_via_cli(ran, capsys):
    cfg, _ = ran
    yaml_path = str(cfg.root / "tunesmith.yaml")
    before = sha256_file(cfg.stage_dir("dataset") / "train.jsonl")
    assert main(["run", yaml_path, "--only", "train", "--json", *[a for s in FAST for a in ("--set", s)]]) == 0
    summary = json.loads(capsys.readouterr().out)  # stdout holds only the JSON; the stage reported on stderr
    assert summary["stages"] == ["train"] and summary["eval"] is None and "train" in summary["artifacts"]
    assert sha256_file(cfg.stage_dir("dataset") / "train.jsonl") == before  # --only train did not re-prepare
    gate = "fine_tuned.rougeL >= retrieval.rougeL + 0.5"
    code = main(["eval", yaml_path, "--gate", gate, *[a for s in FAST for a in ("--set", s)]])
    assert code == 1
    assert "FAILED: " + gate in capsys.readouterr().out.replace("\n", "")


def fresh(tmp_path: Path) -> Path:
    """A fresh copy of the example with the tiny config: data and tunesmith.yaml, nothing prepared yet."""
    shutil.copytree(EXAMPLE / "data", tmp_path / "data")
    shutil.copy(EXAMPLE / "tunesmith-tiny.yaml", tmp_path / "tunesmith.yaml")
    return tmp_path / "tunesmith.yaml"


def test_train_dry_run_on_a_fresh_example_prepares_the_data_and_says_so(tmp_path, capsys):
    """A stage whose earlier stage is missing resolves it as `run --only train` does (pipeline.ensure_dataset)."""
    yaml_path = fresh(tmp_path)
    assert main(["train", str(yaml_path), "--dry-run", "--set", "model.tiny.size=xs"]) == 0
    out, err = capsys.readouterr()
    err = err.replace("\n", " ")
    assert "no prepared dataset in" in err and "preparing it from data.paths first" in err
    assert "prepare: train" in err
    assert "what will be trained" in out and "estimate:" in out
    cfg = load_config(yaml_path)
    assert (cfg.stage_dir("dataset") / "train.jsonl").exists() and not cfg.stage_dir("train").exists()

    # Prepared once: the next stage finds the dataset and says nothing about it.
    assert main(["eval", "export-lm-eval", str(yaml_path), "--out", str(tmp_path / "lm-eval")]) == 0
    assert "preparing" not in capsys.readouterr().err


def test_export_lm_eval_on_a_fresh_example_prepares_the_data(tmp_path, capsys):
    yaml_path = fresh(tmp_path)
    code = main(["eval", "export-lm-eval", str(yaml_path), "--out", str(tmp_path / "lm-eval")])
    assert code == 0
    assert "preparing it from data.paths first" in capsys.readouterr().err.replace("\n", " ")
    assert (load_config(yaml_path).stage_dir("dataset") / "test.jsonl").exists()


def test_eval_without_a_training_run_stops_before_any_work(tmp_path, capsys):
    """A training run is never started implicitly: eval's fine-tuned arm names the command, before it prepares
    or generates anything."""
    yaml_path = fresh(tmp_path)
    assert main(["eval", str(yaml_path), "--set", "eval.arms=[base,fine_tuned]"]) == 2
    err = capsys.readouterr().err.replace("\n", " ")
    assert "no trained model in" in err and "tunesmith train tunesmith.yaml" in err
    assert not load_config(yaml_path).stage_dir("dataset").exists()
