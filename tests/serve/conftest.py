"""A live server on 127.0.0.1 for the whole module: the xs tiny model, two random LoRA adapters, a SQLite log."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest

from tunesmith.config import ServeConfig

API_KEY = "test-key-123"


def make_adapter(base: Path, out: Path, seed: int) -> Path:
    """A LoRA adapter with random (not zero) B weights, so it changes the output; no training needed."""
    import torch
    from peft import LoraConfig, get_peft_model

    from tunesmith.models.loading import load_model

    torch.manual_seed(seed)
    model = get_peft_model(
        load_model(str(base)),
        LoraConfig(r=4, lora_alpha=64, target_modules="all-linear", init_lora_weights=False, task_type="CAUSAL_LM"),
    )
    model.save_pretrained(str(out))
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """uvicorn in a background thread; ready once /health answers (polled, bounded), stopped on exit."""

    def __init__(self, app, port: int) -> None:
        import uvicorn

        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        import httpx

        self.thread.start()
        for _ in range(2000):
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                self.thread.join(timeout=0.01)
        raise RuntimeError("the server did not start")

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


@pytest.fixture(scope="session")
def adapters(tiny_model_dir, tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("adapters")
    return {name: make_adapter(tiny_model_dir, root / name, seed) for seed, name in enumerate(("support", "legal"))}


@pytest.fixture(scope="session")
def engine(tiny_model_dir, adapters):
    from tunesmith.serve.engine import Engine

    return Engine(str(tiny_model_dir), adapters=adapters, batch_size=8)


@pytest.fixture(scope="module")
def server(engine, tmp_path_factory):
    """Log with redaction on, API key required."""
    from tunesmith.serve.app import ServeState, create_app
    from tunesmith.serve.log import RequestLog

    db = tmp_path_factory.mktemp("db") / "log.db"
    log = RequestLog(f"sqlite:///{db}", redact=True)
    state = ServeState(
        engine,
        log,
        ServeConfig(max_tokens=64, default_max_tokens=16, max_body_bytes=20_000),
        API_KEY,
        lineage={"support": {"run_id": "support", "dataset_hash": "abc"}},
        aliases={"served": "support"},
    )
    with LiveServer(create_app(state), free_port()) as live:
        live.log, live.app_state = log, state
        yield live
    log.close()


@pytest.fixture
def client(server):
    import openai

    return openai.OpenAI(base_url=server.url + "/v1", api_key=API_KEY, max_retries=0, timeout=120)
