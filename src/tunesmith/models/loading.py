"""Loading base models and tokenizers from a local directory or a Hub id, with errors a user can act on."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from tunesmith.config import Config
from tunesmith.errors import ModelError
from tunesmith.models.chat import ready_for_chat


def resolve_base(cfg: Config) -> str:
    """A local directory (resolved against tunesmith.yaml) when it exists, else the string as a Hub id.

    A `.gguf` file is imported once into `.tunesmith/models/` beside the config (keyed by the file's sha256),
    and that folder is the base every stage loads.
    """
    local = cfg.path(cfg.model.base)
    if local.suffix.lower() == ".gguf":
        if not local.is_file():
            raise ModelError(f"model.base: GGUF file not found: {local}", hint="check the path in tunesmith.yaml")
        from tunesmith.models.gguf import cached_import

        return str(cached_import(local, cfg.artifacts_dir.parent / ".tunesmith" / "models"))
    return str(local) if local.exists() else cfg.model.base


def ensure_base_model(cfg: Config) -> str:
    """Build or import the model at `model.base` when the config says how (`model.tiny`, `model.get`)."""
    target = cfg.path(cfg.model.base)
    if cfg.model.tiny is not None and not target.exists():
        from tunesmith.models.tiny import build_tiny_model

        build_tiny_model(target, seed=cfg.model.tiny.seed, size=cfg.model.tiny.size)
    if cfg.model.get is not None and not (target / "config.json").exists():
        from tunesmith.models.named import get_named_model

        get_named_model(cfg.model.get, target)
    return resolve_base(cfg)


def _load_error(base: str, e: Exception) -> ModelError:
    offline = os.environ.get("HF_HUB_OFFLINE") == "1"
    looks_local = base.startswith((".", "/", "~")) or os.sep in base and Path(base).parent.exists()
    if looks_local and not Path(base).exists():
        hint = f"the directory {base} does not exist; build one with `tunesmith model tiny --out {base}`"
    elif offline:
        hint = "HF_HUB_OFFLINE=1 is set, so only models already in the Hugging Face cache or on disk load"
    else:
        hint = "pass a local directory saved with save_pretrained, or a Hub id such as Qwen/Qwen3-0.6B"
    return ModelError(f"cannot load model '{base}': {str(e).splitlines()[0]}", hint=hint)


def load_tokenizer(base: str, *, revision: str | None = None) -> Any:
    from transformers import AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(base, revision=revision)
    except (OSError, ValueError) as e:
        raise _load_error(base, e) from None
    ready_for_chat(
        tok,
        ModelError(
            f"the tokenizer of '{base}' has no chat template",
            hint="use an instruction-tuned model, or a tokenizer that ships a chat_template",
        ),
    )
    return tok


def load_model(base: str, *, revision: str | None = None, dtype: Any = None, device: str | None = None) -> Any:
    """The model in `dtype` (the checkpoint's own when unset), loaded straight onto `device` when one is given.

    Training passes no device: the Trainer places the model itself, and a `device_map` would make it treat the
    model as already dispatched.
    """
    from transformers import AutoModelForCausalLM

    try:
        return AutoModelForCausalLM.from_pretrained(base, revision=revision, dtype=dtype or "auto", device_map=device)
    except (OSError, ValueError) as e:
        raise _load_error(base, e) from None


@dataclass(frozen=True)
class Placement:
    """Where a model runs to answer (a torch device name) and in which dtype."""

    device: str
    dtype: Any  # a torch.dtype


def inference_placement(*, gpu: bool = True) -> Placement:
    """The one decision of where the local models that answer run: the eval's model arms and forgetting check, and
    `data add-refusals --pairs`.

    On a GPU (`torch.cuda.is_available()`, and `gpu` not turned off by a caller whose engine is not on the GPU):
    that GPU, in bfloat16 where it has it, else float32, as training chooses (`train.loop.train_dtype`). On the
    CPU, float32 whatever the checkpoint says: bf16 matmuls are ~80x slower than fp32 on CPUs without AVX512-BF16
    or AMX, and CPU training is in float32, so the trained model is evaluated in the dtype it was trained in.
    """
    import torch

    if gpu and torch.cuda.is_available():
        return Placement("cuda", torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float32)
    return Placement("cpu", torch.float32)


def load_for_inference(base: str, *, revision: str | None = None, placement: Placement | None = None) -> Any:
    """A model to answer with, where `placement` says (by default `inference_placement()`); inputs must follow
    it with `.to(model.device)`."""
    where = placement or inference_placement()
    return load_model(base, revision=revision, dtype=where.dtype, device=where.device)


def text_config(config: Any) -> Any:
    """The language model's config: the text part of a multimodal config, or the config itself."""
    return config.get_text_config() if hasattr(config, "get_text_config") else config


def generation_eos(model: Any) -> int | list[int] | None:
    gen = getattr(model, "generation_config", None)
    return getattr(gen, "eos_token_id", None) if gen is not None else None


def saved_generation_eos(base: str | Path, revision: str | None = None) -> int | list[int] | None:
    """The end-of-sequence ids a loaded model's generation config would hold, without loading the weights.

    `data inspect` needs them to show the mask the recipe trains (the recipe adds the model's own EOS ids to the
    end-of-turn tokens). From generation_config.json, else derived from config.json as transformers does.
    """
    from transformers import AutoConfig, GenerationConfig

    try:
        # revision=None means the repo's default branch (not always "main"); transformers annotates it `str`.
        config = GenerationConfig.from_pretrained(base, revision=revision)  # type: ignore[arg-type]
        return cast("int | list[int] | None", config.eos_token_id)
    except (OSError, ValueError):
        pass
    try:
        config = GenerationConfig.from_model_config(AutoConfig.from_pretrained(base, revision=revision))
        return cast("int | list[int] | None", config.eos_token_id)
    except (OSError, ValueError):
        return None
