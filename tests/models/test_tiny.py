"""The offline tiny model: reproducible from its seed, loadable by the Auto classes, ready for chat."""

import os

os.environ["HF_HUB_OFFLINE"] = "1"

import time
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, TokenizersBackend

from tunesmith.models.tiny import (
    CHAT_TEMPLATE,
    ENDOFTEXT,
    IM_END,
    PAD,
    SIZES,
    VOCAB_SIZE,
    build_tiny_model,
    tiny_config,
)

CONVERSATION = [
    {"role": "system", "content": "You are a helpful support agent."},
    {"role": "user", "content": "What is the question?"},
    {"role": "assistant", "content": "The answer."},
]


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model", seed=0)


def test_same_seed_gives_identical_files_and_another_seed_other_weights(tmp_path: Path) -> None:
    a = build_tiny_model(tmp_path / "a", seed=0)
    b = build_tiny_model(tmp_path / "b", seed=0)
    c = build_tiny_model(tmp_path / "c", seed=1)
    assert (a / "model.safetensors").read_bytes() == (b / "model.safetensors").read_bytes()
    assert (a / "tokenizer.json").read_bytes() == (b / "tokenizer.json").read_bytes()
    assert (a / "model.safetensors").read_bytes() != (c / "model.safetensors").read_bytes()
    assert (a / "tokenizer.json").read_bytes() == (c / "tokenizer.json").read_bytes()


def test_build_leaves_global_rng_alone(tmp_path: Path) -> None:
    before = torch.random.get_rng_state()
    build_tiny_model(tmp_path / "m", seed=123)
    assert torch.equal(before, torch.random.get_rng_state())


def test_rebuild_replaces_the_folder_and_leaves_no_temporaries(tmp_path: Path) -> None:
    out = tmp_path / "m"
    build_tiny_model(out, seed=0)
    (out / "stale.txt").write_text("from an older build")
    assert build_tiny_model(out, seed=1) == out.resolve()
    assert not (out / "stale.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]


def test_failed_build_keeps_the_old_model_and_leaves_no_temporaries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = build_tiny_model(tmp_path / "m", seed=0)
    before = (out / "model.safetensors").read_bytes()

    def fail(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(TokenizersBackend, "save_pretrained", fail)
    with pytest.raises(OSError, match="disk full"):
        build_tiny_model(out, seed=1)
    assert (out / "model.safetensors").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]


def test_unknown_size_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown size"):
        build_tiny_model(tmp_path / "m", size="xl")  # type: ignore[arg-type]
    assert not any(tmp_path.iterdir())


def test_auto_classes_load_it_back_and_run_a_forward_pass(tiny_dir: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_dir)
    assert model.config.model_type == "llama"
    assert model.config._attn_implementation == "sdpa"

    encoded = tokenizer("My order TS-48213 has not arrived.", return_tensors="pt")
    with torch.no_grad():
        logits = model(**encoded).logits
    assert logits.shape == (1, encoded["input_ids"].shape[1], VOCAB_SIZE)


def test_tokenizer_round_trips_and_has_the_agreed_special_tokens(tiny_dir: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny_dir)
    model_config = AutoModelForCausalLM.from_pretrained(tiny_dir).config

    text = "Hi Alex, your refund of $49.00 for order #90807 is on its way!\n\tCafé ☕, naïve résumé."
    encoded = tokenizer(text)
    assert tokenizer.decode(encoded["input_ids"]) == text
    assert set(encoded.keys()) == {"input_ids", "attention_mask"}

    assert len(tokenizer) == VOCAB_SIZE
    assert tokenizer.eos_token == IM_END
    assert tokenizer.pad_token == PAD
    assert tokenizer.bos_token is None
    assert tokenizer.unk_token is None
    assert tokenizer.padding_side == "right"
    assert tokenizer.model_max_length == 2048
    assert tokenizer("hello")["input_ids"] == tokenizer("hello", add_special_tokens=False)["input_ids"]
    assert model_config.eos_token_id == tokenizer.eos_token_id
    assert model_config.pad_token_id == tokenizer.pad_token_id
    assert model_config.bos_token_id is None


def test_special_tokens_are_single_tokens_skipped_when_decoding(tiny_dir: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny_dir)
    ids = tokenizer("<|im_start|>user\nhi<|im_end|><|endoftext|>")["input_ids"]
    assert ids[0] == tokenizer.convert_tokens_to_ids("<|im_start|>")
    assert ids[-2:] == tokenizer.convert_tokens_to_ids([IM_END, ENDOFTEXT])
    assert tokenizer.decode(ids, skip_special_tokens=True) == "user\nhi"


def test_generation_config_stops_at_end_of_turn(tiny_dir: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_dir)
    assert model.generation_config.eos_token_id == tokenizer.convert_tokens_to_ids([IM_END, ENDOFTEXT])
    assert model.generation_config.pad_token_id == tokenizer.pad_token_id
    assert model.generation_config.do_sample is False


def test_chat_template_masks_exactly_the_assistant_reply(tiny_dir: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny_dir)
    assert tokenizer.chat_template == CHAT_TEMPLATE

    out = tokenizer.apply_chat_template(
        CONVERSATION, tokenize=True, return_dict=True, return_assistant_tokens_mask=True
    )
    ids, mask = out["input_ids"], out["assistant_masks"]
    assert len(mask) == len(ids)
    assert tokenizer.decode([i for i, m in zip(ids, mask, strict=True) if m]) == "The answer.<|im_end|>"
    assert tokenizer.decode(ids) == (
        "<|im_start|>system\nYou are a helpful support agent.<|im_end|>\n"
        "<|im_start|>user\nWhat is the question?<|im_end|>\n"
        "<|im_start|>assistant\nThe answer.<|im_end|>\n"
    )


def test_generation_prompt_tokens_are_a_prefix_of_the_full_conversation(tiny_dir: Path) -> None:
    # Training sees the full conversation, inference only the prompt: they must tokenize the same way.
    tokenizer = AutoTokenizer.from_pretrained(tiny_dir)
    prompt = tokenizer.apply_chat_template(CONVERSATION[:-1], add_generation_prompt=True, return_dict=True)
    full = tokenizer.apply_chat_template(CONVERSATION, return_dict=True)
    assert full["input_ids"][: len(prompt["input_ids"])] == prompt["input_ids"]


def _param_count(size: str) -> int:
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(tiny_config(size))  # type: ignore[arg-type]
    return sum(p.numel() for p in model.parameters())


def test_parameter_counts_fit_their_purpose() -> None:
    assert set(SIZES) == {"xs", "s", "m"}
    assert _param_count("xs") < 1_000_000
    assert _param_count("xs") < _param_count("s") < _param_count("m")
    assert 15_000_000 <= _param_count("m") <= 40_000_000


def test_building_xs_is_fast(tmp_path: Path) -> None:
    start = time.perf_counter()
    build_tiny_model(tmp_path / "m", size="xs")
    assert time.perf_counter() - start < 5
