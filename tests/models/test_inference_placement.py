"""Where the answering models run: one decision (`inference_placement`), and a loader that follows it.

There is no GPU on the test machines, so a GPU is simulated by patching `torch.cuda`; a model then loads on the CPU
in the dtype the decision gives for a GPU, which is what shows that the caller went through the decision.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import torch

from tunesmith.models import loading
from tunesmith.models.loading import Placement, inference_placement, load_for_inference


def _cuda(monkeypatch: pytest.MonkeyPatch, *, available: bool, bf16: bool = True) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: available)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: bf16)


@dataclass
class Loads:
    """Each load_model call made through load_for_inference: where the decision sent it, and what loaded."""

    asked: list[tuple[str | None, Any]] = field(default_factory=list)
    models: list[Any] = field(default_factory=list)


@pytest.fixture
def simulated_gpu(monkeypatch: pytest.MonkeyPatch) -> Loads:
    """A bf16-capable GPU as far as the decision can tell; loads asked for "cuda" land on the CPU in the dtype asked.

    Only the decision sees the GPU: libraries that also ask torch.cuda (peft pins memory when it sees one) must not.
    """
    from tunesmith.evals import runner

    real_decide, real_load, loads = loading.inference_placement, loading.load_model, Loads()

    def decide(*, gpu: bool = True) -> Placement:
        with pytest.MonkeyPatch.context() as only_here:
            _cuda(only_here, available=True)
            return real_decide(gpu=gpu)

    def load_model(base: str, *, revision: str | None = None, dtype: Any = None, device: str | None = None) -> Any:
        loads.asked.append((device, dtype))
        model = real_load(base, revision=revision, dtype=dtype, device="cpu" if device == "cuda" else device)
        loads.models.append(model)
        return model

    for module in (loading, runner):  # the runner holds its own name for the decision
        monkeypatch.setattr(module, "inference_placement", decide)
    monkeypatch.setattr(loading, "load_model", load_model)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *a: "simulated GPU")  # for the lineage's device
    return loads


def test_the_gpu_in_bf16_where_it_has_it(monkeypatch: pytest.MonkeyPatch) -> None:
    _cuda(monkeypatch, available=True, bf16=True)
    assert inference_placement() == Placement("cuda", torch.bfloat16)


def test_a_gpu_without_bf16_runs_float32_as_training_does(monkeypatch: pytest.MonkeyPatch) -> None:
    from tunesmith.train.loop import train_dtype

    _cuda(monkeypatch, available=True, bf16=False)
    assert inference_placement() == Placement("cuda", torch.float32)
    assert inference_placement().dtype == train_dtype(True)


def test_without_a_gpu_the_cpu_in_float32(monkeypatch: pytest.MonkeyPatch) -> None:
    _cuda(monkeypatch, available=False)
    assert inference_placement() == Placement("cpu", torch.float32)


def test_a_caller_whose_engine_is_not_on_the_gpu_keeps_the_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    _cuda(monkeypatch, available=True)
    assert inference_placement(gpu=False) == Placement("cpu", torch.float32)


def test_the_loader_puts_the_model_where_the_placement_says(tiny_model_dir: Path) -> None:
    model = load_for_inference(str(tiny_model_dir), placement=Placement("cpu", torch.float64))
    assert model.device == torch.device("cpu")
    assert {p.dtype for p in model.parameters()} == {torch.float64}


def test_on_the_cpu_the_model_is_the_one_loaded_before_placement(tiny_model_dir: Path) -> None:
    """CPU results do not move: same dtype, same device, the same logits bit for bit as the plain load."""
    from transformers import AutoModelForCausalLM

    placed = load_for_inference(str(tiny_model_dir), placement=Placement("cpu", torch.float32))
    plain = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir), dtype="auto")
    assert (placed.device.type, placed.dtype) == ("cpu", torch.float32)
    ids = torch.tensor([[1, 5, 9, 14, 3]])
    with torch.inference_mode():
        assert torch.equal(placed(ids).logits, plain(ids).logits)


def test_a_bf16_checkpoint_answers_in_float32_on_the_cpu(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A model saved in bf16 (as a GPU run saves it) is not evaluated in bf16 on a CPU, where bf16 is ~80x slower."""
    from transformers import AutoModelForCausalLM

    _cuda(monkeypatch, available=False)
    saved = tmp_path / "bf16"
    AutoModelForCausalLM.from_pretrained(str(tiny_model_dir), dtype=torch.bfloat16).save_pretrained(saved)
    assert load_for_inference(str(saved)).dtype == torch.float32


def test_add_refusals_pairs_generates_with_the_placed_model(tiny_model_dir: Path, simulated_gpu: Loads) -> None:
    """`data add-refusals --pairs`: the base model's own answers come from a model loaded where the decision says."""
    from tunesmith.data.augment import generate_rejected

    prompts = [[{"role": "user", "content": "Can I pay by card?"}]]
    answers = generate_rejected(str(tiny_model_dir), prompts, max_new_tokens=3)
    assert len(answers) == 1
    assert simulated_gpu.asked == [("cuda", torch.bfloat16)]
    assert simulated_gpu.models[0].dtype == torch.bfloat16


def _eval_project(root: Path, base: Path) -> None:
    """A dataset of three questions, and a LoRA adapter on `base` as the training run (the merge path)."""
    import json

    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    (root / "dataset").mkdir()
    rows = [("How do I return an item?", "Within 30 days."), ("Where is my order?", "See the tracking link.")]
    for name in ("train", "test"):
        lines = [
            json.dumps({"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]})
            for q, a in rows
        ]
        (root / "dataset" / f"{name}.jsonl").write_text("\n".join(lines) + "\n")
    lora = LoraConfig(r=2, target_modules=["q_proj"], init_lora_weights=False)
    get_peft_model(AutoModelForCausalLM.from_pretrained(str(base)), lora).save_pretrained(root / "train" / "adapter")


def test_the_eval_model_arms_and_forgetting_run_on_the_placed_models(
    tiny_model_dir: Path, tmp_path: Path, simulated_gpu: Loads
) -> None:
    """The base arm (and the forgetting check's base) and the merged fine-tune each load where the decision says."""
    from tunesmith.config import Config, EvalConfig, ModelConfig
    from tunesmith.config.safety import SafetyConfig
    from tunesmith.evals.runner import evaluate

    _eval_project(tmp_path, tiny_model_dir)
    cfg = Config(
        root=tmp_path,
        model=ModelConfig(base=str(tiny_model_dir)),
        eval=EvalConfig(
            arms=["base", "fine_tuned"],
            max_new_tokens=3,
            latency_sample=1,
            safety=SafetyConfig(enabled=False),
        ),
    )
    result = evaluate(cfg, dataset_dir=tmp_path / "dataset", train_dir=tmp_path / "train", out_dir=tmp_path / "eval")
    assert simulated_gpu.asked == [("cuda", torch.bfloat16), ("cuda", torch.bfloat16)]
    assert [m.dtype for m in simulated_gpu.models] == [torch.bfloat16, torch.bfloat16]
    forgetting = result.results.forgetting
    assert forgetting is not None and forgetting.base_perplexity > 0 and forgetting.fine_tuned_perplexity > 0
    assert result.results.lineage.device == "cuda: simulated GPU, bfloat16"  # and the report says where


def test_the_evaluation_records_the_device_its_models_answered_on(monkeypatch: pytest.MonkeyPatch):
    """results.json's lineage names the device, so latency and cost figures are read against the right machine."""
    from tunesmith.evals.lineage import device

    _cuda(monkeypatch, available=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert device("hf") == f"cpu: {torch.get_num_threads()} threads, float32"
    assert device("llamacpp") == "cpu: 3 threads, f16 GGUF"
    _cuda(monkeypatch, available=True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *a: "NVIDIA H100 80GB HBM3")
    assert device("hf") == "cuda: NVIDIA H100 80GB HBM3, bfloat16"
    assert device("llamacpp") == "cpu: 3 threads, f16 GGUF"  # llama.cpp is built for the CPU here
