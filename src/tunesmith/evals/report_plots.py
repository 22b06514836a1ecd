"""The report's plots: matplotlib figures rendered to PNG and inlined as data URIs (tunesmith/plots.py), so the page
needs no file beside it. The dashboard draws the quality-against-cost plot with the same function (`cost_plot`)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tunesmith.evals.metrics import METRICS
from tunesmith.evals.report_format import latency_p50, metric_label, tokens_per_request
from tunesmith.evals.results import EvalResults, Guard
from tunesmith.plots import PALETTE as _COLORS
from tunesmith.plots import plain as _plain
from tunesmith.plots import to_img as _img

_OTHER_BAR_METRICS = 3  # bar chart: the headline metric and this many more


def _is_behaviour(metric: str) -> bool:
    info = METRICS.get(metric)
    return info is not None and info.behaviour


def _bar_chart(results: EvalResults, metrics: Sequence[str], title: str) -> str:
    from matplotlib.figure import Figure  # no pyplot: no global state, no GUI backend

    arms = results.arms
    fig = Figure(figsize=(max(6.0, 2 + 0.5 * len(metrics) * len(arms)), 3.6), layout="constrained")
    ax = fig.add_subplot()
    x = np.arange(len(metrics))
    width = 0.8 / len(arms)
    for k, (name, arm) in enumerate(arms.items()):
        means = np.array([arm.metrics.get(m, np.nan) for m in metrics])
        lows = np.array([arm.ci[m][0] if m in arm.ci else np.nan for m in metrics])
        highs = np.array([arm.ci[m][1] if m in arm.ci else np.nan for m in metrics])
        errors = np.nan_to_num(np.vstack([means - lows, highs - means]))
        ax.bar(
            x + (k - (len(arms) - 1) / 2) * width,
            means,
            width,
            yerr=errors,
            capsize=3,
            label=_plain(name),
            color=_COLORS[k % len(_COLORS)],
        )
    ax.set_xticks(x, labels=[_plain(metric_label(m)) for m in metrics])
    ax.set_title(_plain(title))
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    ax.legend(fontsize="small", frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return _img(fig, title)


def cost_plot(results: EvalResults) -> str | None:
    """Headline metric against tokens per request and median latency: what each point of quality costs."""
    from matplotlib.figure import Figure

    headline = results.headline_metric
    axes_data = (("tokens per request", tokens_per_request), ("p50 latency (ms)", latency_p50))
    if not any(cost(arm) is not None for arm in results.arms.values() for _, cost in axes_data):
        return None
    fig = Figure(figsize=(10, 3.8), layout="constrained")
    for ax, (label, cost) in zip(fig.subplots(1, 2), axes_data, strict=True):
        for k, (name, arm) in enumerate(results.arms.items()):
            x, y = cost(arm), arm.metrics.get(headline)
            if x is None or y is None:
                continue
            lo, hi = arm.ci[headline]
            ax.errorbar([x], [y], yerr=[[y - lo], [hi - y]], fmt="o", capsize=3, color=_COLORS[k % len(_COLORS)])
            ax.annotate(_plain(name), (x, y), xytext=(6, 4), textcoords="offset points", fontsize="small")
        ax.margins(x=0.15, y=0.1)  # room for the labels
        ax.set_xlabel(label)
        ax.set_ylabel(_plain(metric_label(headline)))
        ax.grid(alpha=0.3)
    fig.suptitle(_plain(f"Quality vs cost ({headline})"))
    return _img(fig, f"{headline} against tokens per request and p50 latency, one point per arm")


def plots(results: EvalResults) -> str:
    headline, metrics = results.headline_metric, results.metrics
    quality = [headline] + [m for m in metrics if m != headline and not _is_behaviour(m)][:_OTHER_BAR_METRICS]
    behaviour = [m for m in metrics if _is_behaviour(m)]
    images = [_bar_chart(results, quality, "Answer quality (mean and CI)")]
    if behaviour:
        images.append(_bar_chart(results, behaviour, "Refusal behaviour (mean and CI)"))
    cost = cost_plot(results)
    if cost:
        images.append(cost)
    return "".join(images)


def guard_plot(guard: Guard) -> str:
    """Abstention against over-refusal as the guard's threshold moves: on the calibration questions (validation and
    training, the guard alone, where the threshold was picked) and on test (the guarded arm), the pick marked."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 4.2), layout="constrained")
    ax = fig.add_subplot()
    for k, (label, points) in enumerate(
        (("validation + training: guard alone", guard.validation_curve), ("test: guarded arm", guard.test_curve))
    ):
        if not points:
            continue
        xs, ys = [p.over_refusal for p in points], [p.abstention for p in points]
        ax.plot(xs, ys, drawstyle="steps-post", color=_COLORS[k], label=label)
        chosen = min(points, key=lambda p: abs(p.threshold - (guard.threshold or 0.0)))
        ax.plot([chosen.over_refusal], [chosen.abstention], "o", color=_COLORS[k])
        ax.annotate(
            f"{chosen.abstention:.0%} / {chosen.over_refusal:.0%}",
            (chosen.over_refusal, chosen.abstention),
            xytext=(8, -12),
            textcoords="offset points",
            fontsize="small",
        )
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("over-refusal (in-scope questions declined)")
    ax.set_ylabel("abstention (out-of-scope questions declined)")
    ax.set_title(f"Scope guard: the trade-off over the threshold (picked {guard.threshold:+.3f}, not on test)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small", frameon=False, loc="lower right")
    return _img(fig, "abstention against over-refusal over the scope guard's threshold, on calibration and test")
