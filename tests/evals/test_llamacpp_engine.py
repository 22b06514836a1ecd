"""eval.engine: llamacpp on a tiny project: the model arms answer through llama.cpp from a GGUF of each model, with
the prompts transformers would have given them; skipped where llama-cpp-python is not installed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tunesmith.config import Config, EvalConfig, ModelConfig
from tunesmith.evals.runner import evaluate
from tunesmith.models import llamacpp

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not llamacpp.available(), reason="llama-cpp-python is not installed (make install-llamacpp)"),
]

QUESTIONS = ["Where is my order?", "How do I reset my password?", "Can I pay by card?", "What's the weather?"]


def _evaluate(root: Path, tiny_model_dir: Path, engine: str) -> dict:
    cfg = Config(
        root=root,
        model=ModelConfig(base=str(tiny_model_dir)),
        eval=EvalConfig(arms=["base", "fine_tuned"], reference_arm="base", max_new_tokens=6, engine=engine),
    )
    out = root / f"eval-{engine}"
    evaluate(cfg, dataset_dir=root / "dataset", train_dir=root / "train", out_dir=out)
    return json.loads((out / "results.json").read_text())


def test_llamacpp_engine_answers_the_same_prompts(tmp_path, tiny_model_dir):
    (tmp_path / "dataset").mkdir()
    rows = [
        {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": "OK."}], "meta": {"id": f"t{i}"}}
        for i, q in enumerate(QUESTIONS)
    ]
    for split in ("train", "test"):
        (tmp_path / "dataset" / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "model").symlink_to(tiny_model_dir)  # the "fine-tune" is the base model itself
    hf = _evaluate(tmp_path, tiny_model_dir, "hf")
    cpp = _evaluate(tmp_path, tiny_model_dir, "llamacpp")
    for arm in ("base", "fine_tuned"):
        a, b = hf["arms"][arm], cpp["arms"][arm]
        assert b["n"]["rougeL"] == a["n"]["rougeL"] == len(QUESTIONS)
        assert b["tokens"]["prompt_mean"] == a["tokens"]["prompt_mean"]  # llama.cpp saw the trained model's prompts
        assert 0 < b["tokens"]["completion_mean"] <= 6
    manifest = json.loads((tmp_path / "eval-llamacpp" / "manifest.json").read_text())
    assert manifest["config"]["eval"]["engine"] == "llamacpp"  # the evaluation records which engine answered
    assert cpp["lineage"]["engine"].startswith("llama.cpp") and hf["lineage"]["engine"] == "transformers"
    assert "llama.cpp, an f16 GGUF" in (tmp_path / "eval-llamacpp" / "report.html").read_text()  # and says so


def test_batched_decoding_gives_each_prompt_its_own_answer(tmp_path, tiny_model_dir):
    """Six prompts of different lengths through four sequences of one context (two slots are reused when their
    answers end), and the answers are the ones the prompts get alone. A sequence that read another's cache, or a
    position off by one, changes nearly every answer; the random model's logits are flat, and one of these six has a
    near-tie (0.0005) that the batched kernels' rounding may flip, so one answer may part from its alone twin after its
    first tokens."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tunesmith.models.chat import end_of_turn_ids
    from tunesmith.models.gguf_write import write_gguf
    from tunesmith.models.llamacpp import LlamaCppEngine

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    path = write_gguf(model, tok, tmp_path / "m.gguf", quant="f32", eos_ids=end_of_turn_ids(tok, None)).path
    engine = LlamaCppEngine(path, threads=1)
    convs = [[{"role": "user", "content": q * (1 + i % 3)}] for i, q in enumerate(QUESTIONS + ["Hi", "Refund?"])]
    alone = [engine.answer(c, max_new_tokens=12) for c in convs]
    together = engine.answer_many(convs, max_new_tokens=12, parallel=4)
    assert sum(a.ids == b.ids for a, b in zip(together, alone, strict=True)) >= len(convs) - 1
    assert all(a.ids[:2] == b.ids[:2] for a, b in zip(together, alone, strict=True))
    assert [a.prompt_ids for a in together] == [a.prompt_ids for a in alone]


def test_batched_decoding_can_keep_answers_from_starting_with_given_tokens(tmp_path, tiny_model_dir):
    """The guarded arm asks a refusal again with the refusal's opening tokens suppressed: no answer may start with
    them, and the rest of each answer follows from the token taken instead."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tunesmith.models.chat import end_of_turn_ids
    from tunesmith.models.gguf_write import write_gguf
    from tunesmith.models.llamacpp import LlamaCppEngine

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    path = write_gguf(model, tok, tmp_path / "m.gguf", quant="f32", eos_ids=end_of_turn_ids(tok, None)).path
    engine = LlamaCppEngine(path, threads=1)
    convs = [[{"role": "user", "content": q}] for q in QUESTIONS]
    plain = engine.answer_many(convs, max_new_tokens=4, parallel=2)
    firsts = sorted({a.ids[0] for a in plain})
    again = engine.answer_many(convs, max_new_tokens=4, parallel=2, suppress_first=firsts)
    assert all(a.ids[0] not in firsts for a in again)
    assert engine.answer_many(convs[:1], max_new_tokens=4, parallel=8)[0].ids == plain[0].ids  # one prompt alone
