"""The dry run's estimate, kept by every local run in estimate.json, measured without changing what the run trains."""

import json

import pytest
import torch

from tunesmith.config import Config
from tunesmith.train.estimate import ESTIMATE_FILE, estimate
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
def test_measuring_leaves_the_model_and_the_random_state_as_they_were(tiny_model_dir, dataset_dir, method):
    cfg = Config(model={"base": str(tiny_model_dir)}, train={"method": method, "epochs": 1, "batch_size": 4})
    p = prepare(cfg, dataset_dir)
    modules = [(name, type(m).__name__) for name, m in p.model.named_modules()]
    flags = [q.requires_grad for q in p.model.parameters()]
    p.model.eval()
    rng = torch.random.get_rng_state()
    est = estimate(cfg, p)
    assert est.tokens_per_second > 0 and est.steps == 4 and est.train_tokens == p.labels.tokens
    assert est.trainable_parameters < est.parameters if method == "lora" else est.trainable_parameters == est.parameters
    assert [(name, type(m).__name__) for name, m in p.model.named_modules()] == modules  # no LoRA layer left
    assert not hasattr(p.model, "peft_config")  # so the trainer's own PEFT wrapping starts from a plain model
    assert [q.requires_grad for q in p.model.parameters()] == flags
    assert not p.model.training
    assert torch.equal(torch.random.get_rng_state(), rng)  # the adapter's init and dropout draw the same numbers


def test_a_run_keeps_its_estimate_next_to_what_it_measured(tiny_model_dir, dataset_dir, tmp_path):
    cfg = Config(model={"base": str(tiny_model_dir)}, train={"epochs": 2, "batch_size": 4, "learning_rate": 1e-3})
    result = train(cfg, dataset_dir=dataset_dir, out_dir=tmp_path / "run")
    est = json.loads((result.out_dir / ESTIMATE_FILE).read_text())
    manifest = json.loads((result.out_dir / "manifest.json").read_text())
    assert est["steps"] == manifest["counts"]["steps"] == 8
    assert est["train_tokens"] == manifest["labels"]["tokens"] * 2
    assert est["seconds"] > 0 and est["tokens_per_second"] > 0
    assert est["device"] == "cpu" and est["batch_size"] == 4 and est["measured_at"]
    assert ESTIMATE_FILE in json.dumps(manifest["outputs"])  # part of the run's hashed outputs
