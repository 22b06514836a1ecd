"""serve.engine vllm: `vllm serve` as a child process on a loopback port, with tunesmith's app in front of it.

The app in front is the same FastAPI app as the other engines (serve/app.py): the API key, the model names, the
scope guard, retrieval, the answer guards and the request log all apply; only generation is forwarded. Each
request goes to vLLM's `/v1/completions` through the official openai client, as the prompt text the app rendered
(the base model's chat template, as the hf engine renders it) with vLLM's `add_special_tokens: false`, so vLLM
sees the tokens the other engines would. The child listens on 127.0.0.1 only, behind a key of its own made at
start (in its environment, `VLLM_API_KEY`, out of the process list), so nothing reaches it around the log.

vLLM's LoRA kernels are sized at start by `--max-lora-rank`, which must be one of the ranks vLLM builds for; it is
the smallest of those that holds the largest adapter's rank. vLLM does not serve DoRA adapters, so they are refused
here, by name, before anything starts. The scope guard's second asking (first tokens suppressed) has no counterpart
in vLLM's API, so behind vLLM a refusal of an in-scope question stands (`reasks` False).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

from tunesmith.errors import ConfigError, ModelError
from tunesmith.serve.app import APIError
from tunesmith.serve.engine import BASE, Choice, Generation, Sampling

# The ranks vLLM compiles its LoRA kernels for (vllm/config/lora.py, MaxLoRARanks); --max-lora-rank must be one.
VLLM_LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)


def _adapter_config(name: str, adapter: Path) -> dict[str, Any]:
    path = adapter / "adapter_config.json"
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ModelError(f"adapter '{name}': cannot read {path}: {e}") from None
    return data


def max_lora_rank(adapters: dict[str, Path]) -> int:
    """vLLM's --max-lora-rank for these adapters: the smallest rank vLLM builds for that holds the largest adapter
    rank (`r`, or a larger per-module rank in `rank_pattern`). DoRA adapters are refused, naming the adapter."""
    largest = 1
    for name, adapter in adapters.items():
        config = _adapter_config(name, adapter)
        if config.get("use_dora"):
            raise ConfigError(
                f"adapter '{name}' ({adapter}) is a DoRA adapter (use_dora: true), which vLLM does not serve",
                hint="serve it with --engine hf or --engine llamacpp, or train with method: lora for vLLM",
            )
        ranks = [int(config.get("r") or 0), *(int(r) for r in (config.get("rank_pattern") or {}).values())]
        largest = max(largest, *ranks)
    fits = [r for r in VLLM_LORA_RANKS if r >= largest]
    if not fits:
        raise ConfigError(f"an adapter has rank {largest}; vLLM serves LoRA ranks up to {VLLM_LORA_RANKS[-1]}")
    return fits[0]


def vllm_command(base: str, adapters: dict[str, Path], port: int) -> list[str]:
    """The `vllm serve` command line: loopback only, the base as `base`, adapters as --lora-modules name=path. The
    child's key goes in its environment (`VllmProcess`), not here: a command line is visible in the process list."""
    cmd = ["vllm", "serve", base, "--host", "127.0.0.1", "--port", str(port), "--served-model-name", BASE]
    if adapters:
        cmd += ["--enable-lora", "--max-lora-rank", str(max_lora_rank(adapters)), "--max-loras", str(len(adapters))]
        cmd += ["--lora-modules", *(f"{n}={d}" for n, d in adapters.items())]
    return cmd


def check_vllm(adapters: dict[str, Path], full_models: dict[str, Path]) -> None:
    """What stops --engine vllm before anything starts: no CUDA, no vllm command, a full fine-tune, a DoRA adapter."""
    import torch

    if not torch.cuda.is_available():
        raise ConfigError("--engine vllm needs a CUDA GPU, and this machine has none", hint="use --engine hf here")
    if shutil.which("vllm") is None:
        raise ConfigError("--engine vllm: the vllm command is not installed", hint="pip install vllm")
    if full_models:
        raise ConfigError("--engine vllm serves LoRA adapters over one base; full fine-tunes need their own server")
    max_lora_rank(adapters)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class VllmProcess:
    """`vllm serve` as a child process: started on entry, ready once its /health answers, stopped on exit."""

    def __init__(self, command: list[str], port: int, start_timeout_s: float, api_key: str | None = None) -> None:
        self.command, self.port, self.timeout, self.api_key = command, port, start_timeout_s, api_key
        self.url = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> VllmProcess:
        import httpx

        env = os.environ | ({"VLLM_API_KEY": self.api_key} if self.api_key else {})  # vLLM reads its key there
        self.proc = subprocess.Popen(self.command, env=env)
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/health", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            try:  # waits a second for the child, and notices at once when it exits instead
                code = self.proc.wait(timeout=1)
            except subprocess.TimeoutExpired:
                continue
            raise ModelError(f"vllm serve exited with code {code} before it was ready; its log is above")
        self.__exit__(None, None, None)
        raise ModelError(
            f"vllm serve was not ready within {self.timeout:.0f} s",
            hint="raise serve.vllm_start_timeout_s for a large model",
        )

    def __exit__(self, kind: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class VllmEngine:
    """The ServingEngine that forwards to an OpenAI-compatible server (vLLM) with the official openai client."""

    reasks = False  # vLLM's API has no first-token suppression: the scope guard cannot ask again

    def __init__(self, url: str, api_key: str, base: str, adapters: list[str], revision: str | None = None) -> None:
        import openai

        from tunesmith.models.loading import load_tokenizer

        self.tokenizer = load_tokenizer(base, revision=revision)
        self.client = openai.OpenAI(base_url=url + "/v1", api_key=api_key, max_retries=0, timeout=600)
        self._names = [BASE, *adapters]

    @property
    def names(self) -> list[str]:
        return list(self._names)

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def render_chat(self, messages: list[dict[str, str]]) -> str:
        from tunesmith.models.chat import render

        return render(self.tokenizer, messages, add_generation_prompt=True)

    def _request(self, model: str, text: str, s: Sampling, *, stream: bool) -> Any:
        import openai

        try:
            return self.client.completions.create(
                model=model,
                prompt=text,
                max_tokens=s.max_tokens,
                temperature=s.temperature,
                top_p=s.top_p,
                n=s.n,
                stop=list(s.stop) or None,
                seed=s.seed,
                stream=stream,
                extra_body={"add_special_tokens": False},  # the rendered prompt holds its special tokens already
            )
        except openai.BadRequestError as e:  # a request vLLM refuses (a prompt over its context): the client's 400
            raise APIError(400, f"the model server refused the request: {e.message}") from None

    def generate(self, model: str, text: str, sampling: Sampling) -> Generation:
        t0 = time.perf_counter()
        r = self._request(model, text, sampling, stream=False)
        latency_ms = (time.perf_counter() - t0) * 1000
        usage = r.usage
        choices = [Choice(c.text, c.finish_reason or "stop", 0) for c in sorted(r.choices, key=lambda c: c.index)]
        if len(choices) == 1 and usage is not None:
            choices[0].completion_tokens = usage.completion_tokens
        else:  # vLLM's usage sums the choices; the log keeps the sum, the choices get their own counts
            for c in choices:
                c.completion_tokens = self.count_tokens(c.text)
        prompt_tokens = usage.prompt_tokens if usage is not None else self.count_tokens(text)
        return Generation(choices, prompt_tokens, latency_ms)

    def stream(self, model: str, text: str, sampling: Sampling) -> Iterator[str | Choice]:
        parts: list[str] = []
        finish = "stop"
        for chunk in self._request(model, text, sampling, stream=True):
            for c in chunk.choices:
                if c.text:
                    parts.append(c.text)
                    yield c.text
                finish = c.finish_reason or finish
        answer = "".join(parts)
        yield Choice(answer, finish, self.count_tokens(answer))
