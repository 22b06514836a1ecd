"""serve.engine vllm without vLLM or a GPU: the command line from the adapters, the DoRA refusal, the child process,
and the app in front forwarding to a stand-in OpenAI-compatible server (tests/serve/vllm_standin.py) and logging."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import openai
import pytest

from tests.serve.conftest import API_KEY, LiveServer, free_port
from tests.serve.vllm_standin import VllmStandIn, answer_for
from tunesmith.config import ServeConfig
from tunesmith.errors import ConfigError, ModelError
from tunesmith.serve.vllm import VllmProcess, check_vllm, max_lora_rank, vllm_command

MESSAGES = [{"role": "user", "content": "how do i reset my thermostat"}]


def adapter(root: Path, name: str, **config: object) -> Path:
    path = root / name
    path.mkdir()
    (path / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": 8, **config}))
    return path


def test_max_lora_rank_is_the_smallest_vllm_rank_that_holds_every_adapter(tmp_path):
    small, wide = adapter(tmp_path, "small", r=4), adapter(tmp_path, "wide", r=16, rank_pattern={"q_proj": 40})
    assert max_lora_rank({"small": small}) == 8  # vLLM builds for 1, 8, 16, 32, 64, ...: 4 needs 8
    assert max_lora_rank({"small": small, "wide": wide}) == 64  # the per-module rank 40 counts
    cmd = vllm_command("/models/qwen", {"small": small, "wide": wide}, 9123)
    assert cmd[:3] == ["vllm", "serve", "/models/qwen"]
    assert cmd[cmd.index("--host") + 1] == "127.0.0.1" and cmd[cmd.index("--port") + 1] == "9123"
    assert cmd[cmd.index("--max-lora-rank") + 1] == "64" and cmd[cmd.index("--max-loras") + 1] == "2"
    assert "--enable-lora" in cmd and f"small={small}" in cmd and "--api-key" not in cmd  # the key: environment
    assert "--enable-lora" not in vllm_command("/models/qwen", {}, 9123)
    with pytest.raises(ConfigError, match="up to 512"):
        max_lora_rank({"huge": adapter(tmp_path, "huge", r=1024)})


def test_a_dora_adapter_is_refused_by_name(tmp_path):
    dora = adapter(tmp_path, "dora-run", use_dora=True)
    with pytest.raises(ConfigError, match="adapter 'dora-run'.*DoRA") as e:
        max_lora_rank({"ok": adapter(tmp_path, "ok"), "dora-run": dora})
    assert "--engine hf" in (e.value.hint or "")


def test_vllm_without_cuda_is_a_clear_error():
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ConfigError, match="needs a CUDA GPU"):
        check_vllm({}, {})


def test_the_child_process_is_waited_for_and_stopped(tmp_path):
    port = free_port()
    command = [sys.executable, "-m", "tests.serve.vllm_standin", "--port", str(port)]  # its key from the env
    with VllmProcess(command, port, start_timeout_s=120, api_key="k") as child:
        assert openai.OpenAI(base_url=child.url + "/v1", api_key="k", max_retries=0).completions.create(
            model="base", prompt="hello", max_tokens=3
        ).choices[0].text == answer_for("hello")
    assert child.proc is not None and child.proc.poll() is not None  # stopped on exit
    with pytest.raises(ModelError, match="exited with code 3 before it was ready"):
        VllmProcess([sys.executable, "-c", "raise SystemExit(3)"], free_port(), start_timeout_s=120).__enter__()


@pytest.fixture(scope="module")
def front(tiny_model_dir, tmp_path_factory):
    """The stand-in on loopback as vLLM, and tunesmith's app in front of it through VllmEngine."""
    from tunesmith.serve.app import ServeState, create_app
    from tunesmith.serve.log import RequestLog
    from tunesmith.serve.vllm import VllmEngine

    standin = VllmStandIn("child-key")
    with LiveServer(standin.app(), free_port()) as child:
        engine = VllmEngine(child.url, "child-key", str(tiny_model_dir), ["support"])
        log = RequestLog(f"sqlite:///{tmp_path_factory.mktemp('db') / 'log.db'}", redact=True)
        state = ServeState(engine, log, ServeConfig(max_tokens=512), API_KEY, aliases={"served": "support"})
        with LiveServer(create_app(state), free_port()) as live:
            live.log, live.app_state, live.standin = log, state, standin
            yield live
        log.close()


@pytest.fixture
def client(front):
    return openai.OpenAI(base_url=front.url + "/v1", api_key=API_KEY, max_retries=0, timeout=60)


def test_requests_are_forwarded_as_the_rendered_prompt_and_logged(client, front):
    r = client.chat.completions.create(model="served", messages=MESSAGES, max_tokens=7, temperature=0, seed=3)
    body = front.standin.bodies[-1]
    prompt = front.app_state.engine.render_chat(MESSAGES)
    assert body["prompt"] == prompt and body["model"] == "support"  # the alias resolved before forwarding
    assert body["add_special_tokens"] is False and body["max_tokens"] == 7 and body["seed"] == 3
    assert r.choices[0].message.content == answer_for(prompt) and r.usage.prompt_tokens == 11
    row = {row.id: row for row in front.log.fetch()}[r.id]
    assert row.model == "support" and row.responses == [answer_for(prompt)] and row.messages == MESSAGES
    assert row.completion_tokens == 5 and row.finish_reason == "length"

    many = client.chat.completions.create(model="base", messages=MESSAGES, max_tokens=7, n=2)
    assert [c.message.content for c in many.choices] == [answer_for(prompt, 0), answer_for(prompt, 1)]
    assert {row.id: row for row in front.log.fetch()}[many.id].responses == [answer_for(prompt, i) for i in (0, 1)]


def test_streamed_answers_are_forwarded_and_logged(client, front):
    chunks = list(client.chat.completions.create(model="base", messages=MESSAGES, max_tokens=7, stream=True))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == answer_for(front.app_state.engine.render_chat(MESSAGES))
    assert front.standin.bodies[-1]["stream"] is True and chunks[-1].choices[0].finish_reason == "length"
    row = {row.id: row for row in front.log.fetch()}[chunks[0].id]
    assert row.responses == [text]


def test_the_front_keeps_its_key_names_pii_redaction_and_vllm_refusals(client, front):
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=front.url + "/v1", api_key="wrong", max_retries=0).models.list()
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="/etc/passwd", messages=MESSAGES)
    with pytest.raises(openai.BadRequestError, match="maximum context length"):  # vLLM's 400, as the client's
        client.chat.completions.create(model="base", messages=MESSAGES, max_tokens=200)
    secret = [{"role": "user", "content": "my email is jane.doe@example.com, reset my thermostat"}]
    r = client.chat.completions.create(model="base", messages=secret, max_tokens=7)
    row = {row.id: row for row in front.log.fetch()}[r.id]
    assert "jane.doe@example.com" not in json.dumps(row.messages) and "<EMAIL_ADDRESS>" in row.messages[0]["content"]


def test_serve_with_engine_vllm_starts_the_child_and_logs_through_the_app_in_front(
    tiny_model_dir, tmp_path, monkeypatch
):
    """`serve_vllm` end to end, with the stand-in started as the child in place of `vllm serve`."""
    from fastapi.testclient import TestClient

    from tunesmith.config import Config, MonitorConfig
    from tunesmith.serve import server, vllm
    from tunesmith.serve.app import create_app

    commands = []

    def standin_command(base, adapters, port):
        commands.append(vllm_command(base, adapters, port))
        return [sys.executable, "-m", "tests.serve.vllm_standin", "--port", str(port)]

    envs = []
    real_popen = vllm.subprocess.Popen

    def popen(command, env=None):
        envs.append(env)
        return real_popen(command, env=env)

    seen = {}

    def run_app(cfg, state):  # in place of uvicorn.run: one request through the app, while the child runs
        with TestClient(create_app(state)) as c:
            r = c.post("/v1/chat/completions", json={"model": "base", "messages": MESSAGES, "max_tokens": 5})
        seen["answer"] = r.json()["choices"][0]["message"]["content"]
        seen["logged"] = [row.responses for row in state.log.fetch()]

    monkeypatch.setattr(vllm, "check_vllm", lambda adapters, full: None)
    monkeypatch.setattr(vllm, "vllm_command", standin_command)
    monkeypatch.setattr(vllm.subprocess, "Popen", popen)
    monkeypatch.setattr(server, "_run_app", run_app)
    cfg = Config(root=tmp_path, monitor=MonitorConfig(database_url=f"sqlite:///{tmp_path / 'log.db'}", redact=False))
    server.serve_vllm(cfg, server.ServePlan(base=str(tiny_model_dir)), api_key=None)
    assert seen["answer"].startswith("echo 0: ") and seen["logged"] == [[seen["answer"]]]
    key = envs[0]["VLLM_API_KEY"]  # a key of its own, in the child's environment, not on its command line
    assert len(key) >= 32 and "--api-key" not in commands[0] and key not in " ".join(commands[0])
    assert commands[0][commands[0].index("--host") + 1] == "127.0.0.1"


def test_a_missing_scope_guard_stops_before_vllm_starts(tmp_path, monkeypatch):
    from tunesmith.config import Config
    from tunesmith.errors import TunesmithError
    from tunesmith.serve import server, vllm

    started = []
    monkeypatch.setattr(vllm, "check_vllm", lambda adapters, full: None)
    monkeypatch.setattr(vllm, "VllmProcess", lambda *a: started.append(a))
    cfg = Config(root=tmp_path, serve=ServeConfig(engine="vllm", guard=True))  # and no evaluation to take it from
    with pytest.raises(TunesmithError):
        server.serve_vllm(cfg, server.ServePlan(base="unused"), api_key=None)
    assert started == []
