"""A grouped bar chart drawn on the server as SVG geometry: collections,
payouts and escrows created per day. The template turns it into an inline ``<svg>``; no script
runs in the browser, and styling is by CSS class (the CSP forbids inline styles)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

WIDTH = 760
HEIGHT = 280
MARGIN_LEFT = 48
MARGIN_RIGHT = 12
MARGIN_TOP = 16
MARGIN_BOTTOM = 40
GRID_LINES = 4
BAR_GAP_RATIO = 0.25
"""Share of each day's slot left empty between days."""


@dataclass(frozen=True)
class DayCount:
    day: date
    collections: int
    payouts: int
    escrows: int


SERIES = ("collections", "payouts", "escrows")
"""The bars of each day, left to right."""


@dataclass(frozen=True)
class Bar:
    series: str
    """One of ``SERIES``: the CSS class and the legend entry."""
    day: date
    value: int
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class Tick:
    value: int
    y: float


@dataclass(frozen=True)
class DayLabel:
    day: date
    x: float


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    plot_left: float
    plot_right: float
    plot_top: float
    plot_bottom: float
    bars: tuple[Bar, ...]
    ticks: tuple[Tick, ...]
    labels: tuple[DayLabel, ...]
    total_collections: int
    total_payouts: int
    total_escrows: int


def nice_ceiling(value: int) -> int:
    """The top of the scale: the smallest ``GRID_LINES`` × (1, 2 or 5 × 10ⁿ) at or above
    ``value``, so the grid lines fall on round whole counts."""
    candidate = GRID_LINES
    magnitude = 1
    while True:
        for step in (1, 2, 5):
            candidate = step * magnitude * GRID_LINES
            if candidate >= value:
                return candidate
        magnitude *= 10


def build(days: Sequence[DayCount]) -> Chart:
    """Bars for ``days`` in order, one per series each day (collections, payouts, escrows)."""
    plot_left, plot_right = float(MARGIN_LEFT), float(WIDTH - MARGIN_RIGHT)
    plot_top, plot_bottom = float(MARGIN_TOP), float(HEIGHT - MARGIN_BOTTOM)
    top_value = nice_ceiling(max([1, *(max(d.collections, d.payouts, d.escrows) for d in days)]))
    plot_height = plot_bottom - plot_top
    slot = (plot_right - plot_left) / max(1, len(days))
    bar_width = slot * (1 - BAR_GAP_RATIO) / len(SERIES)
    bars: list[Bar] = []
    labels: list[DayLabel] = []
    for index, counts in enumerate(days):
        left = plot_left + index * slot + slot * BAR_GAP_RATIO / 2
        for offset, series in enumerate(SERIES):
            value: int = getattr(counts, series)
            height = plot_height * value / top_value
            bars.append(
                Bar(
                    series=series,
                    day=counts.day,
                    value=value,
                    x=round(left + offset * bar_width, 2),
                    y=round(plot_bottom - height, 2),
                    width=round(bar_width, 2),
                    height=round(height, 2),
                )
            )
        labels.append(DayLabel(day=counts.day, x=round(left + bar_width * len(SERIES) / 2, 2)))
    ticks = tuple(
        Tick(value=top_value * step // GRID_LINES, y=round(plot_bottom - plot_height * step / GRID_LINES, 2))
        for step in range(GRID_LINES + 1)
    )
    return Chart(
        width=WIDTH,
        height=HEIGHT,
        plot_left=plot_left,
        plot_right=plot_right,
        plot_top=plot_top,
        plot_bottom=plot_bottom,
        bars=tuple(bars),
        ticks=ticks,
        labels=tuple(labels),
        total_collections=sum(d.collections for d in days),
        total_payouts=sum(d.payouts for d in days),
        total_escrows=sum(d.escrows for d in days),
    )
