"""What the dashboard shows, read from the registry and the artifact directories on each request.

Nothing here writes: the files are the truth (as for the registry), so a page reloaded after `tunesmith run` shows
the new run. Every loader returns plain data for the templates; a missing or unreadable artifact is None or an
empty list, never an exception, because a half-built project is the normal state of a project.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from tunesmith.config import Config
from tunesmith.errors import DataError
from tunesmith.evals.results import EvalResults, read_results
from tunesmith.manifests import TrainManifest, read_manifest
from tunesmith.registry import DatasetInfo, Registry, RunInfo
from tunesmith.train.estimate import ESTIMATE_FILE

SPLITS = ("train", "val", "test")
PREVIEW_ROWS = 20


def _json(path: Path) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data


def _jsonl(path: Path) -> list[dict[str, Any]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    out = []
    for line in lines:
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


# ---- datasets ----------------------------------------------------------------------------------------------------


@dataclass
class DatasetView:
    info: DatasetInfo
    label: str  # "current" or "served <run id>"
    card: str  # README.md, shown as text

    @property
    def hash(self) -> str:
        return self.info.dataset_hash or ""

    @property
    def short(self) -> str:
        return self.hash[:12]


def datasets(reg: Registry) -> list[DatasetView]:
    cfg = reg.cfg
    served = {s.name: s for s in reg._snapshots()}
    out = []
    for info in reg.datasets():
        where = info.path.parent.name if info.path.parent.parent == reg.served_dir else None
        card = info.path / "README.md"
        out.append(
            DatasetView(
                info=info,
                label=f"served run {where}"
                if where in served
                else ("current" if info.path == cfg.stage_dir("dataset") else str(info.path)),
                card=card.read_text(encoding="utf-8") if card.is_file() else "",
            )
        )
    return out


@dataclass
class FindingGroup:
    kind: str
    severity: str
    findings: list[dict[str, Any]]

    @property
    def lines(self) -> int:
        return sum(len(f.get("lines", [])) for f in self.findings)


def findings(cfg: Config) -> tuple[dict[str, Any] | None, list[FindingGroup]]:
    """The last `data check` (artifacts/check/findings.json), its findings grouped by kind, errors first."""
    report = _json(cfg.stage_dir("check") / "findings.json")
    if report is None:
        return None, []
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for f in report.get("findings", []):
        groups[str(f.get("kind"))].append(f)
    out = [
        FindingGroup(kind, "error" if any(f.get("severity") == "error" for f in fs) else "warning", fs)
        for kind, fs in groups.items()
    ]
    out.sort(key=lambda g: (g.severity != "error", g.kind))
    return report, out


def prepared_by_source(dataset_dir: Path) -> dict[tuple[str, int], dict[str, Any]]:
    """(input file name, line) -> the prepared (redacted) record with its split: what a finding's preview shows.

    Previews come from the prepared dataset only, never from the raw input, so personal data appears only as the
    placeholders that `prepare` wrote. A line that prepare dropped (a duplicate, a conflict) has no preview.
    """
    out = {}
    for split in SPLITS:
        for row in _jsonl(dataset_dir / f"{split}.jsonl"):
            src = (row.get("meta") or {}).get("source") or {}
            if "file" in src and "line" in src:
                out[(Path(str(src["file"])).name, int(src["line"]))] = {**row, "split": split}
    return out


def examples(
    dataset_dir: Path, split: str, query: str = "", limit: int = PREVIEW_ROWS
) -> tuple[int, list[dict[str, Any]]]:
    """How many examples of `split` match `query` (a case-insensitive substring of any message), and the first few."""
    rows = _jsonl(dataset_dir / f"{split}.jsonl")
    q = query.lower().strip()
    if q:
        rows = [r for r in rows if any(q in str(m.get("content") or "").lower() for m in r.get("messages", []))]
    return len(rows), rows[:limit]


def dataset_diff(a: DatasetView, b: DatasetView) -> dict[str, Any] | None:
    from tunesmith.data.diff import diff_datasets

    try:
        return diff_datasets(a.info.path, b.info.path).to_json()
    except (DataError, OSError):
        return None


# ---- runs --------------------------------------------------------------------------------------------------------


@dataclass
class RunView:
    info: RunInfo
    manifest: TrainManifest
    metrics: list[dict[str, Any]]
    checkpoints: list[str]
    estimate: dict[str, Any] | None
    served: bool = False

    @property
    def id(self) -> str:
        return self.info.run_id

    @property
    def counts(self) -> dict[str, Any]:
        return self.manifest.counts

    @property
    def train_config(self) -> dict[str, Any]:
        return cast("dict[str, Any]", self.manifest.config.get("train", {}))

    def curve(self, key: str) -> list[tuple[float, float]]:
        return [
            (float(m["step"]), float(m[key]))
            for m in self.metrics
            if isinstance(m.get(key), (int, float)) and isinstance(m.get("step"), (int, float))
        ]

    @property
    def tokens_trained(self) -> float | None:
        """Tokens the run went through: tokens per epoch (the label report) times epochs."""
        tokens = self.manifest.labels.tokens if self.manifest.labels else None
        epochs = self.counts.get("epochs")
        return float(tokens) * float(epochs) if tokens is not None and epochs is not None else None

    def timing(self, check: dict[str, Any] | None = None) -> list[tuple[str, Any, Any, int]]:
        """(what, estimate, actual, digits): the estimate timed over the run's first steps, which it keeps in
        estimate.json, against what the run measured. Without estimate.json (a run of an older tunesmith, a vendor
        run), the tokens fall back on the last data check's count per epoch times the run's epochs."""
        est = self.estimate or {}
        tokens = est.get("train_tokens")
        if tokens is None and check and check.get("per_epoch") is not None and self.counts.get("epochs"):
            tokens = float(check["per_epoch"]) * float(self.counts["epochs"])
        return [
            ("seconds", est.get("seconds"), self.counts.get("train_seconds"), 1),
            ("tokens/s", est.get("tokens_per_second"), self.counts.get("tokens_per_second"), 1),
            ("tokens trained", tokens, self.tokens_trained, 0),
            ("optimizer steps", est.get("steps"), self.counts.get("steps"), 0),
        ]

    @property
    def best_step(self) -> int | None:
        best = self.manifest.best_checkpoint
        if not best:
            return None
        try:
            return int(str(best).rstrip("/").split("-")[-1])
        except ValueError:
            return None


def _run_view(info: RunInfo, served_id: str | None) -> RunView:
    ckpt = info.path / "checkpoints"
    return RunView(
        info=info,
        manifest=read_manifest(info.path, TrainManifest) or TrainManifest(stage="train"),
        metrics=_jsonl(info.path / "metrics.jsonl"),
        checkpoints=sorted(
            (p.name for p in ckpt.iterdir() if p.is_dir()),
            key=lambda n: int(n.split("-")[-1]) if n.split("-")[-1].isdigit() else 0,
        )
        if ckpt.is_dir()
        else [],
        estimate=_json(info.path / ESTIMATE_FILE),  # timed over the run's first steps
        served=info.run_id == served_id,
    )


def check_estimate(cfg: Config) -> dict[str, Any] | None:
    """The last data check's token estimate (per epoch, and for its default epochs)."""
    stats = (_json(cfg.stage_dir("check") / "findings.json") or {}).get("stats") or {}
    if "estimated_training_tokens_per_epoch" not in stats:
        return None
    return {
        "per_epoch": stats["estimated_training_tokens_per_epoch"],
        "total": stats.get("estimated_training_tokens"),
        "epochs": stats.get("default_epochs"),
    }


def runs(reg: Registry) -> list[RunView]:
    served = reg.served()
    sid = served.run_id if served else None
    return [_run_view(r, sid) for r in reg.runs()]


ABSENT = "(not in this run's config)"


def config_diff(a: dict[str, Any], b: dict[str, Any], prefix: str = "") -> list[tuple[str, Any, Any]]:
    """Flattened keys whose values differ between two configs; a key one side lacks (a run made by an older
    tunesmith) is shown as ABSENT rather than as a None it never had."""
    out = []
    for k in sorted(set(a) | set(b)):
        va, vb = a.get(k, ABSENT), b.get(k, ABSENT)
        if isinstance(va, dict) or isinstance(vb, dict):
            if not isinstance(va, dict) or not isinstance(vb, dict):
                out.append((f"{prefix}{k}", va, vb))
            else:
                out += config_diff(va, vb, f"{prefix}{k}.")
        elif va != vb:
            out.append((f"{prefix}{k}", va, vb))
    return out


# ---- evaluations -------------------------------------------------------------------------------------------------


@dataclass
class EvalView:
    path: Path
    results: EvalResults
    run_id: str | None
    served: bool = False
    lost: set[str] = field(default_factory=set)  # example ids where the fine-tune lost

    @property
    def id(self) -> str:
        return self.run_id or self.path.name

    @property
    def tags(self) -> list[str]:
        return sorted({t for e in self.results.examples for t in e.tags})

    @property
    def fine_tuned_arm(self) -> str | None:
        arms = self.results.arms
        return next((a for a in ("fine_tuned", "fine_tuned_rag") if a in arms), None)

    @property
    def model_card(self) -> Path | None:
        """The model_card.md `tunesmith eval` wrote beside results.json; None for an evaluation made before cards."""
        path = self.path / "model_card.md"
        return path if path.is_file() else None


def fine_tune_lost(results: EvalResults) -> set[str]:
    """Examples where the fine-tuned arm scored below some other arm on the headline metric."""
    ft = next((a for a in ("fine_tuned", "fine_tuned_rag") if a in results.arms), None)
    if ft is None:
        return set()
    m = results.headline_metric
    lost = set()
    for e in results.examples:
        mine = e.arms.get(ft)
        if mine is None or m not in mine.metrics:
            continue
        others = [a.metrics[m] for name, a in e.arms.items() if name != ft and m in a.metrics]
        if others and mine.metrics[m] < max(others):
            lost.add(e.id)
    return lost


def evaluations(reg: Registry) -> list[EvalView]:
    served = reg.served()
    sid = served.run_id if served else None
    seen: set[Path] = set()
    out = []
    for run in reg.runs():
        ev = run.evaluation
        if ev is None or ev.path.resolve() in seen:
            continue
        seen.add(ev.path.resolve())
        try:
            res = read_results(ev.path)
        except (DataError, OSError):
            continue
        out.append(EvalView(ev.path, res, run.run_id, run.run_id == sid, fine_tune_lost(res)))
    current = reg.cfg.stage_dir("eval")
    shown = ({e.results.lineage.train_manifest_sha256 for e in out} | {e.results.created_at for e in out}) - {None}
    if current.is_dir() and current.resolve() not in seen:  # an evaluation whose run has been retrained since
        try:
            res = read_results(current)
        except (DataError, OSError):
            return out
        if res.lineage.train_manifest_sha256 not in shown and res.created_at not in shown:
            out.append(EvalView(current, res, None, False, fine_tune_lost(res)))
    return out


# ---- overview ----------------------------------------------------------------------------------------------------


@dataclass
class Lineage:
    dataset: str | None
    run: str
    evaluation: str | None
    headline: str | None
    gates_passed: bool | None
    served: bool


def lineage(reg: Registry) -> list[Lineage]:
    served = reg.served()
    sid = served.run_id if served else None
    out = []
    for r in reg.runs():
        ev = r.evaluation
        out.append(
            Lineage(
                dataset=(r.dataset_hash or "")[:12] or None,
                run=r.run_id,
                evaluation=None if ev is None else (ev.created_at or ev.path.name),
                headline=None
                if ev is None or not ev.metrics
                else ", ".join(f"{a} {v:.3f}" for a, v in ev.metrics.items()),
                gates_passed=None if ev is None else ev.gates_passed,
                served=r.run_id == sid,
            )
        )
    return out


def served_pointer(reg: Registry) -> dict[str, Any] | None:
    return _json(reg.served_dir / "current.json")


def drift(cfg: Config) -> dict[str, Any] | None:
    """The last `tunesmith monitor` result (artifacts/monitor/drift.json)."""
    return _json(cfg.stage_dir("monitor") / "drift.json")
