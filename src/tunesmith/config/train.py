"""The train section: the local recipe's settings, LoRA, DPO, and the vendor backends."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from tunesmith.config.base import Section


class DpoConfig(Section):
    """Preference tuning with TRL's DPOTrainer (train.objective: dpo), on a prepared dataset of pairs."""

    beta: float = Field(
        0.1, gt=0, description="How far the policy may move from the reference: higher keeps it closer."
    )
    loss_type: Literal["sigmoid", "ipo", "hinge", "robust", "sigmoid_norm", "apo_zero", "apo_down", "sppo_hard"] = (
        Field("sigmoid", description="TRL's DPO loss: sigmoid is the DPO paper's; ipo, hinge and robust variants.")
    )
    label_smoothing: float = Field(
        0.0, ge=0, lt=0.5, description="robust: the assumed share of pairs whose preference is flipped."
    )
    sft_weight: float = Field(
        0.0,
        ge=0,
        description="Weight of an SFT loss on the chosen answer added to the DPO loss (RPO; TRL's loss_type sft): "
        "keeps DPO from lowering the chosen answer's likelihood with the rejected one's, which can wreck a small "
        "model's answers.",
    )
    reference: Literal["live", "precomputed"] = Field(
        "live",
        description="live: the frozen reference (the base without the adapter, or a copy of the init_from "
        "adapter) runs at each step; precomputed: its log-probs are computed once before training.",
    )


class LoraConfig(Section):
    r: int = Field(16, gt=0, description="LoRA rank.")
    alpha: int = Field(32, gt=0, description="LoRA alpha (scale = alpha / r).")
    dropout: float = Field(
        0.0,
        ge=0,
        lt=1,
        description="LoRA dropout; 0 keeps the shared-prefix and frozen-layer levers exact, which dropout turns off.",
    )
    target_modules: str | list[str] = Field(
        "all-linear", description="Modules that get adapters; all-linear covers every projection layer."
    )
    top_layers: int | None = Field(
        None,
        gt=0,
        description="Adapters only on the upper N decoder layers: the backward pass stops below them (faster, "
        "not the same training); unset: every layer.",
    )


class VendorConfig(Section):
    """A vendor training backend (train.backend: openai | bedrock). Credentials come from the SDKs' environment
    (OPENAI_API_KEY and OPENAI_BASE_URL; the AWS credential chain), never from this file."""

    allow_pii: bool = Field(
        False,
        description="Upload even when the analyzer still finds personal data in the files to send (off: refused).",
    )
    poll_interval_s: float = Field(30.0, ge=0, description="Seconds between two looks at the vendor's job.")
    suffix: str | None = Field(
        None, description="OpenAI: up to 64 characters added to the fine-tuned model's name; Bedrock: the model name."
    )
    learning_rate_multiplier: float | None = Field(
        None, gt=0, description="OpenAI: the learning-rate multiplier; the vendor's auto if unset."
    )
    role_arn: str | None = Field(
        None, description="Bedrock: the IAM role the customization job assumes (reads and writes the S3 bucket)."
    )
    s3_bucket: str | None = Field(None, description="Bedrock: the S3 bucket the training files are uploaded to.")
    s3_prefix: str = Field("tunesmith", description="Bedrock: the key prefix of the uploaded files and outputs.")
    region: str | None = Field(None, description="Bedrock: the AWS region; the AWS environment's if unset.")
    eval_base_url: str | None = Field(
        None,
        description="The OpenAI-compatible URL the eval calls the vendor models through; OpenAI: OPENAI_BASE_URL "
        "or https://api.openai.com/v1 if unset. Bedrock needs one (a gateway to the provisioned model).",
    )
    eval_api_key_env: str | None = Field(
        None, description="The environment variable with the eval URL's API key; OPENAI_API_KEY for openai if unset."
    )


class TrainConfig(Section):
    backend: Literal["local", "openai", "bedrock"] = Field(
        "local",
        description="local: TRL on this machine; openai or bedrock: upload the prepared dataset and run the vendor's "
        "fine-tuning job (model.base is then the vendor's base model; docs/vendors.md).",
    )
    vendor: VendorConfig = Field(
        default_factory=VendorConfig,
        description="Settings of a vendor backend; credentials come from the environment, never from this file.",
    )
    method: Literal["lora", "dora", "qlora", "full"] = Field("lora", description="Fine-tuning method.")
    epochs: float | None = Field(
        None, gt=0, description="Passes over train.jsonl; chosen from dataset size if unset (OpenAI's rule)."
    )
    learning_rate: float | None = Field(
        None,
        gt=0,
        description="Peak learning rate; if unset, by the base model's size: for LoRA/DoRA/QLoRA 2e-4 at 7B "
        "parameters, rising as the model shrinks to 2e-3 at 135M (and at most that); a tenth of it for full.",
    )
    batch_size: int = Field(8, gt=0, description="Examples per device per step.")
    grad_accum: int = Field(1, gt=0, description="Gradient accumulation steps.")
    max_seq_len: int = Field(
        1024,
        gt=0,
        description="The one sequence length, in tokens: `data check` reports longer examples (too_long), prepare "
        "drops or truncates them (data.too_long), and training truncates at it.",
    )
    warmup_ratio: float = Field(0.05, ge=0, lt=1, description="Share of steps with linear warm-up.")
    weight_decay: float = Field(0.0, ge=0, description="AdamW weight decay.")
    lora: LoraConfig = Field(default_factory=LoraConfig, description="LoRA/DoRA/QLoRA settings.")
    packing: bool | None = Field(
        None, description="Padding-free packing with per-sequence positions; auto: on with CUDA, off on CPU."
    )
    micro_batch_tokens: int | None = Field(
        None,
        ge=0,
        description=(
            "Split each batch into length-sorted micro-batches of at most this many padded tokens: the same "
            "gradient with less padding and bounded memory; auto: max_seq_len on CPU, off (0) with CUDA."
        ),
    )
    eval_steps: int | None = Field(
        None, gt=0, description="Validation loss (and a checkpoint) every N steps; once per epoch if unset."
    )
    early_stopping_patience: int | None = Field(
        None, gt=0, description="Stop after N evaluations without a better validation loss; off if unset."
    )
    keep_checkpoints: int = Field(2, gt=0, description="Checkpoints kept on disk (the best one is always kept).")
    logging_steps: int = Field(5, gt=0, description="Write metrics every N optimizer steps.")
    report_to: list[Literal["tensorboard", "mlflow", "wandb"]] = Field(
        default_factory=list, description="Experiment trackers; none by default, so nothing leaves the machine."
    )
    price_per_gpu_hour: float = Field(2.5, ge=0, description="USD per GPU hour, for the cost estimate.")
    objective: Literal["sft", "dpo"] = Field(
        "sft",
        description="sft: learn the assistant turns of conversations; dpo: prefer chosen over rejected answers "
        "(a dataset of preference pairs; train.dpo; docs/training.md).",
    )
    dpo: DpoConfig = Field(default_factory=DpoConfig, description="DPO settings (train.objective: dpo).")
    init_from: str | None = Field(
        None,
        description="A train run directory to start from (SFT then DPO): its LoRA adapter is trained on and a "
        "frozen copy of it is the reference; a full model run is the base.",
    )
