"""What a vendor job is to tunesmith: its recorded state, one look at it (Snapshot), the backend interface the SDK
clients implement (openai_backend.py, bedrock_backend.py), and what a run returns."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from tunesmith.artifacts import write_json_atomic
from tunesmith.errors import DataError, ModelError, TunesmithError

STATE = "vendor_job.json"
UPLOAD = "upload"
TERMINAL = ("succeeded", "failed", "cancelled")
EXPORT_FORMAT = {"openai": "openai", "bedrock": "bedrock"}


class VendorJobFailed(ModelError):
    """The vendor's job ended failed or cancelled."""


class StoppedFollowing(TunesmithError):
    """Ctrl-C while following: the job keeps running at the vendor."""

    exit_code = 130


@dataclass
class Snapshot:
    """One look at a vendor job: its status (normalized to TERMINAL or a running state), new events, the model."""

    status: str
    events: list[dict[str, Any]] = field(default_factory=list)
    model_id: str | None = None
    error: str | None = None
    trained_tokens: int | None = None
    raw_status: str | None = None


class Backend(Protocol):
    name: str

    def upload(self, path: Path, *, run_key: str) -> str: ...

    def create_job(self, *, base_model: str, files: dict[str, str], method: str, hyperparameters: dict[str, Any],
                   suffix: str | None, seed: int, run_key: str) -> str: ...  # fmt: skip

    def poll(self, job_id: str, seen: set[str]) -> Snapshot: ...

    def cancel(self, job_id: str) -> str: ...

    def checkpoints(self, job_id: str) -> list[dict[str, Any]]: ...


@dataclass
class VendorResult:
    out_dir: Path
    backend: str
    job_id: str
    model_id: str
    metrics: list[dict[str, Any]]
    estimate: dict[str, Any]
    trained_tokens: int | None
    resumed: bool
    train_loss: float | None = None
    eval_loss: float | None = None
    tokens_per_second: float = 0.0


def read_state(out_dir: Path) -> dict[str, Any] | None:
    path = Path(out_dir) / STATE
    if not path.exists():
        return None
    try:
        state: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise DataError(f"{path} is not readable JSON", hint="restore it, or remove the run directory") from None
    return state


def write_state(out_dir: Path, state: dict[str, Any]) -> None:
    write_json_atomic(out_dir / STATE, state)
