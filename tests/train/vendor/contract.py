"""A local contract server of OpenAI's fine-tuning API, for the official SDK to talk to over real HTTP.

It implements the documented endpoints with their JSON shapes (the API reference's `file`, `fine_tuning.job`,
`fine_tuning.job.event`, `fine_tuning.job.checkpoint` and list objects): files.create, fine_tuning.jobs
create/retrieve/list/cancel/list_events (newest first, cursor-paged with `after` and `limit`)/checkpoints, and
chat.completions with canned answers for the evaluation. Errors as the API sends them: 401 without the key, 400
for a file that is not chat JSONL, 429 (with retry-after-ms) when told to rate-limit, and a job that fails.

A job advances one state per `retrieve` (validating_files -> queued -> running, one step per look -> succeeded):
no clock, no sleeps. It runs under uvicorn in a thread on 127.0.0.1 and a random port.
"""

from __future__ import annotations

import json
import random
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
import yaml
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

ORG = "org-tunesmith-tests"


# ---------------------------------------------------------------------------------------------------------------
# A small project the vendor tests share

WORDS = (
    "lamp hub sensor plug bulb camera doorbell thermostat speaker router blind lock switch strip siren "
    "charger battery remote panel dimmer kettle fan heater mirror socket cable bridge relay beacon valve"
).split()
VERBS = "reset pair update return mount charge clean rename share move replace test".split()


def conversations(n: int = 40, pii_every: int = 5) -> list[dict]:
    """Distinct support conversations; every `pii_every`-th user turn holds an e-mail address."""
    rng = random.Random(7)
    rows = []
    for i in range(n):
        a, b, c = rng.sample(WORDS, 3)
        verb = rng.choice(VERBS)
        question = f"How do I {verb} the {a} {b} near my {c}, case {i}?"
        if i % pii_every == 0:
            question += f" Write to me at customer.{i}@gmail.com please."
        answer = f"To {verb} the {a} {b}, open the app, choose {c}, then follow step {i % 7 + 1}."
        rows.append(
            {
                "messages": [
                    {"role": "system", "content": "You are the support assistant of a smart-home shop."},
                    {"role": "user", "content": question},
                    {"role": "assistant", "content": answer},
                ]
            }
        )
    return rows


def write_project(
    root: Path,
    *,
    pii: str = "redact",
    train: dict | None = None,
    base: str = "gpt-4o-mini-2024-07-18",
    backend: str = "openai",
) -> Path:
    """A small project (raw data and tunesmith.yaml) that trains on a vendor, polls without pause, evaluates."""
    (root / "data").mkdir(parents=True, exist_ok=True)
    with open(root / "data" / "support.jsonl", "w") as f:
        f.writelines(json.dumps(r) + "\n" for r in conversations())
    config = {
        "project": {"name": "vendor-test", "artifacts": "artifacts", "seed": 0},
        "data": {"paths": ["data/support.jsonl"], "pii": pii, "dedup": "exact", "pii_name_sample": 0},
        "model": {"base": base},
        "train": {
            "backend": backend,
            "epochs": 2,
            "vendor": {"poll_interval_s": 0, "suffix": "support"},
            **(train or {}),
        },
        "eval": {
            "arms": ["base", "retrieval", "fine_tuned"],
            "reference_arm": "base",
            "forgetting": False,
            "latency_sample": 0,
            "max_new_tokens": 32,
            "gates": [],
        },
    }
    (root / "tunesmith.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return root / "tunesmith.yaml"


def canned_answers() -> dict[str, str]:
    """What the fine-tuned model answers at the contract server: the reference answer of each question."""
    return {r["messages"][1]["content"]: r["messages"][2]["content"] for r in conversations()}


# ---------------------------------------------------------------------------------------------------------------
# The server


def _error(status: int, message: str, *, type_: str, code: str | None = None, param: str | None = None, headers=None):
    body = {"error": {"message": message, "type": type_, "param": param, "code": code}}
    return JSONResponse(body, status_code=status, headers=headers)


@dataclass
class ContractState:
    api_key: str
    steps: int = 3  # running steps of a job, one metrics event each
    fail_jobs: bool = False  # the next jobs end failed
    rate_limit: int = 0  # the next N POST /fine_tuning/jobs answer 429
    reject_files: bool = False  # every upload answers 400 invalid_file_format
    answers: dict[str, str] = field(default_factory=dict)  # fine-tuned model: last user message -> answer
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    contents: dict[str, bytes] = field(default_factory=dict)
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    progress: dict[str, int] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    auth_headers: list[str] = field(default_factory=list)
    chat_models: list[str] = field(default_factory=list)
    counter: int = 0

    def next_id(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}-{self.counter:06d}"

    def add_event(self, job_id: str, message: str, *, level: str = "info", type_: str = "message", data=None) -> None:
        self.events[job_id].append(
            {
                "id": self.next_id("ftevent"),
                "object": "fine_tuning.job.event",
                "created_at": 1_700_000_000 + self.counter,
                "level": level,
                "message": message,
                "data": data or {},
                "type": type_,
            }
        )

    def advance(self, job: dict[str, Any]) -> None:
        if job["status"] in ("succeeded", "failed", "cancelled"):
            return
        jid = job["id"]
        if job["status"] == "validating_files":
            job["status"] = "queued"
            self.add_event(jid, "Files validated, moving job to queued state")
        elif job["status"] == "queued":
            job["status"] = "running"
            self.add_event(jid, "Fine-tuning job started")
        elif job["status"] == "running":
            step = self.progress[jid] = self.progress.get(jid, 0) + 1
            if self.fail_jobs and step == 1:
                job["status"] = "failed"
                job["error"] = {
                    "code": "invalid_training_file",
                    "message": "The job failed due to an invalid training file.",
                    "param": "training_file",
                }
                job["finished_at"] = 1_700_100_000
                self.add_event(jid, "The job failed due to an invalid training file.", level="error")
                return
            loss = round(2.0 / step, 4)
            self.add_event(
                jid,
                f"Step {step}/{self.steps}: training loss={loss}",
                type_="metrics",
                data={"step": step, "train_loss": loss, "train_mean_token_accuracy": 0.5, "total_steps": self.steps},
            )
            if step >= self.steps:
                job["status"] = "succeeded"
                job["fine_tuned_model"] = f"ft:{job['model']}:{ORG}:{job.get('suffix') or 'tunesmith'}:{jid[-6:]}"
                job["finished_at"] = 1_700_100_000
                job["trained_tokens"] = 12_345
                job["result_files"] = [self.next_id("file")]
                self.add_event(jid, "The job has successfully completed")


def make_app(state: ContractState) -> FastAPI:
    app = FastAPI()

    @app.middleware("http")
    async def auth(request: Request, call_next):
        state.requests.append((request.method, request.url.path))
        header = request.headers.get("authorization", "")
        state.auth_headers.append(header)
        if header != f"Bearer {state.api_key}":
            return _error(401, "Incorrect API key provided.", type_="invalid_request_error", code="invalid_api_key")
        return await call_next(request)

    @app.post("/v1/files")
    async def create_file(request: Request):
        fields = _multipart(request.headers.get("content-type", ""), await request.body())
        purpose = fields.get("purpose", (None, b""))[1].decode()
        filename, data = fields.get("file", (None, b""))
        if purpose != "fine-tune":
            return _error(400, f"Invalid purpose: {purpose}", type_="invalid_request_error", param="purpose")
        try:
            rows = [json.loads(line) for line in data.decode("utf-8").splitlines() if line.strip()]
            ok = rows and all(
                isinstance(r, dict)
                and (isinstance(r.get("messages"), list) or isinstance(r.get("preferred_output"), list))
                for r in rows
            )
        except (UnicodeDecodeError, ValueError):
            ok = False
        if not ok or state.reject_files:
            return _error(
                400,
                "Invalid file format for Fine-Tuning API. Must be .jsonl",
                type_="invalid_request_error",
                param="file",
                code="invalid_file_format",
            )
        fid = state.next_id("file")
        state.contents[fid] = data
        state.files[fid] = {
            "id": fid,
            "object": "file",
            "bytes": len(data),
            "created_at": 1_700_000_000,
            "filename": filename,
            "purpose": "fine-tune",
            "status": "processed",
            "expires_at": None,
            "status_details": None,
        }
        return state.files[fid]

    @app.post("/v1/fine_tuning/jobs")
    async def create_job(request: Request):
        if state.rate_limit > 0:
            state.rate_limit -= 1
            return _error(
                429,
                "Rate limit reached for requests",
                type_="requests",
                code="rate_limit_exceeded",
                headers={"retry-after-ms": "1"},
            )
        body = await request.json()
        for key in ("training_file", "validation_file"):
            if body.get(key) is not None and body[key] not in state.files:
                return _error(
                    400, f"invalid {key}: {body[key]}", type_="invalid_request_error", param=key, code="invalid_file"
                )
        method = body.get("method") or {"type": "supervised", "supervised": {}}
        hyper = (method.get(method["type"]) or {}).get("hyperparameters") or {}
        jid = state.next_id("ftjob")
        job = {
            "id": jid,
            "object": "fine_tuning.job",
            "created_at": 1_700_000_000,
            "error": None,
            "fine_tuned_model": None,
            "finished_at": None,
            "hyperparameters": {
                "batch_size": hyper.get("batch_size", "auto"),
                "learning_rate_multiplier": hyper.get("learning_rate_multiplier", "auto"),
                "n_epochs": hyper.get("n_epochs", "auto"),
            },
            "model": body["model"],
            "organization_id": ORG,
            "result_files": [],
            "seed": body.get("seed", 0),
            "status": "validating_files",
            "trained_tokens": None,
            "training_file": body["training_file"],
            "validation_file": body.get("validation_file"),
            "estimated_finish": None,
            "integrations": [],
            "metadata": body.get("metadata"),
            "method": method,
            "suffix": body.get("suffix"),
        }
        state.jobs[jid] = job
        state.events[jid] = []
        state.add_event(jid, f"Created fine-tuning job: {jid}")
        return {k: v for k, v in job.items() if k != "suffix"}

    def _job(jid: str):
        job = state.jobs.get(jid)
        if job is None:
            return None, _error(404, f"No such fine-tuning job: {jid}", type_="invalid_request_error", param="id")
        return job, None

    @app.get("/v1/fine_tuning/jobs")
    async def list_jobs():
        data = [{k: v for k, v in j.items() if k != "suffix"} for j in reversed(state.jobs.values())]
        return {"object": "list", "data": data, "has_more": False}

    @app.get("/v1/fine_tuning/jobs/{jid}")
    async def retrieve(jid: str):
        job, err = _job(jid)
        if err:
            return err
        state.advance(job)
        return {k: v for k, v in job.items() if k != "suffix"}

    @app.post("/v1/fine_tuning/jobs/{jid}/cancel")
    async def cancel(jid: str):
        job, err = _job(jid)
        if err:
            return err
        if job["status"] in ("succeeded", "failed", "cancelled"):
            return _error(400, f"Job has already completed: {jid}", type_="invalid_request_error")
        job["status"] = "cancelled"
        state.add_event(jid, "The job was cancelled")
        return {k: v for k, v in job.items() if k != "suffix"}

    @app.get("/v1/fine_tuning/jobs/{jid}/events")
    async def events(jid: str, after: str | None = None, limit: int = 20):
        _, err = _job(jid)
        if err:
            return err
        newest_first = list(reversed(state.events[jid]))
        if after is not None:
            ids = [e["id"] for e in newest_first]
            newest_first = newest_first[ids.index(after) + 1 :] if after in ids else []
        page = newest_first[:limit]
        return {"object": "list", "data": page, "has_more": len(newest_first) > limit}

    @app.get("/v1/fine_tuning/jobs/{jid}/checkpoints")
    async def checkpoints(jid: str, after: str | None = None, limit: int = 10):
        job, err = _job(jid)
        if err:
            return err
        data = [
            {
                "id": f"ftckpt-{jid[-6:]}-{step}",
                "object": "fine_tuning.job.checkpoint",
                "created_at": 1_700_000_000 + step,
                "fine_tuned_model_checkpoint": f"{job['fine_tuned_model']}:ckpt-step-{step}",
                "fine_tuning_job_id": jid,
                "metrics": {"step": float(step), "train_loss": round(2.0 / step, 4)},
                "step_number": step,
            }
            for step in range(state.progress.get(jid, 0), 0, -1)
            if job["fine_tuned_model"]
        ]
        first = data[0]["id"] if data else None
        last = data[-1]["id"] if data else None
        return {"object": "list", "data": data, "has_more": False, "first_id": first, "last_id": last}

    @app.post("/v1/chat/completions")
    async def chat(request: Request):
        body = await request.json()
        state.chat_models.append(body["model"])
        last = next((m["content"] for m in reversed(body["messages"]) if m["role"] == "user"), "")
        fine_tuned = body["model"].startswith("ft:") or body["model"].startswith("arn:")
        text = state.answers.get(last, "I am not sure.") if fine_tuned else "I am not sure, please contact support."
        return {
            "id": state.next_id("chatcmpl"),
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": body["model"],
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 20, "completion_tokens": len(text.split()), "total_tokens": 20},
        }

    return app


def _multipart(content_type: str, body: bytes) -> dict[str, tuple[str | None, bytes]]:
    """name -> (filename, bytes) of a multipart/form-data body (the stdlib parser: no python-multipart needed)."""
    from email.parser import BytesParser
    from email.policy import HTTP

    msg = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    out = {}
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        out[name] = (part.get_filename(), part.get_payload(decode=True) or b"")
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def contract_server(state: ContractState) -> Iterator[str]:
    """Serve the contract app on 127.0.0.1 in a thread; yields the base URL (ending in /v1)."""
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(make_app(state), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:  # startup, not test logic: uvicorn binds within milliseconds
        if not thread.is_alive():
            raise RuntimeError("the contract server did not start")
        time.sleep(0.005)
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
