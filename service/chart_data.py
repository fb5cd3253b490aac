"""Chart JSON for a time window: the CLI chart contract (the shape of
`spc.ChartResult.to_dict()`) plus, per point, ``ts``, ``lot``, ``limit_version``, ``point_no``,
``alarm_id`` and ``alarms`` (rule -> alarm id).

Points judged live are rebuilt from the stored measurements, grouped by the (limit version,
point number) the evaluator gave them, and charted by `spc.chart` against that version's stored
`spc.Limits`; their ``violations`` are the ones stored live (with the alarms they opened or
joined): what the operator saw, whatever the window's start. EWMA and CUSUM carry state over the
whole version, so their statistic is computed from the version's first point; an individuals
chart takes the point before the window for its first moving range. Points stored before any
limits were approved are charted rule-free, with limits estimated from the displayed points
themselves (phase I display).

Everything runs on numpy arrays and builds JSON objects only for the points returned: with
`max_points`, per bucket of consecutive points the minimum and the maximum of the statistic are
kept, and every point with a violation is always kept, so a 100,000-point chart stays readable
without hiding a single signal, and answers in a fraction of a second.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from service.domain import (
    ATTRIBUTE_CHARTS,
    DISPERSION_NAME,
    SUBGROUP_CHARTS,
    Characteristic,
    LimitVersion,
)
from service.evaluation.former import form_offline
from service.limits import chart_kwargs
from service.storage.db import Tx
from service.storage.repository import Repository

# raw row (Repository.raw_window): id, value, subgroup, limit_version, point_no
ID, VALUE, LABEL, VERSION, POINT = range(5)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # the former wants a time; charts take it from ts_lot


def _number(value: float) -> float | None:
    return value if math.isfinite(value) else None


@dataclass
class Series:
    """Per-point arrays of the returned chart, concatenated over limit-version segments."""

    stat: list[np.ndarray] = field(default_factory=list)
    lcl: list[np.ndarray] = field(default_factory=list)
    ucl: list[np.ndarray] = field(default_factory=list)
    n: list[np.ndarray] = field(default_factory=list)
    upper: list[np.ndarray] = field(default_factory=list)
    lower: list[np.ndarray] = field(default_factory=list)
    d_stat: list[np.ndarray] = field(default_factory=list)
    d_lcl: list[np.ndarray] = field(default_factory=list)
    d_ucl: list[np.ndarray] = field(default_factory=list)
    d_n: list[np.ndarray] = field(default_factory=list)
    version: list[int | None] = field(default_factory=list)
    point_no: list[int | None] = field(default_factory=list)
    last_row: list[int] = field(default_factory=list)

    def add(
        self,
        result: Any,
        skip: int,
        count: int,
        versions: list[int | None],
        points: list[int | None],
        last_rows: list[int],
    ) -> None:
        tail = slice(skip, skip + count)
        self.stat.append(np.asarray(result.stat, dtype=float)[tail])
        self.lcl.append(np.asarray(result.lcl, dtype=float)[tail])
        self.ucl.append(np.asarray(result.ucl, dtype=float)[tail])
        self.n.append(np.asarray(result.n, dtype=float)[tail])
        nan = np.full(count, np.nan)
        self.upper.append(nan if result.upper is None else np.asarray(result.upper)[tail])
        self.lower.append(nan if result.lower is None else np.asarray(result.lower)[tail])
        d_stat, d_lcl, d_ucl, d_n = nan, nan, nan, nan
        dispersion = result.dispersion
        if dispersion is not None:
            # dispersion point k belongs to main point index[k] (MR starts at the second)
            full = len(result.stat)
            d_stat, d_lcl, d_ucl, d_n = (np.full(full, np.nan) for _ in range(4))
            index = np.asarray(dispersion.index, dtype=np.int64)
            d_stat[index] = dispersion.stat
            d_lcl[index] = dispersion.lcl
            d_ucl[index] = dispersion.ucl
            d_n[index] = dispersion.n
            d_stat, d_lcl, d_ucl, d_n = (a[tail] for a in (d_stat, d_lcl, d_ucl, d_n))
        self.d_stat.append(d_stat)
        self.d_lcl.append(d_lcl)
        self.d_ucl.append(d_ucl)
        self.d_n.append(d_n)
        self.version.extend(versions)
        self.point_no.extend(points)
        self.last_row.extend(last_rows)

    def arrays(self) -> dict[str, np.ndarray]:
        names = ("stat", "lcl", "ucl", "n", "upper", "lower", "d_stat", "d_lcl", "d_ucl", "d_n")
        return {
            name: np.concatenate(getattr(self, name)) if getattr(self, name) else np.empty(0)
            for name in names
        }


class ChartBuilder:
    def __init__(self, tx: Tx, repo: Repository, char: Characteristic) -> None:
        self.tx = tx
        self.repo = repo
        self.char = char
        self._limits: dict[int, LimitVersion] = {}

    def limits(self, version: int) -> LimitVersion:
        if version not in self._limits:
            found = self.repo.get_limit_version(self.tx, self.char.id, version)
            assert found is not None
            self._limits[version] = found
        return self._limits[version]

    def build(
        self,
        start: datetime | None,
        end: datetime | None,
        limit: int | None,
        max_points: int | None,
    ) -> dict[str, Any]:
        char, tx, repo = self.char, self.tx, self.repo
        size = max(int(char.subgroup_size), 1) if char.chart in SUBGROUP_CHARTS else 1
        fetch = None if limit is None else limit * size + size
        rows = repo.raw_window(tx, char.id, start, end, fetch)
        series = Series()
        top: Any = None
        versions_seen: list[int] = []
        for version, lo, hi in _segments(rows):
            segment = rows[lo:hi]
            if version is None:
                result = self._unjudged(segment, lo, series)
            else:
                result = self._judged(version, segment, lo, series)
                versions_seen.append(version)
            top = result or top
        arrays = series.arrays()
        count = len(series.last_row)
        stored = self._stored_violations(rows)
        keys = list(zip(series.version, series.point_no, strict=True))
        flags = [stored.get((v, p, "stat")) if v is not None else None for v, p in keys]
        flagged = [
            bool(f) or (v is not None and (v, p, "dispersion") in stored)
            for f, (v, p) in zip(flags, keys, strict=True)
        ]
        selected = np.arange(count)
        if limit is not None and count > limit:
            selected = selected[-limit:]
        total = len(selected)
        if max_points is not None and total > max_points:
            keep = downsample_indices(
                arrays["stat"][selected], [flagged[i] for i in selected], max_points
            )
            selected = selected[keep]
        points, dispersion = self._json_points(
            selected.tolist(), arrays, series, rows, flags, stored
        )
        current = repo.current_version_number(tx, char.id)
        lv = self.limits(current) if current is not None else None
        body: dict[str, Any] = {
            "chart": char.chart,
            "center": lv.center if lv else (_number(top.center) if top is not None else None),
            "sigma": lv.sigma if lv else (_number(top.sigma) if top is not None else None),
            "phase1": lv.phase1.get("points") if lv else None,
            "rules": lv.rules if lv else "none",
            "points": points,
            "characteristic": char.key,
            "name": char.name,
            "unit": char.unit,
            "decimals": char.decimals,
            "lsl": char.lsl,
            "usl": char.usl,
            "target": char.target,
            "limit_version": current,
            "limits": [
                {
                    k: self.limits(v).public()[k]
                    for k in ("version", "center", "sigma", "lcl", "ucl")
                }
                for v in sorted(set(versions_seen) | ({current} if current else set()))
            ],
            "downsampled": None
            if total == len(points)
            else {"points": total, "returned": len(points)},
        }
        if char.chart in DISPERSION_NAME:
            center = lv.limits.get("dispersion_center") if lv else None
            if center is None and top is not None and top.dispersion is not None:
                center = _number(top.dispersion.center)
            body["dispersion"] = {
                "chart": DISPERSION_NAME[char.chart],
                "center": center,
                "points": dispersion,
            }
        if (char.lsl is not None or char.usl is not None) and char.chart not in ATTRIBUTE_CHARTS:
            values = np.fromiter((r[VALUE] for r in rows), dtype=float, count=len(rows))
            body["capability"] = self._capability(values, lv.sigma if lv else body["sigma"])
        return body

    # --- JSON ---------------------------------------------------------------------------------
    def _json_points(
        self,
        selected: list[int],
        arrays: dict[str, np.ndarray],
        series: Series,
        rows: list[tuple[Any, ...]],
        flags: list[dict[str, int | None] | None],
        stored: dict[tuple[int, int, str], dict[str, int | None]],
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Points in the format of `spc.ChartResult.to_dict()`'s, for the selected ones only."""
        details = self.repo.ts_lot(
            self.tx, self.char.id, [rows[series.last_row[j]][ID] for j in selected]
        )
        columns = {k: arrays[k][selected].tolist() for k in arrays}
        integral = bool(np.all(arrays["n"] == np.round(arrays["n"]))) if len(arrays["n"]) else True
        cusum = self.char.chart == "cusum"
        points: list[dict[str, Any]] = []
        dispersion: list[dict[str, Any]] = []
        for out, j in enumerate(selected):
            row = rows[series.last_row[j]]
            version, point_no = series.version[j], series.point_no[j]
            alarms = flags[j] or {}
            n = columns["n"][out]
            point: dict[str, Any] = {
                "i": out,
                "n": int(n) if integral else n,
                "stat": _number(columns["stat"][out]),
                "lcl": _number(columns["lcl"][out]),
                "ucl": _number(columns["ucl"][out]),
                "violations": list(alarms),
            }
            if cusum:
                point["upper"] = columns["upper"][out]
                point["lower"] = columns["lower"][out]
            ts, lot = details[row[ID]]
            point.update(
                ts=ts,
                lot=lot,
                limit_version=version,
                point_no=point_no,
                alarm_id=next(iter(alarms.values()), None),
                alarms=alarms,
            )
            points.append(point)
            d_stat = columns["d_stat"][out]
            if d_stat == d_stat:  # not NaN: this point has a dispersion statistic
                d_alarms = (
                    stored.get((version, point_no, "dispersion"), {}) if version is not None else {}
                )
                d_n = columns["d_n"][out]
                dispersion.append(
                    {
                        "i": out,
                        "n": int(d_n) if d_n == int(d_n) else d_n,
                        "stat": _number(d_stat),
                        "lcl": _number(columns["d_lcl"][out]),
                        "ucl": _number(columns["d_ucl"][out]),
                        "violations": list(d_alarms),
                        "ts": point["ts"],
                        "limit_version": version,
                        "point_no": point_no,
                        "alarm_id": next(iter(d_alarms.values()), None),
                        "alarms": d_alarms,
                    }
                )
        return points, dispersion

    # --- segments -----------------------------------------------------------------------------
    def _stored_violations(
        self, rows: Sequence[tuple[Any, ...]]
    ) -> dict[tuple[int, int, str], dict[str, int | None]]:
        if not rows:
            return {}
        found: dict[tuple[int, int, str], dict[str, int | None]] = {}
        first = min(r[ID] for r in rows)
        for v in self.repo.violations(self.tx, self.char.id, min_id=first):
            key = (v["limit_version"], v["point_no"], v["series"])
            found.setdefault(key, {})[v["rule"]] = v["alarm_id"]
        return found

    def _judged(
        self, version: int, segment: list[tuple[Any, ...]], offset: int, series: Series
    ) -> Any:
        import spc

        char = self.char
        lv = self.limits(version)
        judged = [i for i, r in enumerate(segment) if r[POINT] is not None]
        if not judged:
            return None
        points = np.fromiter((segment[i][POINT] for i in judged), dtype=np.int64, count=len(judged))
        values = np.fromiter((segment[i][VALUE] for i in judged), dtype=float, count=len(judged))
        ends = [*np.flatnonzero(np.diff(points)).tolist(), len(judged) - 1]
        starts = [0, *(e + 1 for e in ends[:-1])]
        if char.chart in SUBGROUP_CHARTS:
            starts, ends = self._complete(version, points, starts, ends)
        if not ends:
            return None
        first_id = int(segment[judged[starts[0]]][ID])
        prefix: list[float] = []
        if char.chart in ("ewma", "cusum") or (char.chart == "imr" and points[starts[0]] > 0):
            history = self.repo.replay_points(
                self.tx, char.id, int(lv.start_after_id or 0), first_id - 1, version
            )
            usable = [h[2] for h in history if h[4] != "bad"]
            prefix = usable if char.chart != "imr" else usable[-1:]
        if char.chart in SUBGROUP_CHARTS:
            groups = [values[s : e + 1] for s, e in zip(starts, ends, strict=True)]
            sizes = {len(g) for g in groups}
            data: Any = np.vstack(groups) if len(sizes) == 1 else [g.tolist() for g in groups]
            sizes_arg = None
        else:
            data = np.concatenate([np.asarray(prefix, dtype=float), values])
            sizes_arg = (
                np.full(len(data), float(char.subgroup_size))
                if char.chart in ATTRIBUTE_CHARTS and char.chart != "c"
                else None
            )
        limits = spc.Limits.from_dict(lv.limits)
        result = spc.chart(char.chart, data, sizes=sizes_arg, limits=limits, rules="none")
        count = len(ends)
        series.add(
            result,
            len(result.stat) - count,
            count,
            [version] * count,
            [int(points[e]) for e in ends],
            [offset + judged[e] for e in ends],
        )
        return result

    def _complete(
        self, version: int, points: np.ndarray, starts: list[int], ends: list[int]
    ) -> tuple[list[int], list[int]]:
        """Only subgroups the monitor has judged: full ones (and, by field, all but the one
        still open)."""
        char = self.char
        if char.subgroup_by == "size":
            keep = [
                (s, e) for s, e in zip(starts, ends, strict=True) if e - s + 1 >= char.subgroup_size
            ]
        else:
            keep = list(zip(starts, ends, strict=True))
            if keep:
                last_no = int(points[keep[-1][1]])
                later = self.tx.scalar(
                    "SELECT 1 FROM measurements WHERE characteristic_id = ? AND limit_version = ? "
                    "AND point_no > ? LIMIT 1",
                    [char.id, version, last_no],
                )
                s, e = keep[-1]
                full = char.subgroup_size > 1 and e - s + 1 >= char.subgroup_size
                if not later and not full:
                    keep = keep[:-1]
        return [s for s, _ in keep], [e for _, e in keep]

    def _unjudged(self, segment: list[tuple[Any, ...]], offset: int, series: Series) -> Any:
        import spc

        char = self.char
        subgroups = form_offline(
            char.chart,
            int(char.subgroup_size),
            char.subgroup_by,
            [(i, _EPOCH, r[VALUE], r[LABEL]) for i, r in enumerate(segment)],
        )
        if not subgroups:
            return None
        if char.chart in SUBGROUP_CHARTS:
            data: Any = [sg.values for sg in subgroups]
            sizes = None
        else:
            data = [sg.values[0] for sg in subgroups]
            sizes = (
                [float(char.subgroup_size)] * len(data)
                if char.chart in ATTRIBUTE_CHARTS and char.chart != "c"
                else None
            )
        kwargs = chart_kwargs(char)
        if char.chart not in ATTRIBUTE_CHARTS:
            kwargs["sigma_method"] = char.sigma_method
        count = len(subgroups)
        try:
            result = spc.chart(char.chart, data, sizes=sizes, rules="none", **kwargs)
        except spc.SpcError:
            result = _Bare(char, subgroups)
        series.add(
            result,
            0,
            count,
            [None] * count,
            [None] * count,
            [offset + sg.last_id for sg in subgroups],
        )
        return result if not isinstance(result, _Bare) else None

    def _capability(self, values: np.ndarray, sigma: float | None) -> dict[str, Any] | None:
        import spc

        if sigma is None or len(values) < 2 or not sigma > 0:
            return None
        try:
            return spc.capability(
                values,
                sigma_within=sigma,
                lsl=self.char.lsl,
                usl=self.char.usl,
                target=self.char.target,
            ).to_dict()
        except spc.SpcError:
            return None


def _segments(rows: Sequence[tuple[Any, ...]]) -> list[tuple[int | None, int, int]]:
    """(limit_version, start, end) of consecutive runs judged under one version."""
    out: list[tuple[int | None, int, int]] = []
    start = 0
    for i in range(1, len(rows) + 1):
        if i == len(rows) or rows[i][VERSION] != rows[start][VERSION]:
            out.append((rows[start][VERSION], start, i))
            start = i
    return out


class _Bare:
    """Too few points to estimate limits: the statistic alone."""

    def __init__(self, char: Characteristic, subgroups: list[Any]) -> None:
        stats, sizes = [], []
        for sg in subgroups:
            if char.chart in ("p", "u"):
                stats.append(sg.values[0] / max(char.subgroup_size, 1))
                sizes.append(char.subgroup_size)
            else:
                stats.append(sum(sg.values) / len(sg.values))
                sizes.append(len(sg.values) if char.chart in SUBGROUP_CHARTS else 1)
        self.stat = np.asarray(stats, dtype=float)
        self.n = np.asarray(sizes, dtype=float)
        self.lcl = np.full(len(stats), np.nan)
        self.ucl = np.full(len(stats), np.nan)
        self.upper = self.lower = self.dispersion = None
        self.center = self.sigma = float("nan")


def downsample_indices(
    stats: Sequence[float | None] | np.ndarray, flagged: Sequence[bool], max_points: int
) -> np.ndarray:
    """Positions to keep: first, last, every flagged point, and min and max per bucket."""
    values = np.asarray([np.nan if s is None else s for s in stats], dtype=np.float64)
    n = len(values)
    if n <= max_points:
        return np.arange(n)
    keep = np.zeros(n, dtype=bool)
    keep[np.asarray(flagged, dtype=bool)] = True
    keep[0] = keep[-1] = True
    buckets = max(1, (max_points - int(keep.sum())) // 2)
    edges = np.linspace(0, n, buckets + 1).astype(np.int64)
    for lo, hi in zip(edges[:-1].tolist(), edges[1:].tolist(), strict=True):
        if hi <= lo:
            continue
        chunk = values[lo:hi]
        if np.all(np.isnan(chunk)):
            keep[lo] = True
            continue
        keep[lo + int(np.nanargmin(chunk))] = True
        keep[lo + int(np.nanargmax(chunk))] = True
    return np.flatnonzero(keep)
