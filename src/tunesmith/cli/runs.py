"""`tunesmith runs list|show|compare`: the registry's datasets, runs, evaluations and what is served."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from tunesmith.config import load_config
from tunesmith.registry import Registry

console = Console()
app = typer.Typer(no_args_is_help=True, rich_markup_mode="rich", help="Datasets, runs, evaluations and lineage.")
ConfigArg = Annotated[Path, typer.Argument(help="Path of tunesmith.yaml.")]
DEFAULT_CONFIG = Path("tunesmith.yaml")


@app.command("list")
def list_runs(
    config: ConfigArg = DEFAULT_CONFIG,
    as_json: Annotated[bool, typer.Option("--json", help="Print the registry as JSON.")] = False,
) -> None:
    """Every run with its dataset, evaluation and gates; * marks the one being served.

    Examples:
      tunesmith runs list
      tunesmith runs list path/to/tunesmith.yaml
    """
    summary = Registry(load_config(config)).summary()
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
        return
    table = Table(title="runs")
    for col in ("", "run", "method", "dataset", "evaluation", "gates", "finished"):
        table.add_column(col)
    for r in summary["runs"]:
        ev = r["evaluation"]
        metrics = ", ".join(f"{a} {v:.3f}" for a, v in (ev or {}).get("metrics", {}).items())
        gates = "-" if ev is None else ("passed" if ev["gates_passed"] else "FAILED")
        table.add_row(
            "*" if r["run_id"] == summary["served"] else "",
            r["run_id"],
            r["method"] or "-",
            (r["dataset_hash"] or "-")[:12],
            metrics or "-",
            gates,
            r["created_at"] or "-",
        )
    console.print(table)
    datasets = Table(title="datasets")
    for col in ("dataset", "parent", "counts"):
        datasets.add_column(col)
    for d in summary["datasets"]:
        counts = ", ".join(f"{k} {v}" for k, v in d["counts"].items() if k in ("train", "val", "test"))
        datasets.add_row((d["dataset_hash"] or "-")[:12], (d["parent"] or "-")[:12], counts)
    console.print(datasets)


@app.command("show")
def show(run: Annotated[str, typer.Argument(help="Run id or prefix.")], config: ConfigArg = DEFAULT_CONFIG) -> None:
    """One run's lineage: dataset, base model, evaluation and gates, as JSON.

    Examples:
      tunesmith runs show 3f2a9c1d
    """
    info = Registry(load_config(config)).run(run)
    typer.echo(json.dumps({**info.lineage(), "path": str(info.path), "counts": info.counts}, indent=2))


@app.command("compare")
def compare(
    first: Annotated[str, typer.Argument(help="Run id.")],
    second: Annotated[str, typer.Argument(help="Run id.")],
    config: ConfigArg = DEFAULT_CONFIG,
) -> None:
    """Two runs side by side: data, training figures and evaluation.

    Examples:
      tunesmith runs compare 3f2a9c1d 8be04d27
    """
    registry = Registry(load_config(config))
    a, b = registry.run(first), registry.run(second)
    table = Table(title="compare")
    table.add_column("")
    table.add_column(a.run_id)
    table.add_column(b.run_id)
    rows: list[tuple[str, object, object]] = [
        ("method", a.method, b.method),
        ("dataset", a.dataset_hash, b.dataset_hash),
    ]
    for key in ("train_examples", "epochs", "train_loss", "eval_loss"):
        rows.append((key, a.counts.get(key), b.counts.get(key)))
    for arm in sorted(
        {*(a.evaluation.metrics if a.evaluation else {}), *(b.evaluation.metrics if b.evaluation else {})}
    ):
        evaluation = a.evaluation or b.evaluation
        assert evaluation is not None  # an arm to list means one of the runs has an evaluation
        metric = evaluation.headline_metric
        rows.append(
            (
                f"{arm}.{metric}",
                (a.evaluation.metrics.get(arm) if a.evaluation else None),
                (b.evaluation.metrics.get(arm) if b.evaluation else None),
            )
        )
    rows.append(
        ("gates passed", a.evaluation and a.evaluation.gates_passed, b.evaluation and b.evaluation.gates_passed)
    )
    for name, x, y in rows:
        table.add_row(name, "-" if x is None else str(x), "-" if y is None else str(y))
    console.print(table)
