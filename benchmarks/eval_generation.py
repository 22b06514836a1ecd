"""Batched vs one-at-a-time generation with the eval engine (evals.generation.generate) on the `m` tiny model.

    python benchmarks/eval_generation.py [--prompts 32] [--max-new-tokens 48] [--batch 8] [--repeats 3]
    python benchmarks/eval_generation.py --model-dir DIR --prompts 16 --batch 16 --max-new-tokens 64   # SmolLM2

--model-dir takes a real model folder instead (`tunesmith model get smollm2-135m-instruct --out DIR`).

Builds the `m` tiny model into a temporary directory (offline, seeded), takes the first N user questions of the
bundled support-desk example as prompts (with its system prompt), and generates greedy answers for the same
prompts at batch size 1 and at --batch. Tokens/s counts only the answer tokens up to and including the end of
turn, so a batch that keeps decoding for its longest member gets no credit for the padding work. Each setting runs
--repeats times after one warm-up; the median is reported, with the machine's load average.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from importlib import resources
from pathlib import Path

import torch

from tunesmith.models.chat import end_of_turn_ids
from tunesmith.models.generation import generate
from tunesmith.models.loading import generation_eos, load_model, load_tokenizer
from tunesmith.models.tiny import build_tiny_model


def prompts(n: int) -> list[list[dict[str, str]]]:
    data = resources.files("tunesmith").joinpath("examples/support-desk/data/support.jsonl").read_text()
    out = []
    for line in data.splitlines()[:n]:
        msgs = json.loads(line)["messages"]
        out.append([m for m in msgs if m["role"] != "assistant"][:2])
    return out


def run(model, tokenizer, convs, eos, *, batch: int, max_new_tokens: int) -> tuple[float, int]:
    t0 = time.perf_counter()
    preds = generate(model, tokenizer, convs, max_new_tokens=max_new_tokens, batch_size=batch, eos_ids=eos)
    return time.perf_counter() - t0, sum(p.completion_tokens for p in preds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prompts", type=int, default=32)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--model-dir", help="a model folder instead of the tiny m model")
    args = parser.parse_args()
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        path = args.model_dir or build_tiny_model(Path(tmp) / "tiny-m", seed=0, size="m")
        model, tokenizer = load_model(str(path)), load_tokenizer(str(path))
        eos = end_of_turn_ids(tokenizer, generation_eos(model))
        convs = prompts(args.prompts)
        params = sum(p.numel() for p in model.parameters())
        name = args.model_dir or "tiny m"
        print(f"{name}: {params / 1e6:.1f}M parameters, {len(convs)} prompts, max_new_tokens={args.max_new_tokens}")
        speeds = {}
        for batch in (1, args.batch):
            run(model, tokenizer, convs[: max(batch, 4)], eos, batch=batch, max_new_tokens=8)  # warm-up
            timings = [run(model, tokenizer, convs, eos, batch=batch, max_new_tokens=args.max_new_tokens)]
            timings += [
                run(model, tokenizer, convs, eos, batch=batch, max_new_tokens=args.max_new_tokens)
                for _ in range(args.repeats - 1)
            ]
            wall = statistics.median(t for t, _ in timings)
            tokens = timings[0][1]
            speeds[batch] = tokens / wall
            print(f"batch {batch:>2}: {tokens} answer tokens in {wall:.2f} s = {speeds[batch]:,.0f} tokens/s")
        ratio = speeds[args.batch] / speeds[1]
        print(f"speed-up at batch {args.batch}: {ratio:.2f}x  (load average {os.getloadavg()[0]:.2f})")


if __name__ == "__main__":
    main()
