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

A service that only stores violations asks `flagged_together` instead: the same pass, but a
result object only for the few points that break a rule (building one per point was a third of
the pass in bench/bench_ingest.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import repeat
from typing import Any

import numpy as np

from spc.monitor import Monitor, PointResult, _new
from spc.rules import LOOKBACK, evaluate_rules, violations_by_point

__all__ = ["flagged_together", "update_together"]

Flagged = list[tuple[int, PointResult]]
"""(offset in the monitor's batch, result) of each point that breaks a rule."""


def update_together(
    monitors: Sequence[Monitor], batches: Sequence[Sequence[Any]]
) -> list[list[PointResult]]:
    """`monitors[i].update_many(batches[i])` for every i, with the same results and the same
    state afterwards; an invalid point raises as `update_many` does."""
    return _together(monitors, batches, flagged_only=False)


def flagged_together(
    monitors: Sequence[Monitor], batches: Sequence[Sequence[Any]]
) -> list[Flagged]:
    """`update_together`, keeping only the points with a violation on either chart, each with
    its offset in its batch; the monitors' state afterwards is the same.

    >>> from spc import Limits, Monitor
    >>> limits = Limits("imr", center=10.0, sigma=1.0, dispersion_center=1.128)
    >>> a, b = Monitor(limits), Monitor(limits)
    >>> [(k, r.violations) for k, r in flagged_together([a, b], [[10.5] * 8, [14.0]])[0]]
    [(7, ['WE4'])]
    """
    return _together(monitors, batches, flagged_only=True)


def _together(
    monitors: Sequence[Monitor], batches: Sequence[Sequence[Any]], *, flagged_only: bool
) -> list[Any]:
    """Either entry point; list[list[PointResult]] or list[Flagged] by `flagged_only`."""
    if len(monitors) != len(batches):
        raise ValueError("one batch per monitor")
    one_by_one = _only_flagged if flagged_only else _all
    if len({id(m) for m in monitors}) != len(monitors):  # one monitor twice: in turn
        return [one_by_one(m.update_many(b)) for m, b in zip(monitors, batches, strict=True)]
    results: list[Any] = [None] * len(monitors)
    groups: dict[tuple[str, ...], list[int]] = {}
    for index, (monitor, batch) in enumerate(zip(monitors, batches, strict=True)):
        bands = _together_bands(monitor, batch)
        if bands is None:
            results[index] = one_by_one(monitor.update_many(batch))
        else:
            groups.setdefault(monitor._names, []).append(index)
    for names, members in groups.items():
        judged = _individuals(
            [monitors[i] for i in members], [batches[i] for i in members], names, flagged_only
        )
        for i, points in zip(members, judged, strict=True):
            results[i] = points
    return [r if r is not None else [] for r in results]


def _all(results: list[PointResult]) -> list[PointResult]:
    return results


def _only_flagged(results: list[PointResult]) -> Flagged:
    return [(k, r) for k, r in enumerate(results) if r.violations or r.dispersion_violations]


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
    monitors: list[Monitor],
    batches: list[Sequence[Any]],
    names: tuple[str, ...],
    flagged_only: bool,
) -> list[list[PointResult]] | list[Flagged]:
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
    flags = {k: v[new_at] for k, v in evaluate_rules(row_z, row_stat, names).items()}

    previous = np.empty(total, dtype=np.float64)
    previous[1:] = values[:-1]
    previous[first_new] = [m._last_value for m in monitors]
    spread = np.abs(values - previous)
    beyond = (spread > dispersion[per_point, 1]) | (spread < dispersion[per_point, 0])

    # The points to build a result for: all of them, or those with a violation.
    beyond_names = monitors[0]._beyond_names  # the same rules, the same names
    sel: Any
    if flagged_only:
        hit = beyond.copy() if beyond_names else np.zeros(total, dtype=np.bool_)
        for mask in flags.values():
            hit |= mask
        sel = np.flatnonzero(hit)
        position = {j: k for k, j in enumerate(sel.tolist())}
        violations: list[list[str]] = [[] for _ in position]
        for name, mask in flags.items():
            for j in np.flatnonzero(mask).tolist():
                violations[position[j]].append(name)
    else:
        sel = slice(None)
        violations = violations_by_point(flags, total)
    beyond_sel = beyond[sel]
    flagged: list[list[str]] = list(map(list, repeat((), len(beyond_sel))))
    for j in np.flatnonzero(beyond_sel).tolist():
        flagged[j] = list(beyond_names)

    starts = np.fromiter((m._i for m in monitors), dtype=np.int64, count=count)
    index = np.repeat(starts - first_new, sizes) + np.arange(total)
    owner = per_point[sel]
    points = list(
        map(
            _new,
            repeat(PointResult),
            zip(
                index[sel].tolist(),
                repeat(1.0),
                values[sel].tolist(),
                *(main[owner, c].tolist() for c in range(3)),
                z[sel].tolist(),
                violations,
                spread[sel].tolist(),
                dispersion[owner, 0].tolist(),
                dispersion[owner, 1].tolist(),
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
    for k, (monitor, a, b) in enumerate(zip(monitors, first_new.tolist(), ends, strict=True)):
        monitor._i += b - a
        monitor._tail_z = tails_z[k]
        monitor._tail_stat = tails_stat[k]
        monitor._last_value = last[k]
    if not flagged_only:
        return [points[a:b] for a, b in zip(first_new.tolist(), ends, strict=True)]
    out: list[Flagged] = [[] for _ in monitors]
    offsets = (sel - first_new[owner]).tolist()
    for k, offset, point in zip(owner.tolist(), offsets, points, strict=True):
        out[k].append((offset, point))
    return out
