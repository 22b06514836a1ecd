"""The recipe on the xs tiny model: pinned losses, methods, invariances, packing, early stopping, dry run."""

import json
import random

import pytest
import torch
from safetensors.torch import load_file

from tunesmith.config import Config
from tunesmith.train.recipe import default_epochs, train

INTENTS = [
    ("Where is my order {n}?", "Order {n} ships in 3-5 business days. You get a tracking email when it leaves."),
    ("Can I return {p}?", "Yes, you can return the {p} within 30 days for a full refund."),
    ("My {p} will not connect to wifi", "Restart the {p}, then hold the button for 5 seconds to pair it again."),
    ("How long does a refund take?", "Refunds reach your card in 5-7 business days after we receive the item."),
]


def make_rows(n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        q, a = INTENTS[i % len(INTENTS)]
        slots = {"n": f"LH-{rng.randint(10000, 99999)}", "p": rng.choice(["Hub", "Plug", "Doorbell"])}
        msgs = [
            {"role": "system", "content": "You are Juno, Lumen Home's support assistant."},
            {"role": "user", "content": q.format(**slots)},
            {"role": "assistant", "content": a.format(**slots)},
        ]
        rows.append({"messages": msgs, "meta": {"id": f"t{i}", "tags": [str(i % len(INTENTS))]}})
    return rows


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("dataset")
    for split, n, seed in (("train", 32, 0), ("val", 8, 1)):
        (d / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in make_rows(n, seed)))
    return d


def config(model_dir, **train) -> Config:
    base = {"epochs": 1, "batch_size": 8, "learning_rate": 1e-3, "logging_steps": 1, "lora": {"dropout": 0.0}}
    return Config(model={"base": str(model_dir)}, train={**base, **train})


def losses(result) -> list[float]:
    return [m["loss"] for m in result.metrics if "loss" in m]


def test_pinned_loss_trajectory(tiny_model_dir, dataset_dir, tmp_path):
    """Any silent change to data, masking, the template or the training loop moves these numbers."""
    result = train(config(tiny_model_dir), dataset_dir=dataset_dir, out_dir=tmp_path / "run")
    assert losses(result) == pytest.approx(PINNED_LOSSES, abs=1e-4)
    assert result.labels.trained_tokens == PINNED_TRAINED_TOKENS
    again = train(config(tiny_model_dir), dataset_dir=dataset_dir, out_dir=tmp_path / "run2")
    assert losses(again) == losses(result)  # same seed and config: the same trajectory, exactly


PINNED_LOSSES = [8.8061, 8.7927, 8.5042, 8.4693]  # xs tiny model, seed 0, LoRA r16, 4 steps of 8
PINNED_TRAINED_TOKENS = 692


@pytest.mark.parametrize("method", ["lora", "dora", "full"])
def test_each_method_learns(method, tiny_model_dir, dataset_dir, tmp_path):
    lr = 3e-3 if method == "full" else 1e-2
    result = train(
        config(tiny_model_dir, method=method, epochs=3, learning_rate=lr),
        dataset_dir=dataset_dir,
        out_dir=tmp_path / method,
    )
    trajectory = losses(result)
    assert trajectory[-1] < trajectory[0] - 0.5, trajectory
    assert (result.model_dir / ("model.safetensors" if method == "full" else "adapter_model.safetensors")).exists()
    manifest = json.loads((result.out_dir / "manifest.json").read_text())
    assert manifest["method"] == method and manifest["counts"]["world_size"] == 1


def test_gradient_accumulation_is_invariant(tiny_model_dir, dataset_dir, tmp_path):
    one = train(config(tiny_model_dir, batch_size=8, grad_accum=1), dataset_dir=dataset_dir, out_dir=tmp_path / "a")
    acc = train(config(tiny_model_dir, batch_size=1, grad_accum=8), dataset_dir=dataset_dir, out_dir=tmp_path / "b")
    assert losses(acc) == pytest.approx(losses(one), abs=2e-3)


def test_micro_batches_train_exactly_what_the_full_batch_trains(tiny_model_dir, dataset_dir, tmp_path, monkeypatch):
    """The optimizer sees the same gradient: every part's loss is divided by the whole batch's trained tokens."""
    from tunesmith.train import microbatch

    splits = []
    real = microbatch.split_batch

    def spy(inputs, budget):
        parts = real(inputs, budget)
        splits.append(len(parts))
        return parts

    monkeypatch.setattr(microbatch, "split_batch", spy)
    whole = train(config(tiny_model_dir, micro_batch_tokens=0), dataset_dir=dataset_dir, out_dir=tmp_path / "whole")
    assert splits == []
    split = train(config(tiny_model_dir, micro_batch_tokens=64), dataset_dir=dataset_dir, out_dir=tmp_path / "split")
    assert splits and min(splits) >= 4  # 4 steps of 8 rows of ~25 tokens: at most 2 rows per 64-token part
    assert losses(split) == pytest.approx(losses(whole), abs=1e-4)
    a = load_file(whole.model_dir / "adapter_model.safetensors")
    b = load_file(split.model_dir / "adapter_model.safetensors")
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


@pytest.mark.parametrize("method", ["full", "lora"])
def test_labelled_positions_loss_trains_exactly_what_trl_trains(
    method, tiny_model_dir, dataset_dir, tmp_path, monkeypatch
):
    """On CPU the LM head projects only the labelled positions (lm_loss.py): TRL's loss and steps, to float noise."""
    from tunesmith.train import trainer

    calls = []
    real = trainer.labelled_loss
    monkeypatch.setattr(trainer, "labelled_loss", lambda *a, **k: calls.append(1) or real(*a, **k))
    monkeypatch.setattr(trainer.TunesmithSFTTrainer, "labelled_positions_only", False)
    cfg = config(tiny_model_dir, method=method, learning_rate=1e-3 if method == "lora" else 1e-4)
    trl_path = train(cfg, dataset_dir=dataset_dir, out_dir=tmp_path / "trl")
    assert calls == []
    monkeypatch.setattr(trainer.TunesmithSFTTrainer, "labelled_positions_only", True)
    ours = train(cfg, dataset_dir=dataset_dir, out_dir=tmp_path / "ours")
    assert calls  # every training step and evaluation went through it
    assert losses(ours) == pytest.approx(losses(trl_path), abs=1e-5)
    assert ours.eval_loss == pytest.approx(trl_path.eval_loss, abs=1e-5)
    assert any("mean_token_accuracy" in m for m in ours.metrics)
    name = "adapter_model.safetensors" if method == "lora" else "model.safetensors"
    a, b = load_file(trl_path.model_dir / name), load_file(ours.model_dir / name)
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


def test_cpu_default_is_one_max_length_row(tiny_model_dir, dataset_dir, tmp_path):
    from tunesmith.train.recipe import prepare

    p = prepare(config(tiny_model_dir, max_seq_len=512), dataset_dir)
    assert p.micro_batch_tokens == 512
    assert prepare(config(tiny_model_dir, micro_batch_tokens=0), dataset_dir).micro_batch_tokens == 0


def test_packed_batches_never_attend_across_examples(tiny_model_dir, tiny_tokenizer):
    """TRL's padding-free collator packs examples into one row with per-sequence position ids; the logits of each
    example must be exactly those it gets alone."""
    from transformers import AutoModelForCausalLM
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    texts = ["Where is my order?", "Refunds take 5-7 business days, sometimes a little longer."]
    examples = [{"input_ids": tiny_tokenizer(t)["input_ids"]} for t in texts]
    batch = DataCollatorForLanguageModeling(pad_token_id=tiny_tokenizer.pad_token_id, padding_free=True)(examples)
    assert batch["input_ids"].shape[0] == 1 and "position_ids" in batch
    with torch.no_grad():
        packed = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"], use_cache=False).logits[0]
        start = 0
        for ex in examples:
            alone = model(input_ids=torch.tensor([ex["input_ids"]]), use_cache=False).logits[0]
            n = len(ex["input_ids"])
            assert torch.allclose(packed[start : start + n], alone, atol=1e-5)
            start += n


def test_packing_on_and_off_give_the_same_loss(tiny_model_dir, dataset_dir, tmp_path):
    off = train(
        config(tiny_model_dir, packing=False, learning_rate=1e-9), dataset_dir=dataset_dir, out_dir=tmp_path / "off"
    )
    on = train(
        config(tiny_model_dir, packing=True, learning_rate=1e-9), dataset_dir=dataset_dir, out_dir=tmp_path / "on"
    )
    # With a negligible learning rate the mean per-token loss over the epoch depends only on the tokens seen.
    assert on.train_loss == pytest.approx(off.train_loss, abs=1e-3)


def test_early_stopping_keeps_and_marks_the_best_checkpoint(tiny_model_dir, dataset_dir, tmp_path):
    # lr 5 makes the validation loss diverge within the first evaluations, so patience 1 must stop the run; at
    # lr 0.5 the trajectory was chaotic and, on this machine, kept improving for all 24 steps (the test failed on
    # main). Micro-batches off, so summation order cannot decide when it stops; this test is about the logic.
    result = train(
        config(
            tiny_model_dir, epochs=6, learning_rate=5.0, eval_steps=2, early_stopping_patience=1, micro_batch_tokens=0
        ),
        dataset_dir=dataset_dir,
        out_dir=tmp_path / "run",
    )
    manifest = json.loads((result.out_dir / "manifest.json").read_text())
    assert manifest["counts"]["steps"] < 24  # stopped before 6 epochs of 4 steps
    evals = [m["eval_loss"] for m in result.metrics if "eval_loss" in m]
    assert manifest["best_checkpoint"].endswith(f"checkpoint-{2 * (evals.index(min(evals)) + 1)}")
    assert result.eval_loss == min(evals)


def test_default_epochs_follow_openai_rule():
    assert default_epochs(10) == 10 and default_epochs(300) == 3 and default_epochs(20_000) == 1


def test_dry_run_prints_estimate_and_label_report(tiny_model_dir, dataset_dir, tmp_path, capsys):
    from tunesmith.cli.main import main

    (tmp_path / "artifacts").mkdir()
    (tmp_path / "artifacts" / "dataset").symlink_to(dataset_dir)
    (tmp_path / "tunesmith.yaml").write_text(f"model: {{base: {tiny_model_dir}}}\ntrain: {{epochs: 2}}\n")
    assert main(["train", str(tmp_path / "tunesmith.yaml"), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "what will be trained" in out and "FLOPs" in out and "estimated time" in out
    assert not (tmp_path / "artifacts" / "train").exists()


@pytest.mark.parametrize("method", ["full", "lora"])
def test_shared_prefix_trains_exactly_what_the_full_rows_train(
    method, tiny_model_dir, dataset_dir, tmp_path, monkeypatch
):
    """Every row starts with the same system prompt: computed once per micro-batch, the same losses and weights."""
    from tunesmith.train import lm_loss, trainer

    prefixes = []
    real = lm_loss._with_shared_prefix
    monkeypatch.setattr(lm_loss, "_with_shared_prefix", lambda m, i, p, c: prefixes.append(p) or real(m, i, p, c))
    cfg = config(tiny_model_dir, method=method, learning_rate=1e-3 if method == "lora" else 1e-4)
    monkeypatch.setattr(trainer.TunesmithSFTTrainer, "shared_prefix", False)
    rows = train(cfg, dataset_dir=dataset_dir, out_dir=tmp_path / "rows")
    assert prefixes == []
    monkeypatch.setattr(trainer.TunesmithSFTTrainer, "shared_prefix", True)
    shared = train(cfg, dataset_dir=dataset_dir, out_dir=tmp_path / "shared")
    assert prefixes and min(prefixes) >= lm_loss.PREFIX_MIN
    assert losses(shared) == pytest.approx(losses(rows), abs=1e-5)
    assert shared.eval_loss == pytest.approx(rows.eval_loss, abs=1e-5)
    name = "adapter_model.safetensors" if method == "lora" else "model.safetensors"
    a, b = load_file(rows.model_dir / name), load_file(shared.model_dir / name)
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


def test_shared_prefix_is_off_while_dropout_is_active(tiny_model_dir, dataset_dir, tmp_path, monkeypatch):
    """With dropout the rows would share one mask over the prefix: not the same training, so the rows stay whole
    in training steps; the evaluation (no dropout) may still share it."""
    from tunesmith.train import lm_loss

    modes = []
    real = lm_loss._with_shared_prefix
    monkeypatch.setattr(lm_loss, "_with_shared_prefix", lambda m, i, p, c: modes.append(m.training) or real(m, i, p, c))
    train(config(tiny_model_dir, lora={"dropout": 0.1}), dataset_dir=dataset_dir, out_dir=tmp_path / "dropout")
    assert True not in modes
    assert False in modes  # the evaluation on val.jsonl shared it


def test_top_layers_adapts_only_the_upper_layers(tiny_model_dir, dataset_dir, tmp_path):
    """train.lora.top_layers: adapters on the last N decoder layers only; it trains and saves like any LoRA run."""
    result = train(
        config(tiny_model_dir, lora={"dropout": 0.0, "top_layers": 1}),
        dataset_dir=dataset_dir,
        out_dir=tmp_path / "top",
    )
    weights = load_file(result.model_dir / "adapter_model.safetensors")
    layers = {int(k.split(".layers.")[1].split(".")[0]) for k in weights}
    total = json.loads((tiny_model_dir / "config.json").read_text())["num_hidden_layers"]
    assert layers == {total - 1}
    assert losses(result)[-1] < losses(result)[0]


def test_top_layers_above_the_model_depth_is_a_config_error(tiny_model_dir, dataset_dir, tmp_path):
    from tunesmith.errors import ConfigError

    with pytest.raises(ConfigError, match="decoder layers"):
        train(config(tiny_model_dir, lora={"top_layers": 99}), dataset_dir=dataset_dir, out_dir=tmp_path / "bad")
    assert not (tmp_path / "bad" / "manifest.json").exists()


@pytest.mark.parametrize("share", [True, False])
def test_frozen_lower_layers_kept_across_epochs_train_exactly_the_same(
    share, tiny_model_dir, dataset_dir, tmp_path, monkeypatch
):
    """With adapters on the top layer only, epoch 2 runs that layer alone from the kept states (frozen_layers.py):
    the same losses, val loss and weights as running every layer each step, with and without a shared prefix."""
    from tunesmith.train import frozen_layers, trainer

    hits = []
    real = frozen_layers.FrozenLayerCache.lookup
    monkeypatch.setattr(
        frozen_layers.FrozenLayerCache,
        "lookup",
        lambda self, i: (s := real(self, i)) is not None and hits.append(1) or s,
    )
    monkeypatch.setattr(trainer.TunesmithSFTTrainer, "shared_prefix", share)
    cfg = config(tiny_model_dir, epochs=2, lora={"dropout": 0.0, "top_layers": 1})
    monkeypatch.setattr(trainer.TunesmithSFTTrainer, "frozen_layers", False)
    whole = train(cfg, dataset_dir=dataset_dir, out_dir=tmp_path / "whole")
    assert hits == []
    monkeypatch.setattr(trainer.TunesmithSFTTrainer, "frozen_layers", True)
    kept = train(cfg, dataset_dir=dataset_dir, out_dir=tmp_path / "kept")
    assert len(hits) >= 4  # every micro-batch of epoch 2 (4 steps of 8 rows) ran the upper layer only
    assert losses(kept) == pytest.approx(losses(whole), abs=1e-5)
    assert kept.eval_loss == pytest.approx(whole.eval_loss, abs=1e-5)
    a = load_file(whole.model_dir / "adapter_model.safetensors")
    b = load_file(kept.model_dir / "adapter_model.safetensors")
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


def test_frozen_layers_are_kept_only_below_the_lowest_adapter(tiny_model_dir):
    from peft import get_peft_model
    from transformers import AutoModelForCausalLM

    from tunesmith.config import LoraConfig
    from tunesmith.train.frozen_layers import FrozenLayerCache
    from tunesmith.train.lora import peft_lora_config

    def cache(**lora):
        base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
        model = get_peft_model(base, peft_lora_config(LoraConfig(**lora), base))
        return FrozenLayerCache.for_model(model, model.get_base_model().get_decoder())

    assert cache(dropout=0.0) is None  # every layer trains: nothing is frozen
    top = cache(dropout=0.1, top_layers=1)  # dropout in the trained layer only: the frozen ones stay deterministic
    assert top is not None and top.depth == len(top.decoder.layers) - 1
