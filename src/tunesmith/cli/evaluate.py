"""`tunesmith eval`: the eval section of tunesmith.yaml; flags override keys. Also `compare` and `export-lm-eval`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from typer.core import TyperGroup

from tunesmith.cli.pipeline import JsonOption, SetOption, show_summary, stage_console
from tunesmith.config import load_config

console = Console()


class _RunByDefault(TyperGroup):
    """`tunesmith eval CONFIG` stays the short form of `tunesmith eval run CONFIG`.

    A group cannot take a positional argument and subcommands at once (click would read `compare` as CONFIG),
    so anything that is not a subcommand or --help is routed to `run`.
    """

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:  # type: ignore[override]  # typer's Context narrows its vendored click's
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=_RunByDefault,
    no_args_is_help=True,
    help=(
        "Evaluate the arms side by side (`tunesmith eval CONFIG`), compare two evaluations, export to lm-eval.\n\n"
        "Examples:\n\n"
        '  tunesmith eval tunesmith.yaml --gate "fine_tuned.rougeL >= base.rougeL + 0.05"\n\n'
        "  tunesmith eval compare artifacts/eval-v1 artifacts/eval\n\n"
        "  tunesmith eval export-lm-eval tunesmith.yaml --out lm-eval-task"
    ),
)


@app.command("run")
def eval_command(
    config: Annotated[Path, typer.Argument(help="Path of tunesmith.yaml.")],
    gate: Annotated[
        list[str] | None,
        typer.Option("--gate", help='Fail (exit 1) unless it holds: "fine_tuned.rougeL >= base.rougeL + 0.05".'),
    ] = None,
    overrides: SetOption = None,
    as_json: JsonOption = False,
) -> None:
    """Evaluate every arm on the held-out test split; write results.json, report.html and summary.md.

    Examples:
      tunesmith eval tunesmith.yaml
      tunesmith eval tunesmith.yaml --gate "fine_tuned.rougeL >= base.rougeL + 0.05"
      tunesmith eval tunesmith.yaml --set eval.limit=20 --set 'eval.arms=[base,prompted,rag,fine_tuned]'
    """
    from tunesmith.pipeline import run_eval

    cfg = load_config(config, overrides)
    outputs = {"eval": run_eval(cfg, stage_console(as_json) if as_json else console, gates=gate)}
    show_summary(cfg, outputs, as_json=as_json)


@app.command("compare")
def compare_command(
    a: Annotated[Path, typer.Argument(help="The first evaluation directory (the baseline).")],
    b: Annotated[Path, typer.Argument(help="The second evaluation directory.")],
    arm: Annotated[
        list[str] | None, typer.Option("--arm", help="Compare only this arm (repeatable); all shared if unset.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the comparison as JSON.")] = False,
) -> None:
    """Metric deltas B - A per arm, with paired bootstrap 95% CIs over the examples both evaluated.

    Examples:
      tunesmith eval compare runs/lora-r8/eval runs/lora-r16/eval --arm fine_tuned
    """
    from tunesmith.evals.compare import compare, load_results

    result = compare(load_results(a), load_results(b), arms=arm)
    if as_json:
        print(json.dumps(result, indent=2))
        return
    table = Table(title=f"B - A on {result['n_shared_examples']} shared examples (A = {a}, B = {b})")
    for column in ("arm", "metric", "A", "B", "Δ (B - A) [95% CI]"):
        table.add_column(column, justify="left" if column in ("arm", "metric") else "right")
    for name, metrics in result["arms"].items():
        for metric, d in metrics.items():
            lo, hi = d["ci"]
            style = "green" if lo > 0 else "red" if hi < 0 else ""
            delta = (
                f"[{style}]{d['delta']:+.3f} [{lo:+.3f}, {hi:+.3f}][/]"
                if style
                else f"{d['delta']:+.3f} [{lo:+.3f}, {hi:+.3f}]"
            )
            table.add_row(name, metric, f"{d['a']:.3f}", f"{d['b']:.3f}", delta)
    console.print(table)
    console.print("Green or red: the interval excludes 0. Whether higher is better depends on the metric.")


@app.command("export-lm-eval")
def export_command(
    config: Annotated[Path, typer.Argument(help="Path of tunesmith.yaml (its prepared test split is exported).")],
    out: Annotated[Path, typer.Option("--out", help="Directory for the task YAML and its data.")],
    task: Annotated[str | None, typer.Option("--task", help="Task name; the project name if unset.")] = None,
    overrides: SetOption = None,
) -> None:
    """Write the test split as an lm-evaluation-harness task (YAML plus JSONL).

    Examples:
      tunesmith eval export-lm-eval tunesmith.yaml --out lm_eval_tasks
      lm_eval --model hf --model_args pretrained=MODEL --include_path lm_eval_tasks --tasks lumen_support_desk
    """
    from tunesmith.evals.export import export_lm_eval
    from tunesmith.pipeline import ensure_dataset

    cfg = load_config(config, overrides)
    path = export_lm_eval(ensure_dataset(cfg) / "test.jsonl", out, task=task or cfg.project.name)
    console.print(f"wrote {path} and its data; run: lm_eval --include_path {out} --tasks {path.stem} ...")
