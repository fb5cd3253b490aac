"""The pure parts of each page: what a screen renders from given API answers, without a browser.

The app is built (so routing, callbacks and the context are real); the data is the sample JSON.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import plotly.graph_objects as go
import pytest

from dashboard import create_app
from dashboard.context import AppContext, window_start
from dashboard.data import ChartBundle
from dashboard.figures.downsample import downsample_chart
from dashboard.pages import alarms, chart, kiosk, limits, overview, quality


def text_of(component: Any) -> str:
    """All text of a Dash component tree (what a user would read)."""
    if component is None:
        return ""
    if isinstance(component, str | int | float):
        return str(component)
    if isinstance(component, list | tuple):
        return " ".join(text_of(c) for c in component)
    return text_of(getattr(component, "children", None))


def button_types(component: Any) -> list[tuple[str, Any]]:
    """(type, id) of every pattern-matching button in a component tree, in order."""
    found: list[tuple[str, Any]] = []
    if isinstance(component, list | tuple):
        for child in component:
            found += button_types(child)
        return found
    ident = getattr(component, "id", None)
    if isinstance(ident, dict):
        found.append((ident["type"], ident["id"]))
    children = getattr(component, "children", None)
    if children is not None and not isinstance(children, str | int | float):
        found += button_types(children)
    return found


@pytest.fixture
def ctx() -> AppContext:
    app = create_app("http://127.0.0.1:9", timezone="UTC")
    from dashboard.api import ApiClient
    from dashboard.settings import DashboardSettings

    return AppContext(
        app=app, api=ApiClient("http://127.0.0.1:9"), settings=DashboardSettings(timezone="UTC")
    )


def bundle(chart_factory, characteristic, **kwargs: Any) -> ChartBundle:
    data = chart_factory(**kwargs)
    data["limit_version"] = 1
    data["capability"] = {"n": 150, "mean": 74.0, "cp": 1.5, "cpk": 1.4, "pp": 1.3, "ppk": 1.2}
    return ChartBundle(
        characteristic=characteristic,
        chart=downsample_chart(data, 2000),
        capability=data["capability"],
        values=[74.0, 74.01, 73.99],
        open_alarms=[{"id": 7, "rule": "WE1", "opened_at": datetime.now(UTC).isoformat()}],
    )


def test_chart_page_renders_a_thinned_chart_with_its_note(ctx, chart_factory, characteristic):
    b = bundle(chart_factory, characteristic, n=3000, flagged={10: ["WE1"], 2500: ["WE2"]})
    main, hist, cap, meta, title, alarm_box, note, msg = chart.render_bundle(
        ctx, b, "en", b.characteristic["key"]
    )
    fig = go.Figure(main)  # validates the figure
    assert sum(len(tr.x) for tr in fig.data if tr.meta == "beyond") == 1
    shown = int(note.split(" of ")[0].replace(",", ""))
    assert 1000 < shown <= 2002 and "of 3,000 points shown" in note
    assert msg == ""
    assert "Bore diameter" in text_of(title)
    assert "Limits v1" in text_of(meta) and "Open alarm" in text_of(meta)
    assert "#7" in text_of(alarm_box)
    go.Figure(hist)
    assert "1.4" in text_of(cap)


def test_chart_page_says_when_nothing_is_judged(ctx, chart_factory, characteristic):
    b = bundle(chart_factory, characteristic, n=5)
    b.chart["limit_version"] = None
    *_, note, msg = chart.render_bundle(ctx, b, "zh", "k")
    assert note == "" and "尚无已批准的控制限" in text_of(msg)
    b.chart["points"] = []
    *_, msg = chart.render_bundle(ctx, b, "en", "k")
    assert "No data" in text_of(msg)


def test_chart_csv_has_every_point_and_its_dispersion(chart_factory):
    data = chart_factory(n=4, flagged={2: ["WE1", "WE2"]}, disp_flagged={3: ["WE1"]})
    lines = chart.chart_csv(data).splitlines()
    assert lines[0].split(",") == list(chart.CSV_FIELDS)
    assert len(lines) == 5
    assert ",WE1 WE2," in lines[3] and lines[4].endswith(",WE1")


def test_overview_groups_rows_and_counts_kpis(ctx):
    rows = [
        {
            "key": "l1.s1.a",
            "name": "A",
            "line": "l1",
            "station": "s1",
            "status": "alarm",
            "open_alarms": 2,
            "cpk": 0.9,
            "ooc_rate": 0.1,
            "spark": [1.0, 2.0],
            "spark_flags": [False, True],
        },
        {
            "key": "l2.s1.b",
            "name": "B",
            "line": "l2",
            "station": "s1",
            "status": "no_limits",
            "open_alarms": 0,
            "cpk": 1.5,
            "ooc_rate": 0.0,
            "spark": [],
            "spark_flags": [],
        },
    ]
    sections = overview.render_rows(ctx, rows, "en", None)
    assert len(sections) == 2 and "Line" in text_of(sections[0])
    only_l2 = overview.render_rows(ctx, rows, "en", ["l2"])
    assert len(only_l2) == 1 and "B" in text_of(only_l2)
    tiles = text_of(overview.kpis(rows, "en"))
    assert "2" in tiles and "1 / 2" in tiles
    assert "No characteristics" in text_of(overview.render_rows(ctx, [], "en", None))


def test_alarm_tables_are_role_aware(ctx):
    now = datetime.now(UTC)
    items = [
        {
            "id": 1,
            "characteristic": "k",
            "rule": "WE1",
            "state": "open",
            "series": "stat",
            "opened_at": (now - timedelta(minutes=5)).isoformat(),
            "hits": 1,
        },
        {
            "id": 2,
            "characteristic": "k",
            "rule": "WE2",
            "state": "acknowledged",
            "series": "dispersion",
            "opened_at": (now - timedelta(minutes=50)).isoformat(),
            "acknowledged_at": (now - timedelta(minutes=40)).isoformat(),
            "hits": 3,
            "cause": "tool-wear",
            "action": "tool-changed",
            "acknowledged_by": "olga",
        },
    ]
    as_operator = button_types(alarms.active_table(ctx, items, "en", "operator"))
    as_engineer = button_types(alarms.active_table(ctx, items, "en", "engineer"))
    assert as_operator == [("al-ack", 1)]  # operators acknowledge, engineers also close
    assert as_engineer == [("al-ack", 1), ("al-close", 2)]
    assert "dispersion chart" in text_of(alarms.active_table(ctx, items, "en", "operator"))
    history = text_of(alarms.history_table(ctx, items, "zh"))
    assert "设备：刀具磨损" in history and "10 分" in history
    tiles = text_of(alarms.kpi_tiles(items[:1], items, "en"))
    assert "10 min" in tiles  # mean time to acknowledge, from the listed history
    stats = {"mean_time_to_acknowledge_seconds": 125.0, "total": 42}
    tiles = text_of(alarms.kpi_tiles(items[:1], items, "en", stats))
    assert "2 min" in tiles and "42" in tiles  # the service's figure over the whole range


def test_limits_history_and_proposal(ctx):
    versions = [
        {
            "version": 1,
            "center": 10.0,
            "sigma": 0.1,
            "lcl": 9.7,
            "ucl": 10.3,
            "current": False,
            "approved_by": "erik",
            "approved_at": "2026-11-01T08:00:00Z",
            "computed_by": "erik",
            "computed_at": "2026-11-01T07:00:00Z",
            "reason": "initial",
            "phase1": {"points": 50},
        },
        {
            "version": 2,
            "center": 10.1,
            "sigma": 0.1,
            "lcl": 9.8,
            "ucl": 10.4,
            "current": True,
            "approved_by": "erik",
            "approved_at": "2026-11-20T08:00:00Z",
            "computed_by": "erik",
            "computed_at": "2026-11-20T07:00:00Z",
            "reason": "new tool",
            "approval_reason": "ok",
            "phase1": {"from": "2026-11-19T00:00:00Z", "to": "2026-11-20T00:00:00Z", "points": 40},
        },
        {
            "version": 3,
            "center": 10.2,
            "sigma": 0.1,
            "lcl": 9.9,
            "ucl": 10.5,
            "current": False,
            "computed_by": "erik",
            "computed_at": "2026-11-25T07:00:00Z",
            "phase1": {},
        },
    ]
    assert [limits.version_state(v) for v in versions] == ["superseded", "active", "proposed"]
    table = text_of(limits.history_table(ctx, versions, "en"))
    assert table.index("v3") < table.index("v2") < table.index("v1")
    assert "new tool / ok" in table and "2026-11-19 00:00:00 → 2026-11-20 00:00:00 (40)" in table
    assert "v2" in text_of(limits.current_summary(versions, "en"))
    view = text_of(
        limits.proposal_view(versions[2], (4, {"WE1": 4}), (6, {"WE1": 5, "WE4": 1}), "en")
    )
    assert "Proposed version 3" in view and "flag 6 points (current: 4)" in view and "WE4" in view


def test_quality_labels_and_spikes_panel():
    rows = quality.labelled([{"bucket": "2026-11-16T00:00:00Z", "cost": 5.0}], "week")
    assert rows[0]["period"] == "2026-W47"
    spikes = [{"period": "2026-11-25", "line": "line1", "cost": 900.0, "ratio": 4.5}]
    alarms_ = [
        {
            "id": 3,
            "characteristic": "line1.op20.bore",
            "rule": "WE1",
            "state": "open",
            "opened_at": "2026-11-24T20:00:00Z",
        }
    ]
    panel = text_of(quality.spikes_panel(spikes, alarms_, "day", "EUR", "en"))
    assert "2026-11-25 · line1: EUR 900 (4.5× the usual)" in panel and "1 alarms" in panel
    assert "No cost spike" in text_of(quality.spikes_panel([], [], "day", "", "en"))


def test_kiosk_link_and_window_start(ctx):
    assert (
        kiosk.kiosk_href(ctx, ["a.b", "c"], 15, "24h") == "/kiosk?keys=a.b,c&seconds=15&window=24h"
    )
    start = datetime.fromisoformat(window_start("8h").replace("Z", "+00:00"))
    assert abs((datetime.now(UTC) - start) - timedelta(hours=8)) < timedelta(seconds=5)
    assert window_start("all") is None
