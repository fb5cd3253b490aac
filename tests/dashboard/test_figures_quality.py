"""Quality-cost figures: Pareto, stacked cost trend with COPQ share, FPY/PPM."""

from __future__ import annotations

import plotly.graph_objects as go
import pytest

from dashboard.figures import quality, theme
from dashboard.figures.quality import pareto_items


def pareto_figure(*args, **kwargs) -> go.Figure:
    return go.Figure(quality.pareto_figure(*args, **kwargs))


def cost_trend_figure(*args, **kwargs) -> go.Figure:
    return go.Figure(quality.cost_trend_figure(*args, **kwargs))


def yield_figure(*args, **kwargs) -> go.Figure:
    return go.Figure(quality.yield_figure(*args, **kwargs))


def by_meta(fig, meta):
    return [tr for tr in fig.data if tr.meta == meta]


PARETO = [
    {"defect_code": "D02", "label": "Porosity", "count": 12, "cost": 900.0},
    {"defect_code": "D01", "label": "Scratch", "count": 40, "cost": 200.0},
    {"defect_code": "D03", "label": "Burr", "count": 8, "cost": 1500.0},
]


def test_pareto_sorted_descending_with_cumulative_share():
    fig = pareto_figure(PARETO, measure="count")
    (bars,) = by_meta(fig, "bars")
    (cum,) = by_meta(fig, "cumulative")
    assert list(bars.x) == ["D01", "D02", "D03"]
    assert list(bars.y) == [40, 12, 8]
    assert cum.y[0] == pytest.approx(100 * 40 / 60)
    assert cum.y[-1] == pytest.approx(100.0)
    assert cum.yaxis == "y2"
    assert any(s.y0 == 80 for s in fig.layout.shapes)


def test_pareto_by_cost_changes_the_top_defect():
    fig = pareto_figure(PARETO, measure="cost", currency="EUR")
    assert list(by_meta(fig, "bars")[0].x) == ["D03", "D02", "D01"]
    assert pareto_items(PARETO, "cost")[0] == ("D03", "Burr", 1500.0)


def test_pareto_folds_the_tail_into_other():
    items = [{"code": f"C{k:02d}", "value": 100 - k} for k in range(20)]
    fig = pareto_figure(items, max_bars=5)
    (bars,) = by_meta(fig, "bars")
    assert list(bars.x)[-1] == "other" and len(bars.x) == 5
    assert sum(bars.y) == sum(100 - k for k in range(20))


ROWS = [
    {"period": "2026-11-01", "key": "scrap", "name": "Scrap", "cost": 130.0},
    {"period": "2026-11-01", "key": "rework", "name": "Rework", "cost": 50.0},
    {"period": "2026-11-02", "key": "scrap", "name": "Scrap", "cost": 400.0},
    {"period": "2026-11-02", "key": "rework", "name": "Rework", "cost": 20.0},
    {"period": "2026-11-02", "key": "customer-return", "name": "Customer return", "cost": 5.0},
]


def test_cost_trend_stacks_keys_biggest_first_with_disposition_colours():
    fig = cost_trend_figure(ROWS, currency="EUR")
    assert fig.layout.barmode == "stack"
    bars = [tr for tr in fig.data if tr.type == "bar"]
    assert [tr.name for tr in bars] == ["Scrap", "Rework", "Customer return"]
    assert list(bars[0].x) == ["2026-11-01", "2026-11-02"]
    assert list(bars[0].y) == [130.0, 400.0] and list(bars[1].y) == [50.0, 20.0]
    assert list(bars[2].y) == [0.0, 5.0]  # missing period filled with zero
    assert bars[0].marker.color == theme.SCRAP and bars[1].marker.color == theme.REWORK
    assert "EUR" in fig.layout.yaxis.title.text
    assert not by_meta(fig, "copq-share")


def test_cost_trend_share_line_and_spike_markers():
    fig = cost_trend_figure(
        ROWS,
        share={"2026-11-01": 0.012, "2026-11-02": 0.042},
        spikes=[{"period": "2026-11-02", "line": "line1"}],
    )
    (share,) = by_meta(fig, "copq-share")
    assert list(share.y) == pytest.approx([1.2, 4.2]) and share.yaxis == "y2"
    (spikes,) = by_meta(fig, "spikes")
    assert list(spikes.x) == ["2026-11-02"] and spikes.y[0] > 425.0


def test_bucket_labels():
    assert quality.bucket_label("2026-11-18T00:00:00Z", "day") == "2026-11-18"
    assert quality.bucket_label("2026-11-16T00:00:00+00:00", "week") == "2026-W47"
    assert quality.bucket_label("2026-11-01T00:00:00Z", "month") == "2026-11"
    assert quality.bucket_label("not a date", "day") == "not a date"


def test_pareto_reads_the_api_items_and_other():
    items = [
        {"key": "DIM-001", "name": "Bore oversize", "value": 30.0, "cost": 900.0},
        {"key": "SUR-002", "name": "Scratch", "value": 50.0, "cost": 100.0},
    ]
    fig = pareto_figure(items, measure="count", other={"items": 3, "value": 20.0})
    (bars,) = by_meta(fig, "bars")
    assert list(bars.x) == ["SUR-002", "DIM-001", "other"]
    assert list(bars.text) == ["Scratch", "Bore oversize", "Other"]
    assert by_meta(fig, "cumulative")[0].y[-1] == pytest.approx(100.0)


def test_yield_plots_fpy_percent_and_ppm_on_second_axis():
    rows = [
        {"period": "2026-11-02", "fpy": 0.95, "ppm": 1200},
        {"period": "2026-11-01", "fpy": 97.5, "ppm": 800},
    ]
    fig = yield_figure(rows)
    (fpy,) = by_meta(fig, "fpy")
    (ppm,) = by_meta(fig, "ppm")
    assert list(fpy.x) == ["2026-11-01", "2026-11-02"]
    assert list(fpy.y) == pytest.approx([97.5, 95.0])
    assert list(ppm.y) == [800.0, 1200.0] and ppm.yaxis == "y2"
