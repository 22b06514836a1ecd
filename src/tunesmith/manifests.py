"""The typed contract of `manifest.json`, the file every artifact directory carries (DESIGN.md, "Artifacts").

Each stage writes its manifest through `artifacts.write_manifest`, which validates it against the stage's model
here before it reaches the disk; the registry and the dashboard read it back through the same models. A key that
a writer renames then fails in the writer's tests, instead of a page that silently shows nothing.

The models allow extra keys: a stage may record more than the readers need, and only what is read is typed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class ManifestInput(_Open):
    path: str
    sha256: str | None = None
    files: dict[str, str] | None = None  # a directory input, file by file


class Manifest(_Open):
    """What every stage records: the command and config, versions, inputs and outputs by sha256, counts, times."""

    stage: str
    command: list[str] = []
    config: dict[str, Any] = {}
    versions: dict[str, str] = {}
    inputs: list[ManifestInput] = []
    outputs: dict[str, str] = {}
    counts: dict[str, Any] = {}
    started_at: str | None = None
    finished_at: str | None = None


class ParentLink(_Open):
    path: str | None = None
    dataset_hash: str | None = None


class DatasetManifest(Manifest):
    dataset_hash: str | None = None
    parent: ParentLink | None = None  # the dataset version this one was prepared from (`prepare --parent`)


class DatasetLink(_Open):
    dataset_hash: str | None = None


class BaseModelLink(_Open):
    id: str | None = None
    resolved: str | None = None
    revision: str | None = None


class VendorLink(_Open):
    model_id: str | None = None
    job_id: str | None = None


class LabelCounts(_Open):
    tokens: float | None = None  # tokens that carry loss, per epoch


class TrainManifest(Manifest):
    method: str | None = None
    labels: LabelCounts | None = None
    best_checkpoint: str | None = None
    backend: str = "local"
    base_model: BaseModelLink = BaseModelLink()
    dataset: DatasetLink = DatasetLink()
    vendor: VendorLink | None = None


class EvalLineage(_Open):
    train_manifest_sha256: str | None = None


class EvalManifest(Manifest):
    lineage: EvalLineage = EvalLineage()


class ServedPointer(_Open):
    """`artifacts/served/current.json`: which promoted run is served (DESIGN.md, "Serving layout")."""

    run_id: str
    promoted_at: str | None = None
    lineage: dict[str, Any] = {}


BY_STAGE: dict[str, type[Manifest]] = {"data": DatasetManifest, "train": TrainManifest, "eval": EvalManifest}

M = TypeVar("M", bound=Manifest)


def manifest_type(stage: str) -> type[Manifest]:
    return BY_STAGE.get(stage, Manifest)


T = TypeVar("T", bound=BaseModel)


def read_typed(path: Path, kind: type[T]) -> T | None:
    """`path` as `kind`; None when it is missing, unreadable or of another shape (a directory that is not such
    an artifact is simply not listed)."""
    try:
        return kind.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, ValidationError):
        return None


def read_manifest(directory: Path, kind: type[M]) -> M | None:
    return read_typed(directory / "manifest.json", kind)
