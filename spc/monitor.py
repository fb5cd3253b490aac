"""Streaming evaluation against frozen limits: one `Monitor` per characteristic.

A monitor keeps only a bounded tail: the last `rules.LOOKBACK` zone scores and statistics (every
run rule looks at most that far back), the last individual value (for the moving range), and the
EWMA or CUSUM state. Micro-batches reuse the batch code; single points and small batches of
Shewhart points go through the same arithmetic in plain floats (`spc._one_point`, bit for bit
the same), so after any sequence of `update` / `update_many` calls its results equal the batch
chart's on the same series with the same `Limits` (tests/spc/test_monitor.py checks every
prefix). Its state is a small JSON-able dict: a restarted service picks up a run of seven
points and flags the eighth.

Limits stay frozen: unlike river's detectors, nothing re-baselines after an alarm; new limits
come from a recalculation someone approves (a new `Monitor`).

>>> monitor = Monitor(Limits("imr", center=10.0, sigma=1.0, dispersion_center=1.128))
>>> [monitor.update(10.5).violations for _ in range(7)][-1]
[]
>>> saved = json.dumps(monitor.state_dict())
>>> Monitor.from_state(json.loads(saved)).update(10.5).violations
['WE4']
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from itertools import repeat, starmap
from typing import Any, NamedTuple

import numpy as np

from spc._common import RulesSpec, beyond_rules
from spc._data import FloatArray, Subgroups, as_float_array, as_sizes
from spc._ewma_cusum import CusumState, EwmaState, cusum_series, ewma_limits, ewma_series
from spc._last_point import compile_rules
from spc._one_point import dispersion_band, main_band, parse
from spc._scale import beyond, control_limits, dispersion_scale, main_scale, zone_scores
from spc.errors import InvalidArgumentError, InvalidDataError
from spc.limits import DISPERSION_CHART, Limits
from spc.rules import LOOKBACK, evaluate_rules, resolve_rules, violations_by_point

__all__ = ["Monitor", "PointResult"]

_STATE_VERSION = 1
_SUBGROUP_KINDS = frozenset({"xbar-r", "xbar-s"})
_UNSEEN = object()
_NUMBER = (float, int)
_NONE: list[str] = []  # the default of PointResult.dispersion_violations, never mutated
_new = tuple.__new__  # a PointResult without its generated __new__ (a Python-level call)
_PLAIN_UP_TO = 32
"""Batches up to this size go point by point in plain floats: numpy's fixed cost per call
(50 to 130 µs, more with Nelson's rules) is that of 10 to 30 plain points."""


class PointResult(NamedTuple):
    """One judged point. `stat`, `lcl`, `ucl` are on the main chart (for CUSUM, `stat` is the
    standardized value and `upper`/`lower` the sums); `dispersion_*` are on the R, S or MR
    chart (None for the first individual, which has no moving range).

    A NamedTuple rather than a dataclass: immutable all the same, and five times cheaper to
    build, which is most of a monitor's cost per point.
    """

    i: int
    n: float
    stat: float
    center: float
    lcl: float
    ucl: float
    z: float
    violations: list[str]
    dispersion_stat: float | None = None
    dispersion_lcl: float | None = None
    dispersion_ucl: float | None = None
    dispersion_violations: list[str] = []  # noqa: RUF012 - never mutated, only a default
    upper: float | None = None
    lower: float | None = None


def _encode(value: float) -> float | str:
    """JSON has no NaN or infinity; z is ±inf or NaN where σᵢ = 0, so spell those out."""
    return value if math.isfinite(value) else repr(value)


def _decode(value: float | str) -> float:
    return float(value)


class Monitor:
    """Judge points one at a time or in micro-batches against frozen `Limits`.

    A point is a number (imr, and ewma/cusum on individuals), a sequence of values (one
    subgroup: xbar-r, xbar-s, ewma/cusum on subgroups), a (count, size) pair (p, np, u; np
    and c also take a bare count).
    """

    def __init__(self, limits: Limits, rules: RulesSpec = "western-electric") -> None:
        if not isinstance(limits, Limits):
            raise InvalidArgumentError("limits must be a spc.Limits", argument="limits")
        self._limits = limits
        self._rules_spec: str | list[str] = rules if isinstance(rules, str) else list(rules)
        self._names = resolve_rules(rules)
        self._beyond_names = beyond_rules(self._names)
        self._kind = limits.chart
        self._i = 0
        self._tail_z: list[float] = []  # plain lists: the one-point path appends to them
        self._tail_stat: list[float] = []
        self._last_value: float | None = None
        self._ewma = EwmaState.start(limits) if self._kind == "ewma" else None
        self._cusum = CusumState.start(limits) if self._kind == "cusum" else None
        self._bands: dict[float, Any] = {}
        self._checks = compile_rules(self._names)

    @property
    def limits(self) -> Limits:
        return self._limits

    @property
    def rules(self) -> tuple[str, ...]:
        return self._names

    @property
    def count(self) -> int:
        """Points judged so far (the next point's `i`)."""
        return self._i

    def update(self, point: Any) -> PointResult:
        """Judge one point."""
        return self.update_many([point])[0]

    def update_many(self, points: Sequence[Any] | Iterable[Any]) -> list[PointResult]:
        """Judge a micro-batch, vectorized; results equal `update` called point by point."""
        batch = points if isinstance(points, Sequence | np.ndarray) else list(points)
        if len(batch) == 0:
            return []
        if len(batch) <= _PLAIN_UP_TO and self._kind not in ("ewma", "cusum"):
            plain = self._plain(batch)
            if plain is not None:
                return plain
        if self._kind in ("ewma", "cusum"):
            return self._smoothed(batch)
        stat, sizes, dispersion_stat, dispersion_sizes = self._parse(batch)
        return self._shewhart(stat, sizes, dispersion_stat, dispersion_sizes)

    # -- parsing ---------------------------------------------------------------------------

    def _parse(self, batch: Any) -> tuple[FloatArray, FloatArray, FloatArray | None, FloatArray]:
        kind = self._kind
        if kind == "imr":
            values = as_float_array(batch, "point")
            previous = np.array([] if self._last_value is None else [self._last_value])
            moving = np.abs(np.diff(np.concatenate([previous, values])))
            return values, np.ones(values.shape[0]), moving, np.full(moving.shape[0], 2.0)
        if kind in _SUBGROUP_KINDS:
            groups = _subgroups(batch)
            if np.any(groups.sizes < 2):
                raise InvalidDataError(
                    f"an {kind} point is a subgroup of at least 2 values", argument="point"
                )
            sizes = groups.sizes.astype(np.float64)
            spread = groups.ranges if kind == "xbar-r" else groups.sds
            return groups.means, sizes, spread, sizes
        counts, sizes = self._counts(batch)
        stat = counts / sizes if kind in ("p", "u") else counts
        return stat, sizes, None, np.empty(0)

    def _counts(self, batch: Any) -> tuple[FloatArray, FloatArray]:
        kind = self._kind
        array = as_float_array(batch, "point", ndim=None)
        if array.ndim == 1 and kind in ("np", "c"):
            counts = array
            sizes = np.full(counts.shape[0], float(self._limits.subgroup_size or 1.0))
        elif array.ndim == 2 and array.shape[1] == 2:
            counts = array[:, 0]
            sizes = as_sizes(array[:, 1], argument="point", integer=kind in ("p", "np"))
        else:
            form = "(count, size)" if kind in ("p", "u") else "a count or (count, size)"
            raise InvalidDataError(f"a {kind} point is {form}", argument="point")
        if np.any(counts < 0):
            raise InvalidDataError("counts must be non-negative", argument="point")
        if kind in ("p", "np") and np.any(counts > sizes):
            raise InvalidDataError("a count is larger than its sample size", argument="point")
        return counts, sizes

    # -- evaluation ------------------------------------------------------------------------

    def _shewhart(
        self,
        stat: FloatArray,
        sizes: FloatArray,
        dispersion_stat: FloatArray | None,
        dispersion_sizes: FloatArray,
    ) -> list[PointResult]:
        limits = self._limits
        count = stat.shape[0]
        center, sigma = main_scale(limits, sizes)
        lcl, ucl = control_limits(limits.chart, center, sigma, limits.nsigmas, sizes)
        z = zone_scores(stat, center, sigma, limits.nsigmas)
        all_z = np.concatenate([np.array(self._tail_z, dtype=np.float64), z])
        all_stat = np.concatenate([np.array(self._tail_stat, dtype=np.float64), stat])
        violations: list[list[str]]
        if count == 1:
            window_z, window_stat = all_z.tolist(), all_stat.tolist()
            violations = [[name for name, check in self._checks if check(window_z, window_stat)]]
        else:
            skip = len(self._tail_z)
            flags = evaluate_rules(all_z, all_stat, self._names)
            violations = violations_by_point({k: v[skip:] for k, v in flags.items()}, count)
        d_stat, d_lcl, d_ucl, d_violations = self._dispersion(
            dispersion_stat, dispersion_sizes, count
        )
        results = list(
            starmap(
                PointResult,
                zip(
                    range(self._i, self._i + count),
                    sizes.tolist(),
                    stat.tolist(),
                    center.tolist(),
                    lcl.tolist(),
                    ucl.tolist(),
                    z.tolist(),
                    violations,
                    d_stat,
                    d_lcl,
                    d_ucl,
                    d_violations,
                    strict=True,
                ),
            )
        )
        # Commit the state only once everything succeeded.
        self._tail_z = all_z[-LOOKBACK:].tolist()
        self._tail_stat = all_stat[-LOOKBACK:].tolist()
        if self._kind == "imr":
            self._last_value = float(stat[-1])
        self._i += count
        return results

    def _plain(self, batch: Sequence[Any] | np.ndarray) -> list[PointResult] | None:
        """A few Shewhart points in plain floats (spc._one_point), or None when any of them
        needs the vectorized path (which then judges the whole batch, or rejects it whole)."""
        kind, bands_of = self._kind, self._bands
        if kind == "imr":  # the common case, without the general parser
            bands = self._individual_bands(batch)
            if bands is None:
                return None
            one = self._one
            return [one(float(point), 1.0, None, bands) for point in batch]
        if kind in ("np", "c") and len({type(p) in (tuple, list) for p in batch}) > 1:
            return None  # bare counts mixed with (count, size): the vectorized path refuses it
        subgroup_size = self._limits.subgroup_size
        prepared = []
        for point in batch:
            parsed = parse(kind, point, subgroup_size)
            if parsed is None:
                return None
            bands = bands_of.get(parsed.n, _UNSEEN)
            if bands is _UNSEEN:
                bands = self._band_for(parsed.n)
            if bands is None:
                return None
            prepared.append((parsed, bands))
        return [self._one(*parsed, bands) for parsed, bands in prepared]

    def _individual_bands(self, batch: Sequence[Any] | np.ndarray) -> Any:
        """The n = 1 limits of both charts when every point is a finite number, else None
        (then the general path judges the batch, or rejects it)."""
        for point in batch:
            if type(point) not in _NUMBER or not math.isfinite(point):
                return None
        bands = self._bands.get(1.0, _UNSEEN)
        if bands is _UNSEEN:
            bands = self._band_for(1.0)
        return bands

    def _one(self, stat: float, n: float, spread: float | None, bands: Any) -> PointResult:
        (center, lcl, ucl, unit), (d_lcl, d_ucl) = bands
        z = (stat - center) / unit
        tail_z, tail_stat = self._tail_z, self._tail_stat
        tail_z.append(z)  # the window of the rules: the tail plus this point
        tail_stat.append(stat)
        violations = [name for name, check in self._checks if check(tail_z, tail_stat)]
        if len(tail_z) > LOOKBACK:
            del tail_z[0]
            del tail_stat[0]
        if self._kind == "imr":
            if self._last_value is not None:
                spread = abs(stat - self._last_value)
            self._last_value = stat
        i = self._i
        self._i = i + 1
        if spread is None:
            return _new(
                PointResult,
                (i, n, stat, center, lcl, ucl, z, violations, None, None, None, _NONE, None, None),
            )
        beyond_limits = spread > d_ucl or spread < d_lcl
        flagged = list(self._beyond_names) if beyond_limits else []
        return _new(
            PointResult,
            (
                i,
                n,
                stat,
                center,
                lcl,
                ucl,
                z,
                violations,
                spread,
                d_lcl,
                d_ucl,
                flagged,
                None,
                None,
            ),
        )

    def _band_for(self, n: float) -> Any:
        """Limits of both charts for sample size n, kept per n (sizes repeat on a line)."""
        limits = self._limits
        band = main_band(limits, n)
        bands: Any = None
        if band is not None:
            dispersion: tuple[float | None, float | None] = (None, None)
            if self._kind in DISPERSION_CHART:
                dispersion = dispersion_band(limits, 2.0 if self._kind == "imr" else n)[1:]
            bands = (band, dispersion)
        if len(self._bands) >= 256:
            self._bands.clear()
        self._bands[n] = bands
        return bands

    def _dispersion(
        self, stat: FloatArray | None, sizes: FloatArray, count: int
    ) -> tuple[list[Any], list[Any], list[Any], list[list[str]]]:
        """Per point: dispersion statistic, limits and violations (None before the first MR)."""
        violations: list[list[str]] = [[] for _ in range(count)]
        if stat is None:
            nothing = [None] * count
            return nothing, nothing, nothing, violations
        kind = DISPERSION_CHART[self._kind]
        center, sigma = dispersion_scale(self._limits, sizes)
        lcl, ucl = control_limits(kind, center, sigma, self._limits.nsigmas, sizes)
        missing = count - stat.shape[0]  # the very first individual has no moving range
        for j in np.flatnonzero(beyond(stat, lcl, ucl)).tolist():
            violations[missing + j].extend(self._beyond_names)
        pad: list[Any] = [None] * missing
        return pad + stat.tolist(), pad + lcl.tolist(), pad + ucl.tolist(), violations

    def _smoothed(self, batch: Any) -> list[PointResult]:
        stat, sizes = _individuals_or_means(batch)
        limits = self._limits
        count = stat.shape[0]
        violations: list[list[str]] = [[] for _ in range(count)]
        index = range(self._i, self._i + count)
        if self._kind == "ewma":
            assert self._ewma is not None
            smoothed, sigma, ewma_state = ewma_series(stat, sizes, limits, self._ewma)
            lcl, ucl, z = ewma_limits(smoothed, sigma, limits)
            for j in np.flatnonzero(beyond(smoothed, lcl, ucl)).tolist():
                violations[j].extend(self._beyond_names)
            columns = (smoothed, np.full(count, limits.center), lcl, ucl, z)
            extra: tuple[Any, ...] = (
                *(repeat(None, count) for _ in range(3)),
                ([] for _ in range(count)),
            )
            self._ewma = ewma_state
        else:
            assert self._cusum is not None
            z, upper, lower, cusum_state = cusum_series(stat, sizes, limits, self._cusum)
            h = limits.params["h"]
            for j in np.flatnonzero((upper > h) | (lower < -h)).tolist():
                violations[j].extend(self._beyond_names)
            columns = (z, np.zeros(count), np.full(count, -h), np.full(count, h), z)
            extra = (
                *(repeat(None, count) for _ in range(3)),
                ([] for _ in range(count)),
                upper.tolist(),
                lower.tolist(),
            )
            self._cusum = cusum_state
        self._i += count
        return list(
            map(
                PointResult,
                index,
                sizes.tolist(),
                *(c.tolist() for c in columns),
                violations,
                *extra,
            )
        )

    # -- persistence -----------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue after a restart, as plain JSON-able values."""
        return {
            "version": _STATE_VERSION,
            "limits": self._limits.to_dict(),
            "rules": self._rules_spec,
            "i": self._i,
            "tail_z": [_encode(v) for v in self._tail_z],
            "tail_stat": [_encode(v) for v in self._tail_stat],
            "last_value": self._last_value,
            "ewma": None
            if self._ewma is None
            else {"value": self._ewma.value, "decay": self._ewma.decay},
            "cusum": None
            if self._cusum is None
            else {"upper": self._cusum.upper, "lower": self._cusum.lower},
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> Monitor:
        """Rebuild a monitor from `state_dict()` output (e.g. after `json.loads`)."""
        if not isinstance(state, Mapping) or state.get("version") != _STATE_VERSION:
            raise InvalidArgumentError(
                f"not a version {_STATE_VERSION} monitor state", argument="state"
            )
        try:
            monitor = cls(Limits.from_dict(state["limits"]), state["rules"])
            tail_z = [_decode(v) for v in state["tail_z"]]
            tail_stat = [_decode(v) for v in state["tail_stat"]]
            i = int(state["i"])
            last_value = state["last_value"]
            ewma_state = state["ewma"]
            cusum_state = state["cusum"]
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidArgumentError(f"malformed monitor state: {exc}", argument="state") from exc
        if len(tail_z) != len(tail_stat) or len(tail_z) > LOOKBACK or i < 0:
            raise InvalidArgumentError("inconsistent monitor state", argument="state")
        monitor._i = i
        monitor._tail_z = tail_z
        monitor._tail_stat = tail_stat
        monitor._last_value = None if last_value is None else float(last_value)
        if monitor._kind == "ewma" and ewma_state is not None:
            monitor._ewma = EwmaState(float(ewma_state["value"]), float(ewma_state["decay"]))
        if monitor._kind == "cusum" and cusum_state is not None:
            monitor._cusum = CusumState(float(cusum_state["upper"]), float(cusum_state["lower"]))
        return monitor

    def __repr__(self) -> str:
        return f"Monitor({self._kind}, rules={json.dumps(self._rules_spec)}, count={self._i})"


def _subgroups(batch: Any) -> Subgroups:
    if isinstance(batch, np.ndarray) and batch.ndim == 2:
        return Subgroups.from_rows(batch, "point")
    rows: list[Any] = [np.asarray(p, dtype=np.float64).ravel() for p in batch]
    return Subgroups.from_rows(rows, "point")


def _individuals_or_means(batch: Any) -> tuple[FloatArray, FloatArray]:
    """EWMA/CUSUM points: numbers are individuals, sequences are subgroups (their means)."""
    if isinstance(batch, np.ndarray) and batch.ndim == 1:
        values = as_float_array(batch, "point")
        return values, np.ones(values.shape[0])
    if all(np.ndim(p) == 0 for p in batch):
        values = as_float_array(list(batch), "point")
        return values, np.ones(values.shape[0])
    if any(np.ndim(p) == 0 for p in batch):
        raise InvalidDataError(
            "a batch mixes single values and subgroups; send them in separate batches",
            argument="point",
        )
    groups = _subgroups(batch)
    return groups.means, groups.sizes.astype(np.float64)
