"""llama.cpp as an engine, through llama-cpp-python: greedy answers of a GGUF file, as token ids.

llama-cpp-python is optional (PyPI ships it as source: pip builds llama.cpp with CMake, minutes on two cores; see
docs/export.md), so it is imported only here, and `available()` says whether it is installed. The prompt is what
llama-cpp-python's own chat handler makes of the GGUF's chat template (`Jinja2ChatFormatter`), tokenised by
llama.cpp's tokenizer from the file's vocabulary: the path an Ollama or llama.cpp user's prompt takes.

`answer_many` decodes several prompts together, each in its own sequence of one llama.cpp context: a decoding step
reads the weights once for every sequence instead of once per sequence, which is where a CPU spends its time on a
small model. llama-cpp-python's high-level API generates one sequence at a time, so the loop over `llama_decode` is
written here on its low-level bindings (as llama.cpp's own `batched` example and server do).
"""

from __future__ import annotations

import importlib.util
import os
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from tunesmith.errors import ModelError
from tunesmith.models.answers import Answer

INSTALL_HINT = (
    'CMAKE_ARGS="-DGGML_NATIVE=OFF" pip install llama-cpp-python   (a C++ build: several minutes on two cores; '
    "docs/export.md)"
)


def available() -> bool:
    """Whether llama-cpp-python is installed (without importing it: its import loads the shared library)."""
    return importlib.util.find_spec("llama_cpp") is not None


def default_threads() -> int:
    """llama.cpp's threads: OMP_NUM_THREADS when set (as torch reads it), else every core."""
    return int(os.environ.get("OMP_NUM_THREADS") or 0) or os.cpu_count() or 1


class LlamaCppEngine:
    """A GGUF loaded by llama.cpp, greedy (temperature 0, no repeat penalty), stopping on the tokens llama.cpp
    counts as end of generation (the file's eos and eot, and the end-of-turn tokens it recognises by text)."""

    name = "llama.cpp"

    def __init__(self, path: Path, *, n_ctx: int = 4096, threads: int | None = None) -> None:
        if not available():
            raise ModelError("llama.cpp is not installed (the llama-cpp-python package)", hint=INSTALL_HINT)
        import llama_cpp
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        threads = threads or default_threads()
        self.threads = threads
        try:
            self.llm = llama_cpp.Llama(
                model_path=str(path), n_ctx=n_ctx, n_threads=threads, n_threads_batch=threads, verbose=False
            )
        except ValueError as e:
            raise ModelError(f"llama.cpp cannot load {path}: {e}") from None
        self._vocab = self.llm._model.vocab
        template = self.llm.metadata.get("tokenizer.chat_template")
        if not template:
            raise ModelError(f"{path.name} has no chat template in its metadata (tokenizer.chat_template)")
        has_bos = "tokenizer.ggml.bos_token_id" in self.llm.metadata  # else llama.cpp reports a default id
        self._bos = self._text(self.llm.token_bos()) if has_bos else ""
        self._format = Jinja2ChatFormatter(
            template=template, eos_token=self._text(self.llm.token_eos()), bos_token=self._bos
        )
        self._add_bos = self.llm.metadata.get("tokenizer.ggml.add_bos_token") == "true"
        self._eog = llama_cpp.llama_vocab_is_eog

    def _text(self, token: int) -> str:
        return "" if token < 0 else self.llm.detokenize([token], special=True).decode("utf-8", "replace")

    def token_text(self, token: int) -> str:
        return self._text(token)

    def render(self, messages: list[dict[str, Any]]) -> str:
        """The prompt text the GGUF's own chat template makes of `messages`, with the generation prompt."""
        return str(self._format(messages=cast(Any, messages)).prompt)

    def tokenize(self, prompt: str) -> list[int]:
        """A rendered prompt's ids, special tokens read as such."""
        # A template that writes the BOS text itself (Llama 3) must not get a second one from the tokenizer.
        add_bos = self._add_bos and not (self._bos and prompt.startswith(self._bos))
        return list(self.llm.tokenize(prompt.encode("utf-8"), add_bos=add_bos, special=True))

    def prompt_ids(self, messages: list[dict[str, Any]]) -> list[int]:
        return self.tokenize(self.render(messages))

    def answer(self, messages: list[dict[str, str]], *, max_new_tokens: int) -> Answer:
        prompt = self.prompt_ids(messages)
        ids: list[int] = []
        stopped = False
        t0 = time.perf_counter()
        first = 0.0
        for token in self.llm.generate(prompt, top_k=1, top_p=1.0, min_p=0.0, temp=0.0, repeat_penalty=1.0):
            first = first or time.perf_counter() - t0
            ids.append(int(token))
            if self._eog(self._vocab, token):
                stopped = True
                break
            if len(ids) >= max_new_tokens:
                break
        total = time.perf_counter() - t0
        text = self.llm.detokenize(ids[:-1] if stopped else ids).decode("utf-8", "replace").strip()
        return Answer(prompt, ids, stopped, text, total * 1000, first * 1000)

    def answer_many(
        self,
        conversations: list[list[dict[str, str]]],
        *,
        max_new_tokens: int,
        parallel: int,
        suppress_first: Sequence[int] = (),
    ) -> list[Answer]:
        """Greedy answers to every conversation, `parallel` sequences decoded together; a finished sequence's place
        goes to the next prompt at once (continuous batching). Each answer's latency runs from its prompt's decoding
        to its last token, so it includes the steps it shared with the others. No answer starts with a token of
        `suppress_first` (the scope guard asking a refusal again, as transformers' `begin_suppress_tokens`)."""
        if not conversations:
            return []
        prompts = [self.prompt_ids(c) for c in conversations]
        parallel = max(1, min(parallel, len(prompts)))
        return _BatchedDecode(self, prompts, max_new_tokens, parallel, list(suppress_first)).run()


@dataclass
class _Sequence:
    index: int  # the prompt's position in the input
    pos: int  # where the next token goes in the sequence's cache
    started: float
    first_ms: float
    ids: list[int] = field(default_factory=list)


class _BatchedDecode:
    """One `answer_many` call: its own llama.cpp context with `parallel` sequences, freed when done.

    The prompts of an evaluation arm share a long opening (the chat template's start, the system prompt, the
    prompted arm's instructions): it is decoded once, into a sequence of its own, and each prompt's sequence starts
    from it (`llama_memory_seq_cp` shares the cache cells of one unified cache), so only the rest is decoded."""

    def __init__(
        self,
        engine: LlamaCppEngine,
        prompts: list[list[int]],
        max_new_tokens: int,
        parallel: int,
        suppress_first: list[int] | None = None,
    ) -> None:
        import llama_cpp

        self.engine, self.prompts, self.budget, self.parallel = engine, prompts, max_new_tokens, parallel
        self.suppress_first = suppress_first or []
        self.lib = llama_cpp
        # At least one token of each prompt is decoded in its own sequence: its logits give the first answer token.
        self.shared = min(_common_prefix(prompts), min(len(p) for p in prompts) - 1)
        cells = self.shared + parallel * (max(len(p) for p in prompts) - self.shared + max_new_tokens)
        params = llama_cpp.llama_context_default_params()
        params.n_seq_max = parallel + 1  # the shared opening's sequence is the last
        params.kv_unified = True  # one cache, so that the sequences can share the opening's cells
        params.n_ctx = -(-cells // 256) * 256
        self.n_batch = max(parallel, 512)
        params.n_batch = params.n_ubatch = self.n_batch
        params.n_threads = params.n_threads_batch = engine.threads
        self.ctx = llama_cpp.llama_init_from_model(engine.llm._model.model, params)
        if not self.ctx:
            raise ModelError(f"llama.cpp could not make a context of {cells} tokens for {parallel} sequences")
        self.memory = llama_cpp.llama_get_memory(self.ctx)
        self.batch = llama_cpp.llama_batch_init(self.n_batch, 0, 1)
        self.n_vocab = llama_cpp.llama_vocab_n_tokens(engine._vocab)
        self._prefill(prompts[0][: self.shared], parallel)

    def run(self) -> list[Answer]:
        out: list[Answer | None] = [None] * len(self.prompts)
        pending = deque(range(len(self.prompts)))
        slots: list[_Sequence | None] = [None] * self.parallel
        try:
            while pending or any(slots):
                for s in range(self.parallel):
                    while slots[s] is None and pending:
                        slots[s] = self._start(s, pending.popleft())
                        self._finish_if_done(slots, s, out)
                live = [s for s in range(self.parallel) if slots[s] is not None]
                if not live:
                    continue
                self.batch.n_tokens = 0
                for s in live:
                    seq = slots[s]
                    assert seq is not None
                    self._add(seq.ids[-1], seq.pos, s, logits=True)
                    seq.pos += 1
                self._decode()
                for j, s in enumerate(live):
                    seq = slots[s]
                    assert seq is not None
                    seq.ids.append(self._greedy(j))
                    self._finish_if_done(slots, s, out)
        finally:
            self.lib.llama_batch_free(self.batch)
            self.lib.llama_free(self.ctx)
        return [a for a in out if a is not None]

    def _start(self, slot: int, index: int) -> _Sequence:
        """Start sequence `slot` (cleared first) from the shared opening, decode the rest of the prompt into it and
        take the first answer token."""
        self.lib.llama_memory_seq_rm(self.memory, slot, -1, -1)
        if self.shared:
            self.lib.llama_memory_seq_cp(self.memory, self.parallel, slot, 0, self.shared)
        started = time.perf_counter()
        prompt = self.prompts[index]
        self._prefill(prompt[self.shared :], slot, start=self.shared)
        first = self._greedy(self.batch.n_tokens - 1, self.suppress_first)
        return _Sequence(index, len(prompt), started, (time.perf_counter() - started) * 1000, [first])

    def _finish_if_done(self, slots: list[_Sequence | None], slot: int, out: list[Answer | None]) -> None:
        seq = slots[slot]
        if seq is None:
            return
        stopped = bool(self.engine._eog(self.engine._vocab, seq.ids[-1]))
        if not stopped and len(seq.ids) < self.budget:
            return
        llm = self.engine.llm
        text = llm.detokenize(seq.ids[:-1] if stopped else seq.ids).decode("utf-8", "replace").strip()
        latency = (time.perf_counter() - seq.started) * 1000
        out[seq.index] = Answer(self.prompts[seq.index], seq.ids, stopped, text, latency, seq.first_ms)
        slots[slot] = None

    def _prefill(self, tokens: list[int], seq: int, *, start: int = 0) -> None:
        """Decode `tokens` into `seq` from position `start`, in chunks of the batch size; logits for the last only."""
        for begin in range(0, len(tokens), self.n_batch):
            chunk = tokens[begin : begin + self.n_batch]
            self.batch.n_tokens = 0
            for k, token in enumerate(chunk):
                self._add(token, start + begin + k, seq, logits=begin + k == len(tokens) - 1)
            self._decode()

    def _add(self, token: int, pos: int, seq: int, *, logits: bool) -> None:
        b, i = self.batch, self.batch.n_tokens
        b.token[i], b.pos[i], b.n_seq_id[i], b.logits[i] = token, pos, 1, logits
        b.seq_id[i][0] = seq
        b.n_tokens = i + 1

    def _decode(self) -> None:
        rc = self.lib.llama_decode(self.ctx, self.batch)
        if rc != 0:
            raise ModelError(f"llama.cpp failed to decode a batch of {self.batch.n_tokens} tokens (code {rc})")

    def _greedy(self, i: int, suppress: list[int] | None = None) -> int:
        """The highest logit of the batch's i-th output, none of `suppress`: llama.cpp's greedy sampler, first index
        on a tie."""
        import numpy as np

        row = np.ctypeslib.as_array(self.lib.llama_get_logits_ith(self.ctx, i), shape=(self.n_vocab,))
        if suppress:
            row = row.copy()
            row[suppress] = -np.inf
        return int(row.argmax())


def _common_prefix(prompts: list[list[int]]) -> int:
    first, n = prompts[0], len(prompts[0])
    for p in prompts[1:]:
        n = next((k for k, (a, b) in enumerate(zip(first[:n], p, strict=False)) if a != b), min(n, len(p)))
    return n
