"""Which files docs.paths names, and the settings an index was built with.

A folder is read recursively for the formats tunesmith reads (hidden files and folders are skipped); its other files
are counted in one finding. Like data.paths, docs.paths stay inside the project folder unless
project.allow_outside_paths says otherwise: a shared tunesmith.yaml must not index /etc.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from tunesmith.config import Config
from tunesmith.docs.parsed import finding
from tunesmith.docs.readers import FORMATS
from tunesmith.errors import ConfigError
from tunesmith.records import Finding

# Bump when a reader or the chunker changes what it makes of the same file: every file is then read again.
READER_VERSION = 1
EMBEDDING_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
PARSERS = ("pypdf", "python-docx", "beautifulsoup4", "lxml", "markdown-it-py")


@dataclass(frozen=True)
class SourceFile:
    path: Path
    source: str  # relative to the project folder (posix), or the file's name when it lies outside
    size: int

    @property
    def format(self) -> str:
        return FORMATS[self.path.suffix.lower()]


def _source_name(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root).as_posix()
    except ValueError:
        return path.name


def _inside(path: Path, root: Path) -> bool:
    resolved = path.resolve()
    return resolved == root or root in resolved.parents


def _folder_files(folder: Path, root: Path, allow_outside: bool) -> tuple[list[Path], list[Path]]:
    """(readable files, files of other types) under `folder`, hidden ones and links out of the project skipped."""
    ours: list[Path] = []
    others: list[Path] = []
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder).parts
        if any(part.startswith(".") for part in rel) or not p.is_file():
            continue
        if not allow_outside and not _inside(p, root):
            continue
        (ours if p.suffix.lower() in FORMATS else others).append(p)
    return ours, others


def _others_finding(folder: str, others: list[Path]) -> Finding:
    suffixes = sorted({p.suffix.lower() or "(no suffix)" for p in others})
    return finding(
        "unsupported",
        "warning",
        folder,
        f"{len(others)} file(s) of other types not read ({', '.join(suffixes[:10])})",
        "convert them to PDF, DOCX, HTML, Markdown or text to index them (a .doc: save it as .docx)",
        files=[p.name for p in others[:20]],
    )


def discover(cfg: Config) -> tuple[list[SourceFile], list[Finding]]:
    """The files to index, in docs.paths order (a file named twice counts once), and the findings about the paths
    themselves (missing, of an unsupported type)."""
    if not cfg.docs.paths:
        raise ConfigError(
            "docs.paths is empty", hint="list your documents (files or folders) under docs.paths in tunesmith.yaml"
        )
    root, allow = cfg.root.resolve(), cfg.project.allow_outside_paths
    files: dict[Path, SourceFile] = {}
    findings: list[Finding] = []
    for i, p in enumerate(cfg.docs.paths):
        full = cfg.path(p)
        if not allow and not _inside(full, root):
            raise ConfigError(
                f"docs.paths[{i}] {p[:200]} is outside the project folder {root}",
                hint="move the documents into the project, or set project.allow_outside_paths: true",
            )
        if full.is_dir():
            ours, others = _folder_files(full, root, allow)
            if others:
                findings.append(_others_finding(_source_name(full, root), others))
        elif full.is_file():
            ours = [full]
            if full.suffix.lower() not in FORMATS:
                findings.append(_others_finding(_source_name(full, root), ours))
                ours = []
        else:
            findings.append(
                finding(
                    "not_found",
                    "error",
                    p,
                    "no such file or folder",
                    "check docs.paths in tunesmith.yaml (paths are relative to its folder)",
                )
            )
            continue
        for f in ours:
            files.setdefault(f.resolve(), SourceFile(f, _source_name(f, root), f.stat().st_size))
    return list(files.values()), findings


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def fingerprint(cfg: Config) -> str:
    """A hash of everything besides a file's bytes that decides its passages and vectors: the docs settings, the PII
    policy and the prepared dataset's recorded decision, the parsers' versions, the embedding model. An index built
    with another fingerprint is rebuilt whole."""
    from tunesmith.data.redact import recorded_allow

    settings: dict[str, Any] = {
        "reader": READER_VERSION,
        "docs": cfg.docs.model_dump(mode="json", exclude={"paths"}),
        "pii": cfg.data.model_dump(
            mode="json",
            include={"pii", "pii_entities", "pii_allow", "keep_recurring_names", "keep_recurring_contacts"},
        ),
        "dataset_pii": recorded_allow(cfg.stage_dir("dataset")),  # the prepared dataset's decision, docs/privacy.py
        "embedding": EMBEDDING_MODEL,
        "parsers": {name: _version(name) for name in PARSERS},
    }
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()
