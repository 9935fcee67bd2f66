"""The chart's geometry: a round scale, bars in proportion, three per day."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from sika.dashboard import chart


@pytest.mark.parametrize(
    ("highest", "top"), [(0, 4), (1, 4), (4, 4), (5, 8), (8, 8), (9, 20), (21, 40), (41, 80), (999, 2000)]
)
def test_the_scale_tops_at_a_round_count(highest: int, top: int) -> None:
    assert chart.nice_ceiling(max(1, highest)) == top


def test_bars_stand_in_proportion_on_one_baseline() -> None:
    first = date(2026, 11, 8)
    days = [
        chart.DayCount(
            day=first + timedelta(days=i), collections=i % 3, payouts=(2 if i == 13 else 0), escrows=(i == 5) * 3
        )
        for i in range(14)
    ]
    drawn = chart.build(days)
    assert len(drawn.bars) == 42
    assert [(b.day, b.series) for b in drawn.bars[:4]] == [
        (first, "collections"),
        (first, "payouts"),
        (first, "escrows"),
        (first + timedelta(days=1), "collections"),
    ]
    plot_height = drawn.plot_bottom - drawn.plot_top
    for bar in drawn.bars:
        assert bar.y + bar.height == pytest.approx(drawn.plot_bottom)
        assert bar.height == pytest.approx(plot_height * bar.value / 4, abs=0.01)
        assert drawn.plot_left <= bar.x < bar.x + bar.width <= drawn.plot_right
    assert [t.value for t in drawn.ticks] == [0, 1, 2, 3, 4]
    assert drawn.ticks[-1].y == drawn.plot_top
    assert (drawn.total_collections, drawn.total_payouts, drawn.total_escrows) == (13, 2, 3)
    escrows = [bar for bar in drawn.bars if bar.series == "escrows"]
    assert [bar.value for bar in escrows if bar.value] == [3]
    assert escrows[5].height == pytest.approx(plot_height * 3 / 4, abs=0.01)
    # Each day's label sits under the middle of its three bars.
    for label, day_bars in zip(drawn.labels, zip(*[iter(drawn.bars)] * 3, strict=True), strict=True):
        middle = (day_bars[0].x + day_bars[-1].x + day_bars[-1].width) / 2
        assert label.x == pytest.approx(middle, abs=0.02)
    xs = [bar.x for bar in drawn.bars]
    assert xs == sorted(xs), "left to right, oldest day first"


def test_an_empty_fortnight_draws_flat_bars() -> None:
    days = [
        chart.DayCount(day=date(2026, 11, 1) + timedelta(days=i), collections=0, payouts=0, escrows=0)
        for i in range(14)
    ]
    drawn = chart.build(days)
    assert {bar.height for bar in drawn.bars} == {0.0}
    assert [t.value for t in drawn.ticks] == [0, 1, 2, 3, 4]
