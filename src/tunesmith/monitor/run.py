"""`tunesmith monitor`: recent traffic against the served model's training data, and the export for review.

The reference is the training split of the dataset version the served run was trained on (its snapshot under
`artifacts/served/`), not whatever `artifacts/dataset` holds now: a new dataset version prepared for the next run
must not hide the drift of the current one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tunesmith.artifacts import atomic_dir, read_jsonl, write_json_atomic, write_jsonl
from tunesmith.config import Config
from tunesmith.errors import ConfigError, DataError
from tunesmith.registry import Registry
from tunesmith.serve.log import LoggedRequest, RequestLog, redact_texts, resolve_url

_SINCE = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """`30m`, `12h`, `7d`, `2w` → the datetime that long ago."""
    m = _SINCE.match(text)
    if not m:
        raise ConfigError(f"cannot read the window '{text}'", hint="write it as a number and m, h, d or w: 7d, 12h")
    return (now or datetime.now(UTC)) - timedelta(**{_UNITS[m[2]]: int(m[1])})


def open_log(cfg: Config) -> RequestLog:
    return RequestLog(resolve_url(cfg.monitor.database_url, cfg.root), redact=cfg.monitor.redact, allow=_allow(cfg))


def _allow(cfg: Config) -> list[str]:
    from tunesmith.data.redact import decided_allow

    return decided_allow(cfg.data.pii_allow, cfg.stage_dir("dataset"))


def _last_user(messages: list[dict[str, str]]) -> str:
    return next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")


def reference(cfg: Config) -> tuple[list[str], dict[str, Any]]:
    """The training prompts of the served run's dataset (else of the current dataset), and where they came from."""
    served = Registry(cfg).served()
    dataset_dir = served.dataset_dir if served is not None and served.dataset_dir else cfg.stage_dir("dataset")
    train = dataset_dir / "train.jsonl"
    if not train.exists():
        raise DataError(
            f"no training data to compare traffic with at {train}",
            hint="promote a run (tunesmith serve promote RUN) or prepare a dataset first",
        )
    prompts = [p for p in (_last_user(r["messages"]) for r in read_jsonl(train)) if p.strip()]
    about = {
        "run_id": served.run_id if served else None,
        "dataset_hash": served.dataset_hash if served else None,
        "dataset_dir": str(dataset_dir),
    }
    return prompts, about


@dataclass
class MonitorResult:
    out_dir: Path
    result: dict[str, Any]

    @property
    def fired(self) -> bool:
        return bool(self.result["fired"])


def run_monitor(
    cfg: Config, *, since: str | None = None, out_dir: Path | None = None, log: RequestLog | None = None
) -> MonitorResult:
    """Write drift.json and drift.html into `artifacts/monitor` (or `out_dir`); `fired` when any threshold fires."""
    from tunesmith.monitor.answer_guards import answer_guard_rates
    from tunesmith.monitor.drift import detect_drift
    from tunesmith.monitor.outcomes import outcomes, sources_used
    from tunesmith.monitor.report import render_html

    mc = cfg.monitor
    since = since or mc.since
    start = parse_since(since)
    log = log or open_log(cfg)
    rows = log.fetch(start)
    train_prompts, about = reference(cfg)
    traffic = [r.prompt_text for r in rows if r.prompt_text.strip()]
    if len(traffic) < mc.min_requests:
        raise DataError(
            f"only {len(traffic)} logged prompts since {since}; drift needs at least {mc.min_requests}",
            hint="widen the window (--since 30d) or lower monitor.min_requests",
        )
    drift = detect_drift(train_prompts, traffic, mc, seed=cfg.project.seed)
    outs = outcomes(rows, mc)
    guards = answer_guard_rates(rows, mc)
    result = {
        **about,
        "since": since,
        "window_start": start.isoformat(),
        "created_at": datetime.now(UTC).isoformat(),
        "fired": drift.fired or outs.fired or guards.fired,
        "reasons": drift.reasons() + outs.reasons() + guards.reasons(),
        "thresholds": {
            "auc": mc.auc_threshold,
            "mmd_alpha": mc.mmd_alpha,
            "unseen_share": mc.max_unseen_share,
            "psi": mc.psi_threshold,
            "refusal_rate": mc.max_refusal_rate,
            "mean_rating": mc.min_mean_rating,
            "answer_guard_rate": mc.max_answer_guard_rate,
        },
        "drift": drift.to_json(),
        "outcomes": outs.to_json(),
        "answer_guards": guards.to_json(),  # serve.answer_guards: how often answers were blocked, redacted, logged
        "sources": sources_used(rows),  # the documents answers with retrieval cited (serve.rag_models)
        "unseen_request_ids": [
            r.id for r, u in zip([r for r in rows if r.prompt_text.strip()], drift.unseen_mask, strict=True) if u
        ],
    }
    out_dir = out_dir or cfg.stage_dir("monitor")
    lengths = {"train": [len(p.split()) for p in train_prompts], "traffic": [len(p.split()) for p in traffic]}
    with atomic_dir(out_dir) as tmp:
        write_json_atomic(tmp / "drift.json", result)
        render_html(result, lengths, tmp / "drift.html")
        # Marks the folder as tunesmith's, so the next `monitor` run may replace it (artifacts.check_output).
        write_json_atomic(tmp / "manifest.json", {"stage": "monitor", "window_start": result.get("window_start")})
    return MonitorResult(out_dir, result)


def _review_record(row: LoggedRequest, why: list[str]) -> dict[str, Any]:
    answer = row.corrections[-1] if row.corrections else (row.responses[0] if row.responses else "")
    messages = [m for m in row.messages if m["role"] in ("system", "user", "assistant")]
    return {
        "messages": [*messages, {"role": "assistant", "content": answer}],
        "meta": {
            "id": row.id,
            "source": "traffic",
            "tags": ["needs_review", *why],
            "model": row.model,
            "ratings": row.ratings,
            "answer_is_correction": bool(row.corrections),
            # serve.guard's part in the answer, for the reviewer: declined before the model ran, or asked again
            "guarded": row.guarded,
            "reasked": row.reasked,
            "logged_at": row.created_at.isoformat(),
        },
    }


def _review_pair(row: LoggedRequest) -> dict[str, Any] | None:
    """A thumbs-down with a correction as a preference pair: the correction chosen, the logged answer rejected."""
    if not row.corrections or not row.responses:
        return None
    messages = [m for m in row.messages if m["role"] in ("system", "user", "assistant")]
    return {
        "prompt": messages,
        "chosen": [{"role": "assistant", "content": row.corrections[-1]}],
        "rejected": [{"role": "assistant", "content": row.responses[0]}],
        "meta": {
            "id": row.id,
            "source": "traffic",
            "tags": ["needs_review", "low_rating", "correction"],
            "model": row.model,
            "ratings": row.ratings,
            "logged_at": row.created_at.isoformat(),
        },
    }


def export_review(
    cfg: Config,
    out: Path,
    *,
    since: str | None = None,
    log: RequestLog | None = None,
    drift_json: Path | None = None,
    pairs: bool = False,
) -> int:
    """Write the drifted (unseen-topic) and low-rated traffic as canonical records for a person to review.

    Unseen-topic ids come from the last `tunesmith monitor` run (drift.json); everything is redacted, whatever
    `monitor.redact` was when it was logged. Returns the number of records written.

    With `pairs`, only the low-rated answers that got a correction are written, as preference pairs (the
    correction chosen, the logged answer rejected) for `data prepare --parent` and train.objective: dpo.
    """
    import json

    log = log or open_log(cfg)
    rows = log.fetch(parse_since(since or cfg.monitor.since))
    drift_json = drift_json or cfg.stage_dir("monitor") / "drift.json"
    unseen = set(json.loads(drift_json.read_text())["unseen_request_ids"]) if drift_json.exists() else set()
    if pairs:
        found = [
            p
            for row in rows
            if any(r <= cfg.monitor.low_rating for r in row.ratings) and (p := _review_pair(row)) is not None
        ]
        texts = [m["content"] for p in found for k in ("prompt", "chosen", "rejected") for m in p[k]]
        cleaned = iter(redact_texts(texts, _allow(cfg))) if texts else iter(())
        for p in found:
            for k in ("prompt", "chosen", "rejected"):
                p[k] = [{"role": m["role"], "content": next(cleaned)} for m in p[k]]
        out.parent.mkdir(parents=True, exist_ok=True)
        write_jsonl(out, found)
        return len(found)
    records = []
    for row in rows:
        why = (["unseen_topic"] if row.id in unseen else []) + (
            ["low_rating"] if any(r <= cfg.monitor.low_rating for r in row.ratings) else []
        )
        if why:
            records.append(_review_record(row, why))
    texts = [m["content"] for r in records for m in r["messages"]]
    cleaned = iter(redact_texts(texts, _allow(cfg))) if texts else iter(())
    for r in records:
        r["messages"] = [{"role": m["role"], "content": next(cleaned)} for m in r["messages"]]
    out.parent.mkdir(parents=True, exist_ok=True)
    write_jsonl(out, records)
    return len(records)
