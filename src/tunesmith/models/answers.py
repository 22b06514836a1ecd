"""Greedy answers as token ids, one prompt at a time, from any engine: the trained model in transformers, a GGUF read
back by transformers, or a GGUF in llama.cpp (`models.llamacpp`).

A parity check compares engines token by token, so an answer keeps its ids and says whether it ended on an
end-of-turn token. One prompt at a time, unpadded: what one user gets, and no padding to blur a comparison.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from tunesmith.models.chat import render
from tunesmith.models.generation import completion_length, greedy


@dataclass(frozen=True)
class Answer:
    prompt_ids: list[int]
    ids: list[int]  # the generated tokens, up to and including the end-of-turn token
    stopped: bool  # ended on an end-of-turn token within the budget
    text: str  # decoded without special tokens
    latency_ms: float = 0.0  # the whole answer, prompt included
    first_token_ms: float = 0.0  # until the first generated token (0 where the engine does not say)


class Engine(Protocol):
    name: str

    def answer(self, messages: list[dict[str, str]], *, max_new_tokens: int) -> Answer: ...

    def token_text(self, token: int) -> str: ...


class HfEngine:
    """A transformers model and tokenizer, greedy, stopping on `eos_ids`."""

    def __init__(self, model: Any, tokenizer: Any, eos_ids: set[int], *, name: str) -> None:
        self.model, self.tokenizer, self.eos_ids, self.name = model, tokenizer, eos_ids, name
        model.eval()

    def token_text(self, token: int) -> str:
        return str(self.tokenizer.decode([token]))

    def answer(self, messages: list[dict[str, str]], *, max_new_tokens: int) -> Answer:
        text = render(self.tokenizer, messages, add_generation_prompt=True)
        enc = self.tokenizer(text, return_tensors="pt", add_special_tokens=False).to(self.model.device)
        out = greedy(self.model, self.tokenizer, enc, max_new_tokens=max_new_tokens, eos_ids=self.eos_ids)
        row = out[0, enc["input_ids"].shape[1] :].tolist()
        end = completion_length(row, self.eos_ids)
        ids = row[:end]
        stopped = bool(ids) and ids[-1] in self.eos_ids
        decoded = self.tokenizer.decode(ids, skip_special_tokens=True).strip()
        return Answer(enc["input_ids"][0].tolist(), ids, stopped, decoded)


def gguf_end_of_turn(path: Path) -> set[int]:
    """The ids a GGUF says end a turn: its eos and, when set, llama.cpp's eot."""
    from gguf import GGUFReader

    reader = GGUFReader(str(path))
    ids = set()
    for key in ("tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id"):
        field = reader.fields.get(key)
        if field is not None:
            ids.add(int(field.contents()))
    return ids


def transformers_gguf_engine(path: Path) -> HfEngine:
    """The GGUF as transformers reads it (`gguf_file=`, dequantised to float32): its tokenizer, chat template and
    end-of-turn ids all come from the file's metadata, as a user loading it would get them."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
        model = AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name, dtype=torch.float32)
    finally:
        hf_logging.set_verbosity(verbosity)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return HfEngine(model, tokenizer, gguf_end_of_turn(path), name="transformers-gguf")
