"""The one object a chart call returns, and its JSON form (ARCHITECTURE.md, CLI chart contract)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from spc._data import BoolArray, FloatArray, IntArray
from spc.limits import DISPERSION_CHART, Limits
from spc.rules import violations_by_point

__all__ = ["ChartResult"]


def _number(value: float) -> float | None:
    """A JSON-safe float: NaN and ±inf have no JSON spelling, so they become null."""
    return value if math.isfinite(value) else None


@dataclass(frozen=True, eq=False)
class ChartResult:
    """A whole control chart: statistics, limits, rule flags and (for variables) its dispersion.

    Arrays have one entry per plotted point. `z` is what the run rules read: the distance from
    the center in units of (limit width / 3), i.e. the plain z-score with 3σ limits. `flags` maps
    each rule name to a boolean mask; `violations` lists, per point, every rule that fired.
    For CUSUM, `stat` is the standardized value, `upper` is C⁺ ≥ 0 and `lower` is −C⁻ ≤ 0.
    """

    chart: str
    center: float
    sigma: float
    phase1: int | None
    rules: str | tuple[str, ...]
    index: IntArray
    n: FloatArray
    stat: FloatArray
    center_line: FloatArray
    lcl: FloatArray
    ucl: FloatArray
    sigma_stat: FloatArray
    z: FloatArray
    flags: dict[str, BoolArray]
    limits: Limits
    dispersion: ChartResult | None = None
    upper: FloatArray | None = None
    lower: FloatArray | None = None

    def __post_init__(self) -> None:
        # Frozen means frozen: the arrays cannot be written through either.
        arrays: list[np.ndarray[Any, Any]] = [self.index, self.n, self.stat, self.center_line]
        arrays += [self.lcl, self.ucl, self.sigma_stat, self.z, *self.flags.values()]
        arrays += [a for a in (self.upper, self.lower) if a is not None]
        for array in arrays:
            array.flags.writeable = False

    @cached_property
    def violations(self) -> list[list[str]]:
        """Rule names per point, in canonical rule order (built on first access)."""
        return violations_by_point(self.flags, int(self.stat.shape[0]))

    @property
    def any_violation(self) -> BoolArray:
        """True where at least one rule fired."""
        result = np.zeros(self.stat.shape[0], dtype=np.bool_)
        for mask in self.flags.values():
            result |= mask
        return result

    def _points(self) -> list[dict[str, Any]]:
        sizes: list[int] | list[float]
        if np.all(self.n == np.round(self.n)):
            sizes = self.n.astype(np.int64).tolist()
        else:
            sizes = self.n.tolist()
        columns = zip(
            self.index.tolist(),
            sizes,
            self.stat.tolist(),
            self.lcl.tolist(),
            self.ucl.tolist(),
            self.violations,
            strict=True,
        )
        points = [
            {
                "i": i,
                "n": n,
                "stat": _number(stat),
                "lcl": _number(lcl),
                "ucl": _number(ucl),
                "violations": list(violations),
            }
            for i, n, stat, lcl, ucl, violations in columns
        ]
        if self.upper is not None and self.lower is not None:
            for point, upper, lower in zip(
                points, self.upper.tolist(), self.lower.tolist(), strict=True
            ):
                point["upper"] = upper
                point["lower"] = lower
        return points

    def to_dict(self) -> dict[str, Any]:
        """The CLI chart JSON: plain Python numbers, lists and dicts (json.dumps-ready)."""
        result: dict[str, Any] = {
            "chart": self.chart,
            "center": self.center,
            "sigma": self.sigma,
            "phase1": self.phase1,
            "rules": self.rules if isinstance(self.rules, str) else list(self.rules),
            "points": self._points(),
        }
        if self.dispersion is not None:
            result["dispersion"] = {
                "chart": DISPERSION_CHART[self.chart],
                "center": self.dispersion.center,
                "points": self.dispersion._points(),
            }
        return result
