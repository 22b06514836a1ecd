"""The PEFT LoRA configuration of a run, for SFT and DPO alike, from `train.lora`."""

from __future__ import annotations

from typing import Any

from tunesmith.config import LoraConfig
from tunesmith.errors import ConfigError
from tunesmith.models.loading import text_config


def decoder_layers(model: Any) -> int:
    """How many decoder layers the model has, from its (text) config."""
    return int(text_config(model.config).num_hidden_layers)


def linear_names(model: Any) -> list[str]:
    """The names of the linear layers that "all-linear" adapts: every nn.Linear but the output head."""
    import torch

    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    return sorted(
        {
            name.rsplit(".", 1)[-1]
            for name, module in model.named_modules()
            if isinstance(module, torch.nn.Linear) and module is not head
        }
    )


def peft_lora_config(lora: LoraConfig, model: Any, *, dora: bool = False) -> Any:
    """PEFT's LoraConfig for `train.lora`.

    With `top_layers: N`, only the upper N decoder layers get adapters (PEFT's `layers_to_transform`). Nothing below
    the lowest adapter then needs a gradient, so the backward pass stops there: with the upper half, a LoRA step
    costs about 3N FLOPs per token instead of 4N. It is not the same training: the lower layers stay as they were.
    """
    from peft import LoraConfig as PeftLoraConfig

    layers = None
    if lora.top_layers is not None:
        total = decoder_layers(model)
        if lora.top_layers > total:
            raise ConfigError(
                f"train.lora.top_layers is {lora.top_layers} but the model has {total} decoder layers",
                hint=f"set train.lora.top_layers to at most {total}, or remove it to adapt every layer",
            )
        layers = list(range(total - lora.top_layers, total))
    targets = lora.target_modules
    if layers is not None and targets == "all-linear":
        # PEFT takes layers_to_transform only with named modules: all-linear's names, as PEFT resolves them.
        targets = linear_names(model)
    return PeftLoraConfig(
        r=lora.r,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=targets,
        layers_to_transform=layers,
        use_dora=dora,
        task_type="CAUSAL_LM",
    )
