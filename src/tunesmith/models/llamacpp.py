"""llama.cpp as an engine, through llama-cpp-python: greedy answers of a GGUF file, as token ids.

llama-cpp-python is optional (PyPI ships it as source: pip builds llama.cpp with CMake, minutes on two cores; see
docs/export.md), so it is imported only here, and `available()` says whether it is installed. The prompt is what
llama-cpp-python's own chat handler makes of the GGUF's chat template (`Jinja2ChatFormatter`), tokenised by
llama.cpp's tokenizer from the file's vocabulary: the path an Ollama or llama.cpp user's prompt takes.
"""

from __future__ import annotations

import importlib.util
import os
import time
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


class LlamaCppEngine:
    """A GGUF loaded by llama.cpp, greedy (temperature 0, no repeat penalty), stopping on the tokens llama.cpp
    counts as end of generation (the file's eos and eot, and the end-of-turn tokens it recognises by text)."""

    name = "llama.cpp"

    def __init__(self, path: Path, *, n_ctx: int = 4096, threads: int | None = None) -> None:
        if not available():
            raise ModelError("llama.cpp is not installed (the llama-cpp-python package)", hint=INSTALL_HINT)
        import llama_cpp
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        threads = threads or int(os.environ.get("OMP_NUM_THREADS") or 0) or os.cpu_count() or 1
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

    def prompt_ids(self, messages: list[dict[str, Any]]) -> list[int]:
        prompt = self._format(messages=cast(Any, messages)).prompt
        # A template that writes the BOS text itself (Llama 3) must not get a second one from the tokenizer.
        add_bos = self._add_bos and not (self._bos and prompt.startswith(self._bos))
        return list(self.llm.tokenize(prompt.encode("utf-8"), add_bos=add_bos, special=True))

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
