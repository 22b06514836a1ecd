"""Vendor fine-tuning as a training backend (`train.backend: openai | bedrock`).

A vendor run is a run directory like a local one (DESIGN.md, "Training backends"). Read it top to bottom:

    setup      the run directory; a job already recorded there is followed, never started twice
    preflight  the files to upload, in the vendor's format and checked against its limits (data/export.py);
               personal data the analyzer still finds is refused unless train.vendor.allow_pii; the token and
               cost estimate (prices.py); the user's confirmation (--yes in scripts)
    submit     upload, create the job; the job id is written to vendor_job.json the moment it exists
    follow     status, events and metrics into metrics.jsonl and the console, until the job ends
    save       the manifest, with the vendor model id the eval's fine_tuned arm calls

The run directory:
    upload/train.jsonl, upload/val.jsonl   exactly what was sent
    vendor_job.json                        backend, job id, uploaded file ids, the request (written at once)
    metrics.jsonl                          one JSON object per vendor event or status change
    manifest.json                          written last: a run with a manifest is complete

Credentials stay in the SDKs' environment (OPENAI_API_KEY, the AWS chain): nothing here reads or writes them.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console

from tunesmith.artifacts import check_output, dumps, read_jsonl, replace_dir, write_manifest
from tunesmith.config import Config, TrainConfig, VendorConfig
from tunesmith.data.stage import ensure_dataset
from tunesmith.errors import ConfigError, DataError, TunesmithError
from tunesmith.progress import status
from tunesmith.train.lifecycle import dataset_link, read_metrics, resolved_config
from tunesmith.train.vendor.bedrock_backend import BedrockBackend
from tunesmith.train.vendor.endpoints import eval_endpoints, vendor_model_id
from tunesmith.train.vendor.jobs import (
    STATE,
    TERMINAL,
    UPLOAD,
    Backend,
    Snapshot,
    StoppedFollowing,
    VendorJobFailed,
    VendorResult,
    read_state,
    write_state,
)
from tunesmith.train.vendor.openai_backend import OpenAIBackend
from tunesmith.train.vendor.preflight import (
    Preflight,
    confirm_upload,
    digest,
    estimate_json,
    preflight,
    print_estimate,
    request_of,
)

# The names the CLI, the eval runner and the tests use.
__all__ = [
    "Backend",
    "Snapshot",
    "StoppedFollowing",
    "VendorJobFailed",
    "VendorResult",
    "cancel",
    "eval_endpoints",
    "make_backend",
    "read_state",
    "train_vendor",
    "vendor_model_id",
    "wait",
]


def wait(seconds: float) -> None:
    """The pause between two polls of a job (module-level, so that a test can replace the clock)."""
    time.sleep(seconds)


def make_backend(cfg: Config) -> Backend:
    """The SDK client of `train.backend`; the clients import their SDK only when used, so a local run never loads
    (or needs) one."""
    if cfg.train.backend == "openai":
        return OpenAIBackend()
    if cfg.train.backend == "bedrock":
        return BedrockBackend(cfg.train.vendor)
    raise ConfigError(f"train.backend '{cfg.train.backend}' is not a vendor backend")


def train_vendor(
    cfg: Config,
    *,
    dataset_dir: Path | None = None,
    out_dir: Path | None = None,
    confirm: bool = False,
    resume: bool | None = None,
    console: Console | None = None,
    backend: Backend | None = None,
    sleep: Callable[[float], None] | None = None,
) -> VendorResult:
    """Run (or keep following) the vendor job of `cfg`; `sleep` waits between polls (tests inject their clock)."""
    sleep = sleep or wait
    console = console or Console()
    dataset_dir = Path(dataset_dir or ensure_dataset(cfg))
    out_dir = Path(out_dir or cfg.stage_dir("train"))
    started = datetime.now(UTC)
    n_train = len(read_jsonl(dataset_dir / "train.jsonl")) if (dataset_dir / "train.jsonl").exists() else 0
    request = request_of(cfg, dataset_dir, n_train)

    # --- setup: a job recorded here is followed (interrupted) or reused (complete), never started twice
    state = read_state(out_dir) if out_dir.is_dir() else None
    recorded = _recorded_job(out_dir, state, request, resume)
    if state and recorded == "reuse":
        console.print(
            f"[bold]{state['backend']}[/] job {state['job_id']} already trained {state.get('model_id')}: "
            "reusing it (--no-resume trains again)"
        )
        return _result(out_dir, state, resumed=True)
    if state and recorded == "follow":
        console.print(f"following {state['backend']} job [bold]{state['job_id']}[/] recorded in {out_dir}")
        backend = backend or make_backend(cfg)
        return _follow_and_save(cfg, backend, out_dir, dataset_dir, state, console, sleep, started, resumed=True)

    # --- preflight: nothing is sent before every check passed and the user confirmed
    staging = out_dir.parent / f".{out_dir.name}.{cfg.train.backend}.tmp"
    pre = _stage_upload(cfg, dataset_dir, out_dir, staging, confirm, console)
    backend = backend or make_backend(cfg)  # after the checks: a missing key fails here, still before any request
    replace_dir(staging, out_dir)  # a previous run of tunesmith's (check_output said so)
    pre.files = {split: out_dir / UPLOAD / path.name for split, path in pre.files.items()}

    # --- submit: the job id is on disk before anything else happens
    state = _submit(cfg, backend, out_dir, request, pre, started, console)
    return _follow_and_save(cfg, backend, out_dir, dataset_dir, state, console, sleep, started, resumed=False)


def _recorded_job(out_dir: Path, state: dict[str, Any] | None, request: dict[str, Any], resume: bool | None) -> str:
    """What to do with the job recorded in `out_dir`: "reuse" it (complete), "follow" it (interrupted), or "new"."""
    if not (state and state.get("job_id") and resume is not False):
        if resume is True:
            raise DataError(f"--resume: no vendor job recorded in {out_dir}", hint="start the run without --resume")
        return "new"
    complete = (out_dir / "manifest.json").exists()
    if state.get("request_sha") == digest(request):
        return "reuse" if complete else "follow"
    if not complete:
        raise ConfigError(
            f"{out_dir} follows {state['backend']} job {state['job_id']}, started for another dataset or config",
            hint=f"let it finish, or cancel it (tunesmith train cancel {out_dir}); --no-resume starts another paid job",
        )
    return "new"


def _stage_upload(
    cfg: Config, dataset_dir: Path, out_dir: Path, staging: Path, confirm: bool, console: Console
) -> Preflight:
    """The files to upload, written into `staging` (the run directory's temporary sibling), checked, estimated and
    confirmed; `staging` is removed when anything fails."""
    if not (out_dir / STATE).exists():  # a vendor run of ours without a manifest (--no-resume) may be replaced
        check_output(out_dir)
    if staging.exists():
        shutil.rmtree(staging)
    try:
        pre = preflight(cfg, dataset_dir, staging / UPLOAD)
        print_estimate(cfg, pre, console)
        confirm_upload(cfg, pre, confirm, console)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return pre


def _submit(
    cfg: Config,
    backend: Backend,
    out_dir: Path,
    request: dict[str, Any],
    pre: Preflight,
    started: datetime,
    console: Console,
) -> dict[str, Any]:
    """Upload the files and create the job, recording each id in vendor_job.json the moment it exists."""
    run_key = f"{datetime.now(UTC):%Y%m%d%H%M%S}-{digest(request)[:8]}"
    state: dict[str, Any] = {
        "backend": cfg.train.backend,
        "base_model": cfg.model.base,
        "request": request,
        "request_sha": digest(request),
        "run_key": run_key,
        "vendor": cfg.train.vendor.model_dump(mode="json"),  # no secret in it: what `train cancel` reconnects with
        "files": {},
        "job_id": None,
        "estimate": estimate_json(pre, cfg.train.backend),
        "created_at": started.isoformat(),
    }
    write_state(out_dir, state)
    for split, path in pre.files.items():
        with status(console, f"uploading {path.name} to {cfg.train.backend}..."):
            state["files"][split] = backend.upload(path, run_key=run_key)
        write_state(out_dir, state)
    state["job_id"] = backend.create_job(
        base_model=cfg.model.base,
        files=state["files"],
        method=request["method"],
        hyperparameters=request["hyperparameters"],
        suffix=cfg.train.vendor.suffix,
        seed=cfg.project.seed,
        run_key=run_key,
    )
    write_state(out_dir, state)
    console.print(f"created {cfg.train.backend} job [bold]{state['job_id']}[/] (recorded in {out_dir / STATE})")
    return state


def _metric_line(event: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in event.items() if v is not None}


def _follow_and_save(
    cfg: Config,
    backend: Backend,
    out_dir: Path,
    dataset_dir: Path,
    state: dict[str, Any],
    console: Console,
    sleep: Callable[[float], None],
    started: datetime,
    *,
    resumed: bool,
) -> VendorResult:
    snap = _follow(cfg, backend, out_dir, state, console, sleep)
    job_id = state["job_id"]
    state.update(status=snap.status, vendor_error=snap.error)
    if snap.status != "succeeded":
        write_state(out_dir, state)
        raise VendorJobFailed(
            f"{cfg.train.backend} job {job_id} {snap.status}" + (f": {snap.error}" if snap.error else ""),
            hint="see metrics.jsonl in the run directory for the vendor's events; fix the cause and run again "
            "(--no-resume starts a new job)",
            file=out_dir / STATE,
        )
    state.update(model_id=snap.model_id, trained_tokens=snap.trained_tokens)
    try:
        state["checkpoints"] = backend.checkpoints(job_id)
    except TunesmithError as e:  # a nicety: the run is complete without them
        console.print(f"[yellow]checkpoints not listed: {e.message}[/]")
        state["checkpoints"] = []
    write_state(out_dir, state)

    # --- save
    train_loss, eval_loss = _losses(read_metrics(out_dir / "metrics.jsonl"))
    estimate = state["estimate"]
    write_manifest(
        out_dir,
        stage="train",
        config=resolved_config(cfg, epochs=estimate["epochs"]),
        inputs=[dataset_dir / f"{s}.jsonl" for s in state["files"]],
        counts={
            "train_examples": estimate["examples"].get("train", 0),
            "val_examples": estimate["examples"].get("val", 0),
            "epochs": estimate["epochs"],
            "trained_tokens": snap.trained_tokens,
            "estimated_cost_usd": estimate["cost_usd"],
            "train_loss": train_loss,
            "eval_loss": eval_loss,
        },
        started_at=datetime.fromisoformat(state["created_at"]) if state.get("created_at") else started,
        extra={
            "base_model": {"id": cfg.model.base, "resolved": cfg.model.base, "revision": None},
            "dataset": dataset_link(dataset_dir),
            "method": f"{cfg.train.backend}:{state['request'].get('method', 'supervised')}",
            "backend": cfg.train.backend,
            "vendor": {
                "backend": cfg.train.backend,
                "job_id": job_id,
                "model_id": snap.model_id,
                "files": state["files"],
                "hyperparameters": state["request"]["hyperparameters"],
                "checkpoints": state["checkpoints"],
                "estimate": estimate,
            },
            "resumed_from": job_id if resumed else None,
        },
    )
    console.print(f"[bold]{cfg.train.backend}[/] job {job_id} succeeded: model [bold]{snap.model_id}[/]")
    return _result(out_dir, state, resumed=resumed)


def _follow(
    cfg: Config,
    backend: Backend,
    out_dir: Path,
    state: dict[str, Any],
    console: Console,
    sleep: Callable[[float], None],
) -> Snapshot:
    """Poll the job until it ends, appending its status changes and events to metrics.jsonl as they come."""
    job_id = state["job_id"]
    metrics_path = out_dir / "metrics.jsonl"
    logged = read_metrics(metrics_path)
    seen = {str(m["event_id"]) for m in logged if "event_id" in m}
    last_status = next((m["status"] for m in reversed(logged) if "status" in m), None)
    interval = cfg.train.vendor.poll_interval_s
    while True:
        snap = backend.poll(job_id, seen)
        lines = []
        if snap.status != last_status:
            lines.append({"time": int(time.time()), "status": snap.status, "vendor_status": snap.raw_status})
            console.print(f"{cfg.train.backend} job {job_id}: [bold]{snap.status}[/]")
            last_status = snap.status
        for event in snap.events:
            seen.add(str(event["event_id"]))
            lines.append(_metric_line(event))
            _show_event(console, event)
        if lines:
            with open(metrics_path, "a", encoding="utf-8") as f:
                f.writelines(dumps(line) + "\n" for line in lines)
        if snap.status in TERMINAL:
            break
        try:
            sleep(interval)
        except KeyboardInterrupt:
            raise StoppedFollowing(
                f"stopped following {cfg.train.backend} job {job_id}; it keeps running (and billing) at the vendor",
                hint=f"run the same command again to follow it, or cancel it: tunesmith train cancel {out_dir}",
            ) from None
    return snap


def _show_event(console: Console, event: dict[str, Any]) -> None:
    if event.get("type") == "metrics" and "step" in event:
        parts = [f"step {event['step']}" + (f"/{event['total_steps']}" if event.get("total_steps") else "")]
        parts += [f"{k} {event[k]:.4f}" for k in ("loss", "eval_loss") if isinstance(event.get(k), int | float)]
        console.print("  " + ", ".join(parts))
    elif event.get("message"):
        console.print(f"  {event['message']}")


def _losses(metrics: list[dict[str, Any]]) -> tuple[float | None, float | None]:
    """The last logged train loss and the lowest validation loss of a vendor job's events."""
    losses = [m["loss"] for m in metrics if isinstance(m.get("loss"), int | float)]
    val = [m["eval_loss"] for m in metrics if isinstance(m.get("eval_loss"), int | float)]
    return (losses[-1] if losses else None), (min(val) if val else None)


def _result(out_dir: Path, state: dict[str, Any], *, resumed: bool) -> VendorResult:
    metrics = read_metrics(out_dir / "metrics.jsonl")
    train_loss, eval_loss = _losses(metrics)
    return VendorResult(
        out_dir=out_dir,
        backend=state["backend"],
        job_id=state["job_id"],
        model_id=state.get("model_id") or "",
        metrics=metrics,
        estimate=state.get("estimate", {}),
        trained_tokens=state.get("trained_tokens"),
        resumed=resumed,
        train_loss=train_loss,
        eval_loss=eval_loss,
    )


def cancel(run_dir: Path, *, backend: Backend | None = None, cfg: Config | None = None) -> str:
    """Cancel the vendor job recorded in `run_dir`; returns the vendor's status after the request."""
    run_dir = Path(run_dir)
    state = read_state(run_dir)
    if not state or not state.get("job_id"):
        raise DataError(f"no vendor job recorded in {run_dir}", hint=f"a vendor run directory holds {STATE}")
    if state.get("status") in TERMINAL:
        raise DataError(f"{state['backend']} job {state['job_id']} already {state['status']}: nothing to cancel")
    if backend is None:
        vendor = VendorConfig.model_validate(state.get("vendor") or {})
        cfg = cfg or Config(train=TrainConfig(backend=state["backend"], vendor=vendor))
        backend = make_backend(cfg)
    status = backend.cancel(state["job_id"])
    state["status"] = "cancelled" if status in ("cancelled", "stopping", "stopped") else state.get("status")
    state["cancel_requested_at"] = datetime.now(UTC).isoformat()
    write_state(run_dir, state)
    return status
