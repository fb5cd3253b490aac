"""Variables charts: individuals with moving range, X̄ with R, X̄ with S (Montgomery ch. 6)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from spc._common import (
    RulesSpec,
    check_known_limits,
    dispersion_result,
    resolve_nsigmas,
    resolve_phase1,
    shewhart_result,
)
from spc._data import Subgroups, as_float_array, as_subgroups, require_points
from spc.errors import SubgroupSizeError
from spc.limits import Limits
from spc.result import ChartResult
from spc.rules import resolve_rules
from spc.sigma import sigma_individuals, sigma_subgroups

__all__ = ["imr", "xbar_r", "xbar_s"]


def imr(
    data: ArrayLike,
    *,
    phase1: int | None = None,
    limits: Limits | None = None,
    rules: RulesSpec = "western-electric",
    sigma_method: str | None = None,
    nsigmas: float = 3.0,
    confidence_level: float | None = None,
) -> ChartResult:
    """Individuals chart with its moving-range chart (qcc type "xbar.one").

    σ defaults to MR̄/d₂(2) over phase I; `sigma_method="sd"` uses s/c₄(n) instead. The MR chart
    (points 1..n−1) is centred on MR̄ with limits MR̄ ± nsigmas·d₃(2)σ, clipped at 0.

    >>> chart = imr([10.0, 10.4, 9.8, 10.1, 10.2, 9.9, 10.0, 13.0], phase1=7)
    >>> chart.violations[-1]
    ['WE1']
    """
    values = as_float_array(data, "data")
    names = resolve_rules(rules)
    moving_ranges = np.abs(np.diff(values))
    if limits is None:
        k = resolve_phase1(phase1, values.shape[0], minimum=2)
        head = values[:k]
        limits = Limits(
            "imr",
            center=float(np.mean(head)),
            sigma=sigma_individuals(head, sigma_method or "mr"),
            nsigmas=resolve_nsigmas(nsigmas, confidence_level),
            subgroup_size=1,
            dispersion_center=float(np.mean(moving_ranges[: k - 1])),
        )
    else:
        check_known_limits(limits, "imr", phase1)
        require_points(values.shape[0], 1)
        k = None
    dispersion = dispersion_result(
        limits,
        phase1=k,
        names=names,
        stat=moving_ranges,
        sizes=np.broadcast_to(2.0, moving_ranges.shape),
        index=np.arange(1, values.shape[0]),
    )
    return shewhart_result(
        limits,
        phase1=k,
        rules=rules,
        names=names,
        stat=values,
        sizes=np.broadcast_to(1.0, values.shape),
        dispersion=dispersion,
    )


def _subgroup_chart(
    kind: str,
    data: Any,
    sizes: Any,
    *,
    phase1: int | None,
    limits: Limits | None,
    rules: RulesSpec,
    sigma_method: str | None,
    nsigmas: float,
    confidence_level: float | None,
) -> ChartResult:
    groups = as_subgroups(data, sizes)
    if np.any(groups.sizes < 2):
        position = int(np.flatnonzero(groups.sizes < 2)[0])
        raise SubgroupSizeError(
            f"an {kind} chart needs subgroups of at least 2 values; subgroup {position} has "
            f"{int(groups.sizes[position])} (use an imr chart for individual values)",
            argument="sizes" if sizes is not None else "data",
        )
    names = resolve_rules(rules)
    dispersion_stat = groups.ranges if kind == "xbar-r" else groups.sds
    if limits is None:
        k = resolve_phase1(phase1, groups.count, minimum=2)
        limits = _estimate(kind, groups.head(k), dispersion_stat[:k], sigma_method)
        limits = replace(limits, nsigmas=resolve_nsigmas(nsigmas, confidence_level))
    else:
        check_known_limits(limits, kind, phase1)
        require_points(groups.count, 1)
        k = None
    sizes_f = groups.sizes.astype(np.float64)
    dispersion = dispersion_result(
        limits,
        phase1=k,
        names=names,
        stat=dispersion_stat,
        sizes=sizes_f,
        index=np.arange(groups.count),
    )
    return shewhart_result(
        limits,
        phase1=k,
        rules=rules,
        names=names,
        stat=groups.means,
        sizes=sizes_f,
        dispersion=dispersion,
    )


def _estimate(kind: str, head: Subgroups, dispersion_head: Any, sigma_method: str | None) -> Limits:
    """Phase I: grand mean, sigma, and the size-weighted mean R or s (qcc stats.R / stats.S)."""
    sizes = head.sizes.astype(np.float64)
    default = "r-bar" if kind == "xbar-r" else "s-bar"
    nominal = float(head.sizes[0]) if head.equal else float(np.mean(sizes))
    return Limits(
        kind,
        center=float(np.sum(sizes * head.means) / np.sum(sizes)),
        sigma=sigma_subgroups(head, sigma_method or default),
        subgroup_size=nominal,
        dispersion_center=float(np.sum(sizes * dispersion_head) / np.sum(sizes)),
    )


def xbar_r(
    data: Any,
    *,
    sizes: Any = None,
    phase1: int | None = None,
    limits: Limits | None = None,
    rules: RulesSpec = "western-electric",
    sigma_method: str | None = None,
    nsigmas: float = 3.0,
    confidence_level: float | None = None,
) -> ChartResult:
    """X̄ chart with its R chart (qcc types "xbar" and "R").

    `data` is a 2-D array (one row per subgroup), a list of subgroups of any sizes, or flat
    values with `sizes`. σ defaults to the mean of Rᵢ/d₂(nᵢ) (qcc UWAVE-R); X̄ limits are
    center ± nsigmas·σ/√nᵢ; the R chart is centred on the size-weighted mean range with
    limits ± nsigmas·d₃(nᵢ)σ, clipped at 0.

    >>> chart = xbar_r([[1.0, 2.0, 3.0], [2.0, 2.5, 1.5], [1.8, 2.2, 2.0]])
    >>> round(chart.center, 4), chart.dispersion.chart
    (2.0, 'r')
    """
    return _subgroup_chart(
        "xbar-r",
        data,
        sizes,
        phase1=phase1,
        limits=limits,
        rules=rules,
        sigma_method=sigma_method,
        nsigmas=nsigmas,
        confidence_level=confidence_level,
    )


def xbar_s(
    data: Any,
    *,
    sizes: Any = None,
    phase1: int | None = None,
    limits: Limits | None = None,
    rules: RulesSpec = "western-electric",
    sigma_method: str | None = None,
    nsigmas: float = 3.0,
    confidence_level: float | None = None,
) -> ChartResult:
    """X̄ chart with its S chart (qcc types "xbar" with UWAVE-SD, and "S").

    σ defaults to the mean of sᵢ/c₄(nᵢ) (qcc UWAVE-SD); the S chart is centred on the
    size-weighted mean of sᵢ with limits ± nsigmas·σ√(1 − c₄(nᵢ)²), clipped at 0.

    >>> xbar_s([[1.0, 2.0, 3.0], [2.0, 2.5, 1.5]]).dispersion.chart
    's'
    """
    return _subgroup_chart(
        "xbar-s",
        data,
        sizes,
        phase1=phase1,
        limits=limits,
        rules=rules,
        sigma_method=sigma_method,
        nsigmas=nsigmas,
        confidence_level=confidence_level,
    )
