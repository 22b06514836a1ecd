"""The eval section: the arms compared, how they are scored and priced, and the quality gates."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from tunesmith.config.base import ARMS, Arm, RuleError, Section
from tunesmith.config.gates import parse_gate
from tunesmith.config.safety import SafetyConfig
from tunesmith.errors import ConfigError


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
        # Every alternative a user would try instead of fine-tuning: the model as it is, an engineered prompt,
        # the nearest training answer (no model) and RAG; the proof users come for is in the default table.
        # `guarded` costs little generation: fine_tuned's answers behind the scope guard, a few asked again.
        default_factory=lambda: list[Arm](["base", "prompted", "retrieval", "rag", "fine_tuned", "guarded"]),
        description=f"The systems compared: {', '.join(ARMS)}.",
    )
    reference_arm: Arm = Field("base", description="Deltas and CIs are computed against this arm.")
    max_new_tokens: int = Field(96, gt=0, description="Generation budget per answer.")
    batch_size: int = Field(
        8,
        gt=0,
        description="Prompts generated together (hf: left padding, KV cache; llamacpp: sequences of one context).",
    )
    engine: Literal["hf", "llamacpp"] = Field(
        "hf",
        description="What generates the model arms' answers: hf, transformers (batched); llamacpp, llama.cpp from an "
        "f16 GGUF of each model, batch_size prompts decoded together, their shared opening once (make "
        "install-llamacpp; docs/export.md).",
    )
    guard_max_over_refusal: float = Field(
        0.025,
        ge=0,
        lt=1,
        description="The scope guard's threshold (guarded arm, serve.guard) is the highest at which it declines at "
        "most this share of the in-scope validation and training questions (docs/evaluation.md, Scope guard).",
    )
    guard_reanswer_quantile: float | None = Field(
        0.1,
        ge=0,
        le=1,
        description="The guarded arm asks the fine-tune again, its refusal openings suppressed, when it declines a "
        "question the guard finds more in scope than this share of the in-scope calibration questions; unset: never.",
    )
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
    rag_k: int = Field(
        3,
        gt=0,
        description="Passages retrieved into the prompt of the rag arms (and of serve.rag_models): from the documents "
        "of docs.paths, else the training answers.",
    )
    endpoint: EndpointConfig | None = Field(None, description="The endpoint arm: an OpenAI-compatible API.")
    prices: dict[Arm, PriceConfig] = Field(
        default_factory=dict, description="Per arm: token or hourly prices, for the cost per 1,000 requests."
    )
    blocklist: list[str] = Field(
        default_factory=list,
        description="Phrases that must never appear in an answer (case-insensitive): the evaluation counts them "
        "(blocklist_violation), `data check` flags training answers that hold one (problematic_language) and "
        "serve.answer_guards can block or redact them.",
    )
    forgetting: bool = Field(True, description="Compare base and fine-tuned perplexity on a general-English sample.")
    forgetting_max_rise: float = Field(
        0.25, gt=0, description="Flag forgetting when fine-tuned perplexity exceeds base by this share."
    )
    judge: JudgeConfig | None = Field(None, description="Optional LLM-as-judge (OpenAI-compatible endpoint).")
    safety: SafetyConfig = Field(
        default_factory=SafetyConfig,
        description="Red-team decline, bias probes and personal data in answers, per arm (docs/evaluation.md, Safety).",
    )

    @model_validator(mode="after")
    def _arms_agree(self) -> EvalConfig:
        """Every setting that names an arm names one of eval.arms: otherwise the evaluation would stop after
        training, or after every arm has generated."""
        arms = list(self.arms)
        if self.reference_arm not in arms:
            raise RuleError(
                f"eval.reference_arm '{self.reference_arm}' is not one of eval.arms {arms}",
                hint="add it to eval.arms or choose another reference arm",
                at=("reference_arm",) if "reference_arm" in self.model_fields_set else ("arms",),
            )
        if "guarded" in arms and "fine_tuned" not in arms:
            raise RuleError(
                "the guarded arm is the fine_tuned arm's answers behind the scope guard, and eval.arms has no "
                "fine_tuned",
                hint="add fine_tuned to eval.arms or remove guarded",
                at=("arms", arms.index("guarded")),
            )
        if "endpoint" in arms and self.endpoint is None:
            raise RuleError(
                "the endpoint arm needs eval.endpoint",
                hint="set eval.endpoint: {base_url: http://HOST/v1, model: NAME, api_key_env: MY_API_KEY}",
                at=("arms", arms.index("endpoint")),
            )
        unknown = [arm for arm in self.prices if arm not in arms]
        if unknown:
            raise RuleError(
                f"eval.prices names arm(s) {unknown} that are not in eval.arms {arms}",
                hint="remove their prices or add them to eval.arms",
                at=("prices", unknown[0]),
            )
        if self.judge is not None and self.judge.arm not in arms:
            raise RuleError(
                f"eval.judge.arm '{self.judge.arm}' is not one of eval.arms {arms}",
                hint="set eval.judge.arm to one of eval.arms (fine_tuned if unset), or add it there",
                at=("judge", "arm"),
            )
        for i, text in enumerate(self.gates):
            try:
                gate = parse_gate(text)
            except ConfigError as e:
                raise RuleError(e.message, hint=e.hint, at=("gates", i)) from None
            missing = [arm for arm in gate.arms if arm not in arms]
            if missing:
                raise RuleError(
                    f"gate '{text}': no arm '{missing[0]}' in eval.arms {arms}",
                    hint="add the arm to eval.arms or correct the gate",
                    at=("gates", i),
                )
        return self
