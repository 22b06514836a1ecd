"""The dashboard's plots: the same matplotlib figures as the report (tunesmith/plots.py, evals/report_plots.py),
rendered on the server to PNG and inlined as `data:` URIs. No JavaScript library, no image file, nothing fetched.

Each function returns markup for a template (`Markup`: the `<img>` is built with its alt text escaped), or a short
"no data" line when there is nothing to draw.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup

from tunesmith import plots
from tunesmith.evals.report_plots import cost_plot
from tunesmith.ui.loaders import EvalView, RunView
from tunesmith.ui.traffic import Traffic


def _line(
    title: str,
    series: dict[str, Sequence[tuple[float, float]]],
    *,
    xlabel: str,
    ylabel: str,
    scale: plots.Scale = "plain",
    integer_x: bool = False,
) -> Markup:
    fig = plots.line_chart(title, series, xlabel=xlabel, ylabel=ylabel, scale=scale, integer_x=integer_x)
    if fig is None:
        return Markup(plots.empty(title))
    names = ", ".join(name for name, pts in series.items() if pts)
    return Markup(plots.to_img(fig, f"{title}: {ylabel} against {xlabel}; {names}"))


def _bars(title: str, items: Sequence[tuple[str, float]], *, ylabel: str) -> Markup:
    fig = plots.bar_chart(title, items, ylabel=ylabel)
    if fig is None:
        return Markup(plots.empty(title))
    alt = f"{title}: {len(items)} bars, {items[0][0]} to {items[-1][0]}, highest {max(v for _, v in items):g}"
    return Markup(plots.to_img(fig, alt))


def loss(title: str, series: dict[str, Sequence[tuple[float, float]]]) -> Markup:
    """Training and validation loss against the optimizer step: from 0, plain decimal ticks."""
    return _line(title, series, xlabel="step", ylabel="loss", scale="loss", integer_x=True)


def run_plots(r: RunView) -> dict[str, Markup]:
    """A run's loss (train and val) and its learning-rate schedule."""
    return {
        "loss": loss(f"loss of run {r.id}", {"train": r.curve("loss"), "val": r.curve("eval_loss")}),
        "lr": _line(
            f"learning rate of run {r.id}",
            {"lr": r.curve("learning_rate")},
            xlabel="step",
            ylabel="learning rate",
            scale="lr",
            integer_x=True,
        ),
    }


def pair_loss(ra: RunView, rb: RunView) -> Markup:
    """Both runs' losses on one chart."""
    return loss(
        "loss, both runs",
        {
            f"{ra.id} train": ra.curve("loss"),
            f"{ra.id} val": ra.curve("eval_loss"),
            f"{rb.id} train": rb.curve("loss"),
            f"{rb.id} val": rb.curve("eval_loss"),
        },
    )


def cost(ev: EvalView) -> Markup:
    """The report's plot: the headline metric against tokens per request and p50 latency, one point per arm."""
    img = cost_plot(ev.results)
    return Markup(img) if img else Markup(plots.empty("quality against cost"))


def traffic_plots(t: Traffic) -> dict[str, Markup]:
    """Requests and mean latency per bucket (day or hour), and the feedback ratings."""
    return {
        "requests": _bars(f"requests per {t.bucket}", [(k, n) for k, n, _ in t.buckets], ylabel="requests"),
        "latency": _line(
            f"mean latency per {t.bucket}",
            {"mean latency": [(float(i), lat) for i, (_, _, lat) in enumerate(t.buckets)]},
            xlabel=f"{t.bucket} (index)",
            ylabel="ms",
            integer_x=True,
        ),
        "ratings": _bars("feedback ratings", [(plots.decimal(k), n) for k, n in t.ratings], ylabel="count"),
    }
