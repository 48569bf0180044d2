from __future__ import annotations

from backoffice import charts
from backoffice.templatetags.backoffice_format import naira, percent


def test_bars_are_proportional_to_the_tallest_column_and_stack():
    chart = charts.stacked_bars(
        title="t", labels=["a", "b", "c"], series=[("ok", [10, 0, 30]), ("bad", [10, 0, 10])]
    )
    plot_h = charts.HEIGHT - charts.TOP - charts.BOTTOM
    assert [(bar.css, bar.title, bar.height) for bar in chart.bars] == [
        ("ok", "a: 10", round(plot_h * 10 / 40, 2)), ("bad", "a: 10", round(plot_h * 10 / 40, 2)),
        ("ok", "c: 30", round(plot_h * 30 / 40, 2)), ("bad", "c: 10", round(plot_h * 10 / 40, 2)),
    ]
    tallest = [bar for bar in chart.bars if bar.title.startswith("c")]
    assert round(sum(bar.height for bar in tallest), 2) == plot_h
    assert tallest[1].y + tallest[1].height == tallest[0].y  # stacked on top
    assert chart.max_label == "40" and not chart.empty


def test_an_all_zero_chart_says_so():
    chart = charts.stacked_bars(title="t", labels=["a"], series=[("ok", [0])])
    assert chart.bars == [] and chart.empty


def test_money_and_rates_are_shown_without_float_rounding():
    assert naira(123_456_789) == "₦1,234,567.89"
    assert naira(-5) == "-₦0.05"
    assert naira(None) == "—"
    assert percent(8571) == "85.71%" and percent(10_000) == "100.00%" and percent(None) == "—"
