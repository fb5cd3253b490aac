"""Many monitors, one micro-batch each, judged in one vectorized pass.

A service evaluates a batch of measurements spread over hundreds of characteristics: a few
points per monitor. Point by point that is a few microseconds of Python per point, every rule
a separate function call. Individuals monitors (I-MR, the common shop-floor chart) with a full
history tail can instead be laid end to end, each as its `LOOKBACK`-point tail followed by its
new points, and the run rules evaluated once over the whole row: every rule window is at most
`LOOKBACK + 1` points long, so no window of a new point reaches into the previous monitor's
segment, and the flags equal those of each monitor alone. Everything else (other charts, a
tail still filling, a value that is not a finite number) goes through `Monitor.update_many`.

>>> from spc import Limits, Monitor
>>> limits = Limits("imr", center=10.0, sigma=1.0, dispersion_center=1.128)
>>> a, b = Monitor(limits), Monitor(limits)
>>> [r.violations for r in update_together([a, b], [[10.5] * 8, [14.0]])[0]][-1]
['WE4']
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import repeat
from typing import Any

import numpy as np

from spc.monitor import Monitor, PointResult, _new
from spc.rules import LOOKBACK, evaluate_rules, violations_by_point

__all__ = ["update_together"]


def update_together(
    monitors: Sequence[Monitor], batches: Sequence[Sequence[Any]]
) -> list[list[PointResult]]:
    """`monitors[i].update_many(batches[i])` for every i, with the same results and the same
    state afterwards; an invalid point raises as `update_many` does."""
    if len(monitors) != len(batches):
        raise ValueError("one batch per monitor")
    results: list[list[PointResult] | None] = [None] * len(monitors)
    if len({id(m) for m in monitors}) != len(monitors):  # one monitor twice: in turn
        return [m.update_many(b) for m, b in zip(monitors, batches, strict=True)]
    groups: dict[tuple[str, ...], list[int]] = {}
    for index, (monitor, batch) in enumerate(zip(monitors, batches, strict=True)):
        bands = _together_bands(monitor, batch)
        if bands is None:
            results[index] = monitor.update_many(batch)
        else:
            groups.setdefault(monitor._names, []).append(index)
    for names, members in groups.items():
        judged = _individuals([monitors[i] for i in members], [batches[i] for i in members], names)
        for i, points in zip(members, judged, strict=True):
            results[i] = points
    return [r if r is not None else [] for r in results]


def _together_bands(monitor: Monitor, batch: Sequence[Any]) -> Any:
    """The monitor's n = 1 limits when it can join the vectorized pass, else None."""
    if (
        monitor._kind != "imr"
        or len(monitor._tail_z) != LOOKBACK
        or monitor._last_value is None
        or not batch
    ):
        return None
    return monitor._individual_bands(batch)


def _individuals(
    monitors: list[Monitor], batches: list[Sequence[Any]], names: tuple[str, ...]
) -> list[list[PointResult]]:
    count = len(monitors)
    sizes = np.fromiter((len(b) for b in batches), dtype=np.intp, count=count)
    total = int(sizes.sum())
    values = np.fromiter((float(p) for b in batches for p in b), dtype=np.float64, count=total)
    bands = [m._bands[1.0] for m in monitors]
    main = np.array([b[0] for b in bands], dtype=np.float64)  # center, lcl, ucl, unit
    dispersion = np.array([b[1] for b in bands], dtype=np.float64)  # MR lcl, ucl
    per_point = np.repeat(np.arange(count), sizes)
    z = (values - main[per_point, 0]) / main[per_point, 3]

    # The row: each monitor's tail, then its new points.
    seg_len = sizes + LOOKBACK
    seg_end = np.cumsum(seg_len)
    seg_start = seg_end - seg_len
    first_new = np.cumsum(sizes) - sizes
    new_at = np.repeat(seg_start + LOOKBACK, sizes) + (np.arange(total) - first_new[per_point])
    tail_at = (seg_start[:, None] + np.arange(LOOKBACK)[None, :]).ravel()
    row_z = np.empty(int(seg_end[-1]), dtype=np.float64)
    row_stat = np.empty_like(row_z)
    row_z[tail_at] = np.array([m._tail_z for m in monitors], dtype=np.float64).ravel()
    row_stat[tail_at] = np.array([m._tail_stat for m in monitors], dtype=np.float64).ravel()
    row_z[new_at] = z
    row_stat[new_at] = values
    flags = evaluate_rules(row_z, row_stat, names)
    violations = violations_by_point({k: v[new_at] for k, v in flags.items()}, total)

    previous = np.empty(total, dtype=np.float64)
    previous[1:] = values[:-1]
    previous[first_new] = [m._last_value for m in monitors]
    spread = np.abs(values - previous)
    beyond = (spread > dispersion[per_point, 1]) | (spread < dispersion[per_point, 0])
    flagged: list[list[str]] = list(map(list, repeat((), total)))
    beyond_names = monitors[0]._beyond_names  # the same rules, the same names
    for j in np.flatnonzero(beyond).tolist():
        flagged[j] = list(beyond_names)

    starts = np.fromiter((m._i for m in monitors), dtype=np.int64, count=count)
    index = np.repeat(starts - first_new, sizes) + np.arange(total)
    points = list(
        map(
            _new,
            repeat(PointResult),
            zip(
                index.tolist(),
                repeat(1.0),
                values.tolist(),
                *(main[per_point, c].tolist() for c in range(3)),
                z.tolist(),
                violations,
                spread.tolist(),
                dispersion[per_point, 0].tolist(),
                dispersion[per_point, 1].tolist(),
                flagged,
                repeat(None),
                repeat(None),
            ),
        )
    )
    keep = (seg_end - LOOKBACK)[:, None] + np.arange(LOOKBACK)[None, :]
    tails_z = row_z[keep].tolist()
    tails_stat = row_stat[keep].tolist()
    last = values[np.cumsum(sizes) - 1].tolist()
    ends = (first_new + sizes).tolist()
    out: list[list[PointResult]] = []
    for k, (monitor, a, b) in enumerate(zip(monitors, first_new.tolist(), ends, strict=True)):
        out.append(points[a:b])
        monitor._i += b - a
        monitor._tail_z = tails_z[k]
        monitor._tail_stat = tails_stat[k]
        monitor._last_value = last[k]
    return out
