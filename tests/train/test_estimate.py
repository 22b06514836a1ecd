"""The estimate from the first steps of the run's own trainer: the dry run's, and each run's estimate.json."""

import json

import pytest

from tunesmith.config import Config
from tunesmith.train.estimate import DISCARDED, ESTIMATE_FILE, WARMUP_STEPS, StepTimer, estimate
from tunesmith.train.recipe import prepare, train


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("dataset")
    for split, n in (("train", 16), ("val", 4)):
        rows = [
            {
                "messages": [
                    {"role": "system", "content": "You are Juno, Lumen Home's support assistant."},
                    {"role": "user", "content": f"Where is my order LH-{10000 + i}?"},
                    {"role": "assistant", "content": f"Order LH-{10000 + i} ships in 3-5 business days."},
                ]
            }
            for i in range(n)
        ]
        (d / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return d


@pytest.mark.parametrize("method", ["lora", "full"])
def test_the_dry_run_times_the_runs_own_first_steps_then_stops(tiny_model_dir, dataset_dir, method, monkeypatch):
    cfg = Config(model={"base": str(tiny_model_dir)}, train={"method": method, "epochs": 3, "batch_size": 4})
    p = prepare(cfg, dataset_dir)
    steps = []
    on_step_end = StepTimer.on_step_end
    monkeypatch.setattr(StepTimer, "on_step_end", lambda self, *a, **kw: steps.append(1) or on_step_end(self, *a, **kw))
    est = estimate(cfg, p)
    assert len(steps) == WARMUP_STEPS  # of 12: the dry run stops once it has measured
    assert est.measured_steps == WARMUP_STEPS - DISCARDED and est.steps == 12
    assert est.train_tokens == p.labels.tokens * 3 and est.tokens_per_second > 0
    assert est.seconds == pytest.approx(est.train_tokens / est.tokens_per_second)
    assert est.trainable_parameters < est.parameters if method == "lora" else est.trainable_parameters == est.parameters


def test_a_run_keeps_its_estimate_next_to_what_it_measured(tiny_model_dir, dataset_dir, tmp_path):
    cfg = Config(model={"base": str(tiny_model_dir)}, train={"epochs": 2, "batch_size": 4, "learning_rate": 1e-3})
    result = train(cfg, dataset_dir=dataset_dir, out_dir=tmp_path / "run")
    est = json.loads((result.out_dir / ESTIMATE_FILE).read_text())
    manifest = json.loads((result.out_dir / "manifest.json").read_text())
    assert est["steps"] == manifest["counts"]["steps"] == 8
    assert est["train_tokens"] == manifest["labels"]["tokens"] * 2
    assert est["seconds"] > 0 and est["tokens_per_second"] > 0
    assert est["device"] == "cpu" and est["batch_size"] == 4 and est["measured_at"]
    assert est["measured_steps"] == WARMUP_STEPS - DISCARDED  # timed in the run itself, no extra steps before it
    assert ESTIMATE_FILE in json.dumps(manifest["outputs"])  # part of the run's hashed outputs
