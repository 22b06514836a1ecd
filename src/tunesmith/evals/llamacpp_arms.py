"""`eval.engine: llamacpp`: the model arms generate with llama.cpp instead of transformers.

Each model the evaluation loads (the base, the merged fine-tune) is written as an f16 GGUF to a temporary folder
(`models/gguf_write.py`, what `tunesmith export --gguf` ships) and answered by llama.cpp, greedy, `eval.batch_size`
prompts decoded together (`models/llamacpp.py`). The answers, token counts and latencies fill the same figures as
the transformers engine; the latency sample (`eval.latency_sample`) is generated again one prompt at a time.
The forgetting check's perplexity stays a transformers computation on the loaded model.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any, Protocol

from tunesmith.config.eval import EvalConfig
from tunesmith.evals.generation import SingleLatency
from tunesmith.evals.guarded import GuardPlan, reanswer
from tunesmith.models.answers import Answer
from tunesmith.models.chat import end_of_turn_ids
from tunesmith.models.generation import Prediction
from tunesmith.models.gguf_write import write_gguf
from tunesmith.models.llamacpp import LlamaCppEngine
from tunesmith.models.loading import generation_eos
from tunesmith.progress import Progress

Conversations = list[list[dict[str, str]]]


class Sink(Protocol):
    """Where the runner collects a group's answers (its `_Generated`)."""

    runs: dict[str, tuple[list[Prediction], float]]
    single: dict[str, list[SingleLatency]]
    extra: dict[str, list[Prediction]]
    guard: GuardPlan | None
    reanswered: tuple[dict[int, Prediction], float]


def _prediction(a: Answer) -> Prediction:
    return Prediction(a.text, len(a.prompt_ids), len(a.ids), a.latency_ms)


def _answers(
    engine: LlamaCppEngine,
    convs: Conversations,
    ec: EvalConfig,
    bars: Progress,
    label: str,
    suppress_first: Sequence[int] = (),
) -> list[Answer]:
    """`eval.batch_size` prompts decoded together, as the transformers engine batches them."""
    task = bars.add(label, len(convs), unit="answers")
    out = engine.answer_many(
        convs, max_new_tokens=ec.max_new_tokens, parallel=ec.batch_size, suppress_first=suppress_first
    )
    bars.update(task, advance=len(convs))
    return out


def _again(
    engine: LlamaCppEngine,
    ec: EvalConfig,
    bars: Progress,
    convs: Conversations,
    *,
    suppress_first: Sequence[int],
    label: str,
) -> list[Prediction]:
    """The guarded arm's second ask (`evals.guarded.reanswer`), through llama.cpp."""
    return [_prediction(a) for a in _answers(engine, convs, ec, bars, label, suppress_first)]


def llamacpp_group(
    model: Any,
    tokenizer: Any,
    arms: list[str],
    convs: dict[str, Conversations],
    ec: EvalConfig,
    bars: Progress,
    out: Sink,
    extra: dict[str, Conversations],
) -> None:
    """The runner's `_generate_group`, with llama.cpp generating from an f16 GGUF of `model`."""
    eos = end_of_turn_ids(tokenizer, generation_eos(model))
    with tempfile.TemporaryDirectory(prefix="tunesmith-gguf-") as tmp:
        path = write_gguf(model, tokenizer, Path(tmp) / "model-f16.gguf", quant="f16", eos_ids=eos).path
        engine = LlamaCppEngine(path)
        for arm in arms:
            t0 = time.perf_counter()
            answers = _answers(engine, convs[arm], ec, bars, f"eval {arm} (llama.cpp)")
            out.runs[arm] = ([_prediction(a) for a in answers], time.perf_counter() - t0)
            if arm == "fine_tuned" and out.guard is not None:
                again = partial(_again, engine, ec, bars)
                out.reanswered = reanswer(out.guard, out.runs[arm][0], convs[arm], tokenizer, again)
            if ec.latency_sample:  # what one user waits: alone, not sharing the batch
                alone = [engine.answer(c, max_new_tokens=ec.max_new_tokens) for c in convs[arm][: ec.latency_sample]]
                out.single[arm] = [SingleLatency(a.latency_ms, a.first_token_ms, len(a.ids)) for a in alone]
            if extra.get(arm):
                safety = _answers(engine, extra[arm], ec, bars, f"safety {arm} (llama.cpp)")
                out.extra[arm] = [_prediction(a) for a in safety]
        del engine
