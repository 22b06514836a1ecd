"""Adapters on the upper layers only, and the frozen lower layers' states kept: one LoRA step on the real model.

    python benchmarks/frozen_layers.py --model-dir DIR [--rows 8] [--top 15] [--reps 3]

DIR is an imported SmolLM2 (`tunesmith model get smollm2-135m-instruct --out DIR`). One micro-batch of `--rows`
support-desk conversations is trained (forward and backward, tunesmith's labelled-positions loss with the shared
prefix) three ways: LoRA on every layer (the plain alternative), LoRA on the top `--top` layers running the whole
model (what the first epoch costs), and the same from the kept states of the frozen layers (what every later epoch
costs). Medians of `--reps` after one warm-up, and their ratios to the first arm.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--model-dir", required=True)
    p.add_argument("--rows", type=int, default=8)
    p.add_argument("--top", type=int, default=15)
    p.add_argument("--reps", type=int, default=3)
    a = p.parse_args()

    import torch
    from peft import get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tunesmith.config import LoraConfig
    from tunesmith.models.chat import end_of_turn_ids
    from tunesmith.train.frozen_layers import FrozenLayerCache
    from tunesmith.train.lm_loss import labelled_loss, lm_parts
    from tunesmith.train.lora import peft_lora_config
    from tunesmith.train.masking import pad_right, tokenize_conversation

    tok = AutoTokenizer.from_pretrained(a.model_dir)

    def build(top: int | None):
        torch.manual_seed(0)
        base = AutoModelForCausalLM.from_pretrained(a.model_dir, dtype="float32")
        model = get_peft_model(base, peft_lora_config(LoraConfig(dropout=0.0, top_layers=top), base))
        model.train()
        return model

    model = build(None)
    lines = (REPO / "examples/support-desk/data/support.jsonl").read_text().splitlines()[: a.rows]
    eot = end_of_turn_ids(tok, model.generation_config.eos_token_id)
    examples = [tokenize_conversation(tok, json.loads(line)["messages"], eot_ids=eot) for line in lines]
    inputs = pad_right(examples, tok.pad_token_id or 0)
    mask, width = inputs["attention_mask"], inputs["input_ids"].size(1)
    real = int(mask.sum())
    print(f"{len(examples)} rows, {real} tokens (padded width {width}), adapters on the top {a.top} layers")

    def step_seconds(m, frozen) -> float:
        decoder, head = lm_parts(m)
        times = []
        for _ in range(a.reps + 1):
            m.zero_grad()
            t0 = time.perf_counter()
            loss, _, _ = labelled_loss(m, decoder, head, inputs, frozen=frozen)
            loss.backward()
            times.append(time.perf_counter() - t0)
        return statistics.median(times[1:])

    every = step_seconds(model, None)
    del model
    top = build(a.top)
    first = step_seconds(top, None)
    cache = FrozenLayerCache.for_model(top, lm_parts(top)[0])
    with cache.record(inputs):
        labelled_loss(top, *lm_parts(top), inputs)
    later = step_seconds(top, cache)
    assert cache.hits == a.reps + 1
    for name, s in (("LoRA on every layer", every), ("top layers, whole model", first), ("top layers, kept", later)):
        print(f"{name:26s} median {s:.2f} s  {real / s:6.0f} tokens/s  {every / s:.2f}x")


if __name__ == "__main__":
    main()
