"""A shared prefix computed once: the step that the shared-prefix loss (lm_loss.py) and the kept frozen-layer
states (frozen_layers.py) both take, so neither has to import the other."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import torch

from tunesmith.models.loading import text_config


def prefix_once(run: Callable[[bool, dict[str, Any]], torch.Tensor], owner: Any, rows: int) -> torch.Tensor:
    """Hidden states of every row from two calls: `run(True, cache)` computes the shared prefix for one row,
    `run(False, cache)` the rest of every row from that row's keys and values, repeated. `owner` is the module
    whose forward takes the cache (the causal LM, or the decoder itself)."""
    from transformers import DynamicCache

    cache = DynamicCache(config=text_config(owner.config))
    # transformers 5.24 renamed past_key_values to cache (the old name warns, and goes in 5.40).
    name = "cache" if "cache" in inspect.signature(type(owner).forward).parameters else "past_key_values"
    kw = {name: cache, "use_cache": True}
    head = run(True, kw)
    cache.batch_repeat_interleave(rows)  # differentiable: the rows' gradients sum into the one prefix
    return torch.cat([head.expand(rows, -1, -1), run(False, kw)], dim=1)
