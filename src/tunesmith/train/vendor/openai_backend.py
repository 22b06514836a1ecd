"""OpenAI fine-tuning through the official `openai` SDK (imported only when this backend runs).

The calls, as the API reference documents them:
    files.create(file=..., purpose="fine-tune")                          -> FileObject.id
    fine_tuning.jobs.create(model, training_file, validation_file, suffix, seed,
                            method={"type": "supervised", "supervised": {"hyperparameters": {...}}})
    fine_tuning.jobs.retrieve(id)                                        -> status, fine_tuned_model, error
    fine_tuning.jobs.list_events(id, limit)                              -> newest first, cursor-paged (after=)
    fine_tuning.jobs.checkpoints.list(id)                                -> intermediate models and their metrics
    fine_tuning.jobs.cancel(id)

The client reads OPENAI_API_KEY and OPENAI_BASE_URL from the environment; the SDK retries 429 and 5xx responses
(honouring Retry-After) up to `max_retries` times. Errors become ModelError with the API's own message, never
with the key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from tunesmith.errors import ConfigError, ModelError
from tunesmith.train.vendor.jobs import Snapshot

EVENTS_PAGE = 100
MAX_RETRIES = 5
# Metric keys of OpenAI's "metrics" events, and the names metrics.jsonl uses for them (as a local run's log does).
METRIC_NAMES = {"train_loss": "loss", "valid_loss": "eval_loss", "full_valid_loss": "eval_loss"}


def _api_error(e: Exception, what: str) -> ModelError:
    import openai

    if isinstance(e, openai.AuthenticationError):
        return ModelError(
            f"OpenAI refused the API key while trying to {what} (401)",
            hint="check OPENAI_API_KEY (and OPENAI_BASE_URL when you use a proxy)",
        )
    if isinstance(e, openai.APIStatusError):
        body = e.body if isinstance(e.body, dict) else {}
        detail = body.get("message") or (body.get("error") or {}).get("message") if body else None
        return ModelError(
            f"OpenAI could not {what}: {e.status_code} {detail or e.message}",
            hint="see https://platform.openai.com/docs/guides/fine-tuning; nothing else was sent",
        )
    if isinstance(e, openai.APIConnectionError):
        return ModelError(
            f"cannot reach the OpenAI API to {what}: {e.message}",
            hint="check the network, and OPENAI_BASE_URL when it is set",
        )
    return ModelError(f"OpenAI could not {what}: {e}")


class OpenAIBackend:
    name = "openai"

    def __init__(self, client: Any = None) -> None:
        if client is None:
            try:
                import openai
            except ImportError:
                raise ConfigError(
                    "train.backend: openai needs the openai package",
                    hint='pip install "tunesmith[vendors]"',
                ) from None
            try:
                client = openai.OpenAI(max_retries=MAX_RETRIES)
            except openai.OpenAIError:
                raise ConfigError(
                    "OPENAI_API_KEY is not set",
                    hint="export OPENAI_API_KEY=... (never put the key in tunesmith.yaml)",
                ) from None
        self.client = client

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        import openai

        try:
            return fn(*args, **kwargs)
        except openai.OpenAIError as e:
            raise _api_error(e, what) from None

    def upload(self, path: Path, *, run_key: str) -> str:
        with open(path, "rb") as f:
            uploaded = self._call(f"upload {path.name}", self.client.files.create, file=f, purpose="fine-tune")
        return cast(str, uploaded.id)

    def create_job(
        self,
        *,
        base_model: str,
        files: dict[str, str],
        method: str,
        hyperparameters: dict[str, Any],
        suffix: str | None,
        seed: int,
        run_key: str,
    ) -> str:
        kwargs: dict[str, Any] = {
            "model": base_model,
            "training_file": files["train"],
            "method": {"type": method, method: {"hyperparameters": hyperparameters}},
            "seed": seed,
            "metadata": {"tunesmith_run": run_key},
        }
        if "val" in files:
            kwargs["validation_file"] = files["val"]
        if suffix:
            kwargs["suffix"] = suffix
        job = self._call("create the fine-tuning job", self.client.fine_tuning.jobs.create, **kwargs)
        return cast(str, job.id)

    def poll(self, job_id: str, seen: set[str]) -> Snapshot:
        job = self._call("read the job", self.client.fine_tuning.jobs.retrieve, job_id)
        fresh = []
        page = self._call("list the job's events", self.client.fine_tuning.jobs.list_events, job_id, limit=EVENTS_PAGE)
        # Newest first: read pages until an event already logged, then log the new ones oldest first.
        while True:
            stop = False
            for event in page.data:
                if event.id in seen:
                    stop = True
                    break
                fresh.append(event)
            if stop or not page.has_next_page():
                break
            page = self._call("list the job's events", page.get_next_page)
        events = [_event(e) for e in reversed(fresh)]
        error = None
        if job.error is not None and (job.error.message or job.error.code):
            error = f"{job.error.code}: {job.error.message}" if job.error.code else job.error.message
        status = {"validating_files": "queued", "queued": "queued", "running": "running"}.get(job.status, job.status)
        return Snapshot(
            status=status,
            events=events,
            model_id=job.fine_tuned_model,
            error=error,
            trained_tokens=job.trained_tokens,
            raw_status=job.status,
        )

    def cancel(self, job_id: str) -> str:
        return cast(str, self._call("cancel the job", self.client.fine_tuning.jobs.cancel, job_id).status)

    def checkpoints(self, job_id: str) -> list[dict[str, Any]]:
        page = self._call("list checkpoints", self.client.fine_tuning.jobs.checkpoints.list, job_id)
        return [
            {
                "id": c.id,
                "step": c.step_number,
                "model_id": c.fine_tuned_model_checkpoint,
                "metrics": c.metrics.model_dump(exclude_none=True) if c.metrics is not None else {},
            }
            for c in page.data
        ]


def _event(e: Any) -> dict[str, Any]:
    """One OpenAI job event as a metrics.jsonl line: its id, time, level, message, and a metrics event's data."""
    line: dict[str, Any] = {
        "event_id": e.id,
        "time": e.created_at,
        "level": e.level,
        "type": e.type or "message",
        "message": e.message,
    }
    data = e.data if isinstance(e.data, dict) else {}
    if line["type"] == "metrics":
        for key, value in data.items():
            line[key] = value
            if key in METRIC_NAMES and value is not None:
                line[METRIC_NAMES[key]] = value
    return line
