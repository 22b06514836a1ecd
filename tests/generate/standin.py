"""A stand-in teacher: an OpenAI-compatible chat-completions server (FastAPI under uvicorn, on a free loopback port,
in a thread) that honours `response_format`'s JSON schema, counts every request it is sent, and can be told to
reject structured output, to hold a request (so a test can kill the client half-way), or to plant a question.

Its answers come from the request itself: grounded questions from the sentences of the passage it is shown, near-domain
questions from the passage's words, a 1-5 score, or, for a plain request, an answer that repeats the question.
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import threading
from typing import Any

_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]{3,}")
GROUNDED = (
    "What does the handbook say about {t}?",
    "Quick one: {t}, how does that work?",
    "I was reading your policy and wondered, regarding {t}, what applies to me?",
    "Explain {t} please.",
)
UNANSWERABLE = (
    "Can you give me legal advice about {t} for a lawsuit?",
    "How does a rival shop handle {t}, and is it cheaper?",
    "What is the chief executive's salary, and does {t} affect it?",
)


def body_key(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


class StandIn:
    def __init__(
        self, *, structured: bool = True, hold_after: int | None = None, planted: dict[str, str] | None = None
    ) -> None:
        self.structured = structured  # False: a 400 for response_format, and JSON wrapped in prose and a fence
        self.hold_after = hold_after  # the request after this many is held until `release` is set
        self.planted = planted or {}  # {phrase in a passage: a question to ask about it verbatim}
        self.low_scores: set[str] = set()  # words that make the judge score an example 1
        self.usage_scale = 1  # reported tokens times this: a teacher that bills more than the estimate
        self.bodies: list[dict[str, Any]] = []
        self.answered: list[str] = []  # body keys of the requests that got an answer
        self.held = threading.Event()
        self.release = threading.Event()
        self.lock = threading.Lock()

    # ------------------------------------------------------------------------------------------------ answers

    def _passage(self, body: dict[str, Any]) -> dict[str, Any]:
        prompt = body["messages"][-1]["content"]
        text = prompt.split("<passage>\n", 1)[1].split("\n</passage>", 1)[0]
        n = int(re.search(r"Write (\d+) questions that", prompt).group(1))
        m = int(re.search(r"Then write (\d+) questions", prompt).group(1))
        sentences = [s.strip() for s in _SENTENCE.split(text) if len(s.split()) >= 4] or [text.strip()]
        questions = []
        for i in range(n):
            sentence = sentences[i % len(sentences)]
            topic = " ".join(w.lower() for w in _WORD.findall(sentence)[:6])
            question = GROUNDED[(i + len(text)) % len(GROUNDED)].format(t=topic)
            questions.append(
                {"question": question, "answer": sentence, "difficulty": ("easy", "medium", "hard")[i % 3]}
            )
        for phrase, question in self.planted.items():
            if phrase in text:
                questions.append(
                    {"question": question, "answer": f"The handbook says: {phrase}.", "difficulty": "easy"}
                )
        words = [w.lower() for w in _WORD.findall(text)]
        unanswerable = [
            UNANSWERABLE[i % len(UNANSWERABLE)].format(t=" ".join(words[2 * i : 2 * i + 2]) or "this") for i in range(m)
        ]
        return {"questions": questions, "unanswerable": unanswerable}

    def _score(self, body: dict[str, Any]) -> dict[str, Any]:
        text = body["messages"][-1]["content"].lower()
        low = any(w in text for w in self.low_scores)
        return {"score": 1 if low else 4, "reason": "stand-in"}

    def _content(self, body: dict[str, Any]) -> str:
        fmt = body.get("response_format")
        name = fmt["json_schema"]["name"] if fmt else None
        if name is None and "<passage>" in body["messages"][-1]["content"]:
            name = "passage_questions"  # structured output turned off: the client still expects the JSON
        elif name is None and "Score the answer" in body["messages"][0]["content"]:
            name = "score"
        if name == "passage_questions":
            data = self._passage(body)
        elif name == "score":
            data = self._score(body)
        else:
            question = body["messages"][-1]["content"]
            if "solicitor" in question:
                return "I'm sorry, I can't help with legal matters. Please ask a solicitor."
            return f"Thank you for asking. Here is the answer to: {question}"
        text = json.dumps(data)
        return text if fmt else f"Sure! Here is the JSON you asked for:\n```json\n{text}\n```\nAnything else?"

    # ------------------------------------------------------------------------------------------------ server

    def app(self) -> Any:
        from fastapi import Body, FastAPI

        app = FastAPI()

        @app.post("/v1/chat/completions")
        def complete(body: dict[str, Any] = Body(...)) -> Any:  # noqa: B008  # FastAPI's way to take the raw body
            return self.answer(body)  # a plain def: FastAPI runs it in a worker thread, so a held request blocks one

        return app

    def answer(self, body: dict[str, Any]) -> Any:
        from fastapi.responses import JSONResponse

        with self.lock:
            self.bodies.append(body)
            hold = self.hold_after is not None and len(self.answered) >= self.hold_after
        if hold:
            self.held.set()
            self.release.wait(timeout=120)
            return JSONResponse({"error": {"message": "stand-in shut down"}}, status_code=400)
        if body.get("response_format") and not self.structured:
            return JSONResponse({"error": {"message": "response_format is not supported"}}, status_code=400)
        content = self._content(body)
        with self.lock:
            self.answered.append(body_key(body))
        prompt_tokens = sum(len(m["content"].split()) for m in body["messages"])
        return JSONResponse(
            {
                "id": f"chatcmpl-{len(self.bodies)}",
                "object": "chat.completion",
                "created": 0,
                "model": body["model"],
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
                ],
                "usage": {
                    "prompt_tokens": prompt_tokens * self.usage_scale,
                    "completion_tokens": len(content.split()) * self.usage_scale,
                    "total_tokens": (prompt_tokens + len(content.split())) * self.usage_scale,
                },
            }
        )

    def __enter__(self) -> StandIn:
        import uvicorn

        # The socket listens before uvicorn starts: a client that connects first waits in the backlog, so no test
        # has to poll for readiness.
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(64)
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}/v1"
        self.server = uvicorn.Server(uvicorn.Config(self.app(), log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.socket.close()
