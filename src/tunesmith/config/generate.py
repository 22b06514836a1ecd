"""The generate section: the teacher model that drafts training data (`tunesmith data generate`), and what is kept.

A teacher is any OpenAI-compatible endpoint, configured like the endpoint arm (URL, model, the name of the variable
that holds the key), plus what spending money on it needs: retries, prices and a ceiling on the cost.
"""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import Field, model_validator

from tunesmith.config.base import RuleError, Section
from tunesmith.config.eval import EndpointConfig

# Where `data generate --from` takes its questions: declared here, beside the section, so that the command's choices and
# the API's check read one list without the CLI importing the generator.
Source = Literal["docs", "prompts", "data", "log"]
SOURCES: tuple[str, ...] = get_args(Source)


class TeacherConfig(EndpointConfig):
    retries: int = Field(
        4,
        ge=0,
        le=20,
        description="Retries of a failed request (connection errors, 408, 429, 5xx), with the openai SDK's "
        "exponential backoff; an answered request is never asked again (the cache).",
    )
    max_tokens: int = Field(700, gt=0, description="Completion budget of one teacher request.")
    temperature: float = Field(
        0.7, ge=0, le=2, description="Sampling temperature: above 0 for varied phrasing; the cache keeps each answer."
    )
    prompt_per_1m: float | None = Field(
        None, ge=0, description="USD per million prompt tokens, for the estimate before spending; unset: unknown."
    )
    completion_per_1m: float | None = Field(None, ge=0, description="USD per million completion tokens.")
    max_cost_usd: float | None = Field(
        None,
        gt=0,
        description="Refuse to start when the estimate is above this, and stop when the spend the server reports "
        "passes it (what was answered stays cached).",
    )
    structured: bool = Field(
        True,
        description="Ask for structured output (response_format with a JSON schema); off for servers that reject "
        "it: the tolerant parser then reads the JSON out of the text.",
    )


class GenerateConfig(Section):
    teacher: TeacherConfig | None = Field(
        None,
        description="The teacher: {base_url, model, api_key_env, ...}; or --teacher-url and --teacher-model.",
    )
    questions_per_passage: int = Field(
        3, ge=1, le=20, description="--from docs: grounded questions asked per passage, in varied phrasing."
    )
    near_domain_per_passage: int = Field(
        1,
        ge=0,
        le=10,
        description="--from docs: near-domain questions per passage that the documents do not answer, answered "
        "with the project's own refusal.",
    )
    holdout_docs: float = Field(
        0.0,
        ge=0,
        lt=1,
        description="--from docs: share of the documents whose questions all go to --test-out and none to --out, so "
        "that no test question has a sibling passage in train (0: no held-out-document split).",
    )
    min_chars: int = Field(8, ge=0, description="Filter: drop a question or answer shorter than this.")
    max_chars: int = Field(2000, gt=0, description="Filter: drop an answer longer than this.")
    language: str | None = Field(
        "en",
        description="Filter: drop examples whose question or answer is in another language (py3langid); null: any.",
    )
    max_refusal_share: float = Field(
        0.3,
        ge=0,
        le=1,
        description="Filter: at most this share of the kept examples are refusals (the rest are dropped, last first).",
    )
    judge_min_score: int | None = Field(
        None,
        ge=1,
        le=5,
        description="Filter: drop examples the judge (eval.judge's endpoint) scores below this, 1-5; unset: no judge.",
    )
    cache: str = Field(
        "teacher-cache",
        description="Folder of the teacher's answers, keyed by request, under project.artifacts: a killed run "
        "resumes without asking again.",
    )

    @model_validator(mode="after")
    def _lengths_agree(self) -> GenerateConfig:
        if self.min_chars >= self.max_chars:
            raise RuleError(
                f"generate.min_chars ({self.min_chars}) must be below generate.max_chars ({self.max_chars})",
                hint="lower min_chars or raise max_chars",
                at=("min_chars",),
            )
        return self
