"""Frozen control limits: what phase I estimated (or what an engineer typed in as known limits).

A `Limits` holds the process parameters, not per-point lines: the limits of each point follow
from them and that point's subgroup size, so one `Limits` judges subgroups of any size and
survives a JSON round-trip for the service's limit versions and the streaming monitor's state.

Conventions per chart (`center` and `sigma` are what the CLI reports, as qcc does):

| chart | center | sigma | per-point sigma of the plotted statistic |
| --- | --- | --- | --- |
| imr | mean | process σ | σ (MR chart: d₃(2) σ around `dispersion_center`) |
| xbar-r, xbar-s | grand mean | process σ | σ / √nᵢ (R: d₃(nᵢ) σ; S: σ √(1 − c₄(nᵢ)²)) |
| p | p̄ | √(p̄(1 − p̄)) per unit | σ / √nᵢ |
| np | n p̄ (n = `subgroup_size`) | √(n p̄(1 − p̄)) | √(nᵢ p̄(1 − p̄)), center nᵢ p̄ |
| c | c̄ | √c̄ | σ |
| u | ū | √ū per unit | σ / √nᵢ |
| ewma | mean | process σ | σ/√nᵢ · √(λ/(2 − λ) (1 − (1 − λ)²ᵗ)) |
| cusum | mean | process σ | σ / √nᵢ (the chart plots sums of standardized values) |

>>> limits = Limits("xbar-r", center=74.0, sigma=0.01, subgroup_size=5)
>>> Limits.from_dict(limits.to_dict()) == limits
True
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from spc.errors import InvalidArgumentError

__all__ = ["CHART_KINDS", "DISPERSION_CHART", "Limits"]

CHART_KINDS: tuple[str, ...] = ("imr", "xbar-r", "xbar-s", "p", "np", "c", "u", "ewma", "cusum")

DISPERSION_CHART: dict[str, str] = {"imr": "mr", "xbar-r": "r", "xbar-s": "s"}
"""The dispersion chart drawn under each variables chart."""

_PARAMS: dict[str, tuple[str, ...]] = {"ewma": ("lam", "L"), "cusum": ("k", "h", "head_start")}


def _finite(value: Any, argument: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        try:
            number = float(value)
        except (TypeError, ValueError) as exc:
            raise InvalidArgumentError(
                f"{argument} must be a number, got {value!r}", argument=argument
            ) from exc
    else:
        number = float(value)
    if not math.isfinite(number):
        raise InvalidArgumentError(f"{argument} must be finite, got {value!r}", argument=argument)
    return number


def check_ewma_params(lam: float, big_l: float) -> None:
    """λ in (0, 1] and L > 0 (Montgomery §9.2), named as the chart functions name them."""
    if not 0.0 < lam <= 1.0:
        raise InvalidArgumentError(f"lam must be in (0, 1], got {lam!r}", argument="lam")
    if not big_l > 0.0:
        raise InvalidArgumentError(f"L must be positive, got {big_l!r}", argument="L")


def check_cusum_params(k: float, h: float, head_start: float) -> None:
    """k ≥ 0, h > 0 and 0 ≤ head start < h, as qcc's cusum() checks them."""
    if not k >= 0.0:
        raise InvalidArgumentError(f"k must be non-negative, got {k!r}", argument="k")
    if not h > 0.0:
        raise InvalidArgumentError(f"h must be positive, got {h!r}", argument="h")
    if not 0.0 <= head_start < h:
        raise InvalidArgumentError(
            f"head_start must be in [0, h), got {head_start!r} with h = {h!r}",
            argument="head_start",
        )


@dataclass(frozen=True)
class Limits:
    """Center, sigma and chart parameters that every later point is judged against.

    Arguments are validated on construction (`InvalidArgumentError` naming the field), so a
    `Limits` read back from a database or a request is as trustworthy as a computed one.
    """

    chart: str
    center: float
    sigma: float
    nsigmas: float = 3.0
    subgroup_size: float | None = None
    dispersion_center: float | None = None
    params: dict[str, float] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if self.chart not in CHART_KINDS:
            raise InvalidArgumentError(
                f"unknown chart {self.chart!r}; use one of {', '.join(CHART_KINDS)}",
                argument="chart",
            )
        set_ = object.__setattr__
        set_(self, "center", _finite(self.center, "center"))
        sigma = _finite(self.sigma, "sigma")
        if sigma < 0.0:
            raise InvalidArgumentError(f"sigma must be ≥ 0, got {sigma!r}", argument="sigma")
        set_(self, "sigma", sigma)
        nsigmas = _finite(self.nsigmas, "nsigmas")
        if nsigmas <= 0.0:
            raise InvalidArgumentError(
                f"nsigmas must be positive, got {nsigmas!r}", argument="nsigmas"
            )
        set_(self, "nsigmas", nsigmas)
        if self.subgroup_size is not None:
            size = _finite(self.subgroup_size, "subgroup_size")
            if size <= 0.0:
                raise InvalidArgumentError(
                    f"subgroup_size must be positive, got {size!r}", argument="subgroup_size"
                )
            set_(self, "subgroup_size", size)
        if self.chart == "np" and self.subgroup_size is None:
            raise InvalidArgumentError(
                "an np chart's limits need subgroup_size (its center is n·p̄)",
                argument="subgroup_size",
            )
        if self.dispersion_center is not None:
            if self.chart not in DISPERSION_CHART:
                raise InvalidArgumentError(
                    f"a {self.chart} chart has no dispersion chart", argument="dispersion_center"
                )
            center = _finite(self.dispersion_center, "dispersion_center")
            if center < 0.0:
                raise InvalidArgumentError(
                    f"dispersion_center must be ≥ 0, got {center!r}", argument="dispersion_center"
                )
            set_(self, "dispersion_center", center)
        set_(self, "params", self._checked_params())

    def _checked_params(self) -> dict[str, float]:
        if not isinstance(self.params, Mapping):
            raise InvalidArgumentError("params must be a mapping", argument="params")
        expected = _PARAMS.get(self.chart, ())
        unknown = sorted(set(self.params) - set(expected))
        if unknown:
            allowed = ", ".join(expected) if expected else "none"
            raise InvalidArgumentError(
                f"unknown params {unknown} for a {self.chart} chart (allowed: {allowed})",
                argument="params",
            )
        missing = [name for name in expected if name not in self.params]
        if missing:
            raise InvalidArgumentError(
                f"a {self.chart} chart's limits need params {missing}", argument="params"
            )
        params = {name: _finite(self.params[name], name) for name in expected}
        if self.chart == "ewma":
            check_ewma_params(params["lam"], params["L"])
        elif self.chart == "cusum":
            check_cusum_params(params["k"], params["h"], params["head_start"])
        return params

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict; `Limits.from_dict` reads it back."""
        return {
            "chart": self.chart,
            "center": self.center,
            "sigma": self.sigma,
            "nsigmas": self.nsigmas,
            "subgroup_size": self.subgroup_size,
            "dispersion_center": self.dispersion_center,
            "params": dict(self.params),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Limits:
        """Inverse of `to_dict`; unknown keys are an error, so typos do not pass silently."""
        if not isinstance(data, Mapping):
            raise InvalidArgumentError("limits must be a mapping", argument="limits")
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise InvalidArgumentError(f"unknown limits keys {unknown}", argument="limits")
        for required in ("chart", "center", "sigma"):
            if required not in data:
                raise InvalidArgumentError(f"limits need {required!r}", argument=required)
        kwargs = {key: value for key, value in data.items() if value is not None}
        return cls(**kwargs)
