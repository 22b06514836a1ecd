"""Frozen lower layers computed once: their outputs reused in every later epoch.

With `train.lora.top_layers`, nothing trains below the lowest adapter: the embeddings and the lower decoder layers
map a row's tokens to the same hidden states in every epoch. Those states are kept, per row, the first time a row
is seen; from then on only the upper layers run, from the kept states. The same forward and the same gradients (the
upper layers receive exactly what the lower ones would have computed), for the upper layers' share of the compute:
with the upper half of SmolLM2's 30 layers, an epoch after the first costs about 2N FLOPs a token instead of 3N.

It needs lower layers without randomness (no dropout active below the boundary), rows padded on the right (a row's
states depend on its own tokens only), full-attention caches, and one process (a DDP wrapper's forward is bypassed
here). Otherwise, or once the kept states would pass `MEMORY_LIMIT`, rows go the usual way.

Written here: no library keeps frozen layers' activations across epochs (PEFT and TRL run the whole model each
step; LLaMA-Factory's `freeze` method likewise).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, cast

import torch

from tunesmith.models.loading import text_config
from tunesmith.train.prefix import prefix_once

# Bytes of kept hidden states, at most: 1 GiB is 460k tokens of SmolLM2 (576 floats a token), 65k of a 4,096-wide
# 7B model. Rows beyond it are computed in full each epoch.
MEMORY_LIMIT = 2**30


class FrozenLayerCache:
    """The inputs of the first trained decoder layer, per row (keyed by the row's token ids)."""

    def __init__(self, decoder: torch.nn.Module, depth: int) -> None:
        self.decoder = decoder
        self.depth = depth  # layers[:depth] are frozen; layers[depth] is the first with trainable weights
        self.states: dict[bytes, torch.Tensor] = {}
        self.bytes = 0
        self.hits = 0  # micro-batches that ran the upper layers only (the invariance test reads it)

    @classmethod
    def for_model(cls, model: Any, decoder: torch.nn.Module) -> FrozenLayerCache | None:
        """A cache when the model's lower layers are frozen and deterministic, else None."""
        layers = getattr(decoder, "layers", None)
        if not isinstance(layers, torch.nn.ModuleList) or not all(
            isinstance(getattr(getattr(layer, "self_attn", None), "layer_idx", None), int) for layer in layers
        ):
            return None
        trained = [any(p.requires_grad for p in layer.parameters()) for layer in layers]
        depth = trained.index(True) if True in trained else 0
        lower_params = [p for name, p in decoder.named_parameters() if not name.startswith("layers.")]
        lower_params += [p for layer in layers[:depth] for p in layer.parameters()]
        if depth == 0 or any(p.requires_grad for p in lower_params):
            return None
        config = text_config(decoder.config)
        random = any(isinstance(m, torch.nn.Dropout) and m.p > 0 for layer in layers[:depth] for m in layer.modules())
        if random or (getattr(config, "attention_dropout", 0.0) or 0.0) > 0:
            return None
        return cls(decoder, depth)

    def lookup(self, inputs: dict[str, Any]) -> torch.Tensor | None:
        """The kept states of every row, padded like the batch; None when one row is not kept."""
        keys = _row_keys(inputs)
        if keys is None or not all(key in self.states for key in keys):
            return None
        ids = inputs["input_ids"]
        first = self.states[keys[0]]
        out = first.new_zeros(ids.size(0), ids.size(1), first.size(-1))
        for row, key in enumerate(keys):
            state = self.states[key]
            out[row, : state.size(0)] = state
        self.hits += 1
        return out

    @contextlib.contextmanager
    def record(self, inputs: dict[str, Any]) -> Iterator[None]:
        """Keep the states entering the first trained layer while the whole model runs on `inputs`."""
        keys = _row_keys(inputs)
        if keys is None or self.bytes >= MEMORY_LIMIT:
            yield
            return
        seen: list[torch.Tensor] = []
        layers = cast(torch.nn.ModuleList, self.decoder.layers)  # for_model checked it is one
        hook = layers[self.depth].register_forward_pre_hook(lambda module, args: seen.append(args[0]))
        try:
            yield
        finally:
            hook.remove()
        if len(seen) == 2:  # a shared prefix: one row's prefix, then every row's remainder
            rows = seen[1].size(0)
            seen = [torch.cat([seen[0].expand(rows, -1, -1), seen[1]], dim=1)]
        if len(seen) != 1 or seen[0].size(1) != inputs["input_ids"].size(1):
            return
        lengths = inputs["attention_mask"].sum(dim=1).tolist()
        for row, (key, n) in enumerate(zip(keys, lengths, strict=True)):
            if key not in self.states and self.bytes < MEMORY_LIMIT:
                state = seen[0][row, :n].detach().clone()
                self.states[key] = state
                self.bytes += state.numel() * state.element_size()

    def upper_states(self, hidden: torch.Tensor, mask: torch.Tensor, prefix: int) -> torch.Tensor:
        """The decoder's final hidden states from the kept inputs of its first trained layer, running only the
        layers from there up; a shared prefix of `prefix` tokens is computed once, as in lm_loss."""
        decoder = self.decoder

        def run(first: bool, cache: dict[str, Any]) -> torch.Tensor:
            part = (hidden[:1, :prefix], mask[:1, :prefix]) if first else (hidden[:, prefix:], mask)
            out = decoder(inputs_embeds=part[0], attention_mask=part[1], **cache)
            return cast(torch.Tensor, out.last_hidden_state)

        with self._upper_only():
            if not prefix:
                out = decoder(inputs_embeds=hidden, attention_mask=mask, use_cache=False)
                return cast(torch.Tensor, out.last_hidden_state)
            return prefix_once(run, decoder, hidden.size(0))

    @contextlib.contextmanager
    def _upper_only(self) -> Iterator[None]:
        """The decoder with its upper layers only, numbered from 0 for the KV cache (whose first layer gives the
        cached length to the mask and the positions)."""
        layers = cast(torch.nn.ModuleList, self.decoder.layers)  # for_model checked it is one
        upper: list[Any] = list(layers)[self.depth :]  # the model's decoder layers, each with a self_attn
        for i, layer in enumerate(upper):
            layer.self_attn.layer_idx = i
        self.decoder.layers = torch.nn.ModuleList(upper)
        try:
            yield
        finally:
            self.decoder.layers = layers
            for i, layer in enumerate(upper, self.depth):
                layer.self_attn.layer_idx = i


def _row_keys(inputs: dict[str, Any]) -> list[bytes] | None:
    """Each row's real token ids as bytes; None unless every row is padded on the right, without position ids."""
    ids, mask = inputs.get("input_ids"), inputs.get("attention_mask")
    if ids is None or mask is None or ids.dim() != 2 or set(inputs) - {"input_ids", "attention_mask", "labels"}:
        return None
    lengths = mask.sum(dim=1)
    positions = torch.arange(mask.size(1), device=mask.device)
    if not torch.equal(mask.bool(), positions[None, :] < lengths[:, None]):
        return None
    return [ids[row, :n].cpu().numpy().tobytes() for row, n in enumerate(lengths.tolist())]
