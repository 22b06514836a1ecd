"""tunesmith/plots.py: the one plotting module of the report and the dashboard. Loss and learning-rate axes have
round, short tick labels (no negative loss, no scientific notation or offset on a loss axis, a learning rate as
2e-3), and rendering is deterministic."""

from __future__ import annotations

import re

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from tunesmith import plots


def _ticks(fig, axis: str = "y") -> list[str]:
    """The tick labels matplotlib draws, those inside the axis' limits only."""
    FigureCanvasAgg(fig).draw()
    ax = fig.axes[0]
    lo, hi = ax.get_ylim() if axis == "y" else ax.get_xlim()
    ticks = ax.yaxis.get_major_ticks() if axis == "y" else ax.xaxis.get_major_ticks()
    return [t.label1.get_text() for t in ticks if lo - 1e-12 <= t.get_loc() <= hi + 1e-12]


def _significant(label: str) -> int:
    mantissa = label.split("e")[0].replace("-", "").replace(".", "").strip("0")
    return len(mantissa)


LOSSES = {
    "falling from 3": [(float(s), 2.9 * 0.8**s + 0.1) for s in range(1, 31)],
    "large": [(float(s), 32.2 - s) for s in range(0, 30, 3)],
    "flat and small": [(float(s), 0.00098 + s * 1e-6) for s in range(1, 9)],
    "one point": [(5.0, 1.1)],
}


@pytest.mark.parametrize("name", LOSSES)
def test_a_loss_axis_starts_at_0_with_short_plain_ticks(name: str) -> None:
    fig = plots.line_chart("loss", {"train": LOSSES[name]}, xlabel="step", ylabel="loss", scale="loss", integer_x=True)
    ys, xs = _ticks(fig, "y"), _ticks(fig, "x")
    assert fig.axes[0].get_ylim()[0] == 0 and ys[0] == "0"
    for label in ys:
        assert not label.startswith(("-", "−")) and "e" not in label.lower(), ys
        assert _significant(label) <= 4, ys
        assert re.fullmatch(r"\d+(\.\d+)?", label), ys
    assert fig.axes[0].yaxis.get_offset_text().get_text() == ""  # no "+1e-3" above the axis
    assert all(re.fullmatch(r"-?\d+", x) for x in xs), xs  # steps are whole numbers


def test_a_learning_rate_axis_reads_2e_3() -> None:
    schedule = [(float(s), 2e-3 * (1 - s / 30)) for s in range(1, 31)]
    fig = plots.line_chart("lr", {"lr": schedule}, xlabel="step", ylabel="learning rate", scale="lr")
    ys = _ticks(fig)
    assert ys[0] == "0" and "1e-3" in ys and "2e-3" in ys, ys
    for label in ys[1:]:
        assert re.fullmatch(r"\d(\.\d)?e-\d+", label), ys
        assert _significant(label) <= 4
    assert fig.axes[0].yaxis.get_offset_text().get_text() == ""


@pytest.mark.parametrize(
    ("value", "decimal", "exponent"),
    [
        (0.0, "0", "0"),
        (0.5, "0.5", "5e-1"),
        (1.5000000000000002, "1.5", "1.5e0"),
        (30.0, "30", "3e1"),
        (0.0002, "0.0002", "2e-4"),
        (0.00025, "0.00025", "2.5e-4"),
        (1e-7, "0.0000001", "1e-7"),
    ],
)
def test_tick_formats(value: float, decimal: str, exponent: str) -> None:
    assert plots.decimal(value) == decimal and plots.exponent(value) == exponent


def test_rendering_is_deterministic_and_carries_no_software_tag() -> None:
    def draw() -> str:
        fig = plots.bar_chart("requests per day", [("05-01", 3), ("05-02", 7), ("05-03", 0)], ylabel="requests")
        return plots.to_img(fig, 'requests <per> "day"')

    first = draw()
    assert first == draw()
    assert first.startswith('<img class="plot" alt="requests &lt;per&gt; &quot;day&quot;" src="data:image/png;base64,')
    import base64

    png = base64.b64decode(first.split("base64,", 1)[1].rstrip('">'))
    assert png.startswith(b"\x89PNG") and b"Software" not in png and b"matplotlib" not in png


def test_nothing_to_draw_is_none() -> None:
    assert plots.line_chart("loss", {"train": [], "val": []}, scale="loss") is None
    assert plots.bar_chart("ratings", []) is None
