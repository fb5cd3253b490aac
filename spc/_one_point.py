"""One Shewhart point in plain Python floats: the monitor's path for a single `update`.

numpy spends microseconds per call on arrays of one element, and a service judging a thousand
characteristics per ingest batch calls each monitor with one point. These functions repeat the
arithmetic of `spc._scale` and `spc._data` operation for operation (same operands, same order,
IEEE float64 both ways), so a point gets bit-identical statistics, limits and zone scores on
either path; tests/spc/test_monitor.py checks that on random data and random limits.

Anything unusual returns None and takes the vectorized path, whose checks and error messages
stay the only ones: numpy scalars, NaN or infinite input, counts out of range, a zero or
non-finite sigma (zone scores of ±inf or NaN), EWMA and CUSUM.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

from spc.constants import _c4, d2, d3
from spc.limits import Limits

_NUMBER = (float, int)
_COUNT_SIZE = frozenset({"p", "np", "c", "u"})
_BARE_COUNT = frozenset({"np", "c"})
_WHOLE_SIZE = frozenset({"p", "np"})


class Parsed(NamedTuple):
    stat: float
    n: float
    spread: float | None  # subgroup range or standard deviation; None for one-value charts


class Band(NamedTuple):
    center: float
    lcl: float
    ucl: float
    unit: float  # sigma of the statistic scaled to the zones (limit width / 3)


def _finite(value: Any) -> bool:
    return type(value) in _NUMBER and math.isfinite(value)


def parse(kind: str, point: Any, subgroup_size: float | None) -> Parsed | None:
    """The plotted statistic of one point, or None when the vectorized path must judge it."""
    if kind == "imr":
        return Parsed(float(point), 1.0, None) if _finite(point) else None
    if kind in ("xbar-r", "xbar-s"):
        return _subgroup(kind, point)
    if kind not in _COUNT_SIZE:
        return None
    if kind in _BARE_COUNT and _finite(point):
        count, size = float(point), float(subgroup_size or 1.0)
    elif type(point) in (tuple, list) and len(point) == 2:
        count, size = point
        if not (_finite(count) and _finite(size)) or size <= 0:
            return None
        count, size = float(count), float(size)
        if kind in _WHOLE_SIZE and size != math.floor(size):
            return None
    else:
        return None
    if count < 0 or (kind in _WHOLE_SIZE and count > size):
        return None
    return Parsed(count / size if kind in ("p", "u") else count, size, None)


def _subgroup(kind: str, point: Any) -> Parsed | None:
    if type(point) not in (tuple, list) or len(point) < 2:
        return None
    for value in point:
        if not _finite(value):
            return None
    values = [float(v) for v in point]
    total = values[0]
    for value in values[1:]:
        total += value  # left to right, as Subgroups.means
    n = len(values)
    mean = total / n
    if kind == "xbar-r":
        return Parsed(mean, float(n), max(values) - min(values))
    squares = 0.0
    for value in values:
        deviation = value - mean
        squares += deviation * deviation
    return Parsed(mean, float(n), math.sqrt(squares / (n - 1)))


def main_band(limits: Limits, n: float) -> Band | None:
    """As `_scale.main_scale` then `control_limits` and the zone unit of `zone_scores`."""
    kind = limits.chart
    center = limits.center
    if kind in ("imr", "c"):
        sigma = limits.sigma
    elif kind == "np":
        reference = float(limits.subgroup_size or 1.0)
        p_bar = center / reference
        center = n * p_bar
        variance = center * (1.0 - p_bar)
        if not variance > 0:
            return None
        sigma = math.sqrt(variance)
    else:
        sigma = limits.sigma / math.sqrt(n)
    nsigmas = limits.nsigmas
    unit = sigma * (nsigmas / 3.0)
    if not (unit > 0 and math.isfinite(unit) and math.isfinite(center)):
        return None
    width = nsigmas * sigma
    lcl, ucl = _clip(kind, center - width, center + width, n)
    return Band(center, lcl, ucl, unit)


def dispersion_band(limits: Limits, n: float) -> tuple[float, float, float]:
    """(center, lcl, ucl) of the MR, R or S chart, as `_scale.dispersion_scale`."""
    kind = limits.chart
    sigma = limits.sigma
    if kind == "imr":
        spread = d3(2) * sigma
        expected = d2(2) * sigma
    elif kind == "xbar-r":
        whole = int(n)
        spread = d3(whole) * sigma
        expected = d2(whole) * sigma
    else:
        c = _c4(int(n))
        spread = sigma * math.sqrt(1.0 - c * c)
        expected = c * sigma
    center = expected if limits.dispersion_center is None else limits.dispersion_center
    width = limits.nsigmas * spread
    lower = center - width
    return center, (lower if not lower < 0.0 else 0.0), center + width


def _clip(kind: str, lcl: float, ucl: float, n: float) -> tuple[float, float]:
    """`control_limits`' clipping of the main chart (np.maximum / np.minimum keep the left
    operand on ties, as these comparisons do)."""
    if kind in _COUNT_SIZE and lcl < 0.0:
        lcl = 0.0
    if kind == "p" and ucl > 1.0:
        ucl = 1.0
    elif kind == "np" and ucl > n:
        ucl = n
    return lcl, ucl
