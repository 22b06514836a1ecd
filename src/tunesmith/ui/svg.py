"""Plots as inline SVG, written by hand: no JavaScript library, no image files, nothing fetched by the browser.

Every string that goes into the markup is escaped here, because the result is inserted into the page unescaped
(`Markup`). Series are plain lists of (x, y) pairs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from markupsafe import Markup

PALETTE = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#4b5563", "#ca8a04"]
W, H = 560, 240
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 14, 34


def _fmt(v: float) -> str:
    if v == 0:
        return "0"
    a = abs(v)
    if a >= 10_000:
        return f"{v / 1000:.0f}k"
    if a >= 100:
        return f"{v:.0f}"
    if a >= 1:
        return f"{v:.2g}" if a < 10 else f"{v:.1f}"
    return f"{v:.2g}"


def _range(values: Sequence[float]) -> tuple[float, float]:
    lo, hi = min(values), max(values)
    if math.isclose(lo, hi):
        pad = abs(lo) * 0.1 or 1.0
        return lo - pad, hi + pad
    pad = (hi - lo) * 0.05
    return lo - pad, hi + pad


def _frame(title: str, xlo: float, xhi: float, ylo: float, yhi: float, xlabel: str, ylabel: str) -> list[str]:
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM
    out = [
        f'<svg class="plot" role="img" viewBox="0 0 {W} {H}" width="{W}" height="{H}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>',
        f'<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="#fff" stroke="#d1d5db"/>',
    ]
    for i in range(5):
        y = TOP + ph - ph * i / 4
        v = ylo + (yhi - ylo) * i / 4
        out.append(f'<line x1="{LEFT}" x2="{LEFT + pw}" y1="{y:.1f}" y2="{y:.1f}" stroke="#f3f4f6"/>')
        out.append(f'<text x="{LEFT - 4}" y="{y + 4:.1f}" text-anchor="end" font-size="11">{_fmt(v)}</text>')
        x = LEFT + pw * i / 4
        xv = xlo + (xhi - xlo) * i / 4
        out.append(f'<text x="{x:.1f}" y="{TOP + ph + 14}" text-anchor="middle" font-size="11">{_fmt(xv)}</text>')
    out.append(f'<text x="{LEFT + pw / 2}" y="{H - 4}" text-anchor="middle" font-size="11">{escape(xlabel)}</text>')
    out.append(
        f'<text x="12" y="{TOP + ph / 2}" text-anchor="middle" font-size="11" '
        f'transform="rotate(-90 12 {TOP + ph / 2})">{escape(ylabel)}</text>'
    )
    return out


def line_chart(
    title: str, series: dict[str, Sequence[tuple[float, float]]], *, xlabel: str = "", ylabel: str = ""
) -> Markup:
    """One polyline per named series (with a legend); an empty chart says so."""
    points = [p for s in series.values() for p in s]
    if not points:
        return Markup(f'<p class="empty">{escape(title)}: no data</p>')
    xlo, xhi = _range([p[0] for p in points])
    ylo, yhi = _range([p[1] for p in points])
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM

    def sx(x: float) -> float:
        return LEFT + (x - xlo) / (xhi - xlo) * pw

    def sy(y: float) -> float:
        return TOP + ph - (y - ylo) / (yhi - ylo) * ph

    out = _frame(title, xlo, xhi, ylo, yhi, xlabel, ylabel)
    for i, (name, pts) in enumerate(series.items()):
        color = PALETTE[i % len(PALETTE)]
        coords = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in pts)
        out.append(
            f'<polyline class="series" data-series="{escape(name)}" fill="none" stroke="{color}" '
            f'stroke-width="2" points="{coords}"/>'
        )
        if len(pts) <= 60:
            out += [f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="2.5" fill="{color}"/>' for x, y in pts]
        lx = LEFT + pw - 170  # the legend top right, where decreasing curves (loss, lr) leave room
        out.append(
            f'<rect x="{lx}" y="{TOP + 6 + 14 * i}" width="10" height="3" fill="{color}"/>'
            f'<text x="{lx + 14}" y="{TOP + 11 + 14 * i}" font-size="11">{escape(name)}</text>'
        )
    out.append("</svg>")
    return Markup("".join(out))


def scatter(
    title: str, points: Sequence[tuple[str, float, float, str]], *, xlabel: str = "", ylabel: str = ""
) -> Markup:
    """Labelled points: (label, x, y, tooltip)."""
    if not points:
        return Markup(f'<p class="empty">{escape(title)}: no data</p>')
    xlo, xhi = _range([p[1] for p in points])
    ylo, yhi = _range([p[2] for p in points])
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM
    out = _frame(title, xlo, xhi, ylo, yhi, xlabel, ylabel)
    for i, (label, x, y, tip) in enumerate(points):
        cx = LEFT + (x - xlo) / (xhi - xlo) * pw
        cy = TOP + ph - (y - ylo) / (yhi - ylo) * ph
        color = PALETTE[i % len(PALETTE)]
        out.append(
            f'<g class="point" data-label="{escape(label)}"><title>{escape(tip)}</title>'
            f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="6" fill="{color}" fill-opacity="0.8"/>'
            f'<text x="{cx + 8:.1f}" y="{cy - 6:.1f}" font-size="11">{escape(label)}</text></g>'
        )
    out.append("</svg>")
    return Markup("".join(out))


def bars(title: str, items: Sequence[tuple[str, float]], *, ylabel: str = "") -> Markup:
    """Vertical bars, one per (label, value); labels are thinned when there are many."""
    if not items:
        return Markup(f'<p class="empty">{escape(title)}: no data</p>')
    hi = max(v for _, v in items) or 1.0
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM
    out = _frame(title, 0, len(items), 0, hi, "", ylabel)[:2]  # the box only: bars have categorical x
    for i in range(5):
        y = TOP + ph - ph * i / 4
        out.append(f'<text x="{LEFT - 4}" y="{y + 4:.1f}" text-anchor="end" font-size="11">{_fmt(hi * i / 4)}</text>')
    bw = pw / len(items)
    every = max(1, math.ceil(len(items) / 8))
    for i, (label, v) in enumerate(items):
        h = v / hi * ph
        x = LEFT + i * bw
        out.append(
            f'<rect class="bar" x="{x + bw * 0.1:.1f}" y="{TOP + ph - h:.1f}" width="{bw * 0.8:.1f}" '
            f'height="{h:.1f}" fill="{PALETTE[0]}"><title>{escape(label)}: {_fmt(v)}</title></rect>'
        )
        if i % every == 0:
            out.append(
                f'<text x="{x + bw / 2:.1f}" y="{TOP + ph + 14}" text-anchor="middle" font-size="10">'
                f"{escape(label)}</text>"
            )
    out.append(f'<text x="12" y="{TOP + ph / 2}" font-size="11" transform="rotate(-90 12 {TOP + ph / 2})" ')
    out.append(f'text-anchor="middle">{escape(ylabel)}</text></svg>')
    return Markup("".join(out))
