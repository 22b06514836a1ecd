"""The end-of-run summary of `tunesmith run`, `quickstart` and `eval`: the verdict, two tables, the artifacts; or JSON.

The tables must read whole in an 80-column log, with 6 arms or 9: the arms are rows (their number varies with the
config, the columns do not), and the figures are split in two tables of at most six columns, quality (the
headline metric first) and behaviour and cost (abstention and over-refusal with their counts, tokens, latency).
No cell is cut: a header too long for its column wraps at a space.
"""

from __future__ import annotations

from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from tunesmith.artifacts import dumps
from tunesmith.config import Config
from tunesmith.evals.report_format import arm_means, lower_is_better, metric_name
from tunesmith.evals.report_safety import safety_summary_lines
from tunesmith.evals.results import ArmResult, EvalResults
from tunesmith.evals.stats import FOCUS_ARMS, winner
from tunesmith.evals.verdict import verdict

QUALITY = ("rougeL", "token_f1", "chrf", "semantic_sim")  # after the headline metric, those present
BEHAVIOUR = ("abstention", "over_refusal")  # shown with their counts, k/n


def _table(title: str) -> Table:
    return Table(title=title, box=box.SIMPLE_HEAD, title_justify="left", pad_edge=False)


def _rate(arm: ArmResult, metric: str) -> str:
    """'0.79 (11/14)': the rate and the count it comes from."""
    counts = arm.count(metric)
    if counts is None:
        return "-"
    return f"{arm.metrics[metric]:.2f} ({counts[0]}/{counts[1]})"


def _quality(results: EvalResults, title: str) -> Table:
    headline = results.headline_metric
    shown = [headline, *(m for m in QUALITY if m in results.metrics and m != headline)]
    best = winner(arm_means(results.arms), headline, lower_is_better(headline))
    table = _table(title)
    table.caption, table.caption_justify = f"★ best on {metric_name(headline)}, the headline metric", "left"
    table.add_column("arm", style="bold")
    for m in shown:
        table.add_column(metric_name(m), justify="right")
    for name, arm in results.arms.items():
        cells = [f"{arm.metrics[m]:.3f}" if m in arm.metrics else "-" for m in shown]
        table.add_row(name + (" ★" if name == best else ""), *cells)
    return table


def _behaviour_and_cost(results: EvalResults) -> Table:
    shown = [m for m in BEHAVIOUR if m in results.metrics]
    table = _table("behaviour (k/n declined) and cost")
    table.add_column("arm", style="bold")
    for m in shown:
        table.add_column(metric_name(m), justify="right")
    for header in ("tokens\nper req.", "p50 ms\nbatched", "p50 ms\nalone"):
        table.add_column(header, justify="right")
    for name, arm in results.arms.items():
        tokens = f"{arm.tokens.per_request:,.0f}" if arm.tokens else "-"
        batched = f"{arm.latency_ms.p50:,.0f}" if arm.latency_ms else "-"
        alone = f"{arm.single_request.p50_ms:,.0f}" if arm.single_request else "-"
        table.add_row(name, *(_rate(arm, m) for m in shown), tokens, batched, alone)
    return table


def _comparisons(results: EvalResults, console: Console) -> None:
    """Each fine-tune against each alternative on the headline metric, with its CI."""
    headline = results.headline_metric
    for focus in FOCUS_ARMS:
        stats = results.arms.get(focus)
        for other, deltas in ((stats.delta_vs or {}) if stats else {}).items():
            d = deltas.get(headline)
            if d and other not in FOCUS_ARMS:
                lo, hi = d.ci
                better = hi < 0 if lower_is_better(headline) else lo > 0
                worse = lo > 0 if lower_is_better(headline) else hi < 0
                word = "better" if better else "worse" if worse else "no clear difference"
                console.print(
                    f"{focus} vs {other}: {metric_name(headline)} {d.value:+.3f} "
                    f"(95% CI {lo:+.3f} to {hi:+.3f}): {word}",
                    highlight=False,
                )


def _artifacts(cfg: Config, outputs: dict[str, Any]) -> dict[str, str]:
    paths = {stage: str(cfg.stage_dir(stage)) for stage in ("check", "dataset", "train", "eval")}
    paths = {stage: path for stage, path in paths.items() if cfg.stage_dir(stage).exists()}
    evaluation = outputs.get("eval")
    if evaluation is not None:
        paths["report"] = str(evaluation.out_dir / "report.html")
        paths["summary"] = str(evaluation.out_dir / "summary.md")
    return paths


def render_summary(cfg: Config, outputs: dict[str, Any], console: Console | None = None) -> None:
    """The verdict, the quality table, the behaviour and cost table, the comparisons, the gates, the artifacts."""
    console = console or Console()
    evaluation = outputs.get("eval")
    if evaluation is not None:
        results = evaluation.results
        v = verdict(results)
        console.print()
        console.print(v.text, markup=False, highlight=False)
        for advice in v.advice:
            console.print(f"next: {advice}", markup=False, highlight=False)
        title = f"{cfg.project.name}: held-out test split (n={results.dataset.n_test})"
        console.print(_quality(results, title))
        console.print(_behaviour_and_cost(results))
        _comparisons(results, console)
        for line in safety_summary_lines(results):  # eval.safety: red-team declines, answers with personal data
            console.print(line.removeprefix("- "), markup=False, highlight=False)
        for gate in evaluation.gates:
            console.print(gate.describe(), style="green" if gate.passed else "red", markup=False, highlight=False)
    paths = Table(title="artifacts", show_header=False, box=box.SIMPLE, title_justify="left")
    paths.add_column("stage")
    paths.add_column("path", overflow="fold")
    for stage, path in _artifacts(cfg, outputs).items():
        paths.add_row(stage, path)
    console.print(paths)


def summary_json(cfg: Config, outputs: dict[str, Any]) -> str:
    """`--json`: the verdict, every arm's figures (as results.json has them, with the k/n counts), the gates and
    the artifacts; the examples stay in results.json."""
    doc: dict[str, Any] = {"project": cfg.project.name, "stages": list(outputs), "eval": None}
    evaluation = outputs.get("eval")
    if evaluation is not None:
        results: EvalResults = evaluation.results
        arms = {}
        for name, arm in results.arms.items():
            counts = {m: list(c) for m in BEHAVIOUR if (c := arm.count(m)) is not None}
            arms[name] = {**arm.model_dump(mode="json", exclude_unset=True), "counts": counts}
        doc["eval"] = {
            "headline_metric": results.headline_metric,
            "reference_arm": results.reference_arm,
            "n_test": results.dataset.n_test,
            "verdict": verdict(results).to_json(),
            "arms": arms,
            "gates": [g.model_dump(mode="json") for g in evaluation.gates],
        }
    doc["artifacts"] = _artifacts(cfg, outputs)
    return dumps(doc, indent=2)
