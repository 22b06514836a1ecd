"""Every plot tunesmith draws, in the evaluation report and in the dashboard: matplotlib figures (no pyplot, so no
global state and no GUI backend) rendered to PNG and inlined as `data:` URIs, so a page needs no file beside it.

Rendering is deterministic: a fixed dpi and no "Software" metadata, so the same data give the same bytes. Axes read
well: round ticks from matplotlib's locators, never an offset or scientific notation on a loss axis, a learning
rate written as `2e-3`, and a loss or a learning rate drawn from 0 (neither can be negative).
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Sequence
from html import escape
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

PALETTE = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c", "#ccb974")
DPI = 110
SMALL = (5.2, 2.6)  # a dashboard plot, inches: 572 × 286 px at DPI
Scale = Literal["plain", "loss", "lr"]


def plain(text: str) -> str:
    """Keep matplotlib from reading a '$' in a name as the start of a formula."""
    return text.replace("$", r"\$")


def figure(size: tuple[float, float] = SMALL) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=size, layout="constrained")


def to_img(fig: Figure, alt: str) -> str:
    """The figure as an `<img class="plot">` with its PNG inlined; `alt` says what it shows, for a screen reader."""
    buf = io.BytesIO()
    # No "Software" metadata: the same data give the same bytes, and the page carries no URL.
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img class="plot" alt="{escape(alt)}" src="data:image/png;base64,{data}">'


def decimal(value: float, _pos: object = None) -> str:
    """A tick as a plain decimal, float noise rounded away: 0.5, 1, 2.5, 30, 0.0002; never 1e-4, never an offset."""
    if value == 0:
        return "0"
    text = f"{value:.6g}"
    if "e" in text:  # very large or very small: positional all the same
        text = f"{value:.12f}".rstrip("0").rstrip(".") if abs(value) < 1 else f"{value:.0f}"
    return text


def exponent(value: float, _pos: object = None) -> str:
    """A learning-rate tick: 2e-3, 2.5e-4, 1e-5; 0 as 0."""
    if value == 0:
        return "0"
    mantissa, exp = f"{value:.2e}".split("e")
    mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}e{int(exp)}"


def style_axes(ax: Axes, scale: Scale = "plain", *, integer_x: bool = False) -> None:
    """Round ticks (at most six a side) with readable labels; a loss or learning-rate axis starts at 0."""
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    ax.yaxis.set_major_locator(MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10]))
    ax.yaxis.set_major_formatter(FuncFormatter(exponent if scale == "lr" else decimal))
    ax.xaxis.set_major_locator(MaxNLocator(nbins=6, integer=integer_x, steps=[1, 2, 2.5, 5, 10]))
    ax.xaxis.set_major_formatter(FuncFormatter(decimal))
    if scale in ("loss", "lr"):
        ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.set_axisbelow(True)


def line_chart(
    title: str,
    series: dict[str, Sequence[tuple[float, float]]],
    *,
    xlabel: str = "",
    ylabel: str = "",
    scale: Scale = "plain",
    integer_x: bool = False,
) -> Figure | None:
    """One line per named series, with a legend when there are several; None when there is nothing to draw."""
    drawn = {name: pts for name, pts in series.items() if pts}
    if not drawn:
        return None
    fig = figure()
    ax = fig.add_subplot()
    for k, (name, pts) in enumerate(drawn.items()):
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        ax.plot(xs, ys, color=PALETTE[k % len(PALETTE)], label=plain(name), marker="o" if len(pts) <= 30 else None)
    ax.set_title(plain(title), fontsize="medium")
    ax.set_xlabel(plain(xlabel))
    ax.set_ylabel(plain(ylabel))
    style_axes(ax, scale, integer_x=integer_x)
    if scale in ("loss", "lr"):
        top = max(p[1] for pts in drawn.values() for p in pts)
        ax.set_ylim(0, top * 1.08 if top > 0 else 1)
    xs_all = [p[0] for pts in drawn.values() for p in pts]
    if integer_x and max(xs_all) - min(xs_all) < 2:  # a point or two: whole steps around them, not 4.9, 5, 5.1
        ax.set_xlim(min(xs_all) - 1, max(xs_all) + 1)
    if len(drawn) > 1:
        ax.legend(fontsize="small", frameon=False)
    return fig


def bar_chart(
    title: str, items: Sequence[tuple[str, float]], *, ylabel: str = "", max_labels: int = 8
) -> Figure | None:
    """Vertical bars, one per (label, value), from 0; labels are thinned when there are many."""
    if not items:
        return None
    fig = figure()
    ax = fig.add_subplot()
    xs = list(range(len(items)))
    ax.bar(xs, [v for _, v in items], width=0.8, color=PALETTE[0])
    ax.set_title(plain(title), fontsize="medium")
    ax.set_ylabel(plain(ylabel))
    style_axes(ax)
    ax.xaxis.grid(False)
    every = max(1, math.ceil(len(items) / max_labels))  # after style_axes: categorical ticks, not its locator
    ax.set_xticks(xs[::every], labels=[plain(label) for label, _ in items][::every], fontsize="small")
    return fig


def empty(title: str) -> str:
    return f'<p class="empty">{escape(title)}: no data</p>'
