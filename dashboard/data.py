"""Fetching what a screen shows, over the API, in as few round trips as possible.

Pages call these loaders from their callbacks; the loaders return plain dicts ready for the
figure builders. Calls that do not depend on each other run concurrently (the httpx client is
thread-safe), so the overview of thirty characteristics costs about one round trip, not thirty.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from dashboard import analysis
from dashboard.api import ApiClient, ApiError
from dashboard.context import window_start
from dashboard.figures.downsample import downsample_chart
from dashboard.settings import DashboardSettings

T = TypeVar("T")
SPARK_POINTS = 60
# The histogram needs the distribution, not every value: the newest 20,000 values suffice.
MAX_HISTOGRAM_VALUES = 20_000


def parallel(calls: Sequence[Callable[[], T]], workers: int = 8) -> list[T | Exception]:
    """Run independent API calls at once; a failing call yields its exception, not a crash."""

    def guard(call: Callable[[], T]) -> T | Exception:
        try:
            return call()
        except Exception as exc:  # reported per item by the caller
            return exc

    if len(calls) <= 1:
        return [guard(c) for c in calls]
    with ThreadPoolExecutor(max_workers=min(workers, len(calls))) as pool:
        return list(pool.map(guard, calls))


def fingerprint(chart: Mapping[str, Any]) -> list[Any]:
    """What changes when the chart must be redrawn: a new point, a new flag, new limits."""
    points = chart.get("points") or []
    last = points[-1] if points else {}
    total = (chart.get("downsampled") or {}).get("points", len(points))
    flagged = sum(1 for p in points if p.get("violations"))
    return [
        total,
        last.get("i"),
        last.get("ts"),
        flagged,
        last.get("limit_version"),
        last.get("alarm_id"),
    ]


@dataclass
class ChartBundle:
    characteristic: dict[str, Any]
    chart: dict[str, Any]
    capability: dict[str, Any] | None
    values: list[float]
    open_alarms: list[dict[str, Any]] = field(default_factory=list)

    @property
    def fingerprint(self) -> list[Any]:
        return fingerprint(self.chart)


def histogram_values(
    chart: Mapping[str, Any], measurements: Sequence[Mapping[str, Any]] | None
) -> list[float]:
    """Individual values: measurements when the service lists them, per-point ``values`` when the
    chart carries them, else the plotted statistic (exact for individuals charts)."""
    if measurements:
        return [float(m["value"]) for m in measurements if m.get("value") is not None]
    out: list[float] = []
    for p in chart.get("points") or []:
        if p.get("values"):
            out.extend(float(v) for v in p["values"])
        elif p.get("stat") is not None:
            out.append(float(p["stat"]))
    return out


def load_chart(
    api: ApiClient,
    key: str,
    window: str | None,
    settings: DashboardSettings,
    *,
    with_alarms: bool = True,
) -> ChartBundle:
    """Characteristic, thinned chart, capability and histogram values of one window.

    The chart answer carries the capability of the window (service: over the window's values,
    with the current limits' sigma), so it needs no extra request.
    """
    start = window_start(window)
    calls: list[Callable[[], Any]] = [
        lambda: api.characteristic(key),
        lambda: api.chart(key, start=start, max_points=settings.max_points),
        lambda: api.measurements(key, start=start, limit=MAX_HISTOGRAM_VALUES),
    ]
    if with_alarms:
        calls.append(lambda: api.alarms(state="open", characteristic=key))
    results = parallel(calls)
    characteristic, chart = results[0], results[1]
    for result in (characteristic, chart):
        if isinstance(result, Exception):
            raise result
    assert isinstance(characteristic, dict) and isinstance(chart, dict)
    capability = chart.get("capability")
    measurements = results[2] if isinstance(results[2], list) else None
    alarms = results[3] if with_alarms and isinstance(results[3], list) else []
    thin = downsample_chart(chart, settings.max_points)
    return ChartBundle(
        characteristic=characteristic,
        chart=thin,
        capability=capability,
        values=histogram_values(chart, measurements),
        open_alarms=alarms,
    )


def overview_rows(api: ApiClient) -> list[dict[str, Any]]:
    """One row per characteristic: status, last value, sparkline data, Cpk, OOC rate today.

    Two chart requests per characteristic (today's points, with the capability of today's
    values; the last points for the sparkline), all concurrently.
    """
    characteristics, open_alarms = parallel([api.characteristics, lambda: api.alarms(state="open")])
    if isinstance(characteristics, Exception):
        raise characteristics
    alarms = open_alarms if isinstance(open_alarms, list) else []
    today = analysis.start_of_day().isoformat().replace("+00:00", "Z")

    def row(c: Mapping[str, Any]) -> dict[str, Any]:
        key = str(c["key"])
        chart_today, recent = parallel(
            [
                lambda: api.chart(key, start=today),
                lambda: api.chart(key, limit=SPARK_POINTS),
            ]
        )
        return assemble_row(
            c,
            chart_today if isinstance(chart_today, dict) else {},
            recent if isinstance(recent, dict) else {},
            alarms,
        )

    results = parallel([lambda c=c: row(c) for c in characteristics], workers=8)
    return [r for r in results if isinstance(r, dict)]


def _with_dispersion_flags(chart: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Main-chart points whose ``violations`` also list the dispersion chart's (prefixed), so that
    "out of control" counts a subgroup flagged on either chart, as the alarms do."""
    points = [dict(p) for p in chart.get("points") or []]
    disp = {
        d.get("ts"): d.get("violations") or []
        for d in (chart.get("dispersion") or {}).get("points") or []
    }
    for p in points:
        extra = disp.get(p.get("ts"))
        if extra:
            p["violations"] = [*(p.get("violations") or []), *(f"{r}*" for r in extra)]
    return points


def assemble_row(
    characteristic: Mapping[str, Any],
    chart_today: Mapping[str, Any],
    recent: Mapping[str, Any],
    open_alarms: Sequence[Mapping[str, Any]],
    capability: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """An overview row from the raw API answers (pure; tested without a service)."""
    key = str(characteristic["key"])
    today_points = _with_dispersion_flags(chart_today)
    spark = _with_dispersion_flags(recent)[-SPARK_POINTS:] or today_points[-SPARK_POINTS:]
    last = spark[-1] if spark else None
    n_alarms = sum(1 for a in open_alarms if a.get("characteristic") == key)
    has_limits = (
        characteristic.get("current_limit_version") is not None
        or recent.get("limit_version") is not None
        or chart_today.get("limit_version") is not None
    )
    capability = capability or chart_today.get("capability") or recent.get("capability") or {}
    return {
        "key": key,
        "name": characteristic.get("name") or key,
        "unit": characteristic.get("unit"),
        "line": analysis.line_of(characteristic),
        "station": analysis.station_of(characteristic),
        "chart": characteristic.get("chart"),
        "status": analysis.status_of(has_limits, n_alarms, has_data=bool(spark)),
        "last_value": None if last is None else last.get("stat"),
        "last_ts": None if last is None else last.get("ts"),
        "spark": [p.get("stat") for p in spark],
        "spark_flags": [bool(p.get("violations")) for p in spark],
        "lcl": (last or {}).get("lcl"),
        "ucl": (last or {}).get("ucl"),
        "center": recent.get("center"),
        "cpk": capability.get("cpk"),
        "ooc_rate": analysis.out_of_control_rate(today_points),
        "open_alarms": n_alarms,
    }


def safe(call: Callable[[], T], default: T) -> T:
    try:
        return call()
    except ApiError:
        return default
