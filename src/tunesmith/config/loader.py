"""tunesmith.yaml: one pydantic model per stage.

The same classes are the Python API (`Config(train=TrainConfig(epochs=2))`), the YAML file and, through
`--set section.key=value` and the commands' own flags, the CLI. An unknown key is an error that names it, its
line, and the closest valid key, because a silently ignored typo (`lerning_rate`) is a silently wrong run.
"""

from __future__ import annotations

import difflib
import json
import reprlib
from collections.abc import Sequence
from pathlib import Path
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from tunesmith.errors import ConfigError
from tunesmith.models.named import NAMED_MODELS
from tunesmith.records import Format

# Closed sets of names, each declared once. A YAML typo in one (`format: sharegtp`) fails at load with its line and
# the nearest valid name, instead of later without one.
Arm = Literal["base", "prompted", "retrieval", "rag", "fine_tuned", "fine_tuned_rag", "sft", "endpoint"]
ARMS: tuple[str, ...] = get_args(Arm)
NamedModel = Literal[tuple(NAMED_MODELS)]  # type: ignore[valid-type]  # the models models/named.py can import


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ProjectConfig(Section):
    name: str = Field("tunesmith-project", description="A name for the project, used in reports.")
    artifacts: str = Field(
        "artifacts", description="Where every stage writes its directory, relative to tunesmith.yaml."
    )
    seed: int = Field(0, description="The seed for splits, training and evaluation.")
    allow_outside_paths: bool = Field(
        False,
        description="Allow data.paths, test_paths and val_paths outside the folder of tunesmith.yaml (a shared "
        "config must not read /etc).",
    )


class SplitConfig(Section):
    train: float = Field(0.8, ge=0, le=1, description="Share of examples in train.jsonl.")
    val: float = Field(0.1, ge=0, le=1, description="Share in val.jsonl (validation loss during training).")
    test: float = Field(0.1, ge=0, le=1, description="Share in test.jsonl (held out for evaluation).")
    min_test: dict[str, int] = Field(
        default_factory=dict,
        description="Tags that need at least N test examples, {out_of_scope: 10}: a rare behaviour is measured on "
        "more than noise; at most 60% of a tag's examples are reserved for test; the shares still hold overall.",
    )

    @model_validator(mode="after")
    def _sums_to_one(self) -> SplitConfig:
        if abs(self.train + self.val + self.test - 1.0) > 1e-6:
            raise ValueError(f"split shares must add up to 1 (got {self.train + self.val + self.test:g})")
        return self


class DataConfig(Section):
    paths: list[str] = Field(default_factory=list, description="Input files, relative to tunesmith.yaml.")
    test_paths: list[str] = Field(
        default_factory=list,
        description="Your own test set: files, relative to tunesmith.yaml, that are the test split as they are "
        "(split.test is then ignored, train and val shares renormalised); checked and redacted like the rest, never "
        "deduplicated against themselves; an example of data.paths that duplicates or nearly duplicates one of them "
        "is dropped (in_test_paths).",
    )
    val_paths: list[str] = Field(
        default_factory=list,
        description="Likewise for the validation split: files used as val.jsonl as they are (split.val ignored); "
        "an example of data.paths that duplicates or nearly duplicates one of them is dropped (in_val_paths).",
    )
    format: Format | None = Field(
        None, description=f"Force the input format ({', '.join(get_args(Format))}); auto if unset."
    )
    columns: dict[str, str] = Field(
        default_factory=dict,
        description="CSV/Parquet columns, canonical field -> column: {prompt: question, completion: answer}.",
    )
    too_long: Literal["drop", "truncate"] = Field(
        "drop", description="What prepare does with examples over train.max_seq_len tokens (the sequence length)."
    )
    pii: Literal["redact", "pseudonymize", "off"] = Field(
        "redact", description="How prepare treats personal data found by Presidio."
    )
    pii_entities: list[str] | None = Field(
        None,
        description="Presidio entity types to find; the default covers personal data, not URLs or dates.",
    )
    pii_allow: list[str] = Field(
        default_factory=list, description="Values that are not personal data (your support phone or email)."
    )
    keep_recurring_names: bool = Field(
        True, description="Names found in 10+ examples are brand, product or persona names: keep them."
    )
    dedup: Literal["near", "exact", "off"] = Field(
        "near", description="near: drop exact and near duplicates; exact: exact ones only."
    )
    near_dup_threshold: float = Field(
        0.8,
        gt=0,
        le=1,
        description="MinHash Jaccard similarity of user turns above which two are near duplicates.",
    )
    conflicts: Literal["majority", "drop", "keep"] = Field(
        "majority",
        description="Same prompt, different answers: keep the majority answer, drop all, or keep all.",
    )
    split: SplitConfig = Field(default_factory=SplitConfig, description="train/val/test shares.")
    pii_name_sample: int | None = Field(
        5_000,
        ge=0,
        description="check: look for names in at most this many distinct messages (seeded sample); 0 or null: all.",
    )
    embedding_sample: int = Field(1000, ge=2, description="check: prompts embedded for the diversity spread.")

    @field_validator("pii", "dedup", mode="before")
    @classmethod
    def _bare_off(cls, value: Any) -> Any:
        """YAML 1.1 reads a bare `off` as false: `pii: off` means "off"."""
        return "off" if value is False else value

    @model_validator(mode="after")
    def _held_out_files_are_apart(self) -> DataConfig:
        for a, b in (("paths", "test_paths"), ("paths", "val_paths"), ("test_paths", "val_paths")):
            both = sorted(set(getattr(self, a)) & set(getattr(self, b)))
            if both:
                raise ValueError(f"{', '.join(both)} is in both data.{a} and data.{b}: a file feeds one split")
        return self

    def held_out(self) -> dict[str, list[str]]:
        """The splits that come from their own files ({"test": test_paths, "val": val_paths}, when set)."""
        return {s: files for s, files in (("test", self.test_paths), ("val", self.val_paths)) if files}


class TinyModelConfig(Section):
    size: Literal["xs", "s", "m"] = Field("s", description="Tiny model preset.")
    seed: int = Field(0, description="Seed of the random initialisation.")


class ModelConfig(Section):
    base: str = Field(
        "models/tiny",
        description="Hub id, local directory, or .gguf file (imported once into .tunesmith/models/) of the base model.",
    )
    revision: str | None = Field(None, description="Hub revision (commit, tag or branch) to pin.")
    tiny: TinyModelConfig | None = Field(
        None,
        description="Build an offline tiny model at `base` when it does not exist yet (demos and tests).",
    )
    get: NamedModel | None = Field(
        None,
        description="Import this named model (shipped in a wheel, no download) at `base` when it is missing: "
        f"{', '.join(NAMED_MODELS)}.",
    )

    @model_validator(mode="after")
    def _one_source(self) -> ModelConfig:
        if self.tiny is not None and self.get is not None:
            raise ValueError("set model.tiny or model.get, not both: they both build the model at model.base")
        return self


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
    dropout: float = Field(0.05, ge=0, lt=1, description="LoRA dropout.")
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
        None, gt=0, description="Peak learning rate; 2e-4 for LoRA/DoRA/QLoRA, 2e-5 for full if unset."
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


class EndpointConfig(Section):
    base_url: str = Field(description="Base URL of an OpenAI-compatible API, e.g. http://127.0.0.1:8001/v1.")
    model: str = Field(description="Model name sent in each request.")
    api_key_env: str | None = Field(
        None, description="Name of the environment variable holding the API key (never the key itself)."
    )
    timeout_s: float = Field(60.0, gt=0, description="Timeout of one request, in seconds.")
    concurrency: int = Field(4, gt=0, description="Requests in flight at once.")


class PriceConfig(Section):
    prompt_per_1m: float | None = Field(None, ge=0, description="Price per million prompt tokens.")
    completion_per_1m: float | None = Field(None, ge=0, description="Price per million completion tokens.")
    per_hour: float | None = Field(
        None, ge=0, description="Price per hour of the machine serving the arm (self-hosted models)."
    )


class JudgeConfig(EndpointConfig):
    rubric: dict[str, str] = Field(
        default_factory=lambda: {
            "correctness": "Which answer states the facts of the reference answer more accurately?",
            "helpfulness": "Which answer better resolves the user's request, briefly and clearly?",
        },
        description="One question per dimension; the judge answers each with a verdict A, B or TIE.",
    )
    arm: Arm = Field("fine_tuned", description="The arm judged against the reference arm, pairwise.")
    human_labels: str | None = Field(
        None,
        description="JSONL of human verdicts {id, dimension, winner: ARM|tie}: the judge's Cohen's kappa.",
    )
    limit: int | None = Field(None, gt=0, description="Judge only the first N test examples (cost).")


class EvalConfig(Section):
    arms: list[Arm] = Field(
        default_factory=lambda: ["base", "retrieval", "fine_tuned"],
        description=f"The systems compared: {', '.join(ARMS)}.",
    )
    reference_arm: Arm = Field("base", description="Deltas and CIs are computed against this arm.")
    max_new_tokens: int = Field(96, gt=0, description="Generation budget per answer.")
    batch_size: int = Field(8, gt=0, description="Prompts generated together (left padding, KV cache).")
    limit: int | None = Field(None, gt=0, description="Evaluate only the first N test examples.")
    latency_sample: int = Field(
        3,
        ge=0,
        description="Test prompts generated one at a time per local arm: the latency one user waits, and time "
        "to first token, apart from the batched pass; 0: off.",
    )
    gates: list[str] = Field(
        default_factory=list, description='Quality gates, e.g. "fine_tuned.rougeL >= base.rougeL + 0.05".'
    )
    prompt: str | None = Field(
        None,
        description="The prompted arm's engineered instructions, added to the system prompt; a default if unset.",
    )
    shots: int = Field(3, ge=0, description="Few-shot examples from train in the prompted arm's prompt.")
    shot_selection: Literal["random", "similar"] = Field(
        "similar", description="similar: the shots nearest to the question (hybrid retrieval); random: seeded."
    )
    rag_k: int = Field(3, gt=0, description="Passages retrieved into the prompt of the rag arms.")
    rag_documents: str | None = Field(
        None,
        description="Folder of .txt/.md documents the rag arms retrieve from; training examples if unset.",
    )
    rag_chunk_words: int = Field(200, gt=0, description="Documents are cut into chunks of this many words.")
    endpoint: EndpointConfig | None = Field(None, description="The endpoint arm: an OpenAI-compatible API.")
    prices: dict[Arm, PriceConfig] = Field(
        default_factory=dict, description="Per arm: token or hourly prices, for the cost per 1,000 requests."
    )
    blocklist: list[str] = Field(
        default_factory=list, description="Phrases that must never appear in an answer (case-insensitive)."
    )
    forgetting: bool = Field(True, description="Compare base and fine-tuned perplexity on a general-English sample.")
    forgetting_max_rise: float = Field(
        0.25, gt=0, description="Flag forgetting when fine-tuned perplexity exceeds base by this share."
    )
    judge: JudgeConfig | None = Field(None, description="Optional LLM-as-judge (OpenAI-compatible endpoint).")


class ServeConfig(Section):
    host: str = Field("127.0.0.1", description="Bind address; loopback unless you say otherwise.")
    port: int = Field(8000, gt=0, lt=65536, description="Port.")
    engine: Literal["hf", "vllm"] = Field(
        "hf", description="hf: transformers + peft in this process (CPU or GPU); vllm: vLLM with --enable-lora (CUDA)."
    )
    max_tokens: int = Field(512, gt=0, description="Upper bound of max_tokens per request; larger asks get a 400.")
    default_max_tokens: int = Field(128, gt=0, description="Completion budget when a request sets no max_tokens.")
    max_n: int = Field(8, gt=0, description="Upper bound of n (choices per request).")
    max_body_bytes: int = Field(1_000_000, gt=0, description="Larger request bodies get a 413.")
    batch_size: int = Field(8, gt=0, description="Queued requests for the same adapter generated together.")


class MonitorConfig(Section):
    redact: bool = Field(True, description="Redact PII from prompts and responses before they are logged.")
    database_url: str = Field(
        "sqlite:///tunesmith.db",
        description="SQLAlchemy URL of the request log; a relative SQLite path is resolved against tunesmith.yaml.",
    )
    since: str = Field("7d", description="Default window of traffic that `tunesmith monitor` compares (30m, 12h, 7d).")
    min_requests: int = Field(20, gt=0, description="Fewer logged prompts than this in the window: no drift verdict.")
    auc_threshold: float = Field(
        0.55, gt=0.5, le=1, description="Domain-classifier ROC AUC above which embeddings drifted (Evidently's 0.55)."
    )
    mmd_alpha: float = Field(
        0.05, gt=0, lt=1, description="MMD permutation-test p-value below which the drift is significant."
    )
    permutations: int = Field(200, gt=0, description="Permutations of the MMD test.")
    topics: int = Field(8, gt=0, description="KMeans clusters of the training prompts (capped by their number).")
    unseen_quantile: float = Field(
        0.95,
        gt=0,
        lt=1,
        description="A prompt farther from every cluster than this quantile of training prompts is an unseen topic.",
    )
    max_unseen_share: float = Field(
        0.25, ge=0, le=1, description="Share of unseen-topic traffic above which topic drift fires."
    )
    psi_threshold: float = Field(0.25, gt=0, description="PSI of prompt lengths above which length drift fires.")
    max_refusal_rate: float = Field(
        0.3, ge=0, le=1, description="Share of refusing answers in the window above which quality fires."
    )
    min_mean_rating: float | None = Field(
        None, description="Mean feedback rating below which quality fires; unset: feedback is reported only."
    )
    low_rating: float = Field(
        0.0, description="Ratings at or below this are low: export-review includes those responses."
    )


class UiConfig(Section):
    host: str = Field("127.0.0.1", description="`tunesmith ui` bind address; loopback unless you say otherwise.")
    port: int = Field(8080, gt=0, lt=65536, description="`tunesmith ui` port.")


def default_of(section: type[BaseModel], key: str) -> Any:
    """The default of a section's key, read from its field: for an API that takes one value of another section
    (the data stage takes train.max_seq_len), so that the default is still declared once."""
    return section.model_fields[key].get_default(call_default_factory=True)


class Config(Section):
    project: ProjectConfig = Field(default_factory=ProjectConfig)
    data: DataConfig = Field(default_factory=DataConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    eval: EvalConfig = Field(default_factory=EvalConfig)
    serve: ServeConfig = Field(default_factory=ServeConfig)
    monitor: MonitorConfig = Field(default_factory=MonitorConfig)
    ui: UiConfig = Field(default_factory=UiConfig)

    # Where relative paths are resolved from: the folder of tunesmith.yaml (not part of the file).
    root: Path = Field(default_factory=Path.cwd, exclude=True)

    def path(self, p: str | Path) -> Path:
        """Resolve a path from the config against the folder of tunesmith.yaml."""
        p = Path(p).expanduser()
        return p if p.is_absolute() else self.root / p

    def data_section(self) -> DataConfig:
        """The data section with its held-out files (test_paths, val_paths) resolved against tunesmith.yaml's
        folder, as the data stage takes it (data.paths are passed to it resolved, as the files of a command)."""
        return self.data.model_copy(
            update={k: [str(self.path(p)) for p in getattr(self.data, k)] for k in ("test_paths", "val_paths")}
        )

    @property
    def artifacts_dir(self) -> Path:
        return self.path(self.project.artifacts)

    def stage_dir(self, stage: str) -> Path:
        return self.artifacts_dir / stage

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


# ----------------------------------------------------------------------------------------------------------------
# Loading, with errors that point at the line

# A config is a few dozen keys: these bounds refuse a hostile file ("billion laughs", deep nesting) in milliseconds,
# long before its expansion could fill memory, and are far above what any real tunesmith.yaml needs.
MAX_CONFIG_BYTES = 4 << 20
MAX_ALIASES = 100
MAX_NODES = 100_000  # values after expanding aliases
MAX_DEPTH = 64
EXCERPT_CHARS = 80


class _Refused(yaml.YAMLError):
    """The YAML is well-formed but refused (duplicate key, too many aliases): a message, a hint and a line."""

    def __init__(self, message: str, hint: str, line: int | None) -> None:
        super().__init__(message)
        self.message, self.hint, self.line = message, hint, line


class BoundedLoader(yaml.SafeLoader):
    """PyYAML's SafeLoader, plus: duplicate keys are errors, and aliases and nesting are bounded."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._aliases = 0
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise _Refused(
                    f"more than {MAX_ALIASES} YAML aliases (*name)",
                    "a tunesmith.yaml needs few anchors; write the values out",
                    self.peek_event().start_mark.line + 1,
                )
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise _Refused(
                f"values nested more than {MAX_DEPTH} levels deep",
                "a tunesmith.yaml is a few levels deep",
                self.peek_event().start_mark.line + 1,
            )
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.get(key)
            except TypeError:
                continue  # an unhashable key: SafeLoader's own error says so
            if first is not None:
                raise _Refused(
                    f"duplicate key {_excerpt(key)} (first set at line {first})",
                    "keep one of them: YAML would silently use the last",
                    key_node.start_mark.line + 1,
                )
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


def _expanded_size(root: yaml.Node) -> int:
    """How many values the document holds once aliases are expanded, without expanding them (memoised)."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: yaml.Node) -> int:
        if id(node) in sizes:
            return sizes[id(node)]
        if id(node) in active:
            raise _Refused("a YAML alias refers to itself", "remove the recursive alias", node.start_mark.line + 1)
        active.add(id(node))
        if isinstance(node, yaml.MappingNode):
            n = 1 + sum(size(k) + size(v) for k, v in node.value)
        elif isinstance(node, yaml.SequenceNode):
            n = 1 + sum(size(v) for v in node.value)
        else:
            n = 1
        active.discard(id(node))
        sizes[id(node)] = n = min(n, MAX_NODES + 1)
        return n

    return size(root)


def parse_yaml(text: str) -> tuple[Any, yaml.Node | None]:
    """The value and the node tree of a YAML document, within the bounds above; raises yaml.YAMLError."""
    loader = BoundedLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, None
        if _expanded_size(node) > MAX_NODES:
            raise _Refused(
                f"the YAML expands to more than {MAX_NODES:,} values (aliases of aliases)",
                "a tunesmith.yaml needs few anchors; write the values out",
                node.start_mark.line + 1,
            )
        return loader.construct_document(node), node
    finally:
        loader.dispose()


def _excerpt(value: Any) -> str:
    """A short repr for an error message: a value can be huge, and the message must stay one line."""
    r = reprlib.Repr()
    r.maxstring = r.maxother = EXCERPT_CHARS
    r.maxlevel = 3
    text = r.repr(value)
    return text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 3] + "..."


def _line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """1-based line of the YAML node at `loc` (as deep as the path can be followed)."""
    line = node.start_mark.line + 1 if node is not None else None
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if k.value == key:
                    line, node = k.start_mark.line + 1, v
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def _annotation_at(loc: tuple[Any, ...]) -> Any:
    """The type annotation of the value at `loc` (pydantic's error location), or None where it cannot be followed.

    A dict key is addressed as pydantic does: `("eval", "prices", "fine_tunde", "[key]")` is the key itself."""
    ann: Any = Config
    i = 0
    while i < len(loc):
        key = loc[i]
        model = _model_in(ann)
        if model is not None:
            field = model.model_fields.get(key) if isinstance(key, str) else None
            if field is None:
                return None
            ann = field.annotation
        else:
            container = next((a for a in _members(ann) if get_origin(a) in (list, tuple, set, frozenset, dict)), None)
            if container is None:
                return None
            args = get_args(container)
            if get_origin(container) is dict:
                if i + 1 < len(loc) and loc[i + 1] == "[key]":
                    return args[0] if args else None
                ann = args[1] if len(args) > 1 else None
            elif isinstance(key, int):
                ann = args[0] if args else None
            else:
                return None
        i += 1
    return ann


def _members(ann: Any) -> tuple[Any, ...]:
    """The alternatives of a union (`X | None`), or the annotation alone."""
    return get_args(ann) if get_origin(ann) in (Union, UnionType) else (ann,)


def _model_in(ann: Any) -> type[BaseModel] | None:
    return next((a for a in _members(ann) if isinstance(a, type) and issubclass(a, BaseModel)), None)


def literal_choices(ann: Any) -> tuple[Any, ...]:
    """The valid values of a closed set of names (`Literal[...]`, possibly `| None`); () when it is not one."""
    return tuple(v for a in _members(ann) if get_origin(a) is Literal for v in get_args(a))


def _valid_keys(loc: tuple[Any, ...]) -> list[str]:
    model = _model_in(_annotation_at(loc)) if loc else Config
    if model is None:
        return []
    return [k for k in model.model_fields if not (model is Config and k == "root")]


def nearest(value: Any, valid: Sequence[str]) -> str | None:
    """The valid name closest to a mistyped one (`sharegtp` -> `sharegpt`), or None when none is close."""
    if not isinstance(value, str) or not valid:
        return None
    folded = {v.lower(): v for v in valid}
    close = difflib.get_close_matches(value.lower(), list(folded), n=1, cutoff=0.5)
    return folded[close[0]] if close else None


# Keys that moved: the error names the new place instead of the nearest name.
MOVED_KEYS = {
    ("data", "max_seq_len"): "train.max_seq_len: one sequence length for the data check, prepare and training",
}


def _raise_for(err: ValidationError, *, file: str | None, root: yaml.Node | None) -> None:
    first = err.errors()[0]
    loc = tuple(first["loc"])
    dotted = ".".join(str(x) for x in loc if x != "[key]")
    line = _line_of(root, loc) if root is not None else None
    if first["type"] == "extra_forbidden" and loc in MOVED_KEYS:
        raise ConfigError(f"'{dotted}' is now {MOVED_KEYS[loc]}", hint="move the key there", file=file, line=line)
    if first["type"] == "extra_forbidden":
        key = str(loc[-1])
        valid = _valid_keys(loc[:-1])
        close = nearest(key, valid)
        hint = f"did you mean '{close}'?" if close else None
        where = f" in section '{'.'.join(map(str, loc[:-1]))}'" if len(loc) > 1 else ""
        valid_txt = ", ".join(valid)
        raise ConfigError(
            f"unknown key '{key}'{where}",
            hint=(hint + " " if hint else "") + f"valid keys here: {valid_txt}",
            file=file,
            line=line,
        )
    choices = [str(c) for c in literal_choices(_annotation_at(loc))] if first["type"] == "literal_error" else []
    if choices:
        what = "key" if loc and loc[-1] == "[key]" else "value"
        close = nearest(first.get("input"), choices)
        raise ConfigError(
            f"'{dotted}': unknown {what} {_excerpt(first.get('input'))}",
            hint=(f"did you mean '{close}'? " if close else "") + f"valid {what}s: {', '.join(choices)}",
            file=file,
            line=line,
        )
    raise ConfigError(
        f"'{dotted}': {first['msg']} (got {_excerpt(first.get('input'))})" if loc else first["msg"],
        hint="see the configuration reference in README.md",
        file=file,
        line=line,
    )


def load_config(path: str | Path, overrides: list[str] | None = None) -> Config:
    """Read tunesmith.yaml, apply `section.key=value` overrides, validate."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}", hint="pass the path of a tunesmith.yaml")
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ConfigError(f"cannot read the config: {e.strerror}", file=path) from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(
            f"the config is over {MAX_CONFIG_BYTES >> 20} MB", hint="is this a tunesmith.yaml?", file=path
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(
            f"not UTF-8 text (byte 0x{data[e.start]:02x})",
            hint="save tunesmith.yaml as UTF-8",
            file=path,
            line=data.count(b"\n", 0, e.start) + 1,
        ) from None
    try:
        raw, root = parse_yaml(text)
        raw = raw or {}
    except _Refused as e:
        raise ConfigError(f"refused YAML: {e.message}", hint=e.hint, file=path, line=e.line) from None
    except (yaml.YAMLError, RecursionError) as e:
        mark = getattr(e, "problem_mark", None)
        raise ConfigError(
            f"invalid YAML: {_excerpt(getattr(e, 'problem', None) or str(e)).strip(chr(39))}",
            hint="check the indentation and quoting around this line",
            file=path,
            line=mark.line + 1 if mark else None,
        ) from None
    if not isinstance(raw, dict):
        raise ConfigError("the config must be a mapping of sections", file=path, line=1)
    for item in overrides or []:
        apply_override(raw, item)
    try:
        cfg = Config.model_validate({**raw, "root": path.resolve().parent})
    except ValidationError as e:
        _raise_for(e, file=str(path), root=root)
        raise  # unreachable: _raise_for always raises
    _check_data_paths(cfg, file=path, root=root)
    return cfg


def _check_data_paths(cfg: Config, *, file: Path, root: yaml.Node | None) -> None:
    """data.paths must stay inside the project folder unless project.allow_outside_paths says otherwise.

    A config can be shared or downloaded: `paths: [../../../etc/passwd]` must not read a file the user never
    named. Symlinks are resolved, so a link out of the project counts as outside. Paths given on the command line
    (`data check FILE`) are the user's own choice and are not checked.
    """
    if cfg.project.allow_outside_paths:
        return
    project = cfg.root.resolve()
    for key in ("paths", "test_paths", "val_paths"):
        for i, p in enumerate(getattr(cfg.data, key)):
            resolved = cfg.path(p).resolve()
            if resolved != project and project not in resolved.parents:
                raise ConfigError(
                    f"data.{key}[{i}] {_excerpt(p)} is outside the project folder {project}",
                    hint="move the file into the project, or set project.allow_outside_paths: true",
                    file=file,
                    line=_line_of(root, ("data", key, i)) if root is not None else None,
                )


def apply_override(raw: dict[str, Any], item: str) -> None:
    """Apply one `--set section.key=value` to the raw mapping; the value is parsed as YAML (`3`, `true`, `[a]`)."""
    if "=" not in item or "." not in item.split("=", 1)[0]:
        raise ConfigError(f"bad override '{item}'", hint="write it as section.key=value, e.g. train.epochs=2")
    dotted, value = item.split("=", 1)
    keys = dotted.strip().split(".")
    node = raw
    for key in keys[:-1]:
        node = node.setdefault(key, {})
        if not isinstance(node, dict):
            raise ConfigError(f"bad override '{item}': '{key}' is not a section")
    try:
        node[keys[-1]] = parse_yaml(value)[0]
    except (yaml.YAMLError, RecursionError):
        raise ConfigError(f"bad override '{_excerpt(item)}': the value is not valid YAML") from None


# ----------------------------------------------------------------------------------------------------------------
# The configuration reference in README.md, generated from the fields: `python -m tunesmith.config --markdown`

TABLE_START = "<!-- config-table: generated from the fields of tunesmith.config by "
TABLE_END = "<!-- /config-table -->"
TABLE_COMMAND = "python -m tunesmith.config --write README.md"


def _sub_model(ann: Any) -> type[BaseModel] | None:
    """The section a key holds: the model itself, or the model of a dict's values (eval.prices: arm -> prices)."""
    model = _model_in(ann)
    if model is None:
        mapping = next((a for a in _members(ann) if get_origin(a) is dict), None)
        model = _model_in(get_args(mapping)[1]) if mapping is not None else None
    return model


def _shown(field: Any) -> str:
    if field.is_required():
        return "required"
    value = field.get_default(call_default_factory=True)
    if value is None:
        return "unset"
    return f"`{json.dumps(value, ensure_ascii=False)}`".replace("|", "\\|")


def markdown_table() -> str:
    """Every key of tunesmith.yaml with its default and description, as the README's markdown table."""
    rows = ["| key | default | meaning |", "|---|---|---|"]

    def walk(model: type[BaseModel], prefix: str) -> None:
        for name, field in model.model_fields.items():
            if model is Config and name == "root":
                continue
            key, sub = f"{prefix}{name}", _sub_model(field.annotation)
            meaning = (field.description or "").replace("|", "\\|")
            if model is Config:
                rows.append(f"| **`{key}`** | | {meaning} |".replace("|  |", "| |"))
            elif sub is not None:
                rows.append(f"| `{key}` | | {meaning} |")
            else:
                rows.append(f"| `{key}` | {_shown(field)} | {meaning} |")
            if sub is not None:
                walk(sub, f"{key}.")

    walk(Config, "")
    return "\n".join(rows) + "\n"


def _with_table(text: str) -> str:
    """`text` (README.md) with its generated table replaced by the current one."""
    start, end = text.find(TABLE_START), text.find(TABLE_END)
    if start < 0 or end < start:
        raise ValueError(f"no {TABLE_START}...{TABLE_END} markers")
    head = text.index("\n", start) + 1
    return text[:head] + markdown_table() + text[end:]


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m tunesmith.config", description=markdown_table.__doc__)
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--markdown", action="store_true", help="print the table")
    group.add_argument("--write", metavar="README", type=Path, help="replace the table between the markers")
    args = parser.parse_args(argv)
    if args.markdown:
        print(markdown_table(), end="")
    else:
        args.write.write_text(_with_table(args.write.read_text(encoding="utf-8")), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
