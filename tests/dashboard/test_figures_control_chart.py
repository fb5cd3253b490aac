"""The control chart builder: traces, colours, zones, spec lines, version markers, hovers."""

from __future__ import annotations

import math
from zoneinfo import ZoneInfo

import plotly.graph_objects as go
import pytest

from dashboard.figures import theme
from dashboard.figures.control_chart import (
    classify,
    control_chart_figure,
    steps,
    version_changes,
    x_values,
)


def build(*args, **kwargs) -> go.Figure:
    """The builder returns a plain dict; go.Figure validates every property of it."""
    fig = control_chart_figure(*args, **kwargs)
    assert isinstance(fig, dict)
    return go.Figure(fig)


def traces(fig, meta, axis="y"):
    return [tr for tr in fig.data if tr.meta == meta and (tr.yaxis or "y") == axis]


def test_stacked_chart_has_main_and_dispersion_rows(chart_factory, characteristic):
    fig = build(chart_factory(), characteristic=characteristic)
    assert fig.layout.xaxis2.matches == "x" or fig.layout.xaxis.matches == "x2"
    assert {tr.yaxis for tr in fig.data} == {"y", "y2"}
    assert fig.layout.yaxis.title.text == "X̄ (mm)"
    assert fig.layout.yaxis2.title.text == "R"
    assert fig.layout.yaxis.domain[0] > fig.layout.yaxis2.domain[1]  # main above dispersion


def test_violation_points_coloured_and_grouped_by_kind(chart_factory, characteristic):
    chart = chart_factory(flagged={12: ["WE1"], 20: ["WE2"], 21: ["WE2", "WE3"]})
    fig = build(chart, characteristic=characteristic)
    (beyond,) = traces(fig, "beyond")
    (rule,) = traces(fig, "rule")
    (ok,) = traces(fig, "ok")
    xs = x_values(chart["points"])
    assert list(beyond.x) == [xs[12]]
    assert list(rule.x) == [xs[20], xs[21]]
    assert beyond.marker.color == theme.BEYOND
    assert rule.marker.color == theme.RUN_RULE
    assert len(ok.x) == 30 - 3
    assert list(beyond.customdata) == [12]


def test_hover_names_every_rule_in_words_with_lot_and_alarm(chart_factory, characteristic):
    chart = chart_factory(flagged={21: ["WE2", "WE3"]})
    fig = build(chart, characteristic=characteristic)
    (rule,) = traces(fig, "rule")
    text = rule.text[0]
    assert "WE2: 2 of 3 consecutive points beyond 2σ on the same side" in text
    assert "WE3: 4 of 5 consecutive points beyond 1σ on the same side" in text
    assert "Lot: L002" in text
    assert "Alarm #7" in text
    assert "Limits v1" in text
    zh = build(chart, characteristic=characteristic, lang="zh")
    assert "连续 3 个点中有 2 个点" in traces(zh, "rule")[0].text[0]
    assert "批次: L002" in traces(zh, "rule")[0].text[0]


def test_hover_names_rules_without_sentences_when_thousands_are_flagged(chart_factory):
    chart = chart_factory(n=700, flagged={k: ["WE2"] for k in range(0, 700, 2)})
    chart["points"][5]["point_no"] = 12345
    fig = build(chart)
    (rule,) = traces(fig, "rule")
    assert "⚠ WE2</span>" in rule.text[0] and "consecutive" not in rule.text[0]
    (series,) = traces(fig, "series")  # dense: the line carries the hovers
    assert "Subgroup 12345" in series.text[5]  # the stable point number, not the answer's index


def test_zone_bands_at_one_and_two_sigma_with_textbook_colours(chart_factory, characteristic):
    chart = chart_factory(center=74.0, sigma_stat=0.004)
    fig = build(chart, characteristic=characteristic)
    zones = traces(fig, "zone")
    assert len(zones) == 6
    levels = [zone.y[0] for zone in zones]
    expected = [74.0 + k * 0.004 for k in (3, 2, 1, -1, -2, -3)]
    assert levels == pytest.approx(expected)
    assert [z.fillcolor for z in zones] == [
        None,
        theme.ZONE_A,
        theme.ZONE_B,
        theme.ZONE_C,
        theme.ZONE_B,
        theme.ZONE_A,
    ]
    # constant limits collapse to two points whatever the series length
    assert all(len(z.x) == 2 for z in zones)
    assert not traces(fig, "zone", "y2")  # no zones on the dispersion chart


def test_center_and_limits_are_steps_following_varying_subgroup_sizes(
    chart_factory, characteristic
):
    chart = chart_factory(sizes=lambda i: 5 if i < 10 else 3)
    fig = build(chart, characteristic=characteristic)
    (ucl,) = traces(fig, "ucl")
    assert ucl.line.shape == "hv"
    assert ucl.line.color == theme.LIMIT
    assert len(ucl.y) == 3  # n=5 level, n=3 level, closing point
    assert ucl.y[1] == pytest.approx(74.0 + 3 * 0.004 * math.sqrt(5 / 3))
    (center,) = traces(fig, "center")
    assert set(center.y) == {74.0}


def test_spec_limits_and_target_drawn_on_main_chart(chart_factory, characteristic):
    fig = build(chart_factory(), characteristic=characteristic)
    lines = {(s.y0, s.line.color) for s in fig.layout.shapes if s.type == "line" and s.y0 == s.y1}
    assert (74.05, theme.SPEC) in lines
    assert (73.95, theme.SPEC) in lines
    assert (74.0, theme.TARGET) in lines
    texts = {a.text for a in fig.layout.annotations}
    assert {"USL 74.05", "LSL 73.95", "TARGET 74"} <= texts
    no_spec = build(chart_factory(), characteristic=characteristic, show_spec=False)
    assert not [s for s in no_spec.layout.shapes if s.y0 == 74.05]


def test_limit_version_change_marked_across_both_charts(chart_factory, characteristic):
    chart = chart_factory(version_from={0: 1, 18: 2})
    fig = build(chart, characteristic=characteristic)
    xs = x_values(chart["points"])
    marks = [s for s in fig.layout.shapes if s.name == "limits-v2"]
    assert len(marks) == 1
    assert (
        marks[0].x0 == xs[18] and marks[0].yref == "paper" and (marks[0].y0, marks[0].y1) == (0, 1)
    )
    assert any(a.text == "Limits v2" and a.x == xs[18] for a in fig.layout.annotations)
    assert version_changes(chart["points"]) == [(18, 2)]


def test_dispersion_violations_coloured_on_lower_chart(chart_factory, characteristic):
    chart = chart_factory(disp_flagged={5: ["WE1"]})
    fig = build(chart, characteristic=characteristic)
    (beyond,) = traces(fig, "beyond", "y2")
    assert len(beyond.x) == 1 and beyond.marker.color == theme.BEYOND
    assert beyond.text[0].startswith("<b>R = ")


def test_times_shown_in_display_zone(chart_factory, characteristic):
    chart = chart_factory(n=3)
    fig = build(chart, characteristic=characteristic, tz=ZoneInfo("Asia/Shanghai"))
    (series,) = traces(fig, "series")
    assert series.x[0] == "2026-11-26 16:00:00.000"  # 08:00 UTC is 16:00 in Shanghai


def test_points_without_timestamps_plot_by_index(chart_factory):
    chart = chart_factory(n=5, dispersion=False)
    for p in chart["points"]:
        del p["ts"]
    fig = build(chart)
    (series,) = traces(fig, "series")
    assert list(series.x) == [0, 1, 2, 3, 4]
    assert {tr.yaxis for tr in fig.data} == {"y"}


def test_attribute_chart_zones_clipped_at_zero_lcl():
    points = [
        {"i": i, "n": 50, "stat": 0.02, "lcl": 0.0, "ucl": 0.08, "violations": []}
        for i in range(10)
    ]
    chart = {"chart": "p", "center": 0.02, "points": points}
    fig = build(chart)
    zones = traces(fig, "zone")
    assert min(z.y[0] for z in zones) == 0.0
    assert fig.layout.yaxis.title.text == "p"


def test_dense_series_hover_on_the_line_and_mark_only_flagged_points(chart_factory):
    chart = chart_factory(n=800, flagged={400: ["WE1"]}, dispersion=False)
    fig = build(chart)
    assert not traces(fig, "ok")
    (series,) = traces(fig, "series")
    assert len(series.text) == 800 and series.hovertemplate == "%{text}<extra></extra>"
    (beyond,) = traces(fig, "beyond")
    assert len(beyond.x) == 1


def test_large_series_switch_to_webgl(chart_factory):
    chart = chart_factory(n=6000, dispersion=False)
    fig = build(chart)
    (series,) = traces(fig, "series")
    assert series.type == "scattergl"


def test_cusum_plots_both_sums_against_h():
    points = [
        {
            "i": i,
            "stat": 0.1,
            "upper": 0.5 * i,
            "lower": -0.1,
            "ucl": 5.0,
            "lcl": -5.0,
            "violations": ["CUSUM"] if 0.5 * i > 5 else [],
        }
        for i in range(14)
    ]
    fig = build({"chart": "cusum", "points": points})
    assert traces(fig, "cusum-upper") and traces(fig, "cusum-lower")
    (beyond,) = traces(fig, "beyond")
    assert list(beyond.x) == [11, 12, 13]
    assert set(traces(fig, "ucl")[0].y) == {5.0}


def test_helpers():
    assert classify([]) == "ok"
    assert classify(["WE4"]) == "rule"
    assert classify(["WE4", "WE1"]) == "beyond"
    assert steps(["a", "b", "c", "d"], [1.0, 1.0, 2.0, 2.0]) == (["a", "c", "d"], [1.0, 2.0, 2.0])
    assert steps(["a", "b"], [1.0, 1.0]) == (["a", "b"], [1.0, 1.0])
    assert steps([], []) == ([], [])
