"""TRL's SFTTrainer with tunesmith's CPU speed levers, none of which changes what is trained.

- `training_step` splits each batch into length-sorted micro-batches (microbatch.py) when `micro_batch_tokens` > 0.
- `compute_loss` on CPU projects only the labelled positions through the LM head (lm_loss.py), and computes the
  prefix that every row of a micro-batch shares (a system prompt) once, when no dropout is active.
- With frozen lower layers (`train.lora.top_layers`), their outputs are kept per row in the first epoch and only the
  upper layers run afterwards (frozen_layers.py).

Both fall back to TRL's own code wherever their conditions do not hold.
"""

from __future__ import annotations

import contextlib
from typing import Any

from accelerate.utils import DistributedType
from trl import SFTTrainer  # type: ignore[attr-defined]  # trl re-exports its trainers lazily, without __all__

from tunesmith.train import microbatch
from tunesmith.train.frozen_layers import FrozenLayerCache
from tunesmith.train.lm_loss import labelled_loss, lm_parts


class TunesmithSFTTrainer(SFTTrainer):
    """SFTTrainer with micro-batches (`micro_batch_tokens`, 0 turns them off) and the labelled-positions loss on CPU."""

    # Class-level switch for the benchmark's "before" arm and the invariance test; not a user setting, since it never
    # changes the result.
    labelled_positions_only = True
    shared_prefix = True
    frozen_layers = True

    def __init__(self, *args: Any, micro_batch_tokens: int = 0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.micro_batch_tokens = micro_batch_tokens
        self._frozen: FrozenLayerCache | None | bool = False  # False: not looked at yet

    def training_step(self, model: Any, inputs: dict[str, Any], num_items_in_batch: Any = None) -> Any:
        # Without num_items_in_batch each part's loss would be its own mean: the sum would weight rows wrongly.
        split = self.micro_batch_tokens and num_items_in_batch is not None
        parts = microbatch.split_batch(inputs, self.micro_batch_tokens) if split else [inputs]
        if len(parts) == 1:
            return super().training_step(model, inputs, num_items_in_batch)  # type: ignore[no-untyped-call]
        total = None
        for k, part in enumerate(parts):
            # Under DDP only the last part's backward all-reduces; the others accumulate locally (nested no_sync
            # restores the outer state, so an outer gradient-accumulation no_sync still holds).
            last = k == len(parts) - 1
            sync = contextlib.nullcontext() if last else self.accelerator.no_sync(model)
            with sync:
                loss = super().training_step(model, part, num_items_in_batch)  # type: ignore[no-untyped-call]
            total = loss if total is None else total + loss
        return total

    def compute_loss(
        self, model: Any, inputs: dict[str, Any], return_outputs: bool = False, num_items_in_batch: Any = None
    ) -> Any:
        parts = None if return_outputs else self._labelled_loss_parts(model, inputs)
        if parts is None:
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)  # type: ignore[no-untyped-call]
        result = labelled_loss(
            model, *parts, inputs, num_items_in_batch, share_prefix=self.shared_prefix, frozen=self._frozen_cache(parts)
        )
        if result is None:  # the decoder cut its hidden states to the kept logits: TRL's path from now on
            self.labelled_positions_only = False
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)  # type: ignore[no-untyped-call]
        loss, count, correct = result
        # As TRL: num_items_in_batch counts every rank's tokens, and DDP averages the gradients across ranks.
        if self.args.average_tokens_across_devices and num_items_in_batch is not None:
            loss = loss * self.accelerator.num_processes
        # TRL's statistics, less the entropy: the token accuracy, and the running count of trained tokens.
        # Trainer.__init__ sets it; None only with model_init, which tunesmith never passes.
        assert self.model is not None
        mode = "train" if self.model.training else "eval"
        count = self.accelerator.gather_for_metrics(count).sum()
        correct = self.accelerator.gather_for_metrics(correct).sum()
        self._metrics[mode]["mean_token_accuracy"].append((correct / count).item() if count > 0 else 0.0)
        if mode == "train":
            self._total_train_tokens += self.accelerator.gather_for_metrics(inputs["attention_mask"].sum()).sum().item()
        self._metrics[mode]["num_tokens"] = [self._total_train_tokens]
        return loss

    def _frozen_cache(self, parts: tuple[Any, Any]) -> FrozenLayerCache | None:
        """The kept states of the frozen lower layers, for one process without DDP's forward in the way."""
        if self._frozen is False:
            alone = self.accelerator.distributed_type == DistributedType.NO
            self._frozen = FrozenLayerCache.for_model(self.model, parts[0]) if self.frozen_layers and alone else None
        return self._frozen  # type: ignore[return-value]

    def _labelled_loss_parts(self, model: Any, inputs: dict[str, Any]) -> tuple[Any, Any] | None:
        """The decoder and head when the labelled-positions loss computes exactly TRL's loss here, else None.

        On CUDA, TRL's Triton kernels already project only the labelled positions. Custom losses, label smoothing,
        DFT, MoE auxiliary losses, padding-free rows and sharded models (FSDP, DeepSpeed) keep TRL's path.
        """
        plain = (
            self.labelled_positions_only
            and self.args.device.type == "cpu"
            and self.compute_loss_func is None
            and self.label_smoother is None
            and self.args.loss_type == "nll"  # type: ignore[attr-defined]  # args is an SFTConfig
            and not self.aux_loss_enabled
            and self.accelerator.distributed_type in (DistributedType.NO, DistributedType.MULTI_CPU)
            and "labels" in inputs
            and "attention_mask" in inputs
            and "shift_labels" not in inputs
        )
        return lm_parts(self.accelerator.unwrap_model(model)) if plain else None
