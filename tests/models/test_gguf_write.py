"""GGUF writing: a merged fine-tune read back by transformers (`gguf_file=`), as a new user would, computes what
the trained model computes; what we cannot map is refused with the list of what we can."""

from __future__ import annotations

import pytest
import torch

from tunesmith.errors import ModelError
from tunesmith.models.chat import end_of_turn_ids
from tunesmith.models.gguf_write import write_gguf
from tunesmith.models.loading import generation_eos

PROMPT = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Where is my order 12345?"}]


@pytest.fixture(scope="module")
def fine_tune(tiny_model_dir):
    """The tiny model with a random (non-zero) LoRA merged in: weights no base has, so a dropped adapter shows."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(0)
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    cfg = LoraConfig(r=8, lora_alpha=16, target_modules="all-linear", init_lora_weights=False, task_type="CAUSAL_LM")
    model = get_peft_model(base, cfg).merge_and_unload().eval()
    return model, AutoTokenizer.from_pretrained(tiny_model_dir)


def _read_back(path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name, dtype=torch.float32)
    return model.eval(), AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)


@pytest.mark.parametrize(("quant", "atol"), [("f32", 1e-5), ("f16", 1e-2), ("q8_0", 0.2)])
def test_transformers_reads_the_gguf_back_as_the_trained_model(fine_tune, tmp_path, quant, atol):
    model, tok = fine_tune
    path = tmp_path / f"model-{quant}.gguf"
    info = write_gguf(model, tok, path, quant=quant, eos_ids=end_of_turn_ids(tok, generation_eos(model)))
    assert (info.architecture, info.pre_tokenizer, info.end_of_turn) == ("llama", "gpt-2", ["<|im_end|>"])
    back, back_tok = _read_back(path)
    assert back_tok.chat_template == tok.chat_template and back_tok.eos_token == "<|im_end|>"
    enc = tok.apply_chat_template(PROMPT, add_generation_prompt=True, return_dict=True, return_tensors="pt")
    back_enc = back_tok.apply_chat_template(PROMPT, add_generation_prompt=True, return_dict=True, return_tensors="pt")
    assert torch.equal(enc["input_ids"], back_enc["input_ids"])
    with torch.no_grad():
        diff = (model(**enc).logits - back(**enc).logits).abs().max().item()
    assert diff < atol
    if quant == "f32":  # exact weights: the same greedy answer, token for token
        a = model.generate(**enc, max_new_tokens=24, do_sample=False)
        b = back.generate(**enc, max_new_tokens=24, do_sample=False)
        assert torch.equal(a, b)


def test_q8_0_is_about_half_the_size_of_f16(fine_tune, tmp_path):
    model, tok = fine_tune
    eos = end_of_turn_ids(tok, generation_eos(model))
    sizes = {
        q: write_gguf(model, tok, tmp_path / f"{q}.gguf", quant=q, eos_ids=eos).path.stat().st_size
        for q in ("f16", "q8_0")
    }
    assert 0.45 < sizes["q8_0"] / sizes["f16"] < 0.65


def test_an_unsupported_architecture_names_the_supported_ones(tmp_path, tiny_tokenizer):
    from transformers import GPT2Config, GPT2LMHeadModel

    model = GPT2LMHeadModel(GPT2Config(n_layer=1, n_head=2, n_embd=16, vocab_size=4096))
    with pytest.raises(ModelError, match="does not support the architecture GPT2LMHeadModel") as e:
        write_gguf(model, tiny_tokenizer, tmp_path / "x.gguf", quant="f16", eos_ids={2})
    assert "LlamaForCausalLM (llama)" in e.value.hint and "Qwen2ForCausalLM (qwen2)" in e.value.hint
    assert not (tmp_path / "x.gguf").exists()


def test_a_qwen2_model_round_trips_with_its_attention_biases(tmp_path, tiny_tokenizer):
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    cfg = Qwen2Config(
        vocab_size=4096,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        tie_word_embeddings=True,
        eos_token_id=2,
    )
    model = Qwen2ForCausalLM(cfg).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("proj.bias"):
                p.normal_()  # zero biases would hide a dropped or misplaced bias
    path = tmp_path / "qwen2.gguf"
    assert write_gguf(model, tiny_tokenizer, path, quant="f32", eos_ids={2}).architecture == "qwen2"
    back, _ = _read_back(path)
    ids = torch.tensor([[5, 17, 300, 42, 9]])
    with torch.no_grad():
        assert torch.allclose(model(ids).logits, back(ids).logits, atol=1e-5)
