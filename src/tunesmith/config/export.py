"""The export section: GGUF quantisations and the parity check that proves an exported model answers like the
trained one (`tunesmith export RUN --gguf DIR`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from tunesmith.config.base import Section

GgufQuant = Literal["f32", "f16", "q8_0"]


def _quants(*quants: GgufQuant) -> list[GgufQuant]:
    return list(quants)


def _per_quant(f32: float, f16: float, q8_0: float) -> dict[GgufQuant, float]:
    return {"f32": f32, "f16": f16, "q8_0": q8_0}


class ExportConfig(Section):
    quant: list[GgufQuant] = Field(
        default_factory=lambda: _quants("f16", "q8_0"),
        description="GGUF files to write, one per quantisation: f32, f16 (llama.cpp's usual full precision), q8_0 "
        "(8-bit blocks, half the size of f16); 1-D tensors (norms) stay f32. The Modelfile uses the first.",
    )
    parity: bool = Field(
        True,
        description="Replay the test prompts greedily through the trained model (transformers, adapter applied) and "
        "through each GGUF (llama.cpp, else transformers reading the GGUF) and compare; below the thresholds the "
        "export exits 1. The figures go into the export's manifest.",
    )
    lora_adapter: bool = Field(
        False,
        description="Also write the LoRA adapter alone (adapter.gguf) with its base (base-{first quant}.gguf) and a "
        "Modelfile.adapter, for llama.cpp --lora and Ollama's ADAPTER; a LoRA run only. Not parity-checked.",
    )
    probes: int | None = Field(
        None, gt=0, description="Test prompts the parity check replays (the first N); unset: all of them."
    )
    min_identical: dict[GgufQuant, float] = Field(
        default_factory=lambda: _per_quant(0.9, 0.7, 0.5),
        description="Per quantisation, the least share of answers identical token for token to the trained model's. "
        "Greedy decoding amplifies rounding: one near-tie flips a token and the rest of the answer follows it.",
    )
    min_rouge_l: dict[GgufQuant, float] = Field(
        default_factory=lambda: _per_quant(0.95, 0.85, 0.75),
        description="Per quantisation, the least mean ROUGE-L between the exported model's answers and the trained "
        "model's (not the references): how far the answers that differ have moved.",
    )
    min_prompt_identical: float = Field(
        1.0,
        ge=0,
        le=1,
        description="The least share of prompts that the GGUF's own chat template and tokenizer turn into the trained "
        "model's prompt ids: below it the export lost or changed the template, a special token or the pre-tokenizer.",
    )
    max_run_ons: int = Field(
        0,
        ge=0,
        description="Answers the trained model ends with its end-of-turn token and the export does not, even with "
        "`run_on_budget` times the token budget: a lost chat template or stop token, the field's most common export "
        "bug.",
    )
    run_on_budget: int = Field(
        4,
        ge=1,
        description="An answer the trained model ends and the export does not end within the token budget is asked "
        "again with this many times the budget: one that then ends its turn parted from the trained answer late "
        "(rounding) and is a late stop, not a run-on; one that still does not end is a run-on.",
    )
