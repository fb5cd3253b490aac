"""Live charts without reloading the window: fetch only the points after the last one drawn.

A full chart answer over a long window costs the service a recomputation of every point (seconds
for 100,000 points), so it cannot be the per-second live update. The first view of a window is
a full load; after that each poll asks for the tail (``from`` = the last drawn timestamp), which
is a handful of points, and :func:`merge_tail` appends them to the drawn chart, drops what left a
relative window and thins again when the series grows. Capability and histogram are refreshed by
a full load every ``full_refresh_s`` seconds (they move slowly; the chart must not).

The cache lives in the dashboard process, keyed by characteristic and window, and is shared by
the browser sessions looking at the same chart; every session still makes its own tail request
with its own token, so nobody sees data the service would not give them.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from dashboard.api import ApiClient
from dashboard.context import window_start
from dashboard.data import ChartBundle, load_chart
from dashboard.figures.downsample import downsample_chart
from dashboard.figures.timefmt import parse_ts
from dashboard.settings import DashboardSettings

# Thin again once the drawn series exceeds the display budget by this factor.
SLACK = 1.25


def _after(points: list[Mapping[str, Any]], ts: datetime) -> list[dict[str, Any]]:
    return [dict(p) for p in points if p.get("ts") and parse_ts(p["ts"]) > ts]


def merge_tail(
    chart: Mapping[str, Any],
    tail: Mapping[str, Any],
    *,
    start: str | None,
    max_points: int,
) -> tuple[dict[str, Any], int]:
    """The drawn chart extended by the tail answer's newer points: (chart, new point count).

    New points are numbered on from the last drawn ``i``; dispersion points follow their
    subgroup by timestamp. Top-level fields that describe the current limits come from the tail,
    the limit versions are merged, points older than ``start`` leave. Pure; tested.
    """
    points = list(chart.get("points") or [])
    if not points:
        return dict(tail), len(tail.get("points") or [])
    last_ts = parse_ts(points[-1]["ts"])
    fresh = _after(list(tail.get("points") or []), last_ts)
    if not fresh:
        return dict(chart), 0
    next_i = int(points[-1].get("i") or 0) + 1
    by_ts: dict[str, int] = {}
    for k, p in enumerate(fresh):
        p["i"] = next_i + k
        by_ts[str(p.get("ts"))] = p["i"]
    out = dict(chart)
    for field in ("center", "sigma", "rules", "limit_version", "phase1"):
        if field in tail:
            out[field] = tail[field]
    versions = {
        v.get("version"): v
        for v in [*(chart.get("limits") or []), *(tail.get("limits") or [])]
        if isinstance(v, Mapping)
    }
    if versions:
        out["limits"] = [versions[v] for v in sorted(versions, key=lambda v: (v is None, v))]
    merged = points + fresh
    disp = chart.get("dispersion")
    if disp:
        new_disp = []
        for d in _after(list((tail.get("dispersion") or {}).get("points") or []), last_ts):
            if str(d.get("ts")) in by_ts:
                d["i"] = by_ts[str(d["ts"])]
                new_disp.append(d)
        tail_disp = tail.get("dispersion") or {}
        out["dispersion"] = {
            **disp,
            "center": tail_disp.get("center", disp.get("center")),
            "points": list(disp.get("points") or []) + new_disp,
        }
    if start is not None:
        cutoff = parse_ts(start)
        merged = [p for p in merged if not p.get("ts") or parse_ts(p["ts"]) >= cutoff]
        if out.get("dispersion"):
            kept = {p.get("i") for p in merged}
            out["dispersion"] = {
                **out["dispersion"],
                "points": [d for d in out["dispersion"]["points"] if d.get("i") in kept],
            }
    out["points"] = merged
    thin = chart.get("downsampled") or None
    if thin:
        out["downsampled"] = {
            "points": int(thin.get("points", len(points))) + len(fresh),
            "returned": len(merged),
        }
    if len(merged) > max_points * SLACK:
        out = downsample_chart(out, max_points)
    return out, len(fresh)


@dataclass
class Entry:
    bundle: ChartBundle
    loaded_at: float


class LiveCharts:
    """The drawn charts of this dashboard process, updated by tail requests."""

    def __init__(self, settings: DashboardSettings, max_entries: int = 64) -> None:
        self.settings = settings
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[str, str], Entry] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[tuple[str, str], threading.Lock] = {}

    def _get(self, key: str, window: str) -> Entry | None:
        with self._lock:
            entry = self._entries.get((key, window))
            if entry is not None:
                self._entries.move_to_end((key, window))
            return entry

    def _put(self, key: str, window: str, entry: Entry) -> None:
        with self._lock:
            self._entries[(key, window)] = entry
            self._entries.move_to_end((key, window))
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def load(self, api: ApiClient, key: str, window: str) -> ChartBundle:
        """A full load of the window (first view, window change, periodic refresh).

        Single-flight: a second caller for the same chart while a load runs (another session,
        or a poll racing a window change) waits for it and takes its result instead of asking
        the service for the same seconds-long answer again.
        """
        asked = time.monotonic()
        with self._lock:
            gate = self._loading.setdefault((key, window), threading.Lock())
        with gate:
            entry = self._get(key, window)
            if entry is not None and entry.loaded_at >= asked:
                return entry.bundle
            bundle = load_chart(api, key, window, self.settings)
            self._put(key, window, Entry(bundle, time.monotonic()))
            return bundle

    def current(self, api: ApiClient, key: str, window: str) -> ChartBundle:
        """The drawn chart as cached (kept current by :meth:`update`), loaded when absent or
        older than the full-refresh period."""
        entry = self._get(key, window)
        if entry is None or time.monotonic() - entry.loaded_at > self.settings.full_refresh_s:
            return self.load(api, key, window)
        return entry.bundle

    def update(
        self, api: ApiClient, key: str, window: str, *, force: bool = False
    ) -> tuple[ChartBundle, str]:
        """The chart of ``window`` brought up to date: ``(bundle, how)`` where ``how`` is
        ``"full"`` (loaded anew), ``"tail"`` (new points appended) or ``"same"`` (nothing new).
        """
        entry = None if force else self._get(key, window)
        if entry is None or time.monotonic() - entry.loaded_at > self.settings.full_refresh_s:
            return self.load(api, key, window), "full"
        drawn = entry.bundle.chart
        last = (drawn.get("points") or [{}])[-1].get("ts")
        if not last:
            return self.load(api, key, window), "full"
        tail = api.chart(key, start=last)
        merged, fresh = merge_tail(
            drawn, tail, start=window_start(window), max_points=self.settings.max_points
        )
        if not fresh:
            return entry.bundle, "same"
        alarms = api.alarms(state="open", characteristic=key)
        bundle = replace(entry.bundle, chart=merged, open_alarms=alarms)
        self._put(key, window, Entry(bundle, entry.loaded_at))
        return bundle, "tail"
