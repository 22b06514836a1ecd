"""The OpenAI-compatible HTTP API, so applications switch to the fine-tuned model by changing a base URL.

The `model` field chooses the adapter as vLLM does, by a name from the registry (a run id, `base`, or `served`
for the promoted run): a name is a dictionary key here, never a path. The names of serve.rag_models answer with
retrieval: the passages of the document index in the system prompt, as the rag arms had them (evals.rag), and the
response's top-level `sources` (an extension field the openai SDK keeps in `model_extra`) lists them. With
serve.answer_guards, each answer passes the blocklist and the PII scan before it is sent (serve/guards.py); a
streamed answer is then held back until it is complete, since a phrase already sent cannot be taken back. So is a
streamed answer to a question serve.guard is sure is in scope: a refusal by the model is asked again first.

Every error, ours or the framework's, is OpenAI's error JSON (`{"error": {"message", "type", "param", "code"}}`), so
the official clients raise their usual exceptions, and nothing ever answers with a traceback.
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from tunesmith.config import ServeConfig
from tunesmith.data.scope_guard import CalibratedGuard
from tunesmith.evals.rag import Retrieved, Searcher, retrieve, with_passages
from tunesmith.refusals import is_refusal
from tunesmith.serve.engine import Choice, Generation, Sampling, ServingEngine
from tunesmith.serve.guards import AnswerGuards, combined
from tunesmith.serve.log import RequestLog

logger = logging.getLogger("tunesmith.serve")


class APIError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.type, self.param, self.code = status, message, type, param, code


def _error(status: int, message: str, type: str, param: str | None = None, code: str | None = None) -> JSONResponse:
    body = {"error": {"message": message, "type": type, "param": param, "code": code}}
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, headers=headers)


class _Request(BaseModel):
    model_config = ConfigDict(extra="ignore")
    model: str
    temperature: float = Field(1.0, ge=0, le=2)
    top_p: float = Field(1.0, gt=0, le=1)
    max_tokens: int | None = Field(None, gt=0)
    max_completion_tokens: int | None = Field(None, gt=0)
    stop: str | list[str] | None = None
    seed: int | None = None
    n: int = Field(1, gt=0)
    stream: bool = False
    user: str | None = None


class Message(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role: Literal["system", "user", "assistant", "developer"]
    content: str | list[dict[str, Any]]

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        return "".join(part.get("text", "") for part in self.content if part.get("type") == "text")


class ChatRequest(_Request):
    messages: list[Message] = Field(min_length=1)


class CompletionRequest(_Request):
    prompt: str | list[str]


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(description="The response id (chatcmpl-... or cmpl-...)")
    rating: float = Field(description="Your scale; export-review takes ratings <= monitor.low_rating as low")
    correction: str | None = None


@dataclass
class Retrieval:
    """serve.rag_models: the served names (resolved, as in the engine) that answer with the top `k` passages."""

    searcher: Searcher
    models: frozenset[str]
    k: int
    lock: threading.Lock = field(default_factory=threading.Lock)  # one search at a time: milliseconds each

    def find(self, question: str) -> Retrieved:
        with self.lock:
            return retrieve(self.searcher, [question], self.k)[0]


@dataclass
class ServeState:
    engine: ServingEngine
    log: RequestLog
    settings: ServeConfig
    api_key: str | None = None
    lineage: dict[str, dict[str, Any]] = field(default_factory=dict)  # model name -> lineage for /v1/models
    aliases: dict[str, str] = field(default_factory=dict)  # e.g. "served" -> the promoted run id
    guard: CalibratedGuard | None = None  # serve.guard: out-of-scope chat requests declined before the model
    retrieval: Retrieval | None = None  # serve.rag_models: the models that answer with passages of the index
    answer_guards: AnswerGuards | None = None  # serve.answer_guards: the checks of every answer before it is sent


class _BodyLimit:
    """Answer 413 to bodies over the limit, whether they announce their length or arrive in chunks."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            return await self._reject(scope, receive, send)
        seen = 0

        async def counting_receive() -> dict[str, Any]:
            nonlocal seen
            message: dict[str, Any] = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise APIError(413, f"request body over {self.limit} bytes", code="body_too_large")
            return message

        await self.app(scope, counting_receive, send)

    async def _reject(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        response = _error(413, f"request body over {self.limit} bytes", "invalid_request_error", code="body_too_large")
        await response(scope, receive, send)


def create_app(state: ServeState) -> Any:
    """The ASGI app (FastAPI behind the body-size limit) over a loaded engine and an open log."""
    app = FastAPI(title="tunesmith", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.tunesmith = state
    _add_error_handlers(app)

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "ok"}

    app.include_router(_openai_router(state))
    return _BodyLimit(app, state.settings.max_body_bytes)


def _add_error_handlers(app: FastAPI) -> None:
    """Every error, ours or the framework's, as OpenAI's error JSON: clients raise their usual exceptions."""

    @app.exception_handler(APIError)
    async def _api_error(_: Request, e: APIError) -> JSONResponse:
        return _error(e.status, e.message, e.type, e.param, e.code)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, e: RequestValidationError) -> JSONResponse:
        first = e.errors()[0] if e.errors() else {}
        param = ".".join(str(x) for x in first.get("loc", ())[1:]) or None
        return _error(400, f"{param or 'body'}: {first.get('msg', 'invalid request')}", "invalid_request_error", param)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, e: StarletteHTTPException) -> JSONResponse:
        return _error(e.status_code, str(e.detail), "invalid_request_error")

    @app.exception_handler(Exception)
    async def _internal(_: Request, e: Exception) -> JSONResponse:
        logger.exception("internal error")
        return _error(500, "internal server error; see the server log", "server_error")


def _openai_router(state: ServeState) -> APIRouter:
    """The /v1 endpoints, all behind the API key when one is set."""

    def authorize(request: Request) -> None:
        if state.api_key is None:
            return
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), state.api_key.encode()):
            raise APIError(401, "missing or invalid API key", type="authentication_error", code="invalid_api_key")

    router = APIRouter(dependencies=[Depends(authorize)])

    @router.get("/v1/models")
    def models() -> dict[str, Any]:
        return _models(state)

    @router.post("/v1/chat/completions")
    def chat(req: ChatRequest) -> Any:
        return _chat(state, req)

    @router.post("/v1/completions")
    def completions(req: CompletionRequest) -> Any:
        return _completions(state, req)

    @router.post("/v1/feedback")
    def feedback(req: FeedbackRequest) -> dict[str, Any]:
        return _feedback(state, req)

    return router


def _resolve(state: ServeState, name: str) -> str:
    name = state.aliases.get(name, name)
    if name not in state.engine.names:
        raise APIError(404, f"The model '{name}' does not exist", param="model", code="model_not_found")
    return name


def _sampling(settings: ServeConfig, req: _Request) -> Sampling:
    asked = req.max_completion_tokens or req.max_tokens
    if asked is not None and asked > settings.max_tokens:
        raise APIError(400, f"max_tokens is at most {settings.max_tokens} here", param="max_tokens")
    if req.n > settings.max_n:
        raise APIError(400, f"n is at most {settings.max_n} here", param="n")
    if req.stream and req.n > 1:
        raise APIError(400, "stream with n > 1 is not supported", param="n")
    stop = (req.stop,) if isinstance(req.stop, str) else tuple(req.stop or ())
    if len(stop) > 4:
        raise APIError(400, "at most 4 stop sequences", param="stop")
    return Sampling(asked or settings.default_max_tokens, req.temperature, req.top_p, req.n, stop, req.seed)


def _usage(prompt_tokens: int, choices: list[Choice]) -> dict[str, int]:
    completion = sum(c.completion_tokens for c in choices)
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion,
        "total_tokens": prompt_tokens + completion,
    }


@dataclass
class _Call:
    """One request: what its answer echoes back and what the log records."""

    id: str
    endpoint: str
    model: str  # the resolved name
    shown: str  # the name the client asked for, echoed back
    messages: list[dict[str, str]]
    created: int = field(default_factory=lambda: int(time.time()))
    refusal: str | None = None  # the scope guard's house refusal, when it declined the question
    sure: bool = False  # the scope guard is sure the question is in scope: a refusal by the model is asked again
    reasked: bool = False  # the model declined and the answers sent are the ones asked again
    retrieved: Retrieved | None = None  # serve.rag_models: the passages put into the prompt
    answer_guard: str | None = None  # serve.answer_guards: the action taken on the answers, None when none hit
    answer_flags: dict[str, list[str]] | None = None  # what the answer guards found

    def prepare(self, state: ServeState) -> list[dict[str, str]]:
        """The messages the model sees: none when the scope guard declines (and no passages are looked for), the
        passages in the system prompt when the model answers with retrieval, else the client's own."""
        self.refusal = self.guarded(state)
        r = state.retrieval
        if self.refusal is not None or r is None or self.model not in r.models or self.endpoint != "chat":
            return self.messages
        self.retrieved = r.find(self.question())
        return with_passages(self.messages, self.retrieved.hits)

    def question(self) -> str:
        return next((m["content"] for m in reversed(self.messages) if m["role"] == "user"), "")

    def elapsed_ms(self, t0: float) -> float:
        """Since t0, plus the retrieval before it: what the client waited for the answer."""
        return (time.perf_counter() - t0) * 1000 + (self.retrieved.ms if self.retrieved else 0.0)

    def generate(self, state: ServeState, text: str, s: Sampling) -> Generation:
        t0 = time.perf_counter()
        if self.refusal is not None:
            gen = Generation([Choice(self.refusal, "stop", 0)] * s.n, 0, (time.perf_counter() - t0) * 1000)
        else:
            gen = state.engine.generate(self.model, text, s)
            if state.guard is not None and self.reasks(state) and any(is_refusal(c.text) for c in gen.choices):
                # Asked again with the data's refusal openings suppressed, as the evaluation's guarded arm does
                again = state.engine.generate(self.model, text, replace(s, suppress_first=state.guard.openings))
                gen = Generation(again.choices, gen.prompt_tokens, gen.latency_ms + again.latency_ms)
                self.reasked = True
            gen = Generation(self.guard(state, gen.choices), gen.prompt_tokens, gen.latency_ms)
        self.log(state, gen.prompt_tokens, gen.choices, self.elapsed_ms(t0))
        return gen

    def guard(self, state: ServeState, choices: list[Choice]) -> list[Choice]:
        """The model's answers as they are sent: through serve.answer_guards when any is on (blocked, redacted or
        only recorded), which the log then records; unchanged otherwise."""
        if state.answer_guards is None:
            return choices
        checked = [state.answer_guards.check(c.text) for c in choices]
        self.answer_guard, self.answer_flags = combined(checked)
        return [Choice(g.text, c.finish_reason, c.completion_tokens) for g, c in zip(checked, choices, strict=True)]

    def reasks(self, state: ServeState) -> bool:
        """Whether a refusal by the model is asked again: the scope guard is on and sure the question is in scope,
        and the engine can suppress the refusal openings (vLLM cannot)."""
        return self.sure and state.guard is not None and state.engine.reasks

    def guarded(self, state: ServeState) -> str | None:
        """The house refusal when serve.guard is on and finds the chat's last question out of scope."""
        if state.guard is None or self.endpoint != "chat":
            return None
        refusal, self.sure = state.guard.judge(self.question())
        return refusal

    def log(self, state: ServeState, prompt_tokens: int, choices: list[Choice], latency_ms: float) -> None:
        state.log.record(
            id=self.id,
            endpoint=self.endpoint,
            model=self.model,
            messages=self.messages,
            responses=[c.text for c in choices],
            prompt_tokens=prompt_tokens,
            completion_tokens=sum(c.completion_tokens for c in choices),
            latency_ms=latency_ms,
            finish_reason=choices[0].finish_reason,
            guarded=self.refusal is not None,
            reasked=self.reasked,
            sources=self.retrieved.sources() if self.retrieved else None,
            answer_guard=self.answer_guard,
            answer_flags=self.answer_flags,
        )

    def response(self, kind: str, choices: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
        head = {"id": self.id, "object": kind, "created": self.created, "model": self.shown}
        return {**head, "choices": choices, **extra}

    def sources(self) -> dict[str, Any]:
        """The extension field of an answer given with retrieval: `sources`, top level (one retrieval per request,
        whatever n), each {source, locator, text, score} as in results.json; nothing otherwise."""
        return {"sources": self.retrieved.sources()} if self.retrieved is not None else {}


def _models(state: ServeState) -> dict[str, Any]:
    created = int(time.time())

    def rag(name: str) -> bool:  # whether its chat answers retrieve passages (serve.rag_models)
        return state.retrieval is not None and name in state.retrieval.models

    data = [
        {
            "id": name,
            "object": "model",
            "created": created,
            "owned_by": "tunesmith",
            "lineage": state.lineage.get(name, {}),
            "rag": rag(name),
        }
        for name in state.engine.names
    ]
    data += [
        {
            "id": alias,
            "object": "model",
            "created": created,
            "owned_by": "tunesmith",
            "alias_of": target,
            "lineage": state.lineage.get(target, {}),
            "rag": rag(target),
        }
        for alias, target in state.aliases.items()
    ]
    return {"object": "list", "data": data}


def _chat(state: ServeState, req: ChatRequest) -> Any:
    name = _resolve(state, req.model)
    s = _sampling(state.settings, req)
    messages = [{"role": "system" if m.role == "developer" else m.role, "content": m.text()} for m in req.messages]
    call = _Call(f"chatcmpl-{uuid.uuid4().hex}", "chat", name, req.model, messages)
    text = state.engine.render_chat(call.prepare(state))
    if req.stream:
        return _sse(_chat_chunks(state, call, text, s))
    gen = call.generate(state, text, s)
    choices = [
        {
            "index": i,
            "message": {"role": "assistant", "content": c.text},
            "finish_reason": c.finish_reason,
            "logprobs": None,
        }
        for i, c in enumerate(gen.choices)
    ]
    return call.response("chat.completion", choices, usage=_usage(gen.prompt_tokens, gen.choices), **call.sources())


def _chat_chunks(state: ServeState, call: _Call, text: str, s: Sampling) -> Iterator[dict[str, Any]]:
    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
        choices = [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}]
        return call.response("chat.completion.chunk", choices, **extra)

    t0 = time.perf_counter()
    yield chunk({"role": "assistant", "content": ""}, **call.sources())  # the sources come first, with the role
    if call.refusal is not None:
        declined = Choice(call.refusal, "stop", 0)
        call.log(state, 0, [declined], call.elapsed_ms(t0))
        yield chunk({"content": call.refusal})
        yield chunk({}, "stop", usage=_usage(0, [declined]))
        return
    if state.answer_guards is not None or call.reasks(state):
        # Held: the answer is checked whole, or asked again if the model declines, then sent in one piece; a phrase
        # or a refusal already sent cannot be taken back. The path of a plain request, so the two agree.
        gen = call.generate(state, text, s)
        [answer] = gen.choices
        if answer.text:
            yield chunk({"content": answer.text})
        yield chunk({}, answer.finish_reason, usage=_usage(gen.prompt_tokens, gen.choices))
        return
    for item in state.engine.stream(call.model, text, s):
        if isinstance(item, Choice):
            prompt_tokens = state.engine.count_tokens(text)
            call.log(state, prompt_tokens, [item], call.elapsed_ms(t0))
            yield chunk({}, item.finish_reason, usage=_usage(prompt_tokens, [item]))
        else:
            yield chunk({"content": item})


def _completions(state: ServeState, req: CompletionRequest) -> Any:
    name = _resolve(state, req.model)
    s = _sampling(state.settings, req)
    prompts = [req.prompt] if isinstance(req.prompt, str) else req.prompt
    if req.stream or len(prompts) != 1:
        raise APIError(
            400,
            "/v1/completions takes one prompt and no stream here; use /v1/chat/completions",
            param="prompt" if len(prompts) != 1 else "stream",
        )
    call = _Call(f"cmpl-{uuid.uuid4().hex}", "completions", name, req.model, [{"role": "user", "content": prompts[0]}])
    gen = call.generate(state, prompts[0], s)
    choices = [
        {"index": i, "text": c.text, "finish_reason": c.finish_reason, "logprobs": None}
        for i, c in enumerate(gen.choices)
    ]
    return call.response("text_completion", choices, usage=_usage(gen.prompt_tokens, gen.choices))


def _feedback(state: ServeState, req: FeedbackRequest) -> dict[str, Any]:
    if not state.log.exists(req.id):
        raise APIError(404, f"no logged response with id '{req.id}'", param="id", code="response_not_found")
    state.log.add_feedback(req.id, req.rating, req.correction)
    return {"id": req.id, "object": "feedback", "status": "recorded"}


def _sse(chunks: Iterator[dict[str, Any]]) -> StreamingResponse:
    def events() -> Iterator[str]:
        try:
            for c in chunks:
                yield f"data: {json.dumps(c, ensure_ascii=False)}\n\n"
        except Exception:  # noqa: BLE001 - the status line is sent already: report in-band, as OpenAI does
            logger.exception("error while streaming")
            yield (
                "data: " + json.dumps({"error": {"message": "internal server error", "type": "server_error"}}) + "\n\n"
            )
        yield "data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")
