"""The generation engines behind the HTTP API, and the one interface the app calls (`ServingEngine`).

`Engine` (serve.engine: hf): one base model in memory, several LoRA adapters over it, switched per request. Why one
worker thread: a peft model has one active adapter at a time, and `generate` is not safe to call from two threads on
one model. So every request goes through a queue to a single worker (`QueuedEngine`, shared with the llama.cpp
engine), which takes the oldest request and every queued request it can batch with it (same model, same sampling
settings, no seed, no streaming), and generates them together with left padding: concurrent clients share forward
passes instead of waiting in line.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from tunesmith.errors import ModelError

BASE = "base"


@dataclass
class Sampling:
    max_tokens: int
    temperature: float = 1.0
    top_p: float = 1.0
    n: int = 1
    stop: tuple[str, ...] = ()
    seed: int | None = None
    suppress_first: tuple[int, ...] = ()  # token ids the answer may not start with (the scope guard asking again)

    def key(self) -> tuple[int, float, float, int, tuple[str, ...], tuple[int, ...]]:
        return (self.max_tokens, self.temperature, self.top_p, self.n, self.stop, self.suppress_first)


@dataclass
class Choice:
    text: str
    finish_reason: str  # "stop" (end of turn or a stop string) or "length"
    completion_tokens: int


_Delta = str | Choice | BaseException  # what a stream's queue carries: text pieces, then the Choice (or the error)


@dataclass
class Generation:
    choices: list[Choice]
    prompt_tokens: int
    latency_ms: float


@dataclass
class Job:
    model: str
    text: str
    sampling: Sampling
    future: Future[Generation] = field(default_factory=Future)
    deltas: queue.Queue[_Delta] | None = None  # streaming: text pieces, then a Choice

    def batch_key(self) -> tuple[str, tuple[int, float, float, int, tuple[str, ...], tuple[int, ...]]] | None:
        if self.deltas is not None or self.sampling.seed is not None:
            return None  # alone: a seed fixes the random stream of one request, a stream has its own streamer
        return (self.model, self.sampling.key())


def cut_at_stop(text: str, stop: tuple[str, ...]) -> tuple[str, bool]:
    cuts = [i for i in (text.find(s) for s in stop if s) if i >= 0]
    return (text[: min(cuts)], True) if cuts else (text, False)


class _StreamBridge:
    """A transformers streamer that decodes new tokens and hands text deltas to the HTTP response."""

    def __init__(self, tokenizer: Any, eos_ids: set[int], stop: tuple[str, ...], out: queue.Queue[_Delta]) -> None:
        self.tokenizer, self.eos_ids, self.stop, self.out = tokenizer, eos_ids, stop, out
        self.ids: list[int] = []
        self.sent = 0
        self.prompt_seen = False
        self.finished: str | None = None

    def put(self, value: Any) -> None:
        if not self.prompt_seen:  # generate() first hands over the prompt
            self.prompt_seen = True
            return
        if self.finished:
            return
        for token in value.reshape(-1).tolist():
            if token in self.eos_ids:
                self.finished = "stop"
                break
            self.ids.append(token)
        text = self.tokenizer.decode(self.ids, skip_special_tokens=True)
        text, stopped = cut_at_stop(text, self.stop)
        if stopped:
            self.finished = "stop"
        # Hold back a trailing replacement character: it is half of a multi-byte character.
        safe = text if stopped or self.finished else text.rstrip("\ufffd")
        if len(safe) > self.sent:
            self.out.put(safe[self.sent :])
            self.sent = len(safe)

    def end(self) -> None:
        pass


class ServingEngine(Protocol):
    """What the app asks of an engine: the served names, the prompt as text, and answers to it (thread-safe)."""

    tokenizer: Any  # the base model's transformers tokenizer: the scope guard's refusal openings are ids in it
    reasks: bool  # whether `Sampling.suppress_first` is honoured, so the scope guard can ask a refusal again

    @property
    def names(self) -> list[str]: ...

    def count_tokens(self, text: str) -> int: ...

    def render_chat(self, messages: list[dict[str, str]]) -> str: ...

    def generate(self, model: str, text: str, sampling: Sampling) -> Generation: ...

    def stream(self, model: str, text: str, sampling: Sampling) -> Iterator[str | Choice]: ...


class QueuedEngine:
    """A queue of requests and the one worker thread that runs them, `batch_size` at a time; `generate` and
    `stream` are safe to call from any thread. Subclasses load their models, then call `_start`, and implement
    `_run` (one batch of jobs with the same batch key, each answered with one Generation)."""

    batch_size: int
    reasks = True

    def _start(self) -> None:
        self._jobs: queue.Queue[Job] = queue.Queue()
        self._pending: list[Job] = []
        self.batch_sizes: Counter[int] = Counter()  # batch size -> how many batches: shows batching works
        self._worker = threading.Thread(target=self._loop, name="tunesmith-engine", daemon=True)
        self._worker.start()

    # ---- the public, thread-safe side

    def generate(self, model: str, text: str, sampling: Sampling) -> Generation:
        job = Job(model, text, sampling)
        self._jobs.put(job)
        return job.future.result()

    def stream(self, model: str, text: str, sampling: Sampling) -> Iterator[str | Choice]:
        """Text deltas as they are generated, then the final Choice."""
        deltas: queue.Queue[_Delta] = queue.Queue()
        self._jobs.put(Job(model, text, sampling, deltas=deltas))
        while True:
            item = deltas.get()
            if isinstance(item, BaseException):
                raise item
            yield item
            if isinstance(item, Choice):
                return

    # ---- the worker

    def _next_batch(self) -> list[Job]:
        if not self._pending:
            self._pending.append(self._jobs.get())
        while True:  # everything queued now is a candidate for this batch
            try:
                self._pending.append(self._jobs.get_nowait())
            except queue.Empty:
                break
        first = self._pending[0]
        key = first.batch_key()
        batch = [first]
        if key is not None:
            for job in self._pending[1:]:
                if len(batch) >= self.batch_size:
                    break
                if job.batch_key() == key:
                    batch.append(job)
        self._pending = [j for j in self._pending if all(j is not b for b in batch)]
        return batch

    def _loop(self) -> None:
        while True:
            batch = self._next_batch()
            self.batch_sizes[len(batch)] += 1
            try:
                results = self._run(batch)
            except Exception as e:  # noqa: BLE001 - handed to the waiting request, which answers 500
                for job in batch:
                    if job.deltas is not None:
                        job.deltas.put(e)
                    else:
                        job.future.set_exception(e)
                continue
            for job, result in zip(batch, results, strict=True):
                job.future.set_result(result)

    def _run(self, batch: list[Job]) -> list[Generation]:
        raise NotImplementedError


class Engine(QueuedEngine):
    """serve.engine hf: loads the base model and adapters once (transformers + peft)."""

    def __init__(
        self,
        base: str,
        *,
        adapters: dict[str, Path] | None = None,
        full_models: dict[str, Path] | None = None,
        batch_size: int = 8,
        revision: str | None = None,
    ) -> None:
        import torch

        from tunesmith.models.chat import end_of_turn_ids
        from tunesmith.models.loading import generation_eos, inference_placement, load_for_inference, load_tokenizer

        self.torch = torch
        self.batch_size = batch_size
        self.tokenizer = load_tokenizer(base, revision=revision)
        self.tokenizer.padding_side = "left"
        # Where the evaluation's hf arms answer (issue 29, item 5): the GPU in bf16 when there is one, else the CPU
        # in float32; generate() sends the inputs to the model's device.
        where = inference_placement()
        model = load_for_inference(base, revision=revision, placement=where)
        self.eos_ids = end_of_turn_ids(self.tokenizer, generation_eos(model))
        self.adapters = dict(adapters or {})
        if self.adapters:
            from peft import PeftModel

            first, *rest = self.adapters.items()
            try:
                model = PeftModel.from_pretrained(model, str(first[1]), adapter_name=first[0])
                for name, path in rest:
                    model.load_adapter(str(path), adapter_name=name)
            except (OSError, ValueError) as e:
                raise ModelError(f"cannot load adapter: {str(e).splitlines()[0]}") from None
        self.model = model.eval()
        self.full = {n: load_for_inference(str(d), placement=where).eval() for n, d in (full_models or {}).items()}
        self._start()

    @property
    def names(self) -> list[str]:
        return [BASE, *self.adapters, *self.full]

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def render_chat(self, messages: list[dict[str, str]]) -> str:
        from tunesmith.models.chat import render

        return render(self.tokenizer, messages, add_generation_prompt=True)

    def _select(self, name: str) -> tuple[Any, Any]:
        """The model to call and a context that activates `name` on it."""
        import contextlib

        if name in self.full:
            return self.full[name], contextlib.nullcontext()
        if name == BASE:
            disable = getattr(self.model, "disable_adapter", None)
            return self.model, disable() if disable is not None else contextlib.nullcontext()
        self.model.set_adapter(name)
        return self.model, contextlib.nullcontext()

    def _run(self, batch: list[Job]) -> list[Generation]:
        torch = self.torch
        s = batch[0].sampling
        model, active = self._select(batch[0].model)
        enc = self.tokenizer([j.text for j in batch], return_tensors="pt", padding=True, add_special_tokens=False)
        enc = enc.to(model.device)
        prompt_lens = enc["attention_mask"].sum(dim=1).tolist()
        sample = s.temperature > 0
        kwargs: dict[str, Any] = {
            "max_new_tokens": s.max_tokens,
            "do_sample": sample,
            "num_return_sequences": s.n,
            "eos_token_id": sorted(self.eos_ids),
            "pad_token_id": self.tokenizer.pad_token_id,
        }
        if sample:
            kwargs.update(temperature=s.temperature, top_p=s.top_p)
        if s.stop:  # stop generating at a stop string (the text is cut before it in _choice and the streamer)
            kwargs.update(stop_strings=list(s.stop), tokenizer=self.tokenizer)
        if batch[0].deltas is not None:
            kwargs["streamer"] = _StreamBridge(self.tokenizer, self.eos_ids, s.stop, batch[0].deltas)
        if s.suppress_first:
            kwargs["begin_suppress_tokens"] = list(s.suppress_first)
        if s.seed is not None:
            torch.manual_seed(s.seed)
        t0 = time.perf_counter()
        with torch.inference_mode(), active:
            out = model.generate(**enc, **kwargs)
        latency_ms = (time.perf_counter() - t0) * 1000
        new = out[:, enc["input_ids"].shape[1] :].tolist()
        results = []
        for i, job in enumerate(batch):
            choices = [self._choice(row, s.stop) for row in new[i * s.n : (i + 1) * s.n]]
            if job.deltas is not None:
                job.deltas.put(choices[0])
            results.append(Generation(choices, int(prompt_lens[i]), latency_ms))
        return results

    def _choice(self, row: list[int], stop: tuple[str, ...]) -> Choice:
        end = next((k for k, t in enumerate(row) if t in self.eos_ids), None)
        tokens = row if end is None else row[:end]
        text = self.tokenizer.decode(tokens, skip_special_tokens=True)
        text, stopped = cut_at_stop(text, stop)
        if stopped:
            return Choice(text, "stop", self.count_tokens(text))
        return Choice(text, "length" if end is None else "stop", len(tokens) + (0 if end is None else 1))
