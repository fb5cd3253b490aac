"""Live charts: the tail merge (pure) and the cache deciding between full loads and tails."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import httpx
import pytest
from conftest import iso, make_chart

from dashboard.api import ApiClient
from dashboard.live import LiveCharts, merge_tail
from dashboard.settings import DashboardSettings


def tail_of(full: dict[str, Any], first: int) -> dict[str, Any]:
    """What the service answers for ``from`` = the ts of point ``first`` (inclusive)."""
    out = json.loads(json.dumps(full))
    out["points"] = [p for p in out["points"] if p["i"] >= first]
    out["dispersion"]["points"] = [d for d in out["dispersion"]["points"] if d["i"] >= first]
    for k, p in enumerate(out["points"]):  # the service numbers each answer from 0
        p["i"] = k
    for k, d in enumerate(out["dispersion"]["points"]):
        d["i"] = k
    return out


def test_tail_points_append_with_continued_numbering_and_dispersion():
    full = make_chart(n=30, flagged={27: ["WE1"]}, disp_flagged={28: ["WE1"]})
    drawn = json.loads(json.dumps(full))
    drawn["points"] = drawn["points"][:25]
    drawn["dispersion"]["points"] = drawn["dispersion"]["points"][:25]
    merged, fresh = merge_tail(drawn, tail_of(full, 24), start=None, max_points=2000)
    assert fresh == 5
    assert [p["i"] for p in merged["points"]] == list(range(30))
    assert [p["ts"] for p in merged["points"]] == [p["ts"] for p in full["points"]]
    assert merged["points"][27]["violations"] == ["WE1"]
    assert [d["i"] for d in merged["dispersion"]["points"]] == list(range(30))
    assert merged["dispersion"]["points"][28]["violations"] == ["WE1"]


def test_nothing_new_returns_the_drawn_chart():
    full = make_chart(n=10)
    merged, fresh = merge_tail(full, tail_of(full, 9), start=None, max_points=2000)
    assert fresh == 0 and merged["points"] == full["points"]


def test_relative_window_drops_old_points_and_limits_come_from_the_tail():
    full = make_chart(n=20, version_from={0: 1, 15: 2})
    drawn = json.loads(json.dumps(full))
    drawn["points"] = drawn["points"][:15]
    drawn["dispersion"]["points"] = drawn["dispersion"]["points"][:15]
    drawn["limits"] = [{"version": 1, "center": 74.0, "sigma": 0.01}]
    tail = tail_of(full, 14)
    tail["limit_version"] = 2
    tail["limits"] = [
        {"version": 1, "center": 74.0, "sigma": 0.01},
        {"version": 2, "center": 74.01, "sigma": 0.01},
    ]
    merged, fresh = merge_tail(drawn, tail, start=iso(5), max_points=2000)
    assert fresh == 5
    assert merged["points"][0]["ts"] == iso(5) and len(merged["points"]) == 15
    assert {d["i"] for d in merged["dispersion"]["points"]} == {p["i"] for p in merged["points"]}
    assert merged["limit_version"] == 2 and [v["version"] for v in merged["limits"]] == [1, 2]


def test_growing_series_is_thinned_again_keeping_flags():
    full = make_chart(n=400, flagged={390: ["WE1"], 5: ["WE2"]})
    drawn = json.loads(json.dumps(full))
    drawn["points"] = drawn["points"][:100]
    drawn["dispersion"]["points"] = drawn["dispersion"]["points"][:100]
    merged, fresh = merge_tail(drawn, tail_of(full, 99), start=None, max_points=200)
    assert fresh == 300
    kept = {p["ts"] for p in merged["points"]}
    assert len(merged["points"]) <= 200 + 4
    assert {iso(390), iso(5), iso(0), iso(399)} <= kept


class FakeService:
    """A transport answering chart requests from a growing list of points; counts requests."""

    def __init__(self, n: int) -> None:
        self.full = make_chart(n=n)
        self.calls: list[dict[str, str]] = []

    def add(self, k: int) -> None:
        self.full = make_chart(n=len(self.full["points"]) + k)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        params = dict(request.url.params)
        path = request.url.path
        self.calls.append({"path": path, **params})
        if path.endswith("/chart"):
            if "from" in params:
                later = [p["i"] for p in self.full["points"] if p["ts"] >= params["from"]]
                return httpx.Response(200, json=tail_of(self.full, later[0] if later else 10**9))
            return httpx.Response(200, json=self.full)
        if path.endswith("/measurements"):
            return httpx.Response(200, json=[{"value": 74.0}])
        if path == "/api/v1/alarms":
            return httpx.Response(200, json=[])
        return httpx.Response(200, json={"key": "line1.op20.bore", "name": "Bore"})


def test_cache_loads_once_then_asks_only_for_the_tail():
    service = FakeService(50)
    api = ApiClient("http://svc", transport=httpx.MockTransport(service))
    live = LiveCharts(DashboardSettings(full_refresh_s=3600))
    bundle, how = live.update(api, "line1.op20.bore", "all")
    assert how == "full" and len(bundle.chart["points"]) == 50
    service.calls.clear()
    bundle, how = live.update(api, "line1.op20.bore", "all")
    assert how == "same"
    assert [c["path"] for c in service.calls] == ["/api/v1/characteristics/line1.op20.bore/chart"]
    assert service.calls[0]["from"] == iso(49)
    service.add(3)
    bundle, how = live.update(api, "line1.op20.bore", "all")
    assert how == "tail" and len(bundle.chart["points"]) == 53
    assert bundle.values == [74.0]  # histogram values kept from the full load
    bundle, how = live.update(api, "line1.op20.bore", "all", force=True)
    assert how == "full"


def test_cache_reloads_fully_after_the_refresh_period():
    service = FakeService(10)
    api = ApiClient("http://svc", transport=httpx.MockTransport(service))
    live = LiveCharts(DashboardSettings(full_refresh_s=0.0))
    live.update(api, "k", "all")
    _, how = live.update(api, "k", "all")
    assert how == "full"


@pytest.mark.parametrize("window", ["1h", "24h"])
def test_cache_entries_are_per_window(window):
    service = FakeService(5)
    api = ApiClient("http://svc", transport=httpx.MockTransport(service))
    live = LiveCharts(DashboardSettings(full_refresh_s=3600))
    live.update(api, "k", "all")
    service.calls.clear()
    _, how = live.update(api, "k", window)
    assert how == "full"
    chart_calls = [c for c in service.calls if c["path"].endswith("/chart")]
    assert len(chart_calls) == 1 and "from" in chart_calls[0]  # the window's own full load


def test_concurrent_full_loads_of_one_chart_ask_the_service_once():
    service = FakeService(20)
    gate = threading.Event()

    def slow(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/chart"):
            gate.wait(2)
        return service(request)

    api = ApiClient("http://svc", transport=httpx.MockTransport(slow))
    live = LiveCharts(DashboardSettings(full_refresh_s=3600))
    results: list[Any] = []
    threads = [
        threading.Thread(target=lambda: results.append(live.current(api, "k", "all")))
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    time.sleep(0.2)
    gate.set()
    for thread in threads:
        thread.join(5)
    assert len(results) == 3 and all(r is results[0] for r in results)
    assert sum(c["path"].endswith("/chart") for c in service.calls) == 1
