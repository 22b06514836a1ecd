"""The model card: one Markdown page beside every evaluation (`model_card.md`), for the people who sign off.

It says what the model is for (the project and its system prompt), what it learned from (the dataset manifest:
sources, counts, what was dropped), how personal data was handled (redactions by type), how it was trained (the
train manifest), how it compares with the alternatives (the evaluation table with 95% CIs and the behaviour
figures with counts, and the verdict of evals/verdict.py), its known limits, and the hashes that tie it to its
data and run. Rendered with Jinja from `templates/model_card.md.j2`; every figure comes from results.json and the
manifests its lineage names, so a card can be written again from an evaluation directory alone.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from jinja2 import Environment, PackageLoader, StrictUndefined

from tunesmith.artifacts import sha256_file, write_text_atomic
from tunesmith.errors import DataError
from tunesmith.evals.report_format import fmt_ci, fmt_delta, metric_name
from tunesmith.evals.results import ArmResult, EvalResults, read_results
from tunesmith.evals.verdict import verdict
from tunesmith.manifests import DatasetManifest, EvalManifest, TrainManifest, read_manifest

CARD_NAME = "model_card.md"
BEHAVIOUR = ("abstention", "over_refusal")
SMALL_TEST = 100  # below: say that the CIs are wide
SMALL_BEHAVIOUR = 20  # below: the abstention and over-refusal rates rest on few questions
TRAIN_KEYS = ("method", "epochs", "learning_rate", "batch_size", "max_seq_len", "objective")


def _cell(value: Any) -> str:
    """Text from the data inside a table cell or a line: no '|' that splits the cell, no line break."""
    return " ".join(str(value).split()).replace("|", r"\|")


def _env() -> Environment:
    env = Environment(
        loader=PackageLoader("tunesmith.evals", "templates"),
        autoescape=False,  # Markdown; the dashboard renders it with raw HTML off
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["cell"] = _cell
    return env


def _system_prompt(dataset_dir: Path | None) -> str | None:
    """The system prompt of the first training example that has one: what the assistant was told it is."""
    path = None if dataset_dir is None else dataset_dir / "train.jsonl"
    if path is None or not path.is_file():
        return None
    with path.open(encoding="utf-8") as f:
        for i, line in enumerate(f):
            if i >= 1000:
                break
            try:
                messages = json.loads(line).get("messages") or []
            except (ValueError, AttributeError):
                continue
            system = next(
                (m.get("content") for m in messages if isinstance(m, dict) and m.get("role") == "system"), None
            )
            if isinstance(system, str) and system.strip():
                return system.strip()
    return None


def _dir(value: str | None) -> Path | None:
    return Path(value) if value else None


def _counts(arm: ArmResult, metric: str) -> str:
    counts = arm.count(metric)
    return "—" if counts is None else f"{arm.metrics[metric]:.2f} ({counts[0]}/{counts[1]})"


def _arm_rows(results: EvalResults, quality: list[str]) -> list[dict[str, Any]]:
    rows = []
    for name, arm in results.arms.items():
        delta = arm.delta.get(results.headline_metric) if arm.delta else None
        rows.append(
            {
                "name": name,
                "reference": name == results.reference_arm,
                "quality": [fmt_ci(arm.metrics[m], arm.ci[m]) if m in arm.metrics else "—" for m in quality],
                "delta": fmt_delta(delta) if delta else "—",
                "behaviour": [_counts(arm, m) for m in BEHAVIOUR],
                "tokens": f"{arm.tokens.per_request:,.0f}" if arm.tokens else "—",
                "p50": f"{arm.latency_ms.p50:,.0f} ms" if arm.latency_ms else "—",
            }
        )
    return rows


def _data(manifest: DatasetManifest | None) -> dict[str, Any] | None:
    if manifest is None:
        return None
    extra = manifest.model_extra or {}
    counts = manifest.counts
    splits = {k: counts[k] for k in ("train", "val", "test") if k in counts}
    return {
        "sources": [s for s in extra.get("sources", []) if isinstance(s, dict)],
        "input": counts.get("input"),
        "valid": counts.get("valid"),
        "dropped": counts.get("dropped") or {},
        "splits": splits,
        "pii": manifest.config.get("pii", "redact"),
        "pii_allow": len(manifest.config.get("pii_allow") or []),
        "redacted": dict(sorted((counts.get("redacted") or {}).items())),
        "warnings": [w for w in extra.get("warnings", []) if isinstance(w, str)],
        "hash": manifest.dataset_hash,
    }


def _training(manifest: TrainManifest | None) -> dict[str, Any] | None:
    if manifest is None:
        return None
    train = manifest.config.get("train", manifest.config)
    settings = {k: train[k] for k in TRAIN_KEYS if k in train}
    if isinstance(train.get("lora"), dict) and settings.get("method") == "lora":
        lora = train["lora"]
        settings["lora"] = f"r {lora.get('r')}, alpha {lora.get('alpha')}, dropout {lora.get('dropout')}"
    counts = {
        k: manifest.counts[k] for k in ("steps", "train_loss", "eval_loss", "train_seconds") if k in manifest.counts
    }
    return {
        "backend": manifest.backend,
        "base": manifest.base_model.id,
        "revision": manifest.base_model.revision,
        "vendor": manifest.vendor.model_id if manifest.vendor else None,
        "settings": settings,
        "counts": counts,
        "started_at": manifest.started_at,
    }


ENGLISH_ONLY = (
    "Personal data is found by Presidio with an English spaCy model: names, addresses and other "
    "entities in other languages are missed more often, so read the redactions of non-English data.",
    "Abstention and over-refusal count an answer as declining when it matches the English refusal phrases of "
    "tunesmith/refusals.py: a refusal worded otherwise, or in another language, counts as an answer.",
)


def _limits(results: EvalResults, behaviour_n: dict[str, int]) -> list[str]:
    n = results.dataset.n_test
    limits = [
        *ENGLISH_ONLY,
        f"The figures come from {n} test examples"
        + (": their 95% CIs are wide, and a small difference may not hold on live traffic." if n < SMALL_TEST else "."),
        "ROUGE-L and the other overlap metrics compare answers with one reference answer each; a correct answer "
        "worded differently scores low.",
        "Latency and tokens are measured on the evaluation machine, in batches; production latency depends on the "
        "serving engine and its load.",
    ]
    for metric, count in behaviour_n.items():
        if 0 < count < SMALL_BEHAVIOUR:
            limits.append(f"{metric_name(metric).capitalize()} rests on {count} test questions only.")
    if not behaviour_n.get("abstention"):
        limits.append("Abstention was not measured: no test question is tagged `out_of_scope` or `refusal`.")
    return limits


def model_card(results: EvalResults, *, project: str | None = None) -> str:
    """The card of one evaluation, as Markdown; the manifests are read from the directories its lineage names."""
    lineage = results.lineage
    dataset_dir, train_dir = _dir(lineage.dataset_dir), _dir(lineage.train_dir)
    v = verdict(results)
    quality = [m for m in results.metrics if m not in BEHAVIOUR and m != "blocklist_violation"]
    quality = [results.headline_metric, *(m for m in quality if m != results.headline_metric)][:4]
    focus = results.arms.get(v.fine_tune or "") or next(iter(results.arms.values()), None)
    behaviour_n = {m: c[1] for m in BEHAVIOUR if focus and (c := focus.count(m)) is not None}
    context = {
        "project": project or results.title.split(":")[0],
        "r": results,
        "verdict": v,
        "system_prompt": _system_prompt(dataset_dir),
        "data": _data(read_manifest(dataset_dir, DatasetManifest) if dataset_dir else None),
        "training": _training(read_manifest(train_dir, TrainManifest) if train_dir else None),
        "quality": [metric_name(m) for m in quality],
        "behaviour": [metric_name(m) for m in BEHAVIOUR],
        "rows": _arm_rows(results, quality),
        "limits": _limits(results, behaviour_n),
        "lineage": lineage.items(),
        "dataset_dir": lineage.dataset_dir,
        "train_dir": lineage.train_dir,
    }
    return _env().get_template("model_card.md.j2").render(**context)


def write_model_card(results: EvalResults, out_dir: Path, *, project: str | None = None) -> Path:
    """`out_dir/model_card.md`, written atomically."""
    path = out_dir / CARD_NAME
    write_text_atomic(path, model_card(results, project=project))
    return path


# ---- the card that goes with an export (`tunesmith export`) ----------------------------------------------------


class ExportCard(NamedTuple):
    text: str
    evaluation: Path | None  # the evaluation whose card it is; None: the run was never evaluated, the card says so


def _candidates(run_dir: Path) -> list[Path]:
    """Where an evaluation of the run can be: the run directory's siblings (artifacts/eval beside artifacts/train,
    or a served snapshot's eval beside its train) and the promoted snapshots' evaluations (artifacts/served/*/eval)."""
    parent = run_dir.resolve().parent
    dirs = [d for d in parent.iterdir() if d.is_dir()]
    served = parent / "served"
    if served.is_dir():
        dirs += [s / "eval" for s in served.iterdir() if s.is_dir()]
    return sorted(d for d in dirs if (d / "results.json").is_file())


def latest_evaluation(run_dir: Path) -> tuple[Path, EvalResults] | None:
    """The newest evaluation whose lineage names this run (its train manifest's sha256, as the registry links them)."""
    manifest = run_dir / "manifest.json"
    if not manifest.is_file():
        return None
    sha = sha256_file(manifest)
    found: list[tuple[str, Path, EvalResults]] = []
    for d in _candidates(run_dir):
        eval_manifest = read_manifest(d, EvalManifest)
        if eval_manifest is None or eval_manifest.lineage.train_manifest_sha256 != sha:
            continue
        try:
            results = read_results(d / "results.json")
        except (DataError, OSError):
            continue
        found.append((results.created_at or "", d, results))
    if not found:
        return None
    _, path, results = max(found, key=lambda f: f[0])
    return path, results


def _dataset_dir(run_dir: Path, manifest: TrainManifest | None) -> Path | None:
    """The prepared dataset the run trained on: among its manifest's inputs, else beside the run, by dataset hash."""
    wanted = manifest.dataset.dataset_hash if manifest else None
    if wanted is None:
        return None
    inputs = [Path(i.path) for i in manifest.inputs] if manifest else []
    for d in [*inputs, *(p.parent for p in inputs), *sorted(run_dir.resolve().parent.iterdir())]:
        found = read_manifest(d, DatasetManifest) if d.is_dir() else None
        if found is not None and found.dataset_hash == wanted:
            return d
    return None


def export_card(run_dir: Path, *, kind: str) -> ExportCard:
    """The card that `tunesmith export` writes beside the model: the card of the run's latest evaluation, or, when
    no evaluation names the run, one that says so and gives the training settings and the data."""
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
    found = latest_evaluation(run_dir)
    if found is not None:
        path, results = found
        title, _, rest = model_card(results).partition("\n")
        note = (
            f"> Exported with `tunesmith export` ({kind}) on {now} UTC, from training run "
            f"`{sha256_file(run_dir / 'manifest.json')[:12]}`: the card of its latest evaluation, `{path}`."
        )
        return ExportCard(f"{title}\n\n{note}\n{rest}", path)
    manifest = read_manifest(run_dir, TrainManifest)
    dataset_dir = _dataset_dir(run_dir, manifest)
    project = (manifest.config.get("project") or {}).get("name") if manifest else None
    sha = sha256_file(run_dir / "manifest.json") if (run_dir / "manifest.json").is_file() else "unknown"
    text = (
        _env()
        .get_template("export_card.md.j2")
        .render(
            project=project or run_dir.resolve().name,
            kind=kind,
            written_at=now,
            run_id=sha[:12],
            run_sha=sha,
            data=_data(read_manifest(dataset_dir, DatasetManifest) if dataset_dir else None),
            training=_training(manifest),
            limits=list(ENGLISH_ONLY),
            dataset_dir=str(dataset_dir) if dataset_dir else None,
            train_dir=str(run_dir.resolve()),
        )
    )
    return ExportCard(text, None)
