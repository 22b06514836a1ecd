"""serve.engine llamacpp: every served model answered by llama.cpp from an f16 GGUF written at start-up.

Each served name (the base, each adapter merged into it, each full fine-tune) is written once as an f16 GGUF to a
temporary folder by the export's writer (`models/gguf_write.py`, as `eval.engine: llamacpp` does) and loaded by
llama.cpp (`models/llamacpp.py`); f16 is what the export's parity check found to answer as the trained model does.
llama-cpp-python switches a LoRA only when a context is made, so merged models are served, one llama.cpp model per
name, rather than one base with adapters switched per request.

A llama.cpp model is not safe to call from two threads, so requests go through the same queue and single worker as
the transformers engine (`QueuedEngine`), one at a time: llama-cpp-python's high-level API decodes one sequence.
The chat prompt is rendered by the GGUF's own chat template (llama-cpp-python's `Jinja2ChatFormatter`, the path an
Ollama or llama.cpp user's prompt takes) and tokenised by llama.cpp.
"""

from __future__ import annotations

import random
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from tunesmith.errors import ConfigError, ModelError
from tunesmith.models.llamacpp import LlamaCppEngine
from tunesmith.serve.engine import BASE, Choice, Generation, Job, QueuedEngine, Sampling, cut_at_stop


def _merged(base: str, adapter: Path, revision: str | None) -> Any:
    from peft import PeftModel

    from tunesmith.models.loading import load_model

    try:
        return PeftModel.from_pretrained(load_model(base, revision=revision), str(adapter)).merge_and_unload()
    except (OSError, ValueError) as e:
        raise ModelError(f"cannot load adapter {adapter}: {str(e).splitlines()[0]}") from None


class _SuppressFirst:
    """A llama-cpp-python logits processor: the given tokens may not start the answer (the scope guard asking a
    refusal again, as transformers' begin_suppress_tokens does for the hf engine)."""

    def __init__(self, tokens: tuple[int, ...], prompt_len: int) -> None:
        self.tokens, self.prompt_len = list(tokens), prompt_len

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        if len(input_ids) == self.prompt_len:
            scores[self.tokens] = float("-inf")
        return scores


class LlamaCppServeEngine(QueuedEngine):
    """The served models as llama.cpp models, each from its own f16 GGUF; deleted by `close`."""

    def __init__(
        self,
        base: str,
        *,
        adapters: dict[str, Path] | None = None,
        full_models: dict[str, Path] | None = None,
        revision: str | None = None,
    ) -> None:
        from tunesmith.models import llamacpp

        if not llamacpp.available():
            raise ConfigError(
                "serve.engine llamacpp needs llama.cpp (the llama-cpp-python package), which is not installed",
                hint=f"make install-llamacpp, or {llamacpp.INSTALL_HINT}",
            )
        from tunesmith.models.loading import load_model, load_tokenizer

        self.batch_size = 1  # llama-cpp-python's Llama decodes one sequence
        self.tokenizer = load_tokenizer(base, revision=revision)
        self._folder = tempfile.TemporaryDirectory(prefix="tunesmith-serve-gguf-")
        loaders: dict[str, Callable[[], Any]] = {BASE: partial(load_model, base, revision=revision)}
        for name, path in (adapters or {}).items():
            loaders[name] = partial(_merged, base, path, revision)
        for name, path in (full_models or {}).items():
            loaders[name] = partial(load_model, str(path))
        try:
            self.models = {name: self._load(i, load) for i, (name, load) in enumerate(loaders.items())}
        except BaseException:
            self.close()
            raise
        import llama_cpp

        self._is_eog = llama_cpp.llama_vocab_is_eog
        self._start()

    def _load(self, index: int, load: Callable[[], Any]) -> LlamaCppEngine:
        """Write one model as an f16 GGUF in the temporary folder and load it with llama.cpp."""
        from tunesmith.models.chat import end_of_turn_ids
        from tunesmith.models.gguf_write import write_gguf
        from tunesmith.models.loading import generation_eos

        model = load()
        eos = end_of_turn_ids(self.tokenizer, generation_eos(model))
        path = Path(self._folder.name) / f"model-{index}-f16.gguf"
        write_gguf(model, self.tokenizer, path, quant="f16", eos_ids=eos)
        del model
        return LlamaCppEngine(path)

    def close(self) -> None:
        """Delete the GGUF files (llama.cpp has them mapped; the memory stays valid until the models go)."""
        self._folder.cleanup()

    @property
    def names(self) -> list[str]:
        return list(self.models)

    def _tokens(self, text: str) -> list[int]:
        """The app renders the chat (`render_chat`), then sends the text: LlamaCppEngine.prompt_ids in two steps."""
        return self.models[BASE].tokenize(text)

    def count_tokens(self, text: str) -> int:
        return len(self._tokens(text))

    def render_chat(self, messages: list[dict[str, str]]) -> str:
        return self.models[BASE].render(messages)

    def _run(self, batch: list[Job]) -> list[Generation]:
        [job] = batch
        llm = self.models[job.model].llm
        prompt = self._tokens(job.text)
        t0 = time.perf_counter()
        choices = []
        for i in range(job.sampling.n):
            # A seed gives each choice its own stream (seed, seed + 1, ...), repeatable; no seed, a fresh one.
            s = job.sampling
            llm.set_seed(s.seed + i if s.seed is not None else random.randrange(2**31))
            choices.append(self._choice(llm, prompt, s, job))
        gen = Generation(choices, len(prompt), (time.perf_counter() - t0) * 1000)
        if job.deltas is not None:
            job.deltas.put(choices[0])
        return [gen]

    def _choice(self, llm: Any, prompt: list[int], s: Sampling, job: Job) -> Choice:
        """One answer, token by token: stops at an end-of-generation token, a stop string or max_tokens, and hands
        each new piece of text to a stream. temperature 0 is greedy, as llama.cpp's greedy sampler."""
        from llama_cpp import LogitsProcessorList

        greedy = s.temperature == 0
        processors = LogitsProcessorList([_SuppressFirst(s.suppress_first, len(prompt))]) if s.suppress_first else None
        ids: list[int] = []
        sent, finish, text = 0, "length", ""
        tokens = llm.generate(
            prompt,
            top_k=1 if greedy else 0,  # 0: no top-k cut, as OpenAI's sampling has none
            top_p=1.0 if greedy else s.top_p,
            min_p=0.0,
            temp=0.0 if greedy else s.temperature,
            repeat_penalty=1.0,
            logits_processor=processors,
        )
        for token in tokens:
            ids.append(int(token))
            if self._is_eog(llm._model.vocab, token):
                finish = "stop"
                break
            text = llm.detokenize(ids).decode("utf-8", "replace")
            text, stopped = cut_at_stop(text, s.stop)
            if stopped:
                if job.deltas is not None and len(text) > sent:
                    job.deltas.put(text[sent:])
                return Choice(text, "stop", self.count_tokens(text))
            safe = text.rstrip("\ufffd")  # half of a multi-byte character waits for the rest
            if job.deltas is not None and len(safe) > sent:
                job.deltas.put(safe[sent:])
                sent = len(safe)
            if len(ids) >= s.max_tokens:
                break
        if job.deltas is not None and len(text) > sent:
            job.deltas.put(text[sent:])
        return Choice(text, finish, len(ids))
