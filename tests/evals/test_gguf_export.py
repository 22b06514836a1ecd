"""GGUF export with its parity check: a faithful export passes, and the two classic broken exports (an adapter that
was not applied, a chat template that lost the end-of-turn token) are caught. Tiny models, offline."""

from __future__ import annotations

import json

import pytest
import torch

from tunesmith.cli.main import main
from tunesmith.config.export import ExportConfig
from tunesmith.evals import gguf_export
from tunesmith.evals.gguf_export import export_gguf
from tunesmith.models import llamacpp

QUESTIONS = ["Where is my order?", "How do I reset my password?", "Can I pay by card?"]
SYSTEM = "You are Juno, the support assistant."
ENGINES = [
    "transformers",
    pytest.param(
        "llama.cpp", marks=pytest.mark.skipif(not llamacpp.available(), reason="llama-cpp-python is not installed")
    ),
]


def _conversation(question: str, answer: str | None = None) -> list[dict[str, str]]:
    msgs = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": question}]
    return msgs + ([{"role": "assistant", "content": answer}] if answer is not None else [])


@pytest.fixture(scope="module")
def stopping_run(tmp_path_factory, tiny_model_dir):
    """A LoRA run trained (40 steps, seconds) to answer "Noted." and end its turn: a model that stops, so that a
    run-on can be seen, with a test split of the same prompts beside it."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(0)
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = get_peft_model(
        AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32),
        LoraConfig(r=8, lora_alpha=16, target_modules="all-linear", task_type="CAUSAL_LM"),
    )
    batch = []
    for q in QUESTIONS:
        prompt = tok.apply_chat_template(_conversation(q), tokenize=False, add_generation_prompt=True)
        full = tok.apply_chat_template(_conversation(q, "Noted."), tokenize=False)
        ids = tok(full, add_special_tokens=False, return_tensors="pt")["input_ids"]
        labels = ids.clone()
        labels[:, : len(tok(prompt, add_special_tokens=False)["input_ids"])] = -100
        batch.append((ids, labels))
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    for _ in range(40):
        for ids, labels in batch:
            model(input_ids=ids, labels=labels).loss.backward()
        opt.step()
        opt.zero_grad()
    root = tmp_path_factory.mktemp("gguf-run")
    run = root / "train"
    model.save_pretrained(run / "adapter")
    tok.save_pretrained(run / "adapter")
    manifest = {"stage": "train", "method": "lora", "base_model": {"id": str(tiny_model_dir), "resolved": None}}
    (run / "manifest.json").write_text(json.dumps(manifest))
    (root / "dataset").mkdir()
    rows = [{"messages": _conversation(q, "Noted."), "meta": {"id": f"q{i}"}} for i, q in enumerate(QUESTIONS)]
    (root / "dataset" / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return run


def _skip_merge(monkeypatch):
    """The classic broken export: the base is written without the adapter (unloaded, not merged)."""
    from peft.tuners.tuners_utils import BaseTuner

    monkeypatch.setattr(BaseTuner, "merge_and_unload", lambda self, *a, **k: self.unload())


@pytest.fixture
def engine(request, monkeypatch):
    """Run the parity through the engine named by the test's parameter."""
    if request.param == "transformers":
        monkeypatch.setattr(llamacpp, "available", lambda: False)
    return request.param


@pytest.mark.slow
@pytest.mark.parametrize("engine", ENGINES, indirect=True)
def test_a_faithful_export_passes_parity_and_records_it(stopping_run, tmp_path, engine):
    out = tmp_path / "gguf"
    result = export_gguf(stopping_run, out, cfg=ExportConfig(quant=["f32", "q8_0"]))
    assert result.passed
    f32 = result.parity.results[0]
    assert f32.engine == ("llama.cpp" if engine == "llama.cpp" else "transformers-gguf")
    assert (f32.identical, f32.run_ons, f32.prompt_tokens_identical) == (1.0, 0, 1.0)
    assert sorted(p.name for p in out.iterdir()) == ["Modelfile", "manifest.json", "model-f32.gguf", "model-q8_0.gguf"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["stage"] == "export" and manifest["export"] == "gguf"
    assert manifest["parity"]["passed"] is True and manifest["parity"]["results"][1]["quant"] == "q8_0"
    assert {"model-f32.gguf", "Modelfile"} <= set(manifest["outputs"])
    assert manifest["gguf"][0]["end_of_turn"] == ["<|im_end|>"]
    modelfile = (out / "Modelfile").read_text()
    assert "FROM ./model-f32.gguf" in modelfile and f'SYSTEM """{SYSTEM}"""' in modelfile


@pytest.mark.slow
@pytest.mark.parametrize("engine", ENGINES, indirect=True)
def test_an_adapter_that_was_not_applied_fails_parity(stopping_run, tmp_path, monkeypatch, engine):
    _skip_merge(monkeypatch)
    result = export_gguf(stopping_run, tmp_path / "gguf", cfg=ExportConfig(quant=["f32"]))
    parity = result.parity.results[0]
    assert not result.passed and parity.identical < 0.5
    assert any("identical answers" in f for f in parity.failures)
    assert parity.divergences[0].at == 0 and parity.divergences[0].trained != parity.divergences[0].exported


@pytest.mark.slow
@pytest.mark.parametrize("engine", ENGINES, indirect=True)
def test_a_template_without_the_end_of_turn_token_fails_parity(stopping_run, tmp_path, monkeypatch, engine):
    """The GGUF carries a chat template whose turns end with a blank line instead of <|im_end|>."""
    real = gguf_export.write_gguf

    def lossy(model, tokenizer, path, **kw):
        saved = tokenizer.chat_template
        tokenizer.chat_template = saved.replace("'<|im_end|>'", "'\\n'")
        try:
            return real(model, tokenizer, path, **kw)
        finally:
            tokenizer.chat_template = saved

    monkeypatch.setattr(gguf_export, "write_gguf", lossy)
    result = export_gguf(stopping_run, tmp_path / "gguf", cfg=ExportConfig(quant=["f32"]))
    parity = result.parity.results[0]
    assert not result.passed and parity.prompt_tokens_identical == 0.0
    assert any("chat template" in f for f in parity.failures)


@pytest.mark.slow
def test_a_gguf_whose_eos_is_not_the_end_of_turn_runs_on(stopping_run, tmp_path, monkeypatch):
    """transformers stops a GGUF on its eos id only: a wrong one makes every answer run to the budget."""
    from tunesmith.models import gguf_write

    monkeypatch.setattr(llamacpp, "available", lambda: False)
    monkeypatch.setattr(gguf_write, "_end_of_turn", lambda tokenizer, eos_ids: (0, None))  # <|endoftext|>
    result = export_gguf(stopping_run, tmp_path / "gguf", cfg=ExportConfig(quant=["f32"]))
    parity = result.parity.results[0]
    assert parity.run_ons == len(QUESTIONS) and not result.passed
    assert any("ran on" in f for f in parity.failures)


@pytest.mark.slow
def test_cli_exits_1_on_a_failed_parity_and_writes_the_export(stopping_run, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(llamacpp, "available", lambda: False)
    assert main(["export", str(stopping_run), "--gguf", str(tmp_path / "ok"), "--quant", "f32"]) == 0
    assert "llama.cpp is not installed" in " ".join(capsys.readouterr().out.split())  # says what checked it
    _skip_merge(monkeypatch)
    assert main(["export", str(stopping_run), "--gguf", str(tmp_path / "bad"), "--quant", "f32"]) == 1
    assert json.loads((tmp_path / "bad" / "manifest.json").read_text())["parity"]["passed"] is False


def test_cli_refuses_an_unknown_quantisation_and_a_run_without_test_prompts(tmp_path, stopping_run):
    assert main(["export", str(stopping_run), "--gguf", str(tmp_path / "a"), "--quant", "q4_k_m"]) == 2
    lonely = tmp_path / "train"
    lonely.mkdir()
    for name in ("adapter", "manifest.json"):
        src = stopping_run / name
        (lonely / name).symlink_to(src, target_is_directory=src.is_dir())
    assert main(["export", str(lonely), "--gguf", str(tmp_path / "b")]) == 2
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_cli_takes_the_export_section_of_a_config_and_flags_over_it(stopping_run, tmp_path):
    config = tmp_path / "tunesmith.yaml"
    config.write_text("export:\n  quant: [f32, q8_0]\n  parity: false\n")
    out = tmp_path / "gguf"
    assert main(["export", str(stopping_run), "--gguf", str(out), "--config", str(config), "--quant", "f16"]) == 0
    assert sorted(p.name for p in out.glob("*.gguf")) == ["model-f16.gguf"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["parity"] is None and manifest["config"]["quant"] == ["f16"]
    assert (out / "model_card.md").read_text().startswith("#")


@pytest.mark.slow
@pytest.mark.skipif(not llamacpp.available(), reason="llama-cpp-python is not installed")
def test_the_lora_adapter_alone_over_its_base_computes_the_trained_model_in_llama_cpp(stopping_run, tmp_path):
    import llama_cpp
    import numpy as np
    from transformers import AutoTokenizer

    from tunesmith.train.export import load_run, load_trained

    out = tmp_path / "gguf"
    assert (
        main(["export", str(stopping_run), "--gguf", str(out), "--quant", "f32", "--no-parity", "--lora-adapter"]) == 0
    )
    assert {"adapter.gguf", "base-f32.gguf", "Modelfile.adapter"} <= {p.name for p in out.iterdir()}
    assert "FROM ./base-f32.gguf\nADAPTER ./adapter.gguf" in (out / "Modelfile.adapter").read_text()
    trained = load_trained(load_run(stopping_run), dtype="float32")
    tok = AutoTokenizer.from_pretrained(stopping_run / "adapter")
    ids = tok.apply_chat_template(_conversation(QUESTIONS[0]), add_generation_prompt=True, return_dict=True)
    ids = ids["input_ids"]
    with torch.no_grad():
        expected = trained.model(torch.tensor([ids])).logits[0].numpy()

    def logits(**kw):
        llm = llama_cpp.Llama(n_ctx=128, n_threads=1, logits_all=True, verbose=False, **kw)
        llm.eval(ids)
        return np.array(llm.scores[: len(ids)])

    base = str(out / "base-f32.gguf")
    assert np.abs(logits(model_path=base, lora_path=str(out / "adapter.gguf")) - expected).max() < 1e-2
    assert np.abs(logits(model_path=base) - expected).max() > 0.1  # the adapter is what makes the difference
