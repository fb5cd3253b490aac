"""Attributes charts: p, np (binomial) and c, u (Poisson), Montgomery ch. 7, qcc semantics.

σ is reported as qcc reports it: √(p̄(1 − p̄)) per unit for p, √ū per unit for u, and per
sample for np (√(n p̄(1 − p̄))) and c (√c̄). Limits per point follow each point's sample size;
the LCL is clipped at 0 and the UCL at 1 (p) or n (np).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from spc._common import (
    RulesSpec,
    check_known_limits,
    resolve_nsigmas,
    resolve_phase1,
    shewhart_result,
)
from spc._data import FloatArray, as_float_array, as_sizes, broadcast_sizes, require_points
from spc.errors import InvalidArgumentError, InvalidDataError
from spc.limits import Limits
from spc.result import ChartResult
from spc.rules import resolve_rules

__all__ = ["c_chart", "np_chart", "p_chart", "u_chart"]


def _counts(data: ArrayLike) -> FloatArray:
    counts = as_float_array(data, "data")
    if np.any(counts < 0):
        position = int(np.flatnonzero(counts < 0)[0])
        raise InvalidDataError(
            f"counts must be non-negative (position {position} is {counts[position]:g})",
            argument="data",
        )
    return counts


def _sizes(sizes: Any, count: int, kind: str, *, integer: bool) -> FloatArray:
    if sizes is None:
        raise InvalidArgumentError(f"a {kind} chart needs sizes", argument="sizes")
    return broadcast_sizes(as_sizes(sizes, integer=integer), count)


def _check_within_sizes(counts: FloatArray, sizes: FloatArray) -> None:
    if np.any(counts > sizes):
        position = int(np.flatnonzero(counts > sizes)[0])
        raise InvalidDataError(
            f"count {counts[position]:g} is larger than its sample size {sizes[position]:g} "
            f"(position {position})",
            argument="data",
        )


def _nominal(sizes: FloatArray) -> float:
    """The reference sample size: the common size, or the mean size when sizes vary."""
    return float(sizes[0]) if np.all(sizes == sizes[0]) else float(np.mean(sizes))


def _binomial(
    kind: str,
    data: ArrayLike,
    sizes: Any,
    *,
    phase1: int | None,
    limits: Limits | None,
    rules: RulesSpec,
    nsigmas: float,
    confidence_level: float | None,
) -> ChartResult:
    counts = _counts(data)
    if sizes is None and kind == "np" and limits is not None:
        sizes = limits.subgroup_size
    size_array = _sizes(sizes, counts.shape[0], kind, integer=True)
    _check_within_sizes(counts, size_array)
    names = resolve_rules(rules)
    if limits is None:
        k = resolve_phase1(phase1, counts.shape[0], minimum=2)
        p_bar = float(np.sum(counts[:k]) / np.sum(size_array[:k]))
        nominal = _nominal(size_array[:k])
        scale = nominal if kind == "np" else 1.0
        limits = Limits(
            kind,
            center=scale * p_bar,
            sigma=math.sqrt(scale * p_bar * (1.0 - p_bar)),
            nsigmas=resolve_nsigmas(nsigmas, confidence_level),
            subgroup_size=nominal,
        )
    else:
        check_known_limits(limits, kind, phase1)
        require_points(counts.shape[0], 1)
        k = None
    stat = counts / size_array if kind == "p" else counts
    return shewhart_result(limits, phase1=k, rules=rules, names=names, stat=stat, sizes=size_array)


def p_chart(
    data: ArrayLike,
    *,
    sizes: Any = None,
    phase1: int | None = None,
    limits: Limits | None = None,
    rules: RulesSpec = "western-electric",
    nsigmas: float = 3.0,
    confidence_level: float | None = None,
) -> ChartResult:
    """Fraction nonconforming: `data` = defectives, `sizes` = units inspected per sample.

    p̄ = Σdᵢ/Σnᵢ over phase I; limits p̄ ± nsigmas·√(p̄(1 − p̄)/nᵢ) clipped to [0, 1].

    >>> chart = p_chart([3, 5, 2, 4, 12], sizes=50, phase1=4)
    >>> round(chart.center, 3), chart.violations[-1]
    (0.07, ['WE1'])
    """
    return _binomial(
        "p",
        data,
        sizes,
        phase1=phase1,
        limits=limits,
        rules=rules,
        nsigmas=nsigmas,
        confidence_level=confidence_level,
    )


def np_chart(
    data: ArrayLike,
    *,
    sizes: Any = None,
    phase1: int | None = None,
    limits: Limits | None = None,
    rules: RulesSpec = "western-electric",
    nsigmas: float = 3.0,
    confidence_level: float | None = None,
) -> ChartResult:
    """Number nonconforming: center nᵢp̄, limits nᵢp̄ ± nsigmas·√(nᵢp̄(1 − p̄)) clipped to [0, nᵢ].

    >>> round(np_chart([3, 5, 2, 4], sizes=50).center, 6)
    3.5
    """
    return _binomial(
        "np",
        data,
        sizes,
        phase1=phase1,
        limits=limits,
        rules=rules,
        nsigmas=nsigmas,
        confidence_level=confidence_level,
    )


def c_chart(
    data: ArrayLike,
    *,
    sizes: Any = None,
    phase1: int | None = None,
    limits: Limits | None = None,
    rules: RulesSpec = "western-electric",
    nsigmas: float = 3.0,
    confidence_level: float | None = None,
) -> ChartResult:
    """Nonconformities per sample of constant size: c̄ ± nsigmas·√c̄, LCL clipped at 0.

    `sizes` is optional and only checked to be constant (varying sizes need a u chart).

    >>> round(float(c_chart([21, 24, 16, 12, 15]).ucl[0]), 4)
    30.1857
    """
    counts = _counts(data)
    if sizes is None:
        size_array = np.ones(counts.shape[0])
    else:
        size_array = broadcast_sizes(as_sizes(sizes), counts.shape[0])
        if not np.all(size_array == size_array[0]):
            raise InvalidDataError(
                "a c chart needs equal sample sizes; use a u chart for varying sizes",
                argument="sizes",
            )
    names = resolve_rules(rules)
    if limits is None:
        k = resolve_phase1(phase1, counts.shape[0], minimum=2)
        c_bar = float(np.mean(counts[:k]))
        limits = Limits(
            "c",
            center=c_bar,
            sigma=math.sqrt(c_bar),
            nsigmas=resolve_nsigmas(nsigmas, confidence_level),
            subgroup_size=float(size_array[0]),
        )
    else:
        check_known_limits(limits, "c", phase1)
        require_points(counts.shape[0], 1)
        k = None
    return shewhart_result(
        limits, phase1=k, rules=rules, names=names, stat=counts, sizes=size_array
    )


def u_chart(
    data: ArrayLike,
    *,
    sizes: Any = None,
    phase1: int | None = None,
    limits: Limits | None = None,
    rules: RulesSpec = "western-electric",
    nsigmas: float = 3.0,
    confidence_level: float | None = None,
) -> ChartResult:
    """Nonconformities per inspection unit; `sizes` = inspection units (need not be whole).

    ū = Σcᵢ/Σnᵢ over phase I; limits ū ± nsigmas·√(ū/nᵢ), LCL clipped at 0.

    >>> round(u_chart([14, 12, 20], sizes=[10, 8, 13]).center, 4)
    1.4839
    """
    counts = _counts(data)
    size_array = _sizes(sizes, counts.shape[0], "u", integer=False)
    names = resolve_rules(rules)
    if limits is None:
        k = resolve_phase1(phase1, counts.shape[0], minimum=2)
        u_bar = float(np.sum(counts[:k]) / np.sum(size_array[:k]))
        limits = Limits(
            "u",
            center=u_bar,
            sigma=math.sqrt(u_bar),
            nsigmas=resolve_nsigmas(nsigmas, confidence_level),
            subgroup_size=_nominal(size_array[:k]),
        )
    else:
        check_known_limits(limits, "u", phase1)
        require_points(counts.shape[0], 1)
        k = None
    return shewhart_result(
        limits, phase1=k, rules=rules, names=names, stat=counts / size_array, sizes=size_array
    )
