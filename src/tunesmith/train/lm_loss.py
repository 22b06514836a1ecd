"""The training loss over the labelled positions only, for CPU training.

TRL's SFTTrainer computes the loss with a fused, chunked LM head (`trl.kernels.ChunkedLogProbFunction`). On CUDA it
projects only the positions that carry a label. Elsewhere it projects *every* position, to keep tile shapes fixed for
compilers such as Neuron's. It also computes four logging statistics over the whole vocabulary in torch ops, once in
the forward pass and again in the backward: entropy, log-sum of squared probabilities, mean logit and top-1.

On CPU nothing is compiled, so there is no shape to keep fixed. Only the labelled positions are projected here: 43% of
the tokens of the benchmark's data. A single fused cross-entropy then gives the same loss and the same gradients. On
the `m` tiny model (vocab 4,096) one 1,000-token row costs 64 ms here against 348 ms for TRL's path, forward and
backward (docs/benchmarks.md). Only the top-1 accuracy is kept as a statistic; the entropy is not logged on CPU.

No library does this for CPU: it is TRL's own loss with TRL's compact path, minus the fixed-shape constraint.

The rows of a micro-batch often start with the same tokens: one system prompt, 45% of the tokens of the
support-desk example on SmolLM2. That prefix is then computed once, for one row, and its keys and values repeated
for the others (`shared_prefix`): the same loss and gradients (the backward sums the rows' contributions into the
one prefix, as it would have summed them into the weights), for a fraction of the prefix's compute. It needs a
forward without randomness: with dropout the rows would share one mask over the prefix, which is not the same
training, so it stays off then (LoRA dropout 0 turns it on). Written here: no library computes a shared prefix
once in training (vLLM's and SGLang's prefix caches serve inference).
"""

from __future__ import annotations

import contextlib
import inspect
from typing import TYPE_CHECKING, Any

import torch

from tunesmith.models.loading import text_config
from tunesmith.train.prefix import prefix_once

if TYPE_CHECKING:
    from tunesmith.train.frozen_layers import FrozenLayerCache

# Elements of the [labelled positions, vocab] logits materialised at once. Above this (a real vocabulary of 150k and
# 450+ labelled tokens in a micro-batch), TRL's chunked kernel computes the same loss in vocabulary tiles instead.
LOGITS_LIMIT = 2**26
VOCAB_CHUNK = 32_768
# A shared prefix shorter than this is not worth the second forward call.
PREFIX_MIN = 16
# Config fields with which a model changes its logits after the head (as TRL's patch_fused_forward reads them): soft
# capping (Gemma), a scale (Cohere, Falcon-H1, Granite, MiniCPM3, HyperCLOVA X). Such models keep TRL's path.
LOGIT_TRANSFORMS = (
    "final_logit_softcapping",
    "logit_scale",
    "output_multiplier",
    "lm_head_multiplier",
    "logits_scaling",
)


def lm_parts(model: Any) -> tuple[torch.nn.Module, torch.nn.Linear] | None:
    """The decoder and the LM head of a causal LM, PEFT-wrapped or not.

    Returns None when the loss must stay TRL's: no separate decoder, a head that is not a plain linear layer (LoRA or
    modules_to_save on the head), logits that the model transforms after the head (soft-capping, logit scale), or a
    forward without `logits_to_keep`.
    """
    causal = model.get_base_model() if hasattr(model, "get_base_model") else model
    get_decoder = getattr(causal, "get_decoder", None)
    decoder = get_decoder() if callable(get_decoder) else None
    head = causal.get_output_embeddings() if hasattr(causal, "get_output_embeddings") else None
    config = getattr(causal, "config", None)
    text = text_config(config)
    transformed = any(getattr(text, name, None) is not None for name in LOGIT_TRANSFORMS)
    keeps = "logits_to_keep" in inspect.signature(type(causal).forward).parameters
    if decoder is None or decoder is causal or type(head) is not torch.nn.Linear or transformed or not keeps:
        return None
    return decoder, head


def labelled_loss(
    model: Any,
    decoder: torch.nn.Module,
    head: torch.nn.Linear,
    inputs: dict[str, Any],
    num_items_in_batch: Any = None,
    share_prefix: bool = True,
    frozen: FrozenLayerCache | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None:
    """The cross-entropy summed over the labelled positions, divided by `num_items_in_batch`: Trainer's count of the
    labelled tokens in the whole batch. Without that count, it is the mean over this batch, as in TRL.

    Returns the loss, the number of labelled positions and how many of them the model ranks first; None when the
    decoder's hidden states do not cover every position (a model whose decoder itself honours `logits_to_keep`,
    such as Gemma 4's KV-shared layers).
    With `frozen`, rows seen before run the layers above the frozen ones only, from their kept states
    (frozen_layers.py). The model is called through `model` (a DDP wrapper keeps its hooks). It computes the logits
    of the last position only (`logits_to_keep=1`), and a forward hook takes the decoder's hidden states.
    """
    prefix = shared_prefix(model, inputs) if share_prefix else 0
    kept = frozen.lookup(inputs) if frozen is not None else None
    if frozen is not None and kept is not None:  # every row seen before: only the layers above the frozen ones run
        states = frozen.upper_states(kept, inputs["attention_mask"], prefix)
    else:
        captured: list[torch.Tensor] = []
        hook = decoder.register_forward_hook(lambda module, args, output: captured.append(output[0]))
        try:
            with frozen.record(inputs) if frozen is not None else contextlib.nullcontext():
                if prefix:
                    states = _with_shared_prefix(model, inputs, prefix, captured)
                else:
                    model(**{k: v for k, v in inputs.items() if k != "labels"}, use_cache=False, logits_to_keep=1)
                    states = captured[-1]
        finally:
            hook.remove()
    labels = inputs["labels"][:, 1:]
    if states.size(1) != labels.size(1) + 1:
        return None
    mask = labels != -100
    hidden, targets = states[:, :-1][mask], labels[mask]
    if hidden.size(0) * head.out_features <= LOGITS_LIMIT:
        logits = head(hidden).float()
        total = torch.nn.functional.cross_entropy(logits, targets, reduction="sum")
        correct = (logits.detach().argmax(dim=-1) == targets).sum()
    else:
        from trl.kernels import ChunkedLogProbFunction

        log_probs, _, _, _, is_top1 = ChunkedLogProbFunction.apply(  # type: ignore[no-untyped-call]
            hidden, head.weight, head.bias, targets, 1.0, VOCAB_CHUNK, None, 1.0, ("is_top1",)
        )
        total, correct = -log_probs.sum(), is_top1.sum()
    count = mask.sum()
    # Clamped as in TRL: a batch without labelled tokens gives a zero loss, not 0 / 0.
    divisor = count if num_items_in_batch is None else torch.as_tensor(num_items_in_batch, device=count.device)
    loss = total / divisor.clamp(min=1)
    return loss, count, correct


def shared_prefix(model: Any, inputs: dict[str, Any]) -> int:
    """How many leading tokens every row shares, when computing them once gives exactly the same result; else 0.

    Only for plain causal LMs fed input ids and an attention mask (no position ids, no packed rows), whose caches
    are plain full-attention layers, with no dropout active anywhere.
    """
    ids, mask = inputs.get("input_ids"), inputs.get("attention_mask")
    if (
        ids is None
        or mask is None
        or ids.dim() != 2
        or ids.size(0) < 2
        or set(inputs) - {"input_ids", "attention_mask", "labels"}
    ):
        return 0
    same = (ids == ids[:1]).all(dim=0) & mask.bool().all(dim=0)
    prefix = int(same.int().cumprod(dim=0).sum())
    # The last position must stay in the second call: it is the one the rows' own tokens attend from onwards.
    prefix = min(prefix, int(ids.size(1)) - 1)
    if prefix < PREFIX_MIN or not _deterministic(model):
        return 0
    return prefix


def _deterministic(model: Any) -> bool:
    from transformers import DynamicCache
    from transformers.cache_utils import DynamicLayer

    if model.training and any(isinstance(m, torch.nn.Dropout) and m.p > 0 for m in model.modules()):
        return False
    causal = model.get_base_model() if hasattr(model, "get_base_model") else model
    config = text_config(causal.config)
    if model.training and (getattr(config, "attention_dropout", 0.0) or 0.0) > 0:
        return False
    layers = DynamicCache(config=config).layers
    return bool(layers) and all(type(layer) is DynamicLayer for layer in layers)


def _with_shared_prefix(model: Any, inputs: dict[str, Any], prefix: int, captured: list[torch.Tensor]) -> torch.Tensor:
    """The decoder's hidden states of every row, with the first `prefix` tokens computed for one row only."""
    ids, mask = inputs["input_ids"], inputs["attention_mask"]

    def run(first: bool, cache: dict[str, Any]) -> torch.Tensor:
        if first:
            model(input_ids=ids[:1, :prefix], attention_mask=mask[:1, :prefix], logits_to_keep=1, **cache)
        else:
            model(input_ids=ids[:, prefix:], attention_mask=mask, logits_to_keep=1, **cache)
        return captured[-1]

    causal = model.get_base_model() if hasattr(model, "get_base_model") else model
    return prefix_once(run, causal, ids.size(0))
