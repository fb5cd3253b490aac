"""Every chart kind behind one call, `chart(kind, data, ...)`, for the CLI and the service."""

from __future__ import annotations

from typing import Any

from spc._attributes import c_chart, np_chart, p_chart, u_chart
from spc._common import RulesSpec
from spc._ewma_cusum import cusum, ewma
from spc._variables import imr, xbar_r, xbar_s
from spc.errors import InvalidArgumentError
from spc.limits import CHART_KINDS, Limits
from spc.result import ChartResult

__all__ = [
    "CHART_KINDS",
    "c_chart",
    "chart",
    "cusum",
    "ewma",
    "imr",
    "np_chart",
    "p_chart",
    "u_chart",
    "xbar_r",
    "xbar_s",
]

_ATTRIBUTES = {"p": p_chart, "np": np_chart, "c": c_chart, "u": u_chart}


def chart(
    kind: str,
    data: Any,
    *,
    sizes: Any = None,
    phase1: int | None = None,
    limits: Limits | None = None,
    rules: RulesSpec = "western-electric",
    sigma_method: str | None = None,
    nsigmas: float = 3.0,
    confidence_level: float | None = None,
    lam: float = 0.2,
    L: float = 3.0,
    k: float = 0.5,
    h: float = 5.0,
    head_start: float = 0.0,
) -> ChartResult:
    """Build a chart of any kind; arguments that do not apply to `kind` are ignored,
    except `sigma_method` on attributes charts (whose sigma follows from the distribution).

    >>> chart("imr", [1.0, 2.0, 1.5, 1.8, 1.2]).chart
    'imr'
    """
    if kind not in CHART_KINDS:
        raise InvalidArgumentError(
            f"unknown chart {kind!r}; use one of {', '.join(CHART_KINDS)}", argument="kind"
        )
    common: dict[str, Any] = {"phase1": phase1, "limits": limits, "rules": rules}
    if kind in _ATTRIBUTES:
        if sigma_method is not None:
            family = "binomial" if kind in ("p", "np") else "Poisson"
            raise InvalidArgumentError(
                f"a {kind} chart takes its sigma from the {family} distribution; "
                "sigma_method does not apply",
                argument="sigma_method",
            )
        return _ATTRIBUTES[kind](
            data, sizes=sizes, nsigmas=nsigmas, confidence_level=confidence_level, **common
        )
    common["sigma_method"] = sigma_method
    if kind == "ewma":
        return ewma(data, sizes=sizes, lam=lam, L=L, **common)
    if kind == "cusum":
        return cusum(data, sizes=sizes, k=k, h=h, head_start=head_start, **common)
    shewhart: dict[str, Any] = {"nsigmas": nsigmas, "confidence_level": confidence_level}
    if kind == "imr":
        if sizes is not None:
            raise InvalidArgumentError(
                "an imr chart plots individual values; sizes does not apply", argument="sizes"
            )
        return imr(data, **shewhart, **common)
    builder = xbar_r if kind == "xbar-r" else xbar_s
    return builder(data, sizes=sizes, **shewhart, **common)
