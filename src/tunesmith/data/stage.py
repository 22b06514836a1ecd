"""The data stage as the pipeline runs it: check and prepare from the config, and `ensure_dataset`, the one place
where a later stage (train, eval, export) resolves a missing prepared dataset.

It lives in the data package, not in the orchestrator, so that the train and eval stages can call it without
importing `tunesmith.pipeline` (stages depend only downward).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console

from tunesmith.artifacts import atomic_dir, write_json_atomic, write_manifest
from tunesmith.config import Config
from tunesmith.errors import ConfigError
from tunesmith.progress import status


def _data_paths(cfg: Config) -> list[Path]:
    if not cfg.data.paths:
        raise ConfigError("data.paths is empty", hint="list your training files under data.paths in tunesmith.yaml")
    return [cfg.path(p) for p in cfg.data.paths]


def _tokenizer(cfg: Config) -> Any:
    """The base model's tokenizer for token counts; None (approximate counts) when a vendor trains: model.base
    is then the vendor's model, which has no local tokenizer."""
    if cfg.train.backend != "local":
        return None
    from tunesmith.models.loading import ensure_base_model, load_tokenizer

    return load_tokenizer(ensure_base_model(cfg), revision=cfg.model.revision)


def run_check(cfg: Config, console: Console) -> Any:
    from tunesmith.data.check import check_files

    tokenizer = _tokenizer(cfg)
    started = datetime.now(UTC)
    paths = _data_paths(cfg)
    with status(console, "checking the data (format, duplicates, conflicts, PII, statistics)..."):
        report = check_files(
            paths,
            cfg.data_section(),
            max_seq_len=cfg.train.max_seq_len,
            tokenizer=tokenizer,
            blocklist=cfg.eval.blocklist,
        )
    out = cfg.stage_dir("check")
    with atomic_dir(out) as tmp:
        write_json_atomic(tmp / "findings.json", report.to_json())
        write_manifest(
            tmp,
            stage="check",
            config={
                **cfg.data.model_dump(mode="json"),
                "max_seq_len": cfg.train.max_seq_len,
                "blocklist": cfg.eval.blocklist,
            },
            inputs=[*paths, *(cfg.path(p) for p in [*cfg.data.test_paths, *cfg.data.val_paths])],
            counts={"examples": report.examples, "findings": len(report.findings)},
            started_at=started,
        )
    kinds: dict[str, int] = {}
    for f in report.findings:
        kinds[f.kind] = kinds.get(f.kind, 0) + 1
    summary = ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())) or "none"
    console.print(f"[bold]check[/]: {report.examples} examples ({report.format}); findings: {summary}")
    return report


def run_prepare(cfg: Config, console: Console) -> Any:
    from tunesmith.data.prepare import prepare_dataset

    tokenizer = _tokenizer(cfg)
    with status(console, "preparing the dataset (redact, dedup, split)..."):
        result = prepare_dataset(
            _data_paths(cfg),
            cfg.stage_dir("dataset"),
            cfg.data_section(),
            max_seq_len=cfg.train.max_seq_len,
            seed=cfg.project.seed,
            tokenizer=tokenizer,
            pii_key_file=cfg.artifacts_dir.parent / ".tunesmith" / "pii.key",
            blocklist=cfg.eval.blocklist,
        )
    c = result.counts
    console.print(
        f"[bold]prepare[/]: train {c.get('train')}, val {c.get('val')}, test {c.get('test')} "
        f"(dataset {result.dataset_hash[:12]})"
    )
    return result


def ensure_dataset(cfg: Config) -> Path:
    """The prepared dataset (artifacts/dataset) that train, eval and export read, prepared first when none exists.

    The one place where a stage resolves a missing earlier stage, for every entry point (the CLI commands, the
    stage functions, `python -m tunesmith.train`, `tunesmith run --only`): when no version of the dataset has been
    prepared, it is prepared from data.paths as `tunesmith run CONFIG --only prepare` would, and stderr says so.
    Preparing takes seconds and gives the same dataset from the same inputs. A training run is never started
    implicitly (it takes minutes to hours, and a vendor job costs money): a stage that needs one stops before any
    work and names the command (`require_training_run`).
    """
    dataset_dir = cfg.stage_dir("dataset")
    if not (dataset_dir / "train.jsonl").exists():
        err = Console(stderr=True, highlight=False)
        err.print(
            f"[yellow]no prepared dataset in {dataset_dir} yet: preparing it from data.paths first "
            "(as `tunesmith run CONFIG --only prepare` does)[/]"
        )
        run_prepare(cfg, err)
    return dataset_dir
