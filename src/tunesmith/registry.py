"""The registry: datasets, training runs, evaluations, what is served, and how they link (DESIGN.md, "Artifacts").

Nothing is stored twice: the registry reads the manifests that each stage already writes. A run's id is the first
12 hex digits of the sha256 of its manifest, so it names exactly one training, and an evaluation belongs to a run
when its lineage records that manifest's hash.

`tunesmith run` rewrites `artifacts/train` on every run, so promotion copies the run (adapter or model), its
dataset and its evaluation into `artifacts/served/<run id>/`: the served model, and the training data that monitoring
compares traffic with, survive the next retraining. `artifacts/served/current.json` points at the promoted run.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tunesmith.artifacts import atomic_dir, sha256_file, write_json_atomic
from tunesmith.config import Config
from tunesmith.errors import DataError, GateFailed, TunesmithError
from tunesmith.evals.results import GateResult, read_results
from tunesmith.manifests import (
    DatasetManifest,
    EvalManifest,
    ServedPointer,
    TrainManifest,
    read_manifest,
    read_typed,
)

SERVED = "served"
CURRENT = "current.json"


@dataclass
class DatasetInfo:
    path: Path
    dataset_hash: str | None
    counts: dict[str, Any]
    parent: str | None
    created_at: str | None


@dataclass
class EvalInfo:
    path: Path
    created_at: str | None
    headline_metric: str | None
    metrics: dict[str, float]  # the headline metric per arm
    gates: list[GateResult]

    @property
    def gates_passed(self) -> bool:
        return all(g.passed for g in self.gates)


@dataclass
class RunInfo:
    run_id: str
    path: Path  # the training run's directory (adapter/ or model/ and manifest.json)
    method: str | None
    base_model: str | None
    dataset_hash: str | None
    created_at: str | None
    counts: dict[str, Any] = field(default_factory=dict)
    evaluation: EvalInfo | None = None
    dataset_dir: Path | None = None
    backend: str = "local"  # or the vendor that trained it (train.backend)
    vendor_model: str | None = None  # the vendor's fine-tuned model id, which the eval's fine_tuned arm calls
    vendor_job: str | None = None

    @property
    def adapter_dir(self) -> Path | None:
        return self.path / "adapter" if (self.path / "adapter").is_dir() else None

    @property
    def model_dir(self) -> Path | None:
        return self.path / "model" if (self.path / "model").is_dir() else None

    def lineage(self) -> dict[str, Any]:
        """What /v1/models and `runs show` print: the run, its data and its evaluation, all traceable."""
        ev = self.evaluation
        return {
            "run_id": self.run_id,
            "method": self.method,
            "base_model": self.base_model,
            "dataset_hash": self.dataset_hash,
            "created_at": self.created_at,
            "backend": self.backend,
            **({"vendor_model": self.vendor_model, "vendor_job": self.vendor_job} if self.vendor_model else {}),
            "evaluation": None
            if ev is None
            else {
                "headline_metric": ev.headline_metric,
                "metrics": ev.metrics,
                "gates_passed": ev.gates_passed,
                "gates": [g.gate for g in ev.gates],
            },
        }


def read_dataset(path: Path) -> DatasetInfo | None:
    manifest = read_manifest(path, DatasetManifest)
    if manifest is None:
        return None
    return DatasetInfo(
        path=path,
        dataset_hash=manifest.dataset_hash,
        counts=manifest.counts,
        parent=manifest.parent.dataset_hash if manifest.parent else None,
        created_at=manifest.finished_at,
    )


def read_evaluation(path: Path) -> EvalInfo | None:
    """None when there is no results.json, or one that is not a valid evaluation (so it cannot be promoted)."""
    try:
        results = read_results(path / "results.json")
    except (DataError, OSError):
        return None
    headline = results.headline_metric
    metrics = {arm: stats.metrics[headline] for arm, stats in results.arms.items() if headline in stats.metrics}
    return EvalInfo(path, results.created_at, headline, metrics, results.gates)


def _eval_train_sha(path: Path) -> str | None:
    manifest = read_manifest(path, EvalManifest)
    return manifest.lineage.train_manifest_sha256 if manifest else None


def read_run(path: Path, *, eval_dirs: Sequence[Path] = (), dataset_dirs: Sequence[Path] = ()) -> RunInfo | None:
    """A training run, with the first evaluation and dataset of the candidates that link to it."""
    manifest = read_manifest(path, TrainManifest)
    if manifest is None or manifest.stage != "train":
        return None
    sha = sha256_file(path / "manifest.json")
    dataset_hash = manifest.dataset.dataset_hash
    evaluation = next(
        (read_evaluation(d) for d in eval_dirs if d.is_dir() and _eval_train_sha(d) == sha),
        None,
    )
    dataset_dir = next(
        (d for d in dataset_dirs if (info := read_dataset(d)) is not None and info.dataset_hash == dataset_hash),
        None,
    )
    vendor = manifest.vendor
    return RunInfo(
        run_id=sha[:12],
        path=path,
        method=manifest.method,
        base_model=manifest.base_model.resolved,
        dataset_hash=dataset_hash,
        created_at=manifest.finished_at,
        counts=manifest.counts,
        evaluation=evaluation,
        dataset_dir=dataset_dir,
        backend=manifest.backend,
        vendor_model=vendor.model_id if vendor else None,
        vendor_job=vendor.job_id if vendor else None,
    )


class Registry:
    """Everything a project has produced, read from `artifacts/` on each call (the files are the truth)."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.served_dir = cfg.artifacts_dir / SERVED

    def _snapshots(self) -> list[Path]:
        if not self.served_dir.is_dir():
            return []
        return sorted(p for p in self.served_dir.iterdir() if p.is_dir() and not p.name.startswith("."))

    def datasets(self) -> list[DatasetInfo]:
        found = [read_dataset(self.cfg.stage_dir("dataset"))] + [read_dataset(s / "dataset") for s in self._snapshots()]
        unique: dict[str | None, DatasetInfo] = {}
        for d in found:
            if d is not None:
                unique.setdefault(d.dataset_hash, d)
        return list(unique.values())

    def runs(self) -> list[RunInfo]:
        candidates = [(self.cfg.stage_dir("train"), [self.cfg.stage_dir("eval")], [self.cfg.stage_dir("dataset")])]
        candidates += [(s / "train", [s / "eval"], [s / "dataset"]) for s in self._snapshots()]
        runs: dict[str, RunInfo] = {}
        for train_dir, evals, datasets in candidates:
            run = read_run(train_dir, eval_dirs=evals, dataset_dirs=datasets)
            if run is not None and run.run_id not in runs:
                runs[run.run_id] = run
        return list(runs.values())

    def run(self, ref: str) -> RunInfo:
        """A run by id (or a unique prefix of at least 4 characters). Names are never used as paths."""
        matches = [r for r in self.runs() if len(ref) >= 4 and r.run_id.startswith(ref)]
        if len(matches) == 1:
            return matches[0]
        known = ", ".join(r.run_id for r in self.runs()) or "none yet"
        what = "is ambiguous" if matches else "is not a known run"
        raise TunesmithError(f"'{ref}' {what}", hint=f"runs: {known} (see `tunesmith runs list`)")

    def served(self) -> RunInfo | None:
        """The promoted run, read from its snapshot; None when nothing was promoted."""
        pointer = read_typed(self.served_dir / CURRENT, ServedPointer)
        if pointer is None:
            return None
        snap = self.served_dir / pointer.run_id
        return read_run(snap / "train", eval_dirs=[snap / "eval"], dataset_dirs=[snap / "dataset"])

    def promote(self, ref: str) -> RunInfo:
        """Serve run `ref` from now on, if its evaluation exists and every gate passed (else GateFailed, exit 1)."""
        run = self.run(ref)
        if run.evaluation is None:
            raise GateFailed(
                f"run {run.run_id} has no evaluation, so nothing shows it is better than what is served",
                hint="evaluate it first: tunesmith run tunesmith.yaml --from eval",
            )
        failed = [g.gate for g in run.evaluation.gates if not g.passed]
        if failed:
            raise GateFailed(
                f"promotion of run {run.run_id} refused: evaluation gate(s) failed: {'; '.join(failed)}",
                hint=f"see {run.evaluation.path / 'report.html'}; retrain or fix the data, then evaluate again",
            )
        if run.dataset_dir is None:
            raise DataError(f"the dataset that run {run.run_id} was trained on ({run.dataset_hash}) is gone")
        snap = self.served_dir / run.run_id
        if run.path.resolve() != (snap / "train").resolve():
            with atomic_dir(snap) as tmp:
                shutil.copytree(run.path, tmp / "train")
                shutil.copytree(run.evaluation.path, tmp / "eval")
                shutil.copytree(run.dataset_dir, tmp / "dataset")
                # Marks the snapshot as tunesmith's, so a re-promotion may replace it (artifacts.check_output).
                write_json_atomic(tmp / "manifest.json", {"stage": "served", "run_id": run.run_id})
        write_json_atomic(
            self.served_dir / CURRENT,
            ServedPointer(
                run_id=run.run_id, promoted_at=datetime.now(UTC).isoformat(), lineage=run.lineage()
            ).model_dump(mode="json"),
        )
        served = self.served()
        assert served is not None
        return served

    def summary(self) -> dict[str, Any]:
        """The whole registry as JSON: `tunesmith runs list --json`."""
        served = self.served()
        return {
            "served": served.run_id if served else None,
            "datasets": [{**asdict(d), "path": str(d.path)} for d in self.datasets()],
            "runs": [{**r.lineage(), "path": str(r.path)} for r in self.runs()],
        }
