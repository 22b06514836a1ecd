"""DPO's CPU levers (train/dpo_trainer.py, train/dpo_logps.py) train exactly what TRL's DPOTrainer trains: the same
losses, with micro-batches of pairs, completion-only log-probabilities, each prompt run once for both answers, and
the reference's log-probabilities kept across epochs; and the dry run times the run's first steps."""

import json

import pytest
import torch
from tests.train.test_dpo import config, losses, make_pairs, write

from tunesmith.train import dpo_trainer
from tunesmith.train.dpo_trainer import TunesmithDPOTrainer
from tunesmith.train.recipe import train


@pytest.fixture(scope="module")
def pairs_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("pairs")
    write(d, "train", make_pairs(16))
    write(d, "val", make_pairs(4, start=100))
    return d


def trl_path(monkeypatch):
    """The "before" arm: TRL's own DPO loss on every position, no micro-batches, the reference every step."""
    monkeypatch.setattr(TunesmithDPOTrainer, "completion_only", False)


@pytest.mark.parametrize(
    "train_keys",
    [
        {},
        {"micro_batch_tokens": 120},  # about one pair a micro-batch: 4 parts a step
        {"dpo": {"sft_weight": 1.0}, "micro_batch_tokens": 240},  # RPO: the NLL's divisor is the whole batch's
        {"dpo": {"loss_type": "ipo"}},
        {"dpo": {"loss_type": "robust", "label_smoothing": 0.2}, "micro_batch_tokens": 120},
        {"method": "full", "learning_rate": 1e-3},  # a reference model of its own, as in TRL
    ],
    ids=["defaults", "micro-batches", "rpo", "ipo", "robust", "full"],
)
def test_the_levers_train_what_trls_dpo_trains(tiny_model_dir, pairs_dir, tmp_path, monkeypatch, train_keys):
    cfg = config(tiny_model_dir, **train_keys)
    fast = train(cfg, dataset_dir=pairs_dir, out_dir=tmp_path / "fast")
    with monkeypatch.context() as m:
        trl_path(m)
        slow = train(cfg, dataset_dir=pairs_dir, out_dir=tmp_path / "trl")
    # 1e-5, relative for IPO's losses near 25 (float32 rounding of the summed log-probabilities is ~2e-6 there).
    assert losses(fast) == pytest.approx(losses(slow), rel=1e-5, abs=1e-5)
    # The logged figures are TRL's too, over the whole batch (not the mean of its parts).
    for key in ("rewards/margins", "rewards/accuracies", "logps/chosen", "logits/rejected", "mean_token_accuracy"):
        got = [m[key] for m in fast.metrics if key in m]
        want = [m[key] for m in slow.metrics if key in m]
        assert len(got) == len(want) == 4 and got == pytest.approx(want, rel=1e-4, abs=1e-4), key
    assert fast.eval_loss == pytest.approx(slow.eval_loss, rel=1e-5, abs=1e-5)
    assert fast.eval_reward_margin == pytest.approx(slow.eval_reward_margin, abs=1e-4)


def test_kept_reference_log_probs_give_the_same_epochs(tiny_model_dir, pairs_dir, tmp_path, monkeypatch):
    """Epoch 2 reads the reference's log-probabilities kept in epoch 1: the same losses, half the reference calls."""
    calls = []
    real = dpo_trainer.completion_logps
    monkeypatch.setattr(
        dpo_trainer, "completion_logps", lambda *a, **kw: calls.append(torch.is_grad_enabled()) or real(*a, **kw)
    )
    cfg = config(tiny_model_dir, epochs=2)
    kept = train(cfg, dataset_dir=pairs_dir, out_dir=tmp_path / "kept")
    reference_calls = calls.count(False)
    monkeypatch.setattr(TunesmithDPOTrainer, "keep_reference", False)
    calls.clear()
    every = train(cfg, dataset_dir=pairs_dir, out_dir=tmp_path / "every")
    assert losses(kept) == pytest.approx(losses(every), abs=1e-5)
    assert len(losses(kept)) == 8
    # Calls without gradients: the reference's in each of 8 training steps, and the policy's and the reference's in
    # each of 2 evaluations (one batch each). Kept: epoch 2 and the second evaluation run no reference.
    assert calls.count(False) == 8 + 2 * 2 and reference_calls == 4 + 2 + 1


def reference_logps(model, inputs):
    """The straightforward computation: one forward of every full row, the logits of every position, the log-softmax,
    the completion tokens' log-probabilities summed per row."""
    logits = model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"]).logits[:, :-1]
    token = torch.log_softmax(logits.float(), dim=-1).gather(2, inputs["input_ids"][:, 1:, None]).squeeze(2)
    return (token * inputs["completion_mask"][:, 1:]).sum(dim=1)


def collated(tokenizer, rows):
    from trl.trainer.dpo_trainer import DataCollatorForPreference

    from tunesmith.train.dpo import _tokenize_pair

    return DataCollatorForPreference(pad_token_id=tokenizer.pad_token_id)([_tokenize_pair(tokenizer, r) for r in rows])


def test_shared_prompt_log_probs_equal_a_plain_forward(tiny_model_dir):
    """Common prefix once, each prompt once, each answer from its prompt: the log-probabilities of a plain forward of
    every row, and the same gradients, for pairs of different prompt and answer lengths."""
    from peft import get_peft_model

    from tunesmith.config.train import LoraConfig
    from tunesmith.models.loading import load_model, load_tokenizer
    from tunesmith.train.dpo_logps import Layout, _common_prefix, completion_logps
    from tunesmith.train.lm_loss import lm_parts
    from tunesmith.train.lora import peft_lora_config

    tokenizer = load_tokenizer(str(tiny_model_dir))
    base = load_model(str(tiny_model_dir))
    torch.manual_seed(0)
    model = get_peft_model(base, peft_lora_config(LoraConfig(), base))
    for name, p in model.named_parameters():
        if "lora_B" in name:  # a trained adapter, so the policy differs from the base
            p.data.normal_(0, 0.05)
    model.train()
    rows = make_pairs(5, start=7)
    rows[1]["chosen"][0]["content"] += " And a much longer answer than the rejected one, to pad the batch."
    rows[2]["prompt"][1]["content"] = "Could you tell me, in a few words, where the order I placed last week is?"
    inputs = collated(tokenizer, rows)
    layout = Layout.of(inputs)
    assert layout is not None and _common_prefix(inputs["input_ids"][:5], layout.prompt) >= 16
    assert len(set(layout.prompt)) > 1 and len(set(layout.completion)) > 1

    fast = completion_logps(model, *lm_parts(model), inputs)
    plain = reference_logps(model, inputs)
    assert fast.logps.tolist() == pytest.approx(plain.tolist(), rel=1e-6)  # sums of ~100 log-probs: float32 rounding
    assert fast.tokens.tolist() == inputs["completion_mask"].sum(dim=1).tolist()
    weights = [p for p in model.parameters() if p.requires_grad]
    fast_grads = torch.autograd.grad(fast.logps.sum(), weights)
    plain_grads = torch.autograd.grad(reference_logps(model, inputs).sum(), weights)
    scale = max(float(g.abs().max()) for g in plain_grads)
    assert max(float((a - b).abs().max()) for a, b in zip(fast_grads, plain_grads, strict=True)) <= 1e-5 * scale

    # The reference is the same model with its adapter off, not a second copy: the base's own log-probabilities.
    with model.disable_adapter(), torch.no_grad():
        ref = completion_logps(model, *lm_parts(model), inputs).logps
    fresh = load_model(str(tiny_model_dir))
    assert ref.tolist() == pytest.approx(reference_logps(fresh, inputs).tolist(), rel=1e-6)


def test_lora_dpo_loads_no_second_model(tiny_model_dir, pairs_dir, tmp_path, monkeypatch):
    seen = []
    init = TunesmithDPOTrainer.__init__

    def spy(self, *a, **kw):
        init(self, *a, **kw)
        seen.append(self)

    monkeypatch.setattr(TunesmithDPOTrainer, "__init__", spy)
    train(config(tiny_model_dir), dataset_dir=pairs_dir, out_dir=tmp_path / "run")
    (trainer,) = seen
    assert trainer.ref_model is None  # the reference is the base with the adapter disabled
    assert trainer.micro_batch_tokens == 1024  # CPU: micro-batches of max_seq_len padded tokens, as for SFT


def test_the_dpo_dry_run_prints_a_time_estimate(tiny_model_dir, pairs_dir, tmp_path, capsys):
    from tunesmith.cli.main import main

    (tmp_path / "artifacts").mkdir()
    (tmp_path / "artifacts" / "dataset").symlink_to(pairs_dir)
    train_keys = {"objective": "dpo", "epochs": 2, "batch_size": 4, "lora": {"dropout": 0.0}}
    (tmp_path / "tunesmith.yaml").write_text(json.dumps({"model": {"base": str(tiny_model_dir)}, "train": train_keys}))
    assert main(["train", str(tmp_path / "tunesmith.yaml"), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "estimated time" in out and "measured throughput" in out and "tokens/s over 3 steps" in out
    assert "pairs" in out and "FLOPs" in out
    assert not (tmp_path / "artifacts" / "train").exists()
