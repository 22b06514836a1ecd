"""Write a transformers causal LM as one GGUF file (llama.cpp, Ollama), with its tokenizer and chat template.

The `gguf` package gives the file format (`GGUFWriter`), llama.cpp's tensor names (`TensorNameMap`) and the q8_0
kernel (`gguf.quants`); what it does not give is the mapping from a transformers model to those calls, which
llama.cpp keeps in its `convert_hf_to_gguf.py` script (not an installable library). So this module is our own,
written against that script as the reference for the few architectures we support, and kept small:
- the hyperparameters llama.cpp reads (`{arch}.block_count`, `.attention.head_count`, ...);
- every weight under its llama.cpp name; Llama's query and key rows permuted to llama.cpp's rotary layout, as the
  converter does (transformers permutes them back when it reads a GGUF);
- the byte-level BPE vocabulary, merges, pre-tokenizer name and special ids, the chat template, and every token that
  ends a turn: the eos id, and llama.cpp's end-of-turn id when the model stops on another token too.

An architecture or a tokenizer we do not map is refused before anything is written, with the list of those we do.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from tunesmith.errors import ModelError
from tunesmith.models.loading import text_config

Quant = Literal["f32", "f16", "q8_0"]
QUANTS: tuple[Quant, ...] = ("f32", "f16", "q8_0")

# transformers class -> llama.cpp architecture name, and whether q/k rows need llama.cpp's rotary permutation
# (Llama's "normal" rope; Qwen2 uses the NeoX layout, which llama.cpp keeps as transformers has it).
ARCHITECTURES: dict[str, tuple[str, bool]] = {
    "LlamaForCausalLM": ("llama", True),
    "Qwen2ForCausalLM": ("qwen2", False),
}


@dataclass(frozen=True)
class GgufInfo:
    """What was written: the facts a Modelfile, a parity check and a manifest need without rereading the file."""

    path: Path
    architecture: str
    quant: Quant
    tensors: int
    pre_tokenizer: str
    eos_id: int
    eot_id: int | None
    end_of_turn: list[str]  # the token texts that end an assistant turn


def supported() -> str:
    """The supported architectures, for error hints."""
    return ", ".join(f"{cls} ({arch})" for cls, (arch, _) in ARCHITECTURES.items())


def _arch(model: Any) -> tuple[str, bool]:
    classes = list(getattr(model.config, "architectures", None) or []) + [type(model).__name__]
    for cls in classes:
        if cls in ARCHITECTURES:
            return ARCHITECTURES[cls]
    raise ModelError(
        f"GGUF export does not support the architecture {classes[0]}",
        hint=f"supported: {supported()}; export the merged model (--merged) and convert it with llama.cpp's "
        "convert_hf_to_gguf.py",
    )


def _pre_tokenizer(tokenizer: Any) -> str:
    """llama.cpp's name for the way the tokenizer splits text before BPE, read from the tokenizer itself.

    llama.cpp recognises a pre-tokenizer by name (`tokenizer.ggml.pre`), and its converter finds the name by hashing
    the tokens of a test text. We read the tokenizer's own pre-tokenizer instead: it is what the model was trained
    with (a GGUF-imported SmolLM2 splits like GPT-2, for instance, whatever its original file said).
    """
    from transformers.integrations.gguf.gguf_tokenizer_mapping import GGUF_PRE_TOKENIZER_SPLITS

    spec = json.loads(tokenizer.backend_tokenizer.to_str()).get("pre_tokenizer") or {}
    parts = spec.get("pretokenizers", [spec]) if spec.get("type") == "Sequence" else [spec]
    types = [p.get("type") for p in parts]
    if types == ["ByteLevel"] and parts[0].get("use_regex", True):
        return "gpt-2"
    if types == ["Digits", "ByteLevel"] and parts[0].get("individual_digits"):
        return "smollm"
    if types == ["Split", "ByteLevel"]:
        pattern = (parts[0].get("pattern") or {}).get("Regex")
        for name in ("llama-bpe", "qwen2"):  # names llama.cpp and transformers both know
            if pattern == GGUF_PRE_TOKENIZER_SPLITS[name]:
                return name
    raise ModelError(
        f"GGUF export does not know this tokenizer's pre-tokenizer ({' + '.join(map(str, types))})",
        hint="supported: GPT-2 byte-level (the tiny model, SmolLM2 as imported), SmolLM, Llama 3 and Qwen2 BPE",
    )


def _vocab(tokenizer: Any, vocab_size: int) -> tuple[list[str], list[int], list[str]]:
    """Tokens, their llama.cpp types and the merges of a byte-level BPE tokenizer, padded to the model's rows."""
    import gguf

    spec = json.loads(tokenizer.backend_tokenizer.to_str())
    model = spec.get("model") or {}
    if model.get("type") != "BPE" or (spec.get("decoder") or {}).get("type") != "ByteLevel":
        raise ModelError(
            f"GGUF export supports byte-level BPE tokenizers; this one is {model.get('type')}",
            hint="sentencepiece tokenizers (Llama 2, Mistral) are not supported yet: convert the merged model with "
            "llama.cpp's convert_hf_to_gguf.py",
        )
    by_id = {i: t for t, i in tokenizer.get_vocab().items()}
    added = tokenizer.added_tokens_decoder
    tokens, types = [], []
    for i in range(vocab_size):
        if i not in by_id:  # embedding rows the tokenizer never produces (Qwen pads its vocabulary)
            tokens.append(f"[PAD{i}]")
            types.append(gguf.TokenType.USER_DEFINED)
            continue
        tokens.append(by_id[i])
        if i in added:
            types.append(gguf.TokenType.CONTROL if added[i].special else gguf.TokenType.USER_DEFINED)
        else:
            types.append(gguf.TokenType.NORMAL)
    merges = [m if isinstance(m, str) else " ".join(m) for m in model.get("merges") or []]
    return tokens, [int(t) for t in types], merges


def _end_of_turn(tokenizer: Any, eos_ids: set[int]) -> tuple[int, int | None]:
    """The eos id llama.cpp reads, and an end-of-turn id when the model also stops on another token.

    llama.cpp stops on eos, on eot, and on tokens it recognises by their text (`<|im_end|>`, `<|eot_id|>`, ...);
    transformers reads only eos from a GGUF. The tokenizer's eos goes in eos (SmolLM2 and Qwen instruct: <|im_end|>),
    and the turn's end token, when it is another, in eot (Llama 3's <|eot_id|>)."""
    eos = tokenizer.eos_token_id
    if eos is None:
        raise ModelError("the tokenizer has no eos token: the exported model would never stop")
    others = {tokenizer.convert_ids_to_tokens(i): i for i in eos_ids if i != eos}
    turn_end = next((others[t] for t in TURN_TOKENS if t in others), None)
    return int(eos), turn_end


# Tokens that end an assistant turn in the chat templates we know, most specific first (llama.cpp's eot).
TURN_TOKENS = ("<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|eom_id|>")


def _permute(w: np.ndarray, heads: int) -> np.ndarray:
    """transformers' rotary halves to llama.cpp's interleaved pairs, per head (convert_hf_to_gguf's `permute`)."""
    return w.reshape(heads, 2, w.shape[0] // heads // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def _tensors(model: Any, arch: str, permute: bool) -> Iterator[tuple[str, np.ndarray]]:
    import gguf

    cfg = text_config(model.config)
    names = gguf.get_tensor_name_map(_model_arch(arch), cfg.num_hidden_layers)
    tied = bool(getattr(cfg, "tie_word_embeddings", False))
    for name, tensor in model.state_dict().items():
        if tied and name == "lm_head.weight":
            continue  # llama.cpp reuses token_embd when output.weight is absent
        if name.endswith("rotary_emb.inv_freq"):
            continue
        target = names.get_name(name, try_suffixes=(".weight", ".bias"))
        if target is None:
            raise ModelError(f"GGUF export does not know where the tensor {name} goes in a '{arch}' model")
        data = tensor.detach().float().cpu().numpy()
        if permute and name.endswith("q_proj.weight"):
            data = _permute(data, cfg.num_attention_heads)
        elif permute and name.endswith("k_proj.weight"):
            data = _permute(data, cfg.num_key_value_heads)
        yield target, data


def _model_arch(arch: str) -> Any:
    import gguf

    return next(k for k, v in gguf.MODEL_ARCH_NAMES.items() if v == arch)


def _encode(data: np.ndarray, quant: Quant) -> tuple[np.ndarray, Any]:
    """The tensor as stored: 1-D tensors (norms, biases) stay f32 as llama.cpp's converter keeps them; q8_0 rows
    whose length is not a multiple of its 32-value block fall back to f16, as the converter does."""
    import gguf
    from gguf.quants import quantize

    if quant == "f32" or data.ndim < 2:
        return data.astype(np.float32), None
    if quant == "q8_0" and data.shape[-1] % 32 == 0:
        return quantize(data.astype(np.float32), gguf.GGMLQuantizationType.Q8_0), gguf.GGMLQuantizationType.Q8_0
    return data.astype(np.float16), None


def _hyperparameters(writer: Any, model: Any, arch: str) -> None:
    cfg = text_config(model.config)
    rope = getattr(cfg, "rope_parameters", None) or getattr(cfg, "rope_scaling", None) or {}
    if rope.get("rope_type", "default") != "default":
        raise ModelError(
            f"GGUF export does not map the rope scaling '{rope.get('rope_type')}' yet",
            hint="export the merged model (--merged) and convert it with llama.cpp's convert_hf_to_gguf.py",
        )
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    writer.add_context_length(cfg.max_position_embeddings)
    writer.add_embedding_length(cfg.hidden_size)
    writer.add_feed_forward_length(cfg.intermediate_size)
    writer.add_block_count(cfg.num_hidden_layers)
    writer.add_head_count(cfg.num_attention_heads)
    writer.add_head_count_kv(cfg.num_key_value_heads)
    writer.add_layer_norm_rms_eps(cfg.rms_norm_eps)
    writer.add_rope_freq_base(float(rope.get("rope_theta", getattr(cfg, "rope_theta", 10000.0))))
    writer.add_rope_dimension_count(head_dim)
    writer.add_key_length(head_dim)
    writer.add_value_length(head_dim)
    writer.add_vocab_size(cfg.vocab_size)


def _tokenizer(writer: Any, tokenizer: Any, vocab_size: int, eos_ids: set[int]) -> tuple[str, int, int | None]:
    tokens, types, merges = _vocab(tokenizer, vocab_size)
    pre = _pre_tokenizer(tokenizer)
    eos, eot = _end_of_turn(tokenizer, eos_ids)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(pre)
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    if tokenizer.bos_token_id is not None:
        writer.add_bos_token_id(tokenizer.bos_token_id)
    writer.add_eos_token_id(eos)
    if eot is not None:
        writer.add_eot_token_id(eot)
    if tokenizer.unk_token_id is not None:
        writer.add_unk_token_id(tokenizer.unk_token_id)
    if tokenizer.pad_token_id is not None:
        writer.add_pad_token_id(tokenizer.pad_token_id)
    ids = tokenizer("a")["input_ids"]
    writer.add_add_bos_token(bool(ids) and tokenizer.bos_token_id is not None and ids[0] == tokenizer.bos_token_id)
    writer.add_add_eos_token(False)
    if not tokenizer.chat_template:
        raise ModelError("the tokenizer has no chat template: the GGUF would lose the roles and the end of turn")
    writer.add_chat_template(tokenizer.chat_template)
    return pre, eos, eot


def write_gguf(
    model: Any, tokenizer: Any, path: str | Path, *, quant: Quant, eos_ids: set[int], name: str = ""
) -> GgufInfo:
    """Write `model` (a plain transformers model: merge an adapter first) and its tokenizer to `path`.

    `eos_ids` are the tokens that end an assistant turn (`models.chat.end_of_turn_ids`); the caller writes to a
    temporary path and renames it (the writer streams into the file it is given).
    """
    import gguf

    if quant not in QUANTS:
        raise ModelError(f"unknown GGUF quantisation '{quant}'", hint=f"choose one of {', '.join(QUANTS)}")
    arch, permute = _arch(model)
    path = Path(path)
    writer = gguf.GGUFWriter(str(path), arch)
    writer.add_type(gguf.GGUFType.MODEL)
    if name:
        writer.add_name(name)
    file_type = {
        "f32": gguf.LlamaFileType.ALL_F32,
        "f16": gguf.LlamaFileType.MOSTLY_F16,
        "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0,
    }
    writer.add_file_type(file_type[quant])
    if quant == "q8_0":
        writer.add_quantization_version(gguf.GGML_QUANT_VERSION)
    _hyperparameters(writer, model, arch)
    pre, eos, eot = _tokenizer(writer, tokenizer, text_config(model.config).vocab_size, eos_ids)
    count = 0
    for target, data in _tensors(model, arch, permute):
        stored, raw = _encode(data, quant)
        writer.add_tensor(target, stored, raw_dtype=raw)
        count += 1
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    ends = [tokenizer.convert_ids_to_tokens(i) for i in (eos, eot) if i is not None]
    return GgufInfo(path, arch, quant, count, pre, eos, eot, ends)
