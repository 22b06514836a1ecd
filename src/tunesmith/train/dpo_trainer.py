"""TRL's DPOTrainer with tunesmith's CPU levers, none of which changes what is trained.

- `training_step` splits each batch of pairs into length-sorted micro-batches of pairs (rows x longest row within
  `micro_batch_tokens`, a pair's two rows together); each part's loss is its pairs' share of the batch's loss, and the
  gradients accumulate before the one optimizer step.
- `compute_loss` on CPU scores the completion tokens only, runs each pair's prompt once for both answers and the
  prompt every pair starts with once per micro-batch (dpo_logps.py), for the policy and for the reference.
- The reference's log-probabilities are kept per row the first time they are computed (the reference is frozen),
  so the epochs after the first run the policy only, as `train.dpo.reference: precomputed` would, without the pass
  before training.

TRL's own code runs wherever these conditions do not hold: CUDA, a loss type or option outside train.dpo's (f-
divergences, length-desensitised or weighted losses), MoE auxiliary losses, a LoRA head, FSDP or DeepSpeed.
"""

from __future__ import annotations

import contextlib
from typing import Any

import torch
import torch.nn.functional as F
from accelerate.utils import DistributedType, is_peft_model
from trl import DPOTrainer  # type: ignore[attr-defined]  # trl re-exports its trainers lazily, without __all__

from tunesmith.train.dpo_logps import CompletionLogps, completion_logps
from tunesmith.train.lm_loss import lm_parts

# The loss types of train.dpo.loss_type, plus TRL's sft (train.dpo.sft_weight): each a function of one pair alone,
# so a micro-batch's pairs give their share of the batch's mean exactly.
PAIR_LOSSES = {"sigmoid", "ipo", "hinge", "robust", "sigmoid_norm", "apo_zero", "apo_down", "sppo_hard", "sft"}
# Reference log-probabilities kept at most (two floats a pair, plus the key).
REFERENCE_ROWS = 1_000_000


class TunesmithDPOTrainer(DPOTrainer):
    """DPOTrainer with micro-batches of pairs and completion-only, shared-prompt log-probabilities on CPU."""

    # Class-level switches for the benchmark's "before" arm and the invariance tests; never a user setting.
    completion_only = True
    shared_prefix = True
    keep_reference = True

    def __init__(self, *args: Any, micro_batch_tokens: int = 0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.micro_batch_tokens = micro_batch_tokens
        self._whole: tuple[int, int] | None = None  # pairs and chosen tokens of the batch a part belongs to
        self._parts: list[dict[str, torch.Tensor]] = []  # per-part figures, logged once for the whole batch
        self._reference: dict[bytes, float] = {}

    # --- micro-batches
    def training_step(self, model: Any, inputs: dict[str, Any], num_items_in_batch: Any = None) -> Any:
        parts = split_pairs(inputs, self.micro_batch_tokens) if self._fast(model) and self.micro_batch_tokens else None
        if not parts or len(parts) == 1:
            return super().training_step(model, inputs, num_items_in_batch)  # type: ignore[no-untyped-call]
        pairs = inputs["input_ids"].size(0) // 2
        self._whole = (pairs, int(_chosen_tokens(inputs)))
        total = None
        try:
            for k, part in enumerate(parts):
                # Under DDP only the last part's backward all-reduces (as the SFT trainer's micro-batches).
                last = k == len(parts) - 1
                with contextlib.nullcontext() if last else self.accelerator.no_sync(model):
                    loss = super().training_step(model, part, num_items_in_batch)  # type: ignore[no-untyped-call]
                total = loss if total is None else total + loss
        finally:
            self._whole = None
        self._log_parts("train", inputs)
        return total

    # --- the loss
    def compute_loss(
        self, model: Any, inputs: dict[str, Any], return_outputs: bool = False, num_items_in_batch: Any = None
    ) -> Any:
        parts = None if return_outputs or not self._fast(model) else lm_parts(self.accelerator.unwrap_model(model))
        if parts is None:
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)  # type: ignore[no-untyped-call]
        policy = completion_logps(model, *parts, inputs, share=self.shared_prefix)
        reference = self._reference_logps(inputs)
        pairs, chosen_tokens = self._whole or (inputs["input_ids"].size(0) // 2, int(_chosen_tokens(inputs)))
        loss, figures = self._pair_loss(policy, reference, inputs, pairs, max(chosen_tokens, 1))
        self._parts.append(figures)
        if self._whole is None:  # the whole batch (or an evaluation batch): log it now
            self._log_parts("train" if self.model is not None and self.model.training else "eval", inputs)
        return loss

    def _fast(self, model: Any) -> bool:
        """Whether this trainer's levers compute exactly TRL's loss here."""
        args = self.args
        return bool(
            self.completion_only
            and args.device.type == "cpu"
            and set(self.loss_types) <= PAIR_LOSSES
            and self.f_divergence_type == "reverse_kl"
            and self.ld_alpha is None
            and not self.use_weighting
            and not self.aux_loss_enabled
            and not self._is_vision_dataset
            and self.accelerator.distributed_type in (DistributedType.NO, DistributedType.MULTI_CPU)
            and lm_parts(self.accelerator.unwrap_model(model)) is not None
        )

    def _pair_loss(
        self,
        policy: CompletionLogps,
        reference: torch.Tensor,
        inputs: dict[str, Any],
        pairs: int,
        chosen_tokens: int,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """This part's share of TRL's batch loss: each pair loss summed over the part's pairs, divided by the pairs
        of the whole batch (the sft loss: by the whole batch's chosen tokens)."""
        k = inputs["input_ids"].size(0) // 2
        chosen, rejected = policy.logps[:k], policy.logps[k:]
        chosen_lr, rejected_lr = chosen - reference[:k], rejected - reference[k:]
        lengths = inputs["completion_mask"].sum(dim=1).clamp(min=1).to(chosen.dtype)
        beta, smoothing = self.beta, self.label_smoothing
        loss = chosen.new_zeros(())
        for loss_type, weight in zip(self.loss_types, self.loss_weights, strict=True):
            if loss_type == "sft":
                nll = -policy.token_logps[policy.rows < k].sum()
                loss = loss + weight * nll / chosen_tokens
            else:
                per_pair = pair_loss(loss_type, chosen_lr, rejected_lr, lengths[:k], lengths[k:], beta, smoothing)
                loss = loss + weight * per_pair.sum() / pairs
        figures = _figures(policy, chosen_lr.detach(), rejected_lr.detach(), k, beta)
        return loss, figures

    def _reference_logps(self, inputs: dict[str, Any]) -> torch.Tensor:
        """The reference's completion log-probabilities per row: precomputed by TRL, kept from an earlier epoch, or
        computed now with the adapter off (or the "ref" adapter on), from the same shared-prompt forward."""
        if self.precompute_ref_logps:
            return torch.cat([inputs["ref_chosen_logps"], inputs["ref_rejected_logps"]])
        keys = _row_keys(inputs) if self.keep_reference else []
        if keys and all(key in self._reference for key in keys):
            return torch.tensor([self._reference[key] for key in keys], device=inputs["input_ids"].device)
        with torch.no_grad():
            if self.ref_model is None and is_peft_model(self.model):
                from trl.trainer.utils import use_adapter

                unwrapped = self.accelerator.unwrap_model(self.model)
                ref_name = "ref" if "ref" in unwrapped.peft_config else None
                with use_adapter(unwrapped, adapter_name=ref_name):
                    parts = lm_parts(unwrapped)
                    assert parts is not None  # _fast checked the policy, which is this model
                    logps = completion_logps(self.model, *parts, inputs, share=self.shared_prefix).logps
            else:
                ref = self.accelerator.unwrap_model(self.ref_model)
                parts = lm_parts(ref)
                if parts is None:  # a reference TRL must run itself
                    return torch.cat(self.compute_ref_log_probs(self.ref_model, inputs))  # type: ignore[no-untyped-call]
                logps = completion_logps(self.ref_model, *parts, inputs, share=self.shared_prefix).logps
        if keys and len(self._reference) + len(keys) <= REFERENCE_ROWS:
            self._reference.update(zip(keys, logps.tolist(), strict=True))
        return logps.detach()

    def _log_parts(self, mode: str, inputs: dict[str, Any]) -> None:
        """TRL's metrics (less nothing), over the whole batch: the parts' figures concatenated."""
        parts, self._parts = self._parts, []
        if not parts:
            return
        merged = {key: torch.cat([p[key].reshape(-1) for p in parts]) for key in parts[0]}
        gather = self.accelerator.gather_for_metrics

        def mean(total: str, count: str) -> float:
            n = gather(merged[count].sum()).sum().item()
            return gather(merged[total].sum()).sum().item() / n if n > 0 else 0.0

        metrics = self._metrics[mode]
        metrics["entropy"].append(mean("entropy", "tokens"))
        if mode == "train":
            self._total_train_tokens += gather(inputs["attention_mask"].sum()).sum().item()
        metrics["num_tokens"] = [self._total_train_tokens]
        metrics["logits/chosen"].append(mean("chosen_logits", "chosen_tokens"))
        metrics["logits/rejected"].append(mean("rejected_logits", "rejected_tokens"))
        metrics["mean_token_accuracy"].append(mean("chosen_top1", "chosen_tokens"))
        for name, key in (
            ("rewards/chosen", "chosen_rewards"),
            ("rewards/rejected", "rejected_rewards"),
            ("rewards/accuracies", "accuracies"),
            ("rewards/margins", "margins"),
            ("logps/chosen", "chosen_logps"),
            ("logps/rejected", "rejected_logps"),
        ):
            metrics[name].append(self.accelerator.gather(merged[key]).mean().item())


def pair_loss(
    loss_type: str,
    chosen_lr: torch.Tensor,
    rejected_lr: torch.Tensor,
    chosen_len: torch.Tensor,
    rejected_len: torch.Tensor,
    beta: float,
    smoothing: float,
) -> torch.Tensor:
    """TRL's per-pair DPO losses (DPOTrainer._compute_loss, reverse KL), from the policy/reference log ratios."""
    delta = chosen_lr - rejected_lr
    if loss_type == "sigmoid":
        return -F.logsigmoid(beta * delta)
    if loss_type == "hinge":
        return torch.relu(1 - beta * delta)
    if loss_type == "ipo":
        ipo: torch.Tensor = (chosen_lr / chosen_len - rejected_lr / rejected_len - 1 / (2 * beta)) ** 2
        return ipo
    if loss_type == "robust":
        clean = -(1 - smoothing) * F.logsigmoid(beta * delta)
        flipped = -smoothing * F.logsigmoid(-beta * delta)
        return (clean - flipped) / (1 - 2 * smoothing)
    if loss_type == "sigmoid_norm":
        return -F.logsigmoid(beta * (chosen_lr / chosen_len - rejected_lr / rejected_len))
    if loss_type == "apo_zero":
        return 1 - torch.sigmoid(beta * chosen_lr) + torch.sigmoid(beta * rejected_lr)
    if loss_type == "apo_down":
        return torch.sigmoid(beta * chosen_lr) + 1 - torch.sigmoid(beta * delta)
    if loss_type == "sppo_hard":
        return (chosen_lr - 0.5 / beta) ** 2 + (rejected_lr + 0.5 / beta) ** 2
    raise ValueError(f"not a per-pair DPO loss: {loss_type}")


def split_pairs(inputs: dict[str, Any], budget: int) -> list[dict[str, Any]]:
    """The batch's pairs sorted longest first, grouped greedily while (2 x pairs x longest row) <= budget, each group
    trimmed to its longest row; a pair's chosen and rejected rows stay together (chosen rows first, as TRL's)."""
    mask = inputs["attention_mask"]
    k = mask.size(0) // 2
    lengths = mask.sum(dim=1)
    pair_len = torch.maximum(lengths[:k], lengths[k:])
    order = sorted(range(k), key=lambda i: -int(pair_len[i]))
    groups: list[list[int]] = [[]]
    for i in order:
        group = groups[-1]
        if group and 2 * (len(group) + 1) * int(pair_len[group[0]]) > budget:
            groups.append([i])
        else:
            group.append(i)
    parts = []
    for group in groups:
        rows = torch.tensor(group + [k + i for i in group], device=mask.device)
        longest = int(pair_len[group[0]])
        part = {}
        for key, value in inputs.items():
            if key in ("ref_chosen_logps", "ref_rejected_logps"):
                part[key] = value[torch.tensor(group, device=value.device)]
            elif value.dim() == 2:
                part[key] = value.index_select(0, rows)[:, :longest]
            else:
                part[key] = value.index_select(0, rows)
        parts.append(part)
    return parts


def _chosen_tokens(inputs: dict[str, Any]) -> torch.Tensor:
    k = inputs["input_ids"].size(0) // 2
    mask: torch.Tensor = inputs["completion_mask"]
    return mask[:k].sum()


def _row_keys(inputs: dict[str, Any]) -> list[bytes]:
    """A row's tokens (prompt and completion) as bytes: its reference log-probability's key."""
    ids, lengths = inputs["input_ids"], inputs["attention_mask"].sum(dim=1)
    comp = inputs["completion_mask"].sum(dim=1)
    return [
        int(c).to_bytes(4, "little") + ids[i, : int(n)].cpu().numpy().tobytes()
        for i, (n, c) in enumerate(zip(lengths, comp, strict=True))
    ]


def _figures(
    policy: CompletionLogps, chosen_lr: torch.Tensor, rejected_lr: torch.Tensor, k: int, beta: float
) -> dict[str, torch.Tensor]:
    """What TRL logs, as sums and counts (tokens) or per pair, so the parts of a batch add up to the batch's."""
    chosen_tok = policy.rows < k
    chosen_rewards, rejected_rewards = beta * chosen_lr, beta * rejected_lr
    return {
        "entropy": policy.entropy.sum(),
        "tokens": torch.tensor(policy.rows.numel()),
        "chosen_logits": policy.mean_logits[chosen_tok].sum(),
        "rejected_logits": policy.mean_logits[~chosen_tok].sum(),
        "chosen_tokens": chosen_tok.sum(),
        "rejected_tokens": (~chosen_tok).sum(),
        "chosen_top1": (policy.is_top1 & chosen_tok).sum(),
        "chosen_rewards": chosen_rewards,
        "rejected_rewards": rejected_rewards,
        "accuracies": (chosen_rewards > rejected_rewards).float(),
        "margins": chosen_rewards - rejected_rewards,
        "chosen_logps": policy.logps[:k].detach(),
        "rejected_logps": policy.logps[k:].detach(),
    }
