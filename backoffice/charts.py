"""Server-side SVG charts for the dashboard: the geometry is computed here, the markup is in
templates/backoffice/charts/bars.html (so labels are escaped by the template engine). No
JavaScript and no plotting package."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

WIDTH, HEIGHT = 640, 180
LEFT, RIGHT, TOP, BOTTOM = 56, 8, 12, 24  # room for the axis labels


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    css: str
    title: str  # the tooltip: the day and the exact value


@dataclass(frozen=True)
class Chart:
    title: str
    width: int
    height: int
    bars: list[Bar]
    max_label: str
    first_label: str
    last_label: str
    plot_left: int
    plot_bottom: int
    plot_right: int
    mid_x: int
    mid_y: int
    empty: bool


def stacked_bars(
    *,
    title: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[int]]],
    fmt: Callable[[int], str] = str,
) -> Chart:
    """One column per label; each column stacks the values of `series` ((css class,
    values) pairs, bottom first). Heights are proportional to the tallest column."""
    count = len(labels)
    totals = [sum(values[i] for _, values in series) for i in range(count)]
    peak = max(totals, default=0)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / count if count else plot_w
    bars: list[Bar] = []
    for i, label in enumerate(labels):
        base = HEIGHT - BOTTOM
        for css, values in series:
            value = values[i]
            if value <= 0 or peak <= 0:
                continue
            height = plot_h * value / peak
            base -= height
            bars.append(
                Bar(x=round(LEFT + i * slot + slot * 0.1, 2), y=round(base, 2), width=round(slot * 0.8, 2),
                    height=round(height, 2), css=css, title=f"{label}: {fmt(value)}")
            )
    return Chart(
        title=title, width=WIDTH, height=HEIGHT, bars=bars, max_label=fmt(peak),
        first_label=labels[0] if labels else "", last_label=labels[-1] if labels else "",
        plot_left=LEFT, plot_bottom=HEIGHT - BOTTOM, plot_right=WIDTH - RIGHT,
        mid_x=LEFT + plot_w // 2, mid_y=TOP + plot_h // 2, empty=peak <= 0,
    )
