"""A stub OpenAI-compatible server on 127.0.0.1, for the endpoint arm and the LLM judge."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tunesmith.evals.judge import JUDGE_SYSTEM


@dataclass
class Stub:
    url: str
    requests: list[dict[str, Any]] = field(default_factory=list)


def _answer(messages: list[dict[str, str]]) -> str:
    """The stub's fixed behaviour: a judge that always prefers answer A; an assistant that knows one thing."""
    if messages[0]["content"] == JUDGE_SYSTEM:
        return "Answer A is closer to the reference.\nVERDICT: A"
    question = messages[-1]["content"].lower()
    if "return" in question:
        return "You can return any item within 30 days for a full refund."
    return "I don't know, please contact our support team."


@pytest.fixture(scope="module")
def openai_stub() -> Iterator[Stub]:
    stub = Stub("")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            stub.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), **body})
            text = _answer(body["messages"])
            payload = json.dumps(
                {
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": text}}],
                    "usage": {"prompt_tokens": 10 * len(body["messages"]), "completion_tokens": len(text.split())},
                }
            ).encode()
            self.send_response(200 if self.path == "/v1/chat/completions" else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    stub.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    yield stub
    server.shutdown()
    server.server_close()
