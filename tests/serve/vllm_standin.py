"""A stand-in for `vllm serve`: an OpenAI-compatible /v1/completions (plain and streamed) and /health, behind an API
key, recording every body it is sent. Its answer repeats the end of the prompt, so a test knows what to expect.

Run as a module (`python -m tests.serve.vllm_standin --port N`, its key in VLLM_API_KEY as vLLM reads it, or
`--api-key K`) it is the child process that
`VllmProcess` starts in place of vLLM.
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any


def answer_for(prompt: str, i: int = 0) -> str:
    return f"echo {i}: {prompt[-20:]}"


class VllmStandIn:
    def __init__(self, api_key: str) -> None:
        self.api_key = api_key
        self.bodies: list[dict[str, Any]] = []

    def app(self) -> Any:
        from fastapi import Body, FastAPI, Header
        from fastapi.responses import JSONResponse, StreamingResponse

        app = FastAPI()

        @app.get("/health")
        def health() -> dict[str, str]:
            return {}

        @app.post("/v1/completions")
        def complete(body: dict[str, Any] = Body(...), authorization: str = Header("")) -> Any:  # noqa: B008
            if authorization != f"Bearer {self.api_key}":
                return JSONResponse({"error": {"message": "Unauthorized"}}, status_code=401)
            self.bodies.append(body)
            if body["max_tokens"] > 100:
                message = "This model's maximum context length is 128 tokens."
                return JSONResponse({"error": {"message": message, "type": "BadRequestError"}}, status_code=400)
            texts = [answer_for(body["prompt"], i) for i in range(body.get("n", 1))]
            usage = {"prompt_tokens": 11, "completion_tokens": 5 * len(texts), "total_tokens": 11 + 5 * len(texts)}
            head = {"id": "cmpl-standin", "object": "text_completion", "created": 0, "model": body["model"]}
            if body.get("stream"):

                def events() -> Any:
                    for piece in (texts[0][:6], texts[0][6:]):
                        choice = {"index": 0, "text": piece, "finish_reason": None, "logprobs": None}
                        yield f"data: {json.dumps({**head, 'choices': [choice]})}\n\n"
                    last = {"index": 0, "text": "", "finish_reason": "length", "logprobs": None}
                    yield f"data: {json.dumps({**head, 'choices': [last]})}\n\n"
                    yield "data: [DONE]\n\n"

                return StreamingResponse(events(), media_type="text/event-stream")
            choices = [
                {"index": i, "text": t, "finish_reason": "length", "logprobs": None} for i, t in enumerate(texts)
            ]
            return {**head, "choices": choices, "usage": usage}

        return app


if __name__ == "__main__":
    import uvicorn

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--api-key", default=os.environ.get("VLLM_API_KEY"), help="default: $VLLM_API_KEY, as vLLM")
    args = parser.parse_args()
    if not args.api_key:
        parser.error("no --api-key and no VLLM_API_KEY")
    uvicorn.run(VllmStandIn(args.api_key).app(), host="127.0.0.1", port=args.port, log_level="warning")
