"""`tunesmith serve`: resolve what to serve from the registry, load it, open the log, run uvicorn.

What is served: the base model as `base`, the promoted run (alias `served`), and every `--model` given: a run id
from the registry, or a training run / adapter directory named on the command line by the operator. Names that
come in over HTTP are only ever looked up in that table.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tunesmith.config import Config
from tunesmith.errors import ConfigError, ModelError
from tunesmith.registry import Registry, RunInfo, read_run

API_KEY_ENV = "TUNESMITH_API_KEY"


@dataclass
class ServePlan:
    base: str
    adapters: dict[str, Path] = field(default_factory=dict)
    full_models: dict[str, Path] = field(default_factory=dict)
    lineage: dict[str, dict[str, Any]] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)

    def add(self, run: RunInfo, name: str | None = None) -> None:
        name = name or run.run_id
        if run.adapter_dir is not None:
            self.adapters[name] = run.adapter_dir
        elif run.model_dir is not None:
            self.full_models[name] = run.model_dir
        else:
            raise ModelError(f"run {run.run_id} at {run.path} has neither adapter/ nor model/")
        self.lineage[name] = run.lineage()


def _from_path(ref: str) -> tuple[str, RunInfo]:
    name, _, path_text = ref.partition("=") if "=" in ref else ("", "", ref)
    path = Path(path_text).expanduser()
    if path.name in ("adapter", "model"):
        path = path.parent
    run = read_run(path)
    if run is None:
        raise ConfigError(f"'{ref}' is neither a run id nor a training run directory (with manifest.json)")
    return name or run.run_id, run


def plan(cfg: Config, models: list[str] | None = None) -> ServePlan:
    """What to serve, as names → directories and lineage; nothing is loaded yet."""
    from tunesmith.models.loading import ensure_base_model

    registry = Registry(cfg)
    result = ServePlan(base=ensure_base_model(cfg))
    result.lineage["base"] = {"base_model": result.base}
    served = registry.served()
    if served is not None:
        result.add(served)
        result.aliases["served"] = served.run_id
    for ref in models or []:
        looks_like_path = "/" in ref or "=" in ref or Path(ref).exists()
        if looks_like_path:
            name, run = _from_path(ref)
            result.add(run, name)
        else:
            result.add(registry.run(ref))
    return result


def rag_models(cfg: Config, p: ServePlan) -> frozenset[str]:
    """serve.rag_models as the engine names them (`served` is the promoted run's id); a name that is not served is
    a ConfigError, before anything loads."""
    from tunesmith.serve.engine import BASE

    served = {BASE, *p.adapters, *p.full_models}
    out = set()
    for name in cfg.serve.rag_models:
        target = p.aliases.get(name, name)
        if target not in served:
            raise ConfigError(
                f"serve.rag_models names '{name}', which this server does not serve",
                hint=f"served here: {', '.join(sorted(served | set(p.aliases)))} (add a run with --model)",
            )
        out.add(target)
    return frozenset(out)


def build_retrieval(cfg: Config, p: ServePlan) -> Any:
    """The document index for serve.rag_models (built first if docs.paths changed since), warmed with one search so
    the first request does not wait for the retriever; None without serve.rag_models."""
    if not cfg.serve.rag_models:
        return None
    from tunesmith.docs import ensure_index
    from tunesmith.serve.app import Retrieval

    models = rag_models(cfg, p)
    index = ensure_index(cfg)
    index.search(["warm-up"], 1)
    return Retrieval(index, models, cfg.eval.rag_k)


def load_engine(cfg: Config, p: ServePlan) -> Any:
    """The in-process engine of serve.engine: transformers + peft (hf), or llama.cpp from f16 GGUFs (llamacpp)."""
    if cfg.serve.engine == "llamacpp":
        from tunesmith.serve.llamacpp_engine import LlamaCppServeEngine

        return LlamaCppServeEngine(p.base, adapters=p.adapters, full_models=p.full_models, revision=cfg.model.revision)
    from tunesmith.serve.engine import Engine

    return Engine(
        p.base,
        adapters=p.adapters,
        full_models=p.full_models,
        batch_size=cfg.serve.batch_size,
        revision=cfg.model.revision,
    )


def build_state(cfg: Config, p: ServePlan, api_key: str | None, start_engine: Callable[[], Any] | None = None) -> Any:
    """The app's state over the engine `start_engine` makes (the one serve.engine loads when None); it is called
    last, so a missing evaluation, document index or blocklist stops before a model loads or vLLM starts."""
    from tunesmith.serve.app import ServeState
    from tunesmith.serve.log import RequestLog, resolve_url

    guard = None
    if cfg.serve.guard:
        from tunesmith.evals.guarded import served_guard

        guard = served_guard(cfg.stage_dir("eval"))
    retrieval = build_retrieval(cfg, p)
    guards = answer_guards(cfg)
    engine = start_engine() if start_engine is not None else load_engine(cfg, p)
    log = RequestLog(
        resolve_url(cfg.monitor.database_url, cfg.root), redact=cfg.monitor.redact, allow=served_allow(cfg)
    )
    if guard is not None:  # the refusal openings the guard suppresses when it asks again, in the served vocabulary
        guard = replace(guard, openings=guard.guard.refusal_openings(engine.tokenizer))
    state = ServeState(engine, log, cfg.serve, api_key, p.lineage, p.aliases, guard, retrieval)
    state.answer_guards = guards
    return state


def served_allow(cfg: Config) -> list[str]:
    """What is not personal data in served text: data.pii_allow and what prepare let through for the served run's
    dataset (the organisation's names and helpline), for the answer guards and the request log alike."""
    from tunesmith.data.redact import decided_allow

    served = Registry(cfg).served()
    dataset_dir = served.dataset_dir if served is not None and served.dataset_dir else cfg.stage_dir("dataset")
    return decided_allow(cfg.data.pii_allow, Path(dataset_dir))


def answer_guards(cfg: Config) -> Any:
    """serve.answer_guards over eval.blocklist and the data section's PII settings, warmed up; None when none is
    on. A blocklist guard with an empty eval.blocklist is a ConfigError: it would guard nothing."""
    if not cfg.serve.answer_guards:
        return None
    from tunesmith.serve.guards import AnswerGuards

    if "blocklist" in cfg.serve.answer_guards and not cfg.eval.blocklist:
        raise ConfigError(
            "serve.answer_guards has a blocklist guard, and eval.blocklist is empty",
            hint="list the phrases under eval.blocklist, or remove blocklist from serve.answer_guards",
        )
    guards = AnswerGuards(
        dict(cfg.serve.answer_guards),
        list(cfg.eval.blocklist),
        cfg.serve.blocked_answer,
        cfg.data.pii_entities,
        served_allow(cfg),
    )
    guards.warm_up()
    return guards


def serve(
    cfg: Config,
    *,
    models: list[str] | None = None,
    api_key: str | None = None,
) -> None:
    """Load and serve until interrupted. Binds `serve.host` (127.0.0.1 unless the config or --host says otherwise)."""
    api_key = api_key or os.environ.get(API_KEY_ENV) or None
    p = plan(cfg, models)
    if cfg.serve.engine == "vllm":
        serve_vllm(cfg, p, api_key)
        return
    state = build_state(cfg, p, api_key)
    try:
        _run_app(cfg, state)
    finally:
        close = getattr(state.engine, "close", None)  # the llama.cpp engine's temporary GGUFs
        if close is not None:
            close()


def serve_vllm(cfg: Config, p: ServePlan, api_key: str | None) -> None:
    """`vllm serve` as a child on a free loopback port with its own key, and tunesmith's app in front of it."""
    from tunesmith.serve.vllm import VllmEngine, VllmProcess, check_vllm, free_port, vllm_command

    check_vllm(p.adapters, p.full_models)
    port, key = free_port(), secrets.token_urlsafe(24)
    with ExitStack() as running:

        def start() -> VllmEngine:
            command = vllm_command(p.base, p.adapters, port)
            child = VllmProcess(command, port, cfg.serve.vllm_start_timeout_s, api_key=key)
            running.enter_context(child)  # stopped when the app stops, or when building its state fails
            return VllmEngine(child.url, key, p.base, list(p.adapters), revision=cfg.model.revision)

        _run_app(cfg, build_state(cfg, p, api_key, start))


def _run_app(cfg: Config, state: Any) -> None:
    import uvicorn

    from tunesmith.serve.app import create_app

    uvicorn.run(create_app(state), host=cfg.serve.host, port=cfg.serve.port)
