"""Thin a long chart for display without hiding anything an engineer must see.

A screen is ~1,800 pixels wide: drawing 100,000 points costs seconds and shows nothing more than
the extremes of each pixel column. So each bucket of consecutive points keeps its minimum and
maximum (the M4/min-max idea of Jugel et al., "M4: a visualization-oriented time series data
aggregation", VLDB 2014), for the statistic and for its dispersion, plus - always - every point
that a rule flagged or that belongs to an alarm, and the first and last point. The service does
this before sending; the dashboard applies the same rule to anything that still arrives too long.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

Point = Mapping[str, Any]


def _flagged(point: Point) -> bool:
    return bool(point.get("violations")) or point.get("alarm_id") is not None


def _stats(points: Sequence[Point]) -> NDArray[np.float64]:
    return np.array(
        [p.get("stat") if p.get("stat") is not None else np.nan for p in points], dtype=float
    )


def extreme_indices(values: NDArray[np.float64], buckets: int) -> NDArray[np.intp]:
    """Indices of the minimum and maximum of each of ``buckets`` equal runs of ``values``."""
    n = values.shape[0]
    if n == 0 or buckets <= 0:
        return np.empty(0, dtype=np.intp)
    size = -(-n // buckets)  # ceil
    padded = np.full(buckets * size, np.nan)
    padded[:n] = values
    grid = padded.reshape(buckets, size)
    lo = np.where(np.isnan(grid), np.inf, grid).argmin(axis=1)
    hi = np.where(np.isnan(grid), -np.inf, grid).argmax(axis=1)
    base = np.arange(buckets) * size
    found = np.concatenate([base + lo, base + hi])
    return np.unique(found[found < n])


def keep_indices(
    points: Sequence[Point],
    max_points: int,
    dispersion: Sequence[Point] | None = None,
) -> NDArray[np.intp]:
    """Positions (into ``points``) that a thinned chart keeps, sorted."""
    n = len(points)
    if n <= max_points:
        return np.arange(n)
    # Four extremes per bucket when a dispersion chart exists (min/max of each), two otherwise.
    per_bucket = 4 if dispersion else 2
    buckets = max(1, max_points // per_bucket)
    keep = [extreme_indices(_stats(points), buckets), np.array([0, n - 1])]
    flagged = np.flatnonzero(np.fromiter((_flagged(p) for p in points), dtype=bool, count=n))
    keep.append(flagged)
    if dispersion:
        by_i = {p.get("i"): pos for pos, p in enumerate(points)}
        disp_stats = np.full(n, np.nan)
        disp_flag = np.zeros(n, dtype=bool)
        for d in dispersion:
            pos = by_i.get(d.get("i"))
            if pos is not None:
                stat = d.get("stat")
                disp_stats[pos] = np.nan if stat is None else stat
                disp_flag[pos] = _flagged(d)
        keep.append(extreme_indices(disp_stats, buckets))
        keep.append(np.flatnonzero(disp_flag))
    return np.unique(np.concatenate(keep).astype(np.intp))


def downsample_chart(chart: Mapping[str, Any], max_points: int) -> dict[str, Any]:
    """The chart JSON with at most about ``max_points`` points (plus every flagged point).

    The dispersion chart keeps the same subgroups as the main chart so that the two stacked
    charts stay aligned. ``downsampled`` records how many points there were (with the service's
    own key names).
    """
    points: list[Point] = list(chart.get("points") or [])
    disp = chart.get("dispersion") or None
    disp_points: list[Point] = list(disp.get("points") or []) if disp else []
    out = dict(chart)
    if len(points) <= max_points:
        return out
    keep = keep_indices(points, max_points, disp_points or None)
    kept = [points[k] for k in keep]
    out["points"] = kept
    previous = (chart.get("downsampled") or {}).get("points")
    out["downsampled"] = {"points": previous or len(points), "returned": len(kept)}
    if disp:
        wanted = {p.get("i") for p in kept}
        new_disp = dict(disp)
        new_disp["points"] = [d for d in disp_points if d.get("i") in wanted]
        out["dispersion"] = new_disp
    return out
