"""The completion log-probabilities of preference pairs, computed only where DPO needs them (CPU).

TRL's DPOTrainer runs every row of a batch of pairs in full, chosen rows then rejected rows, each with its own copy
of the prompt and padded to the longest row, and (off CUDA) projects every position through the LM head, with four
statistics over the vocabulary. DPO needs the log-probability of the completion tokens only, and a pair's chosen
and rejected answers continue one prompt. So here, for the pairs of a micro-batch:

1. the tokens every prompt starts with (a system prompt) run once, for one row (`prefix.prefix_once`'s step);
2. the rest of each prompt runs once per pair, from those keys and values;
3. the chosen and the rejected answer each continue their pair's prompt from its keys and values, repeated;
4. only the hidden states that predict a completion token go through the LM head.

The causal attention over the concatenated keys sees the same tokens at the same positions (explicit position ids
over the padding between the steps), so the log-probabilities are TRL's up to float rounding (tests compare them to
a plain forward and a training run to TRL's path). The backward sums the two answers' gradients into the one prompt,
as it would have summed them into the weights. It needs a forward without randomness and plain full-attention
caches (`lm_loss._deterministic`); otherwise the rows run in one forward, still projecting only the completions.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

import torch

from tunesmith.models.loading import text_config
from tunesmith.train.lm_loss import LOGITS_LIMIT, PREFIX_MIN, VOCAB_CHUNK, _deterministic


@dataclass
class CompletionLogps:
    """Per row of the batch, in TRL's order (chosen rows, then rejected rows)."""

    logps: torch.Tensor  # [rows]: the summed log-probability of the row's completion
    tokens: torch.Tensor  # [rows]: completion tokens scored
    token_logps: torch.Tensor  # [scored tokens]: each completion token's log-probability, row by row
    rows: torch.Tensor  # [scored tokens]: the row each belongs to
    entropy: torch.Tensor  # [scored tokens], detached
    mean_logits: torch.Tensor  # [scored tokens], detached
    is_top1: torch.Tensor  # [scored tokens], bool


@dataclass
class Layout:
    """Where the prompt and the completion of each pair lie in TRL's collated batch (right-padded rows)."""

    pairs: int
    prompt: list[int]  # per pair
    completion: list[int]  # per row

    @classmethod
    def of(cls, inputs: dict[str, Any]) -> Layout | None:
        """None unless every row is its prompt then its completion, and each pair's two rows share the prompt."""
        ids, mask, comp = inputs["input_ids"], inputs["attention_mask"], inputs["completion_mask"]
        rows = ids.size(0)
        if rows % 2 or rows == 0:
            return None
        lengths, comp_lens = mask.sum(dim=1), comp.sum(dim=1)
        prompt = lengths - comp_lens
        position = torch.arange(ids.size(1), device=ids.device)[None, :]
        expect_mask = position < lengths[:, None]
        expect_comp = expect_mask & (position >= prompt[:, None])
        if not (bool((mask.bool() == expect_mask).all()) and bool((comp.bool() == expect_comp).all())):
            return None
        k = rows // 2
        if not bool((prompt[:k] == prompt[k:]).all()) or int(prompt.min()) < 1:
            return None
        same = (ids[:k] == ids[k:]) | ~(position < prompt[:k, None])
        if not bool(same.all()):
            return None
        return cls(k, [int(p) for p in prompt[:k]], [int(c) for c in comp_lens])


def completion_logps(
    model: Any, decoder: torch.nn.Module, head: torch.nn.Linear, inputs: dict[str, Any], *, share: bool = True
) -> CompletionLogps:
    """The completion log-probabilities of TRL's collated pairs (`input_ids`, `attention_mask`, `completion_mask`)."""
    captured: list[torch.Tensor] = []
    hook = decoder.register_forward_hook(lambda module, args, output: captured.append(output[0]))
    try:
        layout = Layout.of(inputs) if share and _deterministic(model) else None
        if layout is not None:
            hidden, targets, rows = _shared_prompt_states(model, inputs, layout, captured)
        else:
            hidden, targets, rows = _one_forward_states(model, inputs, captured)
    finally:
        hook.remove()
    return _score(head, hidden, targets, rows, inputs["input_ids"].size(0))


def _one_forward_states(
    model: Any, inputs: dict[str, Any], captured: list[torch.Tensor]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Every row in one forward; the hidden states that predict a completion token."""
    ids, mask = inputs["input_ids"], inputs["attention_mask"]
    model(input_ids=ids, attention_mask=mask, use_cache=False, logits_to_keep=1)
    states = captured[-1]
    scored = inputs["completion_mask"][:, 1:].bool()
    rows = torch.arange(ids.size(0), device=ids.device)[:, None].expand_as(scored)
    return states[:, :-1][scored], ids[:, 1:][scored], rows[scored]


def _shared_prompt_states(
    model: Any, inputs: dict[str, Any], layout: Layout, captured: list[torch.Tensor]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The common prefix once, each prompt once, each answer from its prompt's keys and values (module docstring)."""
    from transformers import DynamicCache

    ids = inputs["input_ids"]
    device, k = ids.device, layout.pairs
    causal = model.get_base_model() if hasattr(model, "get_base_model") else model
    cache = DynamicCache(config=text_config(causal.config))
    name = "cache" if "cache" in inspect.signature(type(causal).forward).parameters else "past_key_values"

    def run(tokens: torch.Tensor, attention: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        kw = {name: cache}
        model(
            input_ids=tokens, attention_mask=attention, position_ids=positions, use_cache=True, logits_to_keep=1, **kw
        )
        return captured[-1]

    prompt = torch.tensor(layout.prompt, device=device)
    shared = _common_prefix(ids[:k], layout.prompt)
    if shared:  # 1. the prefix every prompt starts with, for one row, then its keys and values for every pair
        run(ids[:1, :shared], ids.new_ones(1, shared), torch.arange(shared, device=device)[None, :])
        cache.batch_repeat_interleave(k)
    # 2. the rest of each prompt, once per pair
    width = max(layout.prompt) - shared
    positions = shared + torch.arange(width, device=device)[None, :].expand(k, -1)
    prompt_mask = (positions < prompt[:, None]).long()
    attention = torch.cat([prompt_mask.new_ones(k, shared), prompt_mask], dim=1)
    tokens = ids[:k, shared : shared + width] * prompt_mask
    last = run(tokens, attention, positions)[torch.arange(k, device=device), prompt - shared - 1]
    # 3. each answer from its pair's prompt: rows (chosen 0, rejected 0, chosen 1, ...)
    order = torch.stack([torch.arange(k, device=device), k + torch.arange(k, device=device)], dim=1).reshape(-1)
    comp = torch.tensor(layout.completion, device=device)[order]
    start = prompt.repeat_interleave(2)
    longest = int(comp.max())
    offsets = torch.arange(max(longest, 1), device=device)[None, :]
    index = (start[:, None] + offsets).clamp(max=ids.size(1) - 1)
    answer = ids[order].gather(1, index)  # [2k, longest]: each row's completion, right-padded
    answer_mask = offsets < comp[:, None]
    states = last.repeat_interleave(2, dim=0)[:, None, :]
    if longest > 1:  # the last completion token predicts nothing: it is not run
        cache.batch_repeat_interleave(2)
        attention = torch.cat([attention.repeat_interleave(2, dim=0), answer_mask[:, : longest - 1].long()], dim=1)
        positions = start[:, None] + offsets[:, : longest - 1]
        states = torch.cat(
            [states, run(answer[:, : longest - 1] * answer_mask[:, : longest - 1], attention, positions)], 1
        )
    states, answer, answer_mask = states[:, :longest], answer[:, :longest], answer_mask[:, :longest]
    rows = order[:, None].expand_as(answer_mask)
    return states[answer_mask], answer[answer_mask], rows[answer_mask]


def _common_prefix(prompts: torch.Tensor, lengths: list[int]) -> int:
    """Leading tokens every prompt shares, leaving each at least one token of its own; 0 when not worth a call."""
    if prompts.size(0) < 2:
        return 0
    same = (prompts == prompts[:1]).all(dim=0)
    shared = min(int(same.int().cumprod(dim=0).sum()), min(lengths) - 1)
    return shared if shared >= PREFIX_MIN else 0


def _score(
    head: torch.nn.Linear, hidden: torch.Tensor, targets: torch.Tensor, rows: torch.Tensor, n_rows: int
) -> CompletionLogps:
    """The LM head over the scored positions only: log-probabilities, and TRL's statistics on the same tokens."""
    if hidden.size(0) * head.out_features <= LOGITS_LIMIT:
        logits = head(hidden).float()
        log_probs = torch.log_softmax(logits, dim=-1)
        token_logps = log_probs.gather(1, targets[:, None]).squeeze(1)
        with torch.no_grad():
            entropy = -(log_probs.exp() * log_probs).sum(dim=-1)
            mean_logits = logits.mean(dim=-1)
            is_top1 = logits.argmax(dim=-1) == targets
    else:
        from trl.kernels import ChunkedLogProbFunction

        token_logps, entropy, _, mean_logits, is_top1 = ChunkedLogProbFunction.apply(  # type: ignore[no-untyped-call]
            hidden, head.weight, head.bias, targets, 1.0, VOCAB_CHUNK, None, 1.0, ("entropy", "mean_logits", "is_top1")
        )
        entropy, mean_logits, is_top1 = entropy.detach(), mean_logits.detach(), is_top1.bool()
    logps = token_logps.new_zeros(n_rows).index_add(0, rows, token_logps)
    tokens = torch.bincount(rows, minlength=n_rows)
    return CompletionLogps(logps, tokens, token_logps, rows, entropy, mean_logits, is_top1)
