"""The shared-prefix lever on the real model: one LoRA training step's forward and backward, rows whole vs prefix once.

    python benchmarks/shared_prefix.py --model-dir DIR [--rows 5] [--reps 7]

DIR is an imported SmolLM2 (`tunesmith model get smollm2-135m-instruct --out DIR`). A micro-batch of `--rows`
support-desk conversations (they share the Juno system prompt) is trained through tunesmith's labelled-positions
loss (train/lm_loss.py) with the shared prefix off and on, interleaved (off, on, off, on, ...) so that a drift of
the shared machine falls on both; the medians and their ratio are printed, with the largest gradient difference.
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
    p.add_argument("--rows", type=int, default=5)
    p.add_argument("--reps", type=int, default=7)
    a = p.parse_args()

    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tunesmith.models.chat import end_of_turn_ids
    from tunesmith.train.lm_loss import labelled_loss, lm_parts, shared_prefix
    from tunesmith.train.masking import pad_right, tokenize_conversation

    tok = AutoTokenizer.from_pretrained(a.model_dir)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(a.model_dir, dtype="float32")
    lora = LoraConfig(task_type="CAUSAL_LM", r=16, lora_alpha=32, lora_dropout=0.0, target_modules="all-linear")
    model = get_peft_model(model, lora)
    for name, param in model.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(param, std=0.02)  # B = 0 would make every LoRA A gradient zero
    model.train()
    lines = (REPO / "examples/support-desk/data/support.jsonl").read_text().splitlines()[: a.rows]
    eot = end_of_turn_ids(tok, model.generation_config.eos_token_id)
    examples = [tokenize_conversation(tok, json.loads(line)["messages"], eot_ids=eot) for line in lines]
    inputs = pad_right(examples, tok.pad_token_id or 0)
    mask, width = inputs["attention_mask"], inputs["input_ids"].size(1)
    prefix = shared_prefix(model, inputs)
    real = int(mask.sum())
    print(f"{len(examples)} rows, {real} tokens (padded width {width}), shared prefix {prefix} tokens")
    decoder, head = lm_parts(model)
    times: dict[bool, list[float]] = {False: [], True: []}
    grads: dict[bool, torch.Tensor] = {}
    for k in range(2 * a.reps):
        share = bool(k % 2)
        model.zero_grad()
        t0 = time.perf_counter()
        loss, _, _ = labelled_loss(model, decoder, head, inputs, share_prefix=share)
        loss.backward()
        times[share].append(time.perf_counter() - t0)
        grads[share] = torch.cat([q.grad.flatten() for q in model.parameters() if q.requires_grad])
    off, on = statistics.median(times[False]), statistics.median(times[True])
    diff = float((grads[False] - grads[True]).abs().max() / grads[False].abs().max())
    print(f"rows whole:  median {off:.3f} s ({real / off:.0f} tokens/s)")
    print(f"prefix once: median {on:.3f} s ({real / on:.0f} tokens/s)")
    print(f"speed-up {off / on:.2f}x; largest gradient difference {diff:.1e} of the largest gradient")


if __name__ == "__main__":
    main()
