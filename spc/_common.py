"""Argument checks and result assembly shared by every chart function."""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence

import numpy as np

from spc._data import BoolArray, FloatArray, IntArray
from spc._scale import beyond, control_limits, dispersion_scale, main_scale, zone_scores
from spc.errors import InsufficientDataError, InvalidArgumentError
from spc.limits import DISPERSION_CHART, Limits
from spc.result import ChartResult
from spc.rules import evaluate_rules, resolve_rules

RulesSpec = str | Sequence[str]


def resolve_nsigmas(nsigmas: float, confidence_level: float | None) -> float:
    """Limit width in sigmas; a confidence level c becomes Φ⁻¹(1 − (1 − c)/2), as in qcc."""
    if confidence_level is not None:
        level = float(confidence_level)
        if not 0.0 < level < 1.0:
            raise InvalidArgumentError(
                f"confidence_level must be in (0, 1), got {confidence_level!r}",
                argument="confidence_level",
            )
        from scipy.special import ndtri  # heavy (~0.3 s): only charts given a confidence level

        return float(ndtri(1.0 - (1.0 - level) / 2.0))
    value = float(nsigmas)
    if not (math.isfinite(value) and value > 0.0):
        raise InvalidArgumentError(f"nsigmas must be positive, got {nsigmas!r}", argument="nsigmas")
    return value


def resolve_phase1(phase1: int | None, count: int, minimum: int) -> int:
    """How many leading points estimate the limits (all of them by default)."""
    if phase1 is None:
        if count < minimum:
            raise InsufficientDataError(
                f"data has {count} point(s); at least {minimum} are needed to estimate limits",
                argument="data",
            )
        return count
    try:
        k = operator.index(phase1)
    except TypeError as exc:
        raise InvalidArgumentError(
            f"phase1 must be an integer, got {phase1!r}", argument="phase1"
        ) from exc
    if k < minimum:
        raise InsufficientDataError(
            f"phase1 = {k} is too few points; at least {minimum} are needed", argument="phase1"
        )
    if k > count:
        raise InvalidArgumentError(
            f"phase1 = {k} but the data has only {count} points", argument="phase1"
        )
    return k


def check_known_limits(limits: Limits, kind: str, phase1: int | None) -> None:
    if not isinstance(limits, Limits):
        raise InvalidArgumentError("limits must be a spc.Limits", argument="limits")
    if limits.chart != kind:
        raise InvalidArgumentError(
            f"limits are for a {limits.chart} chart, not {kind}", argument="limits"
        )
    if phase1 is not None:
        raise InvalidArgumentError(
            "give either phase1 (estimate limits) or limits (known limits), not both",
            argument="phase1",
        )


def rules_report(rules: RulesSpec) -> str | tuple[str, ...]:
    """How the chart reports its rules: the set name as given, or the resolved list."""
    if isinstance(rules, str) and "," not in rules:
        return rules
    return resolve_rules(rules)


def beyond_rules(names: Sequence[str]) -> tuple[str, ...]:
    """The one beyond-limits rule for charts that only signal beyond limits (R, S, MR, EWMA,
    CUSUM), named by the family of the main rules: N1 for Nelson, WE1 otherwise, none for none.
    """
    if not names:
        return ()
    if "N1" in names and "WE1" not in names:
        return ("N1",)
    if "WE1" in names:
        return ("WE1",)
    return ("N1",) if all(name.startswith("N") for name in names) else ("WE1",)


def beyond_flags(names: tuple[str, ...], mask: BoolArray) -> dict[str, BoolArray]:
    return {name: mask for name in names}


Scale = Callable[[Limits, FloatArray], tuple[FloatArray, FloatArray]]


def per_point(
    scale: Scale, kind: str, limits: Limits, sizes: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """(center, sigma, lcl, ucl) per point. With one subgroup size throughout, they are
    computed once and broadcast (read-only views, no memory per point), which is most of
    the time saved on a million-point chart; the values are the same either way."""
    if sizes.size and sizes.min() == sizes.max():
        one = sizes[:1]
        center, sigma = scale(limits, one)
        lcl, ucl = control_limits(kind, center, sigma, limits.nsigmas, one)
        shape = sizes.shape
        return (
            np.broadcast_to(center, shape),
            np.broadcast_to(sigma, shape),
            np.broadcast_to(lcl, shape),
            np.broadcast_to(ucl, shape),
        )
    center, sigma = scale(limits, sizes)
    lcl, ucl = control_limits(kind, center, sigma, limits.nsigmas, sizes)
    return center, sigma, lcl, ucl


def shewhart_result(
    limits: Limits,
    *,
    phase1: int | None,
    rules: RulesSpec,
    names: tuple[str, ...],
    stat: FloatArray,
    sizes: FloatArray,
    index: IntArray | None = None,
    dispersion: ChartResult | None = None,
) -> ChartResult:
    """Assemble the main chart of any Shewhart kind from its statistics and frozen limits."""
    center, sigma, lcl, ucl = per_point(main_scale, limits.chart, limits, sizes)
    z = zone_scores(stat, center, sigma, limits.nsigmas)
    flags = evaluate_rules(z, stat, names)
    return ChartResult(
        chart=limits.chart,
        center=limits.center,
        sigma=limits.sigma,
        phase1=phase1,
        rules=rules_report(rules),
        index=np.arange(stat.shape[0]) if index is None else index,
        n=sizes,
        stat=stat,
        center_line=center,
        lcl=lcl,
        ucl=ucl,
        sigma_stat=sigma,
        z=z,
        flags=flags,
        limits=limits,
        dispersion=dispersion,
    )


def dispersion_result(
    limits: Limits,
    *,
    phase1: int | None,
    names: tuple[str, ...],
    stat: FloatArray,
    sizes: FloatArray,
    index: IntArray,
) -> ChartResult:
    """The R, S or MR chart under a variables chart, judged on its limits alone."""
    kind = DISPERSION_CHART[limits.chart]
    center, sigma, lcl, ucl = per_point(dispersion_scale, kind, limits, sizes)
    z = zone_scores(stat, center, sigma, limits.nsigmas)
    rules = beyond_rules(names)
    if limits.dispersion_center is not None:
        reported_center = limits.dispersion_center
    else:  # known limits without R̄ or s̄: the expected value at the nominal subgroup size
        nominal = 2.0 if kind == "mr" else limits.subgroup_size or (sizes[0] if sizes.size else 2)
        reported_center = float(dispersion_scale(limits, np.array([float(nominal)]))[0][0])
    return ChartResult(
        chart=kind,
        center=reported_center,
        sigma=limits.sigma,
        phase1=phase1,
        rules=rules,
        index=index,
        n=sizes,
        stat=stat,
        center_line=center,
        lcl=lcl,
        ucl=ucl,
        sigma_stat=sigma,
        z=z,
        flags=beyond_flags(rules, beyond(stat, lcl, ucl)),
        limits=limits,
    )
