"""The serve section: the OpenAI-compatible server's bounds."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from tunesmith.config.base import Section

# The checks serve can apply to every answer before it is sent (serve.answer_guards), and what each does on a hit.
AnswerGuard = Literal["blocklist", "pii"]
GuardAction = Literal["block", "redact", "log"]


class ServeConfig(Section):
    host: str = Field("127.0.0.1", description="Bind address; loopback unless you say otherwise.")
    port: int = Field(8000, gt=0, lt=65536, description="Port.")
    engine: Literal["hf", "llamacpp", "vllm"] = Field(
        "hf",
        description="hf: transformers + peft in this process (CPU or GPU); llamacpp: llama.cpp in this process, "
        "each served model as an f16 GGUF written at start (make install-llamacpp; docs/serving.md); vllm: `vllm "
        "serve` with --enable-lora as a child process on loopback, behind this server (CUDA). All three write the "
        "request log.",
    )
    vllm_start_timeout_s: float = Field(
        900, gt=0, description="How long serve.engine vllm waits for `vllm serve` to load and answer /health."
    )
    max_tokens: int = Field(512, gt=0, description="Upper bound of max_tokens per request; larger asks get a 400.")
    default_max_tokens: int = Field(128, gt=0, description="Completion budget when a request sets no max_tokens.")
    max_n: int = Field(8, gt=0, description="Upper bound of n (choices per request).")
    max_body_bytes: int = Field(1_000_000, gt=0, description="Larger request bodies get a 413.")
    guard: bool = Field(
        False,
        description="Decline chat requests the scope guard finds out of scope, before the model answers, with the "
        "threshold the last evaluation picked on validation (the guarded arm); the request log marks them.",
    )
    batch_size: int = Field(8, gt=0, description="Queued requests for the same adapter generated together.")
    rag_models: list[str] = Field(
        default_factory=list,
        description="Served model names (base, served, a run id) whose chat answers retrieve the top eval.rag_k "
        "passages of the document index (docs.paths) into the system prompt, as the rag arms do; the response's "
        "`sources` lists them. Needs docs.paths.",
    )
    answer_guards: dict[AnswerGuard, GuardAction] = Field(
        default_factory=dict,
        description="Checks of every answer before it is sent, each with its action, e.g. {blocklist: block, pii: "
        "redact}: blocklist, a phrase of eval.blocklist; pii, personal data found by the data stage's Presidio "
        "analyzer (data.pii_entities, less data.pii_allow and the names the dataset kept). block sends "
        "serve.blocked_answer instead, redact replaces what was found ([blocked], <PERSON>), log sends the answer "
        "as it is; the request log records each hit and `tunesmith monitor` its rates. With a guard on, a streamed "
        "answer is sent once complete.",
    )
    blocked_answer: str = Field(
        "I'm sorry, I can't share that answer. Please contact our support team.",
        min_length=1,
        description="What a blocked answer is replaced by (serve.answer_guards: block).",
    )
