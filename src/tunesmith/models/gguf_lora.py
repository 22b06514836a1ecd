"""Write a peft LoRA adapter alone as a GGUF adapter (llama.cpp `--lora`, Ollama `ADAPTER`), over a base GGUF that
`models.gguf_write` wrote.

As for the model, the `gguf` package gives the format and the names, and llama.cpp's `convert_lora_to_gguf.py` is the
reference for the mapping, which no library provides: each adapted weight `W` becomes `{name}.lora_a` (A, rank x
in) and `{name}.lora_b` (B, out x rank) under W's llama.cpp name, `adapter.lora.alpha` carries the scale (llama.cpp
applies alpha / rank, as peft does), and on Llama the rows of B for the query and key are permuted as W's are.
DoRA, rsLoRA, per-module ranks and trained full modules have no GGUF form here and are refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from tunesmith.errors import ModelError
from tunesmith.models.gguf_write import _arch, _model_arch, _permute
from tunesmith.models.loading import text_config


def _config(peft_model: Any) -> Any:
    cfg = peft_model.peft_config["default"]
    unsupported = [
        ("DoRA", getattr(cfg, "use_dora", False)),
        ("rsLoRA", getattr(cfg, "use_rslora", False)),
        ("per-module ranks or alphas", bool(cfg.rank_pattern or cfg.alpha_pattern)),
        ("trained full modules (modules_to_save)", bool(cfg.modules_to_save)),
    ]
    for what, present in unsupported:
        if present:
            raise ModelError(
                f"a GGUF adapter cannot carry {what}",
                hint="export the merged model instead (--gguf writes it merged; --adapter writes the peft adapter)",
            )
    return cfg


def _pairs(peft_model: Any) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """(transformers weight name, A, B) for every adapted linear layer."""
    prefix = "base_model.model."
    for name, module in peft_model.named_modules():
        if hasattr(module, "lora_A") and "default" in getattr(module, "lora_A", {}):
            a = module.lora_A["default"].weight.detach().float().cpu().numpy()
            b = module.lora_B["default"].weight.detach().float().cpu().numpy()
            yield name.removeprefix(prefix) + ".weight", a, b


def write_lora_gguf(peft_model: Any, path: str | Path) -> int:
    """Write the adapter of `peft_model` (a peft LoRA model, not merged) to `path`; return the tensors written."""
    import gguf

    cfg = _config(peft_model)
    base = peft_model.get_base_model()
    arch, permute = _arch(base)
    model_cfg = text_config(base.config)
    names = gguf.get_tensor_name_map(_model_arch(arch), model_cfg.num_hidden_layers)
    writer = gguf.GGUFWriter(str(path), arch)
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(cfg.lora_alpha))
    count = 0
    for weight, a, b in _pairs(peft_model):
        target = names.get_name(weight, try_suffixes=(".weight",))
        if target is None:
            raise ModelError(f"GGUF adapter export does not know where {weight} goes in a '{arch}' model")
        if permute and weight.endswith("q_proj.weight"):
            b = _permute(b, model_cfg.num_attention_heads)
        elif permute and weight.endswith("k_proj.weight"):
            b = _permute(b, model_cfg.num_key_value_heads)
        writer.add_tensor(f"{target}.lora_a", a.astype(np.float32))
        writer.add_tensor(f"{target}.lora_b", b.astype(np.float32))
        count += 2
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return count
