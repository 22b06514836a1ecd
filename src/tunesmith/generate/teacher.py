"""The teacher: an OpenAI-compatible model that drafts training data, asked through the official `openai` SDK.

What this adds to the SDK, and why:
- a cache keyed by the request (teacher URL, model, messages, schema, sampling), one file per answer written
  atomically under `artifacts/<generate.cache>/` as soon as it arrives: a killed run asks again only what had not
  been answered, and a rerun with the same settings costs nothing;
- structured output (`response_format` with a JSON schema) with a tolerant parser for servers that ignore it or wrap
  the JSON in prose or code fences (no library parses "JSON somewhere in a chat answer", so `parse_json` is ours);
  a server that rejects `response_format` is asked again without it, once, and the run goes on without it;
- bounded concurrency (a thread pool of teacher.concurrency); retries with exponential backoff are the SDK's
  (`max_retries`);
- the spend the server reports (`usage`) against teacher.max_cost_usd.
The estimate and the confirmation before spending are in `spend.py`.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tunesmith.artifacts import write_json_atomic
from tunesmith.config import TeacherConfig
from tunesmith.errors import ConfigError, ModelError, TunesmithError

# Sent as the key to a server that needs none (a local vLLM, llama.cpp or `tunesmith serve`): the SDK requires one,
# and an unrelated OPENAI_API_KEY from the environment must never be sent to a URL the user did not give it for.
NO_KEY = "unused"


@dataclass(frozen=True)
class Request:
    """One question to the teacher: the messages, and the JSON schema its answer must follow (None: plain text)."""

    messages: tuple[tuple[str, str], ...]
    schema: dict[str, Any] | None = None
    schema_name: str = "answer"

    @classmethod
    def of(
        cls, messages: Sequence[dict[str, str]], schema: dict[str, Any] | None = None, name: str = "answer"
    ) -> Request:
        return cls(tuple((m["role"], m["content"]) for m in messages), schema, name)

    def message_dicts(self) -> list[dict[str, str]]:
        return [{"role": role, "content": content} for role, content in self.messages]

    def key(self, cfg: TeacherConfig) -> str:
        """What makes two requests the same question: the teacher, the messages, the schema and the sampling."""
        body = {
            "base_url": cfg.base_url.rstrip("/"),
            "model": cfg.model,
            "messages": self.messages,
            "schema": self.schema,
            "temperature": cfg.temperature,
            "max_tokens": cfg.max_tokens,
        }
        return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


@dataclass
class Answer:
    text: str
    data: Any  # the parsed JSON when the request had a schema, else None
    prompt_tokens: int
    completion_tokens: int
    cached: bool


@dataclass
class Spend:
    """What this run asked and paid for (cached answers cost nothing and are not counted as asked)."""

    asked: int = 0
    cached: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    unparsed: int = 0
    structured: bool = True
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def cost(self, cfg: TeacherConfig) -> float | None:
        if cfg.prompt_per_1m is None and cfg.completion_per_1m is None:
            return None
        return (
            self.prompt_tokens * (cfg.prompt_per_1m or 0) + self.completion_tokens * (cfg.completion_per_1m or 0)
        ) / 1e6

    def to_json(self, cfg: TeacherConfig) -> dict[str, Any]:
        cost = self.cost(cfg)
        return {
            "asked": self.asked,
            "cached": self.cached,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "unparsed": self.unparsed,
            "structured_output": self.structured,
            "cost_usd": round(cost, 6) if cost is not None else None,
        }


def parse_json(text: str) -> Any:
    """The first JSON object or array in `text`: the whole text, else inside a ```json fence, else the first `{` or
    `[` from which a JSON value decodes. None when there is none."""
    stripped = text.strip()
    candidates = [stripped]
    if "```" in stripped:
        candidates += [part.removeprefix("json").strip() for part in stripped.split("```")[1::2]]
    for candidate in candidates:
        try:
            return json.loads(candidate)
        except ValueError:
            pass
    decoder = json.JSONDecoder()
    for i, ch in enumerate(stripped):
        if ch in "{[":
            try:
                return decoder.raw_decode(stripped, i)[0]
            except ValueError:
                continue
    return None


def api_key(cfg: TeacherConfig) -> str:
    """The key from the environment variable teacher.api_key_env names (never from a file), or NO_KEY."""
    if not cfg.api_key_env:
        return NO_KEY
    key = os.environ.get(cfg.api_key_env)
    if not key:
        raise ConfigError(
            f"environment variable {cfg.api_key_env} is not set",
            hint=f"export {cfg.api_key_env}=... with the API key of {cfg.base_url}",
        )
    return key


class Teacher:
    """Asks the teacher, through the cache. `ask` answers a batch in order."""

    def __init__(self, cfg: TeacherConfig, cache_dir: Path) -> None:
        try:
            import openai
        except ImportError:
            raise ConfigError(
                "the teacher is called through the openai SDK, which is not installed",
                hint='pip install "tunesmith[vendors]" (or pip install openai)',
            ) from None
        self.cfg = cfg
        self.cache_dir = cache_dir
        self.spend = Spend(structured=cfg.structured)
        self._stopped: str | None = None  # why no further request is sent (the spend passed max_cost_usd)
        self._openai = openai
        self.client = openai.OpenAI(
            base_url=cfg.base_url, api_key=api_key(cfg), timeout=cfg.timeout_s, max_retries=cfg.retries
        )

    # ------------------------------------------------------------------------------------------------ cache

    def _path(self, key: str) -> Path:
        return self.cache_dir / key[:2] / f"{key}.json"

    def cached(self, request: Request) -> dict[str, Any] | None:
        path = self._path(request.key(self.cfg))
        if not path.is_file():
            return None
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:  # a cache file cut short by a crash outside write_json_atomic's rename: ask again
            return None
        return entry if isinstance(entry, dict) and isinstance(entry.get("text"), str) else None

    def uncached(self, requests: Sequence[Request]) -> list[Request]:
        return [r for r in requests if self.cached(r) is None]

    # ------------------------------------------------------------------------------------------------ asking

    def _create(self, request: Request) -> Any:
        kwargs: dict[str, Any] = {
            "model": self.cfg.model,
            "messages": request.message_dicts(),
            "temperature": self.cfg.temperature,
            "max_tokens": self.cfg.max_tokens,
        }
        if request.schema is not None and self.spend.structured:
            kwargs["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": request.schema_name, "schema": request.schema, "strict": True},
            }
            try:
                return self.client.chat.completions.create(**kwargs)
            except self._openai.BadRequestError:
                # A server without structured output: the tolerant parser reads the JSON from the text instead.
                self.spend.structured = False
                kwargs.pop("response_format")
        return self.client.chat.completions.create(**kwargs)

    def _ask_one(self, request: Request) -> Answer:
        entry = self.cached(request)
        if entry is not None:
            with self.spend.lock:
                self.spend.cached += 1
            return self._answer(request, entry, cached=True)
        if self._stopped is not None:  # a request already in the pool when the spend passed the ceiling
            raise TunesmithError(self._stopped)
        try:
            completion = self._create(request)
        except self._openai.APIError as e:
            raise ModelError(
                f"the teacher at {self.cfg.base_url} failed after {self.cfg.retries} retries: {e}",
                hint="check generate.teacher.base_url (it usually ends in /v1), the model name and the key; what was "
                "answered is cached, so a rerun continues from there",
            ) from None
        text = (completion.choices[0].message.content or "") if completion.choices else ""
        usage = completion.usage
        entry = {
            "text": text,
            "prompt_tokens": int(getattr(usage, "prompt_tokens", 0) or 0),
            "completion_tokens": int(getattr(usage, "completion_tokens", 0) or 0),
            "model": completion.model,
        }
        write_json_atomic(self._path(request.key(self.cfg)), entry)
        with self.spend.lock:
            self.spend.asked += 1
            self.spend.prompt_tokens += entry["prompt_tokens"]
            self.spend.completion_tokens += entry["completion_tokens"]
            over = self._over_budget()
            if over:
                self._stopped = over
        if over:
            raise TunesmithError(over)
        return self._answer(request, entry, cached=False)

    def _over_budget(self) -> str | None:
        cost, ceiling = self.spend.cost(self.cfg), self.cfg.max_cost_usd
        if cost is None or ceiling is None or cost <= ceiling:
            return None
        return (
            f"stopped: the teacher's reported spend ${cost:.4f} passed generate.teacher.max_cost_usd ${ceiling:g}; "
            f"{self.spend.asked} answer(s) are cached and a rerun continues from them"
        )

    def _answer(self, request: Request, entry: dict[str, Any], *, cached: bool) -> Answer:
        data = parse_json(entry["text"]) if request.schema is not None else None
        if request.schema is not None and data is None:
            with self.spend.lock:
                self.spend.unparsed += 1
        return Answer(entry["text"], data, entry.get("prompt_tokens", 0), entry.get("completion_tokens", 0), cached)

    def ask(self, requests: Sequence[Request], on_answer: Callable[[], None] | None = None) -> list[Answer]:
        """Every request's answer, in order; at most teacher.concurrency in flight. The first failure cancels what
        has not started and is raised; what was answered before it stays cached."""
        with ThreadPoolExecutor(self.cfg.concurrency) as pool:
            futures = [pool.submit(self._ask_one, r) for r in requests]
            if on_answer is not None:
                for f in futures:
                    f.add_done_callback(lambda _: on_answer())
            done, _ = wait(futures, return_when=FIRST_EXCEPTION)
            failed = next((f for f in futures if f in done and f.exception() is not None), None)
            if failed is not None:
                for f in futures:
                    f.cancel()
                raise failed.exception()  # type: ignore[misc]
            return [f.result() for f in futures]
