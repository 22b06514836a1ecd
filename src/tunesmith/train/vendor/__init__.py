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

import hashlib
import json
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from rich.console import Console

from tunesmith.artifacts import check_output, read_jsonl, write_json_atomic, write_manifest
from tunesmith.config import Config, EndpointConfig
from tunesmith.errors import ConfigError, DataError, ModelError, TunesmithError

STATE = "vendor_job.json"
UPLOAD = "upload"
TERMINAL = ("succeeded", "failed", "cancelled")
EXPORT_FORMAT = {"openai": "openai", "bedrock": "bedrock"}


def wait(seconds: float) -> None:
    """The pause between two polls of a job (module-level, so that a test can replace the clock)."""
    time.sleep(seconds)


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


def make_backend(cfg: Config) -> Backend:
    """The SDK client of `train.backend`, imported only now: a local run never loads (or needs) a vendor SDK."""
    if cfg.train.backend == "openai":
        from tunesmith.train.vendor.openai_backend import OpenAIBackend

        return OpenAIBackend()
    if cfg.train.backend == "bedrock":
        from tunesmith.train.vendor.bedrock_backend import BedrockBackend

        return BedrockBackend(cfg.train.vendor)
    raise ConfigError(f"train.backend '{cfg.train.backend}' is not a vendor backend")


# ---------------------------------------------------------------------------------------------------------------
# The request: what is uploaded and how the job is configured


def hyperparameters(cfg: Config, n_train: int) -> dict[str, Any]:
    """train.* mapped onto the vendor's hyperparameters; what is unset stays the vendor's default ("auto")."""
    tc, vc = cfg.train, cfg.train.vendor
    batch = tc.batch_size if "batch_size" in tc.model_fields_set else None
    if cfg.train.backend == "openai":
        out: dict[str, Any] = {}
        if tc.objective == "dpo":
            out["beta"] = tc.dpo.beta
        if tc.epochs is not None:
            out["n_epochs"] = max(1, round(tc.epochs))
        if batch is not None:
            out["batch_size"] = batch
        if vc.learning_rate_multiplier is not None:
            out["learning_rate_multiplier"] = vc.learning_rate_multiplier
        return out
    # Bedrock's hyperParameters are strings (Nova: epochCount, learningRate, batchSize).
    out = {"epochCount": str(max(1, round(tc.epochs))) if tc.epochs is not None else None}
    if tc.learning_rate is not None:
        out["learningRate"] = f"{tc.learning_rate:g}"
    if batch is not None:
        out["batchSize"] = str(batch)
    return {k: v for k, v in out.items() if v is not None}


def method_of(cfg: Config) -> str:
    """The vendor's training method: supervised, or dpo (OpenAI only) for train.objective: dpo."""
    if cfg.train.objective != "dpo":
        return "supervised"
    if cfg.train.backend != "openai":
        raise ConfigError(
            f"train.objective: dpo is not offered by train.backend: {cfg.train.backend}",
            hint="Bedrock model customization fine-tunes on conversations: use objective sft, or backend openai",
        )
    return "dpo"


def billed_epochs(cfg: Config, n_train: int) -> int:
    from tunesmith.data.stats import default_epochs  # OpenAI's documented auto rule

    return max(1, round(cfg.train.epochs)) if cfg.train.epochs is not None else default_epochs(n_train)


def _dataset_link(dataset_dir: Path) -> dict[str, Any]:
    manifest = dataset_dir / "manifest.json"
    if not manifest.exists():
        return {"path": str(dataset_dir)}
    from tunesmith.artifacts import sha256_file

    data = json.loads(manifest.read_text())
    return {
        "path": str(dataset_dir),
        "dataset_hash": data.get("dataset_hash"),
        "manifest_sha256": sha256_file(manifest),
    }


def request_of(cfg: Config, dataset_dir: Path, n_train: int) -> dict[str, Any]:
    """What defines the job: a rerun with the same request follows (or reuses) the recorded job."""
    return {
        "backend": cfg.train.backend,
        "base_model": cfg.model.base,
        "dataset_hash": _dataset_link(dataset_dir).get("dataset_hash"),
        "method": method_of(cfg),
        "hyperparameters": hyperparameters(cfg, n_train),
        "suffix": cfg.train.vendor.suffix,
        "seed": cfg.project.seed,
    }


def _sha(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()


# ---------------------------------------------------------------------------------------------------------------
# Preflight: format and limits, personal data, estimate, confirmation


@dataclass
class Preflight:
    files: dict[str, Path]  # split -> the file to upload
    examples: dict[str, int]
    tokens: int  # tokens of one pass over train (approximate unless a tokenizer is given)
    epochs: int
    billed_tokens: int
    price_per_1m: float | None
    price_row: str | None
    cost_usd: float | None
    token_method: str
    warnings: list[str]

    def rows(self) -> list[tuple[str, str]]:
        from tunesmith.train.vendor.prices import PRICES_CHECKED

        price = (
            f"${self.price_per_1m:.2f} per 1M training tokens ({self.price_row}, listed {PRICES_CHECKED})"
            if self.price_per_1m is not None
            else "not in tunesmith's price table: see the vendor's pricing page"
        )
        return [
            ("files", ", ".join(f"{k} {self.examples[k]} examples" for k in self.files)),
            ("tokens per epoch", f"~{self.tokens:,}"),
            ("epochs", str(self.epochs)),
            ("billed tokens", f"~{self.billed_tokens:,}"),
            ("price", price),
            ("estimated cost", f"~${self.cost_usd:,.2f}" if self.cost_usd is not None else "unknown"),
            ("token counts", self.token_method),
        ]


def preflight(cfg: Config, dataset_dir: Path, upload_dir: Path, tokenizer: Any = None) -> Preflight:
    """Write the files to upload into `upload_dir` and check them; raises DataError (exit 2) before anything is sent."""
    from tunesmith.data.export import export_dataset
    from tunesmith.train.vendor.prices import training_price

    backend = cfg.train.backend
    if method_of(cfg) == "dpo":
        return _preflight_pairs(cfg, dataset_dir, upload_dir, tokenizer)
    fmt = EXPORT_FORMAT[backend]
    files: dict[str, Path] = {}
    examples: dict[str, int] = {}
    warnings: list[str] = []
    tokens = 0
    method = ""
    for split in ("train", "val"):
        if not (dataset_dir / f"{split}.jsonl").exists() or not read_jsonl(dataset_dir / f"{split}.jsonl"):
            if split == "train":
                raise DataError(
                    f"no prepared dataset at {dataset_dir}",
                    hint="run `tunesmith run tunesmith.yaml --only prepare` (or `tunesmith data prepare`) first",
                )
            continue
        out = upload_dir / f"{split}.jsonl"
        result = export_dataset(dataset_dir, fmt, out, split=split, tokenizer=tokenizer, overwrite=True)
        # The minimum number of examples is the training file's; a validation file may be smaller.
        errors = [e for e in result.errors if split == "train" or "needs at least" not in e]
        if errors:
            raise DataError(
                f"the {split} split does not meet {backend}'s limits: " + "; ".join(errors),
                hint="fix the data and prepare it again; nothing was uploaded",
                file=dataset_dir / f"{split}.jsonl",
            )
        if result.dropped:
            warnings.append(f"{split}: {len(result.dropped)} example(s) left out: {result.dropped[0]['reason']}")
        warnings += [w for w in result.warnings if not w.startswith("token counts")]
        method = result.warnings[-1].removeprefix("token counts: ")
        files[split], examples[split] = out, result.written
        if split == "train":
            tokens = result.training_tokens
    _refuse_pii(cfg, dataset_dir, files)
    epochs = billed_epochs(cfg, examples["train"])
    billed = tokens * epochs
    price, row = training_price(backend, cfg.model.base)
    cost = billed / 1e6 * price if price is not None else None
    return Preflight(files, examples, tokens, epochs, billed, price, row, cost, method, warnings)


# OpenAI's DPO format: https://platform.openai.com/docs/guides/direct-preference-optimization ("input" holds the
# conversation up to the answer, "preferred_output" and "non_preferred_output" one assistant message each).
def _openai_dpo(pair: dict[str, Any]) -> dict[str, Any]:
    def keep(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{"role": m["role"], "content": m["content"]} for m in messages]

    return {
        "input": {"messages": keep(pair["prompt"])},
        "preferred_output": keep(pair["chosen"]),
        "non_preferred_output": keep(pair["rejected"]),
    }


def _pair_problem(pair: Any) -> str | None:
    if not isinstance(pair, dict) or not all(isinstance(pair.get(k), list) for k in ("prompt", "chosen", "rejected")):
        return "not a prepared preference pair {prompt, chosen, rejected}"
    if not pair["prompt"] or pair["prompt"][-1].get("role") != "user":
        return "the prompt must end with a user message"
    for side in ("chosen", "rejected"):
        msgs = pair[side]
        if len(msgs) != 1 or msgs[0].get("role") != "assistant" or not isinstance(msgs[0].get("content"), str):
            return f"'{side}' must be one assistant message (OpenAI DPO)"
    return None


def _preflight_pairs(cfg: Config, dataset_dir: Path, upload_dir: Path, tokenizer: Any) -> Preflight:
    """The same preflight for preference pairs, written in OpenAI's DPO format."""
    from tunesmith.data import stats
    from tunesmith.data.export import LIMITS
    from tunesmith.train.vendor.prices import training_price

    counter = stats.TokenCounter(tokenizer)
    files: dict[str, Path] = {}
    examples: dict[str, int] = {}
    tokens = 0
    upload_dir.mkdir(parents=True, exist_ok=True)
    for split in ("train", "val"):
        src = dataset_dir / f"{split}.jsonl"
        rows = read_jsonl(src) if src.exists() else []
        if not rows:
            if split == "train":
                raise DataError(f"no prepared preference pairs at {dataset_dir}", hint="run tunesmith data prepare")
            continue
        for n, row in enumerate(rows, 1):
            problem = _pair_problem(row)
            if problem:
                raise DataError(problem, hint="prepare the pairs again; nothing was uploaded", file=src, line=n)
        if split == "train" and len(rows) < LIMITS["openai"].min_examples:
            raise DataError(
                f"{len(rows)} preference pair(s); openai needs at least {LIMITS['openai'].min_examples}",
                hint="add pairs and prepare again; nothing was uploaded",
                file=src,
            )
        out = upload_dir / f"{split}.jsonl"
        out.write_text("".join(json.dumps(_openai_dpo(r), ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        files[split], examples[split] = out, len(rows)
        if split == "train":  # each pair trains the prompt with both answers
            sides = [{"messages": [*r["prompt"], *r[side]]} for r in rows for side in ("chosen", "rejected")]
            tokens = sum(t["total"] for t in counter.records(sides))
    _refuse_pii(cfg, dataset_dir, files)
    epochs = billed_epochs(cfg, examples["train"])
    price, row = training_price(cfg.train.backend, cfg.model.base)
    billed = tokens * epochs
    cost = billed / 1e6 * price if price is not None else None
    return Preflight(files, examples, tokens, epochs, billed, price, row, cost, counter.method, [])


def _refuse_pii(cfg: Config, dataset_dir: Path, files: dict[str, Path]) -> None:
    """Run the analyzer on what is about to leave the machine, as `data check` does; refuse on any finding."""
    from tunesmith.data.check import pii_findings

    if cfg.train.vendor.allow_pii:
        return
    records = []
    for split, path in files.items():
        for n, row in enumerate(read_jsonl(dataset_dir / f"{split}.jsonl"), 1):
            meta = {**row.get("meta", {}), "source": {"file": str(path), "line": n}}
            if "messages" not in row:  # a preference pair: every side is sent
                row = {"messages": [*row["prompt"], *row["chosen"], *row["rejected"]]}
            records.append({**row, "meta": meta})
    scan = pii_findings(records, cfg.data)
    found = [f for f in scan.findings if f.kind == "pii"]
    if found:
        summary = ", ".join(f"{n} {entity}" for entity, n in sorted(scan.counts.items()))
        lines = sorted({n for f in found for n in f.lines})
        raise DataError(
            f"refusing to upload to {cfg.train.backend}: the analyzer finds personal data in the files to send "
            f"({summary}; in {len(lines)} example(s), lines {lines[:5]} of train.jsonl then val.jsonl)",
            hint="prepare the data with data.pii: redact (or pseudonymize), add values that are not personal data "
            "to data.pii_allow, or set train.vendor.allow_pii: true if sending them is allowed; nothing was sent",
            file=dataset_dir / "train.jsonl",
        )


def confirm_upload(cfg: Config, pre: Preflight, confirm: bool, console: Console) -> None:
    """--yes, or a yes at an interactive prompt; a script without --yes is refused (exit 2) before any request."""
    if confirm:
        return
    what = f"{sum(pre.examples.values())} examples to {cfg.train.backend} ({cfg.model.base})"
    if sys.stdin is not None and sys.stdin.isatty():
        from rich.prompt import Confirm

        if Confirm.ask(f"upload {what} and start a paid fine-tuning job?", console=console, default=False):
            return
        raise TunesmithError("upload not confirmed: nothing was sent")
    raise ConfigError(
        f"uploading {what} needs a confirmation",
        hint="pass --yes (tunesmith train/run ... --yes) to confirm the upload in a script",
    )


# ---------------------------------------------------------------------------------------------------------------
# The run


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
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise DataError(f"{path} is not readable JSON", hint="restore it, or remove the run directory") from None


def _write_state(out_dir: Path, state: dict[str, Any]) -> None:
    write_json_atomic(out_dir / STATE, state)


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
    from tunesmith.data.stage import ensure_dataset

    sleep = sleep or wait
    console = console or Console()
    dataset_dir = Path(dataset_dir or ensure_dataset(cfg))
    out_dir = Path(out_dir or cfg.stage_dir("train"))
    started = datetime.now(UTC)
    n_train = len(read_jsonl(dataset_dir / "train.jsonl")) if (dataset_dir / "train.jsonl").exists() else 0
    request = request_of(cfg, dataset_dir, n_train)

    # --- setup: a job recorded here is followed (interrupted) or reused (complete), never started twice
    state = read_state(out_dir) if out_dir.is_dir() else None
    complete = (out_dir / "manifest.json").exists()
    if state and state.get("job_id") and resume is not False:
        if state.get("request_sha") != _sha(request):
            if not complete:
                raise ConfigError(
                    f"{out_dir} follows {state['backend']} job {state['job_id']}, started for another dataset or "
                    "config",
                    hint=f"let it finish, or cancel it (tunesmith train cancel {out_dir}); --no-resume starts "
                    "another paid job",
                )
        elif complete:
            console.print(
                f"[bold]{state['backend']}[/] job {state['job_id']} already trained {state.get('model_id')}: "
                "reusing it (--no-resume trains again)"
            )
            return _result(out_dir, state, resumed=True)
        else:
            console.print(f"following {state['backend']} job [bold]{state['job_id']}[/] recorded in {out_dir}")
            backend = backend or make_backend(cfg)
            return _follow_and_save(cfg, backend, out_dir, dataset_dir, state, console, sleep, started, resumed=True)
    elif resume is True:
        raise DataError(f"--resume: no vendor job recorded in {out_dir}", hint="start the run without --resume")

    # --- preflight: nothing is sent before every check passed and the user confirmed
    if not (out_dir / STATE).exists():  # a vendor run of ours without a manifest (--no-resume) may be replaced
        check_output(out_dir)
    staging = out_dir.parent / f".{out_dir.name}.{cfg.train.backend}.tmp"
    if staging.exists():
        shutil.rmtree(staging)
    try:
        pre = preflight(cfg, dataset_dir, staging / UPLOAD)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _print_estimate(cfg, pre, console)
    try:
        confirm_upload(cfg, pre, confirm, console)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    backend = backend or make_backend(cfg)  # after the checks: a missing key fails here, still before any request
    if out_dir.exists():
        shutil.rmtree(out_dir)  # a previous run of tunesmith's (check_output said so)
    staging.rename(out_dir)
    pre.files = {split: out_dir / UPLOAD / path.name for split, path in pre.files.items()}

    # --- submit: the job id is on disk before anything else happens
    run_key = f"{datetime.now(UTC):%Y%m%d%H%M%S}-{_sha(request)[:8]}"
    state = {
        "backend": cfg.train.backend,
        "base_model": cfg.model.base,
        "request": request,
        "request_sha": _sha(request),
        "run_key": run_key,
        "vendor": cfg.train.vendor.model_dump(mode="json"),  # no secret in it: what `train cancel` reconnects with
        "files": {},
        "job_id": None,
        "estimate": _estimate_json(pre, cfg.train.backend),
        "created_at": started.isoformat(),
    }
    _write_state(out_dir, state)
    for split, path in pre.files.items():
        with console.status(f"uploading {path.name} to {cfg.train.backend}..."):
            state["files"][split] = backend.upload(path, run_key=run_key)
        _write_state(out_dir, state)
    state["job_id"] = backend.create_job(
        base_model=cfg.model.base,
        files=state["files"],
        method=request["method"],
        hyperparameters=request["hyperparameters"],
        suffix=cfg.train.vendor.suffix,
        seed=cfg.project.seed,
        run_key=run_key,
    )
    _write_state(out_dir, state)
    console.print(f"created {cfg.train.backend} job [bold]{state['job_id']}[/] (recorded in {out_dir / STATE})")
    return _follow_and_save(cfg, backend, out_dir, dataset_dir, state, console, sleep, started, resumed=False)


def _estimate_json(pre: Preflight, backend: str) -> dict[str, Any]:
    from tunesmith.train.vendor.prices import PRICE_SOURCES, PRICES_CHECKED

    return {
        "examples": pre.examples,
        "tokens_per_epoch": pre.tokens,
        "epochs": pre.epochs,
        "billed_tokens": pre.billed_tokens,
        "price_per_1m_usd": pre.price_per_1m,
        "price_row": pre.price_row,
        "cost_usd": round(pre.cost_usd, 4) if pre.cost_usd is not None else None,
        "price_source": PRICE_SOURCES.get(backend),
        "prices_checked": PRICES_CHECKED,
        "token_method": pre.token_method,
    }


def _print_estimate(cfg: Config, pre: Preflight, console: Console) -> None:
    from rich.table import Table

    from tunesmith.train.vendor.prices import PRICE_SOURCES

    table = Table(title=f"{cfg.train.backend} fine-tuning of {cfg.model.base}: estimate", show_header=False)
    for k, v in pre.rows():
        table.add_row(k, v)
    table.add_row("prices from", PRICE_SOURCES[cfg.train.backend])
    console.print(table)
    for w in pre.warnings:
        console.print(f"[yellow]{w}[/]")


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
    job_id = state["job_id"]
    metrics_path = out_dir / "metrics.jsonl"
    logged = read_jsonl(metrics_path) if metrics_path.exists() else []
    seen = {str(m["event_id"]) for m in logged if "event_id" in m}
    last_status = next((m["status"] for m in reversed(logged) if "status" in m), None)
    interval = cfg.train.vendor.poll_interval_s
    # --- follow
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
                f.writelines(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)
        if snap.status in TERMINAL:
            break
        try:
            sleep(interval)
        except KeyboardInterrupt:
            raise StoppedFollowing(
                f"stopped following {cfg.train.backend} job {job_id}; it keeps running (and billing) at the vendor",
                hint=f"run the same command again to follow it, or cancel it: tunesmith train cancel {out_dir}",
            ) from None
    state.update(status=snap.status, vendor_error=snap.error)
    if snap.status != "succeeded":
        _write_state(out_dir, state)
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
    _write_state(out_dir, state)

    # --- save
    metrics = read_jsonl(metrics_path) if metrics_path.exists() else []
    losses = [m["loss"] for m in metrics if isinstance(m.get("loss"), int | float)]
    val_losses = [m["eval_loss"] for m in metrics if isinstance(m.get("eval_loss"), int | float)]
    resolved = {**cfg.to_dict(), "train": {**cfg.train.model_dump(mode="json"), "epochs": state["estimate"]["epochs"]}}
    write_manifest(
        out_dir,
        stage="train",
        config=resolved,
        inputs=[dataset_dir / f"{s}.jsonl" for s in state["files"]],
        counts={
            "train_examples": state["estimate"]["examples"].get("train", 0),
            "val_examples": state["estimate"]["examples"].get("val", 0),
            "epochs": state["estimate"]["epochs"],
            "trained_tokens": snap.trained_tokens,
            "estimated_cost_usd": state["estimate"]["cost_usd"],
            "train_loss": losses[-1] if losses else None,
            "eval_loss": min(val_losses) if val_losses else None,
        },
        started_at=datetime.fromisoformat(state["created_at"]) if state.get("created_at") else started,
        extra={
            "base_model": {"id": cfg.model.base, "resolved": cfg.model.base, "revision": None},
            "dataset": _dataset_link(dataset_dir),
            "method": f"{cfg.train.backend}:{state['request'].get('method', 'supervised')}",
            "backend": cfg.train.backend,
            "vendor": {
                "backend": cfg.train.backend,
                "job_id": job_id,
                "model_id": snap.model_id,
                "files": state["files"],
                "hyperparameters": state["request"]["hyperparameters"],
                "checkpoints": state["checkpoints"],
                "estimate": state["estimate"],
            },
            "resumed_from": job_id if resumed else None,
        },
    )
    console.print(f"[bold]{cfg.train.backend}[/] job {job_id} succeeded: model [bold]{snap.model_id}[/]")
    return _result(out_dir, state, resumed=resumed)


def _show_event(console: Console, event: dict[str, Any]) -> None:
    if event.get("type") == "metrics" and "step" in event:
        parts = [f"step {event['step']}" + (f"/{event['total_steps']}" if event.get("total_steps") else "")]
        parts += [f"{k} {event[k]:.4f}" for k in ("loss", "eval_loss") if isinstance(event.get(k), int | float)]
        console.print("  " + ", ".join(parts))
    elif event.get("message"):
        console.print(f"  {event['message']}")


def _result(out_dir: Path, state: dict[str, Any], *, resumed: bool) -> VendorResult:
    metrics_path = out_dir / "metrics.jsonl"
    metrics = read_jsonl(metrics_path) if metrics_path.exists() else []
    losses = [m["loss"] for m in metrics if isinstance(m.get("loss"), int | float)]
    val = [m["eval_loss"] for m in metrics if isinstance(m.get("eval_loss"), int | float)]
    return VendorResult(
        out_dir=out_dir,
        backend=state["backend"],
        job_id=state["job_id"],
        model_id=state.get("model_id") or "",
        metrics=metrics,
        estimate=state.get("estimate", {}),
        trained_tokens=state.get("trained_tokens"),
        resumed=resumed,
        train_loss=losses[-1] if losses else None,
        eval_loss=min(val) if val else None,
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
        from tunesmith.config import TrainConfig, VendorConfig

        vendor = VendorConfig.model_validate(state.get("vendor") or {})
        cfg = cfg or Config(train=TrainConfig(backend=state["backend"], vendor=vendor))
        backend = make_backend(cfg)
    status = backend.cancel(state["job_id"])
    state["status"] = "cancelled" if status in ("cancelled", "stopping", "stopped") else state.get("status")
    state["cancel_requested_at"] = datetime.now(UTC).isoformat()
    _write_state(run_dir, state)
    return status


# ---------------------------------------------------------------------------------------------------------------
# Evaluation: the vendor models through the endpoint client


def vendor_model_id(train_dir: Path) -> tuple[str, str] | None:
    """(backend, model id) of a complete vendor run, from its manifest; None for a local run."""
    try:
        manifest = json.loads((Path(train_dir) / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    vendor = manifest.get("vendor")
    if not isinstance(vendor, dict) or not vendor.get("model_id"):
        return None
    return vendor["backend"], vendor["model_id"]


def eval_endpoints(cfg: Config, train_dir: Path, *, need_fine_tuned: bool) -> dict[str, EndpointConfig]:
    """The endpoint configs of the `base` (the vendor's base model) and `fine_tuned` (the vendor fine-tune) arms."""
    import os

    vc = cfg.train.vendor
    if cfg.train.backend == "openai":
        base_url = vc.eval_base_url or os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1"
        key_env = vc.eval_api_key_env or "OPENAI_API_KEY"
    else:
        if not vc.eval_base_url:
            raise ConfigError(
                "the eval of a Bedrock fine-tune needs train.vendor.eval_base_url",
                hint="a custom Bedrock model answers only through provisioned throughput (or on-demand deployment), "
                "which tunesmith leaves to you: create it in the Bedrock console, then point eval_base_url at an "
                "OpenAI-compatible gateway to it",
            )
        base_url, key_env = vc.eval_base_url, vc.eval_api_key_env
    found = vendor_model_id(train_dir)
    if need_fine_tuned and found is None:
        raise DataError(
            f"no vendor model in {train_dir}",
            hint="run the train stage first (tunesmith run tunesmith.yaml --only train --yes)",
        )
    ec = cfg.eval
    common = {"base_url": base_url, "api_key_env": key_env}
    if ec.endpoint is not None:
        common |= {"timeout_s": ec.endpoint.timeout_s, "concurrency": ec.endpoint.concurrency}
    out = {"base": EndpointConfig(model=cfg.model.base, **common)}
    if found is not None:
        out["fine_tuned"] = EndpointConfig(model=found[1], **common)
    return out
