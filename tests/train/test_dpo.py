"""DPO on the xs tiny model: pinned losses, reward metrics in metrics.jsonl, SFT then DPO, the guards."""

import json

import pytest

from tunesmith.config import Config
from tunesmith.errors import DataError
from tunesmith.train.dpo import plan
from tunesmith.train.recipe import train

SYSTEM = "You are Juno, Lumen Home's support assistant."
IN_SCOPE = [
    ("Where is my order {n}?", "Order {n} ships in 3-5 business days.", "Order {n} is gone forever."),
    ("Can I return the {p}?", "Yes, you can return the {p} within 30 days.", "No returns on the {p}, ever."),
]
OUT_OF_SCOPE = [
    ("What is the capital of {c}?", "I can only help with Lumen Home products and orders.", "The capital is {c}ville."),
]


def make_pairs(n: int, start: int = 0) -> list[dict]:
    rows = []
    for i in range(start, start + n):
        q, good, bad = (IN_SCOPE + OUT_OF_SCOPE)[i % 3]
        slots = {"n": f"LH-{10000 + i}", "p": ["Hub", "Plug", "Doorbell"][i % 3], "c": ["Peru", "Chad", "Laos"][i % 3]}
        rows.append(
            {
                "prompt": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": q.format(**slots)}],
                "chosen": [{"role": "assistant", "content": good.format(**slots)}],
                "rejected": [{"role": "assistant", "content": bad.format(**slots)}],
                "meta": {"id": f"p{i}"},
            }
        )
    return rows


def write(d, split, rows):
    (d / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


@pytest.fixture(scope="module")
def pairs_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("pairs")
    write(d, "train", make_pairs(16))
    write(d, "val", make_pairs(4, start=100))
    write(d, "test", make_pairs(3, start=200))
    return d


def config(model_dir, **train) -> Config:
    base = {
        "objective": "dpo",
        "epochs": 1,
        "batch_size": 4,
        "learning_rate": 5e-3,
        "logging_steps": 1,
        "lora": {"dropout": 0.0},
    }
    return Config(model={"base": str(model_dir)}, train={**base, **train})


def losses(result) -> list[float]:
    return [m["loss"] for m in result.metrics if "loss" in m]


def test_pinned_dpo_loss_trajectory(tiny_model_dir, pairs_dir, tmp_path):
    """Any silent change to the pair data, the template, TRL's DPO loss or our wiring moves these numbers."""
    result = train(config(tiny_model_dir), dataset_dir=pairs_dir, out_dir=tmp_path / "run")
    assert losses(result) == pytest.approx(PINNED_DPO_LOSSES, abs=1e-5)
    assert result.labels.examples == 16 and result.labels.turns_ending_in_eot == 32
    # TRL's reward accuracies and margins are in metrics.jsonl, and in the result and the manifest.
    logged = [m for m in result.metrics if "rewards/accuracies" in m]
    assert len(logged) == 4 and all("rewards/margins" in m for m in logged)
    assert any("eval_rewards/accuracies" in m for m in result.metrics)
    assert result.reward_accuracy == logged[-1]["rewards/accuracies"]
    # It learns the preference: held-out pairs are ranked right, with a positive margin.
    assert result.eval_reward_accuracy == 1.0 and result.eval_reward_margin > 0
    # And the held-out test pairs, measured once after training, in the manifest for the report.
    assert result.test_reward_accuracy == 1.0 and result.test_reward_margin > 0
    manifest = json.loads((result.out_dir / "manifest.json").read_text())
    assert manifest["objective"] == "dpo" and manifest["dpo"]["beta"] == 0.1
    assert manifest["counts"]["train_pairs"] == 16 and manifest["counts"]["eval_reward_margin"] is not None
    assert manifest["counts"]["test_pairs"] == 3 and manifest["counts"]["test_reward_accuracy"] == 1.0
    assert (result.model_dir / "adapter_model.safetensors").exists()
    # Like an SFT run, it keeps the estimate timed over its first steps (all 4 here, the first 2 discarded).
    est = json.loads((result.out_dir / "estimate.json").read_text())
    assert est["steps"] == manifest["counts"]["steps"] == 4 and est["measured_steps"] == 2
    assert est["train_tokens"] == manifest["labels"]["tokens"] and est["trainable_parameters"] < est["parameters"]
    # The dry run tokenizes as TRL does: its label report is the one the run trained.
    dry = plan(config(tiny_model_dir), dataset_dir=pairs_dir, time_it=False)
    assert dry.labels == result.labels and dry.steps == 4 and dry.pairs == 16
    again = train(config(tiny_model_dir), dataset_dir=pairs_dir, out_dir=tmp_path / "run2")
    assert losses(again) == losses(result)  # same seed and config: the same trajectory, exactly


# xs tiny model, seed 0, LoRA r16, beta 0.1, 4 steps of 4 pairs. The first two losses are ln 2: the adapter starts at
# zero, so the policy equals the reference, and the first step has a learning rate of 0 (warm-up). TRL's own path gave
# 0.22920290 and 0.25389427 before the CPU levers (dpo_trainer.py), which give 0.22920269 and 0.25389367.
PINNED_DPO_LOSSES = [0.693147, 0.693147, 0.229203, 0.253894]


def test_an_sft_weight_adds_the_chosen_answers_nll_to_the_dpo_loss(tiny_model_dir, pairs_dir, tmp_path):
    """RPO: with train.dpo.sft_weight the loss is DPO's plus the weighted NLL of the chosen answer, so the first
    step's loss (policy equal to reference: DPO's part is ln 2) exceeds ln 2 by that NLL."""
    result = train(config(tiny_model_dir, dpo={"sft_weight": 1.0}), dataset_dir=pairs_dir, out_dir=tmp_path / "run")
    assert losses(result) == pytest.approx(PINNED_RPO_LOSSES, abs=1e-5)
    assert losses(result)[0] > PINNED_DPO_LOSSES[0] + 1  # the NLL of a random model's chosen answers is large


# The same run as PINNED_DPO_LOSSES with sft_weight 1.0.
PINNED_RPO_LOSSES = [9.523743, 9.650354, 8.309645, 8.161304]


def test_sft_then_dpo_from_the_sft_adapter(tiny_model_dir, pairs_dir, tmp_path):
    sft_data = tmp_path / "sft"
    sft_data.mkdir()
    rows = [{"messages": [*p["prompt"], *p["chosen"]]} for p in make_pairs(8)]
    write(sft_data, "train", rows)
    sft_cfg = Config(
        model={"base": str(tiny_model_dir)},
        train={"epochs": 1, "batch_size": 4, "learning_rate": 1e-3, "logging_steps": 1},
    )
    sft = train(sft_cfg, dataset_dir=sft_data, out_dir=tmp_path / "sft-run")
    dpo = train(config(tiny_model_dir, init_from=str(sft.out_dir)), dataset_dir=pairs_dir, out_dir=tmp_path / "dpo-run")
    # The reference is a frozen copy of the SFT adapter: the first step's policy equals it, so the loss is ln 2.
    assert losses(dpo)[0] == pytest.approx(0.6931, abs=1e-4)
    manifest = json.loads((dpo.out_dir / "manifest.json").read_text())
    sft_manifest = json.loads((sft.out_dir / "manifest.json").read_text())
    assert manifest["init_from"]["path"] == str(sft.out_dir)
    assert manifest["init_from"]["dataset"] == sft_manifest["dataset"]  # lineage: dataset -> SFT run -> DPO run
    from safetensors.torch import load_file

    weights = load_file(dpo.model_dir / "adapter_model.safetensors")
    assert weights and not any(".ref." in k for k in weights)  # the reference copy is not saved


def test_dpo_refuses_conversation_data(tiny_model_dir, tmp_path):
    d = tmp_path / "conv"
    d.mkdir()
    write(d, "train", [{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}])
    with pytest.raises(DataError, match="not a preference pair"):
        train(config(tiny_model_dir), dataset_dir=d, out_dir=tmp_path / "run")


def test_sft_refuses_pair_data(tiny_model_dir, pairs_dir, tmp_path):
    with pytest.raises(DataError, match="holds preference pairs"):
        train(Config(model={"base": str(tiny_model_dir)}), dataset_dir=pairs_dir, out_dir=tmp_path / "run")


def test_resume_after_a_crash_matches_an_uninterrupted_run(tiny_model_dir, pairs_dir, tmp_path):
    from transformers import TrainerCallback

    class CrashAfterSave(TrainerCallback):
        def on_save(self, args, state, control, **kw):
            if state.global_step == 2:
                raise RuntimeError("simulated crash")

    cfg = config(tiny_model_dir, eval_steps=2, keep_checkpoints=3)
    out = tmp_path / "run"
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(cfg, dataset_dir=pairs_dir, out_dir=out, callbacks=[CrashAfterSave()])
    assert not (out / "manifest.json").exists()
    resumed = train(cfg, dataset_dir=pairs_dir, out_dir=out)  # finds the interrupted run and resumes it
    straight = train(cfg, dataset_dir=pairs_dir, out_dir=tmp_path / "straight", resume=False)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["resumed_from"].endswith("checkpoint-2")
    steps = [m["step"] for m in resumed.metrics if "loss" in m]
    assert steps == [1, 2, 3, 4]  # metrics.jsonl keeps the lines up to the checkpoint, then continues
    assert losses(resumed) == pytest.approx(losses(straight), abs=1e-4)


def test_dpo_run_on_feedback_pairs_is_promoted_only_when_its_gate_passes(tiny_model_dir, tmp_path):
    """The end of the loop: a pair dataset (with a corrected answer from traffic) -> DPO run -> eval gate -> promote."""
    from tunesmith.config import DataConfig
    from tunesmith.data.prepare import prepare_dataset
    from tunesmith.errors import GateFailed
    from tunesmith.evals.runner import evaluate
    from tunesmith.registry import Registry

    rows = make_pairs(18)
    rows.append(
        {
            "prompt": [{"role": "user", "content": "Can I get a refund on the Plug?"}],
            "chosen": [{"role": "assistant", "content": "Yes, within 30 days."}],
            "rejected": [{"role": "assistant", "content": "No refunds, ever."}],
            "meta": {"id": "chatcmpl-1", "tags": ["reviewed", "low_rating", "correction"]},
        }
    )
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = Config(
        root=tmp_path,
        model={"base": str(tiny_model_dir)},
        train={"objective": "dpo", "epochs": 1, "batch_size": 8, "lora": {"dropout": 0.0}},
        eval={"arms": ["base", "fine_tuned"], "max_new_tokens": 8, "latency_sample": 0, "forgetting": False},
    )
    prepare_dataset([pairs], cfg.stage_dir("dataset"), DataConfig(pii="off"), seed=0)
    train(cfg)
    (run,) = Registry(cfg).runs()
    failed = evaluate(cfg, gates=["fine_tuned.rougeL >= base.rougeL + 2"])  # unreachable: ROUGE-L is at most 1
    assert not failed.gates[0].passed
    with pytest.raises(GateFailed):
        Registry(cfg).promote(run.run_id)
    passed = evaluate(cfg, gates=["fine_tuned.rougeL >= base.rougeL - 2"])
    assert passed.gates[0].passed
    Registry(cfg).promote(run.run_id)
    assert Registry(cfg).served().run_id == run.run_id


@pytest.fixture(scope="module")
def sft_then_dpo(tiny_model_dir, pairs_dir, tmp_path_factory):
    """A tiny SFT run on the pairs' chosen answers, and a DPO run on the pairs from it (train.init_from)."""
    root = tmp_path_factory.mktemp("sft-dpo")
    sft_data = root / "sft-data"
    sft_data.mkdir()
    write(sft_data, "train", [{"messages": [*p["prompt"], *p["chosen"]]} for p in make_pairs(8)])
    sft_cfg = Config(model={"base": str(tiny_model_dir)}, train={"epochs": 1, "batch_size": 4, "learning_rate": 1e-2})
    sft = train(sft_cfg, dataset_dir=sft_data, out_dir=root / "sft-run")
    cfg = config(tiny_model_dir, init_from=str(sft.out_dir))
    dpo = train(cfg, dataset_dir=pairs_dir, out_dir=root / "dpo-run")
    return cfg, sft, dpo


def _eval_cfg(cfg: Config, arms: list[str], reference: str) -> Config:
    return cfg.model_copy(
        update={
            "eval": cfg.eval.model_copy(
                update={
                    "arms": arms,
                    "reference_arm": reference,
                    "max_new_tokens": 8,
                    "latency_sample": 0,
                    "forgetting": False,
                    "blocklist": ["gone forever"],
                }
            )
        }
    )


def test_the_sft_arm_sets_a_dpo_run_against_the_sft_run_it_started_from(sft_then_dpo, pairs_dir, tmp_path):
    from tunesmith.evals.runner import evaluate

    cfg, sft, dpo = sft_then_dpo
    result = evaluate(
        _eval_cfg(cfg, ["sft", "fine_tuned"], "sft"),
        dataset_dir=pairs_dir,
        train_dir=dpo.out_dir,
        out_dir=tmp_path / "eval",
    ).results
    # The fine-tuned arm (the DPO run) has its paired delta and CI against the SFT-only arm, behaviour metrics too.
    delta = result.arms["fine_tuned"].delta_vs["sft"]["rougeL"]
    assert delta.ci[0] <= delta.value <= delta.ci[1]
    assert {"over_refusal", "blocklist_violation"} <= set(result.arms["sft"].metrics)
    # The sft arm is the SFT run itself: the same answers as evaluating that run as the fine-tuned arm.
    alone = evaluate(
        _eval_cfg(Config(model=cfg.model), ["fine_tuned"], "fine_tuned"),
        dataset_dir=pairs_dir,
        train_dir=sft.out_dir,
        out_dir=tmp_path / "eval-sft",
    ).results
    sft_answers = [e.arms["sft"].prediction for e in result.examples]
    assert sft_answers == [e.arms["fine_tuned"].prediction for e in alone.examples]
    # The DPO run's reward accuracy and margin on the held-out pairs, as its manifest has them, in the report.
    counts = json.loads((dpo.out_dir / "manifest.json").read_text())["counts"]
    pref = result.preference
    assert pref.test_pairs == 3 and pref.test_reward_accuracy == counts["test_reward_accuracy"]
    assert pref.test_reward_margin == counts["test_reward_margin"] and pref.init_from == str(sft.out_dir)
    report = (tmp_path / "eval" / "report.html").read_text()
    assert 'id="preference"' in report and "the sft arm above" in report
    assert "reward accuracy" in (tmp_path / "eval" / "summary.md").read_text()
    assert "preference" not in alone.to_json()  # an SFT run has no preference section


def test_the_sft_arm_needs_a_dpo_run_with_init_from(tiny_model_dir, pairs_dir, tmp_path):
    from tunesmith.errors import ConfigError
    from tunesmith.evals.runner import evaluate

    cfg = _eval_cfg(config(tiny_model_dir), ["base", "sft"], "base")
    with pytest.raises(ConfigError, match="sft arm"):
        evaluate(cfg, dataset_dir=pairs_dir, train_dir=tmp_path, out_dir=tmp_path / "eval")


def test_a_dpo_adapter_over_a_full_sft_model_is_evaluated_on_that_model(tiny_model_dir, pairs_dir, tmp_path):
    """The adapter was trained on the SFT model, so the eval must merge it into that model, not into model.base."""
    import torch

    from tunesmith.evals.runner import _load_fine_tuned
    from tunesmith.models.loading import load_model

    sft_data = tmp_path / "sft-data"
    sft_data.mkdir()
    write(sft_data, "train", [{"messages": [*p["prompt"], *p["chosen"]]} for p in make_pairs(8)])
    sft_cfg = Config(
        model={"base": str(tiny_model_dir)},
        train={"method": "full", "epochs": 1, "batch_size": 4, "learning_rate": 1e-2},
    )
    sft = train(sft_cfg, dataset_dir=sft_data, out_dir=tmp_path / "sft-run")
    cfg = config(tiny_model_dir, init_from=str(sft.out_dir))
    dpo = train(cfg, dataset_dir=pairs_dir, out_dir=tmp_path / "dpo-run")
    assert (dpo.out_dir / "adapter").is_dir()
    merged = _load_fine_tuned(str(tiny_model_dir), cfg, dpo.out_dir)
    embed = merged.get_input_embeddings().weight  # not adapted: the model the adapter sits on shows through
    assert torch.equal(embed, load_model(str(sft.model_dir)).get_input_embeddings().weight)
    assert not torch.equal(embed, load_model(str(tiny_model_dir)).get_input_embeddings().weight)
