"""`tunesmith eval`: the eval section of tunesmith.yaml; flags override keys."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from tunesmith.cli.pipeline import SetOption, _fail_on_gates, render_summary
from tunesmith.config import load_config

console = Console()


def eval_command(
    config: Annotated[Path, typer.Argument(help="Path of tunesmith.yaml.")],
    gate: Annotated[
        list[str] | None,
        typer.Option(
            "--gate", help='Fail (exit 1) unless it holds: "fine_tuned.rougeL >= base.rougeL + 0.05".'
        ),
    ] = None,
    overrides: SetOption = None,
) -> None:
    """Evaluate every arm on the held-out test split; write results.json, report.html and summary.md.

    Examples:
      tunesmith eval tunesmith.yaml
      tunesmith eval tunesmith.yaml --gate "fine_tuned.rougeL >= base.rougeL + 0.05"
      tunesmith eval tunesmith.yaml --set eval.limit=20
    """
    from tunesmith.pipeline import run_eval

    cfg = load_config(config, overrides)
    outputs = {"eval": run_eval(cfg, console, gates=gate)}
    render_summary(cfg, outputs)
    _fail_on_gates(outputs)
