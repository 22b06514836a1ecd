"""A tiny Llama-architecture model and byte-level BPE tokenizer, built offline from a seed.

Tests, the quickstart and the benchmarks need a real causal LM with a real chat template, but must not
download weights. This module trains a tokenizer on a small bundled corpus and initialises a Llama model at
random, so the whole pipeline (chat template, assistant-only loss masks, LoRA, generation, saving) runs on any
machine in seconds. The same seed always gives byte-identical files, so a test failure reproduces.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Literal, TypedDict

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM, TokenizersBackend
from transformers.utils import logging as hf_logging

# The bundled corpus has just enough distinct words for BPE to fill all 4096 entries; a smaller corpus would
# give fewer tokens than the model has embedding rows, which works but wastes them.
VOCAB_SIZE = 4096
MAX_LENGTH = 2048

ENDOFTEXT = "<|endoftext|>"
IM_START = "<|im_start|>"
IM_END = "<|im_end|>"
PAD = "<|pad|>"
# Given to the trainer first, so they get the fixed ids 0..3 whatever the corpus, and the model config can
# name them without training a tokenizer.
SPECIAL_TOKENS = [ENDOFTEXT, IM_START, IM_END, PAD]
ENDOFTEXT_ID, IM_START_ID, IM_END_ID, PAD_ID = range(len(SPECIAL_TOKENS))

# ChatML. The {% generation %} markers let apply_chat_template(return_assistant_tokens_mask=True) report which
# tokens the assistant wrote, so training can put the loss on them only; the closing <|im_end|> is inside the
# markers because the model must learn to stop.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' }}"
    "{% if message['role'] == 'assistant' %}"
    "{% generation %}{{ message['content'] + '<|im_end|>' }}{% endgeneration %}"
    "{% else %}{{ message['content'] + '<|im_end|>' }}{% endif %}"
    "{{ '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

Size = Literal["xs", "s", "m"]


class _Dims(TypedDict):
    """The dimensions a size preset sets in the LlamaConfig."""

    hidden_size: int
    intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int


# xs: unit tests (a training step takes milliseconds); s: the quickstart demo; m: benchmarks.
SIZES: dict[str, _Dims] = {
    "xs": {
        "hidden_size": 64,
        "intermediate_size": 192,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    "s": {
        "hidden_size": 256,
        "intermediate_size": 768,
        "num_hidden_layers": 4,
        "num_attention_heads": 8,
        "num_key_value_heads": 4,
    },
    "m": {
        "hidden_size": 512,
        "intermediate_size": 1536,
        "num_hidden_layers": 8,
        "num_attention_heads": 8,
        "num_key_value_heads": 8,
    },
}


# See build_tiny_model: lets a LoRA over the random base move the logits as it would over a trained one.
OUTPUT_HEAD_SCALE = 5.0


def build_tiny_model(out_dir: str | Path, *, seed: int = 0, size: Size = "xs") -> Path:
    """Build the tiny model and its tokenizer into `out_dir`, replacing what is there.

    Everything is written to a sibling temporary folder first and moved into place at the end, so an
    interrupted build never leaves a half-written model that a later run would try to load.
    """
    if size not in SIZES:
        raise ValueError(f"unknown size {size!r}; choose one of {', '.join(SIZES)}")
    out = Path(out_dir).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)

    tokenizer = build_tokenizer()
    config = tiny_config(size)
    # fork_rng keeps the caller's global RNG state untouched: building a model must not change what a test or
    # a training run draws afterwards.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LlamaForCausalLM(config)
        # A LoRA over a random, frozen base adapts the projections but not the output head, so its largest reachable
        # logit is about std(lm_head) * hidden; at the usual std of 0.02 that is too small to express a confident
        # answer and LoRA barely learns (val loss 7.3 vs 4.8 after one epoch on the demo data at x5). A trained
        # base has a large output head; this scale stands in for that. The head is untied: scaling tied embeddings
        # instead makes the random model predict its own input token (initial loss 18.8).
        with torch.no_grad():
            model.get_output_embeddings().weight.mul_(OUTPUT_HEAD_SCALE)  # type: ignore[no-untyped-call]
    model.generation_config = GenerationConfig(  # type: ignore[no-untyped-call]
        eos_token_id=[IM_END_ID, ENDOFTEXT_ID],
        pad_token_id=PAD_ID,
        do_sample=False,
    )

    # A unique sibling name (not mkdtemp, which would make the folder private to this user).
    tmp = out.parent / f".{out.name}.{secrets.token_hex(4)}.tmp"
    tmp.mkdir()
    try:
        with _quiet_progress():
            model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        _replace_dir(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _replace_dir(src: Path, dst: Path) -> None:
    """Move `src` to `dst`; an existing `dst` is only removed once `src` is in place."""
    if not dst.exists():
        os.replace(src, dst)
        return
    # os.replace cannot put a folder onto a non-empty one, so the old one steps aside first and comes back if
    # the move fails.
    old = dst.parent / f".{dst.name}.{secrets.token_hex(4)}.old"
    os.replace(dst, old)
    try:
        os.replace(src, dst)
    except BaseException:
        os.replace(old, dst)
        raise
    shutil.rmtree(old, ignore_errors=True)


@contextmanager
def _quiet_progress() -> Iterator[None]:
    """Hide the "Writing model shards" bar for a file that takes milliseconds to write, then restore it."""
    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()  # type: ignore[no-untyped-call]


def tiny_config(size: Size) -> LlamaConfig:
    """The model config for a size preset, so callers can count parameters without building anything."""
    # attn_implementation is taken by PreTrainedConfig's **kwargs, which LlamaConfig's signature leaves out.
    return LlamaConfig(  # type: ignore[call-arg]
        vocab_size=VOCAB_SIZE,
        max_position_embeddings=MAX_LENGTH,
        rms_norm_eps=1e-6,
        initializer_range=0.02,
        tie_word_embeddings=False,
        rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
        bos_token_id=None,
        eos_token_id=IM_END_ID,
        pad_token_id=PAD_ID,
        attn_implementation="sdpa",
        **SIZES[size],
    )


def build_tokenizer() -> TokenizersBackend:
    """Train the byte-level BPE tokenizer on the bundled corpus and wrap it for transformers.

    Byte-level means every string encodes and decodes back exactly, with no unknown token, which is what the
    round-trip checks elsewhere in tunesmith rely on.
    """
    corpus = resources.files("tunesmith").joinpath("assets/tiny_corpus.txt").read_text(encoding="utf-8")
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(corpus.splitlines(keepends=True), trainer=trainer)

    # TokenizersBackend is transformers 5's name for PreTrainedTokenizerFast (an alias of it); it is what
    # AutoTokenizer loads back for a byte-level tokenizer.json.
    tokenizer = TokenizersBackend(  # type: ignore[no-untyped-call]
        tokenizer_object=bpe,
        bos_token=None,
        eos_token=IM_END,
        unk_token=None,
        pad_token=PAD,
        extra_special_tokens=[ENDOFTEXT, IM_START],
        model_max_length=MAX_LENGTH,
        model_input_names=["input_ids", "attention_mask"],
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer
