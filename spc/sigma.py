"""Estimators of the within-subgroup (process) sigma from phase I data.

Definitions follow qcc's `sd.xbar` / `sd.xbar.one` (which follow the SAS/QC User's Guide,
"Methods for estimating the standard deviation"), with exact constants instead of qcc's
three-decimal d₂ table:

| method | qcc | estimate |
| --- | --- | --- |
| r-bar | UWAVE-R | (1/m) Σ Rᵢ / d₂(nᵢ) |
| s-bar | UWAVE-SD | (1/m) Σ sᵢ / c₄(nᵢ) |
| mvlue-r | MVLUE-R | Σ wᵢ Rᵢ/d₂(nᵢ) / Σ wᵢ, wᵢ = (d₂(nᵢ)/d₃(nᵢ))² |
| mvlue-s | MVLUE-SD | Σ wᵢ sᵢ/c₄(nᵢ) / Σ wᵢ, wᵢ = c₄(nᵢ)² / (1 − c₄(nᵢ)²) |
| pooled | RMSDF | √(Σ(nᵢ − 1)sᵢ² / Σ(nᵢ − 1)) / c₄(Σ(nᵢ − 1) + 1) |
| mr | MR | mean |xᵢ − xᵢ₋₁| / d₂(2) |
| sd | SD | s / c₄(N) over all N values |

For subgroups, `sd` is the standard deviation of all the individual values (it includes any
between-subgroup variation; qcc offers it for individuals only).

>>> import numpy as np
>>> round(sigma_individuals(np.array([1.0, 2.0, 4.0, 3.0]), "mr"), 6)
1.181636
"""

from __future__ import annotations

import numpy as np

from spc._data import FloatArray, Subgroups
from spc.constants import c4, c4_array, d2, d2_array, d3_array
from spc.errors import InvalidArgumentError, SubgroupSizeError

__all__ = [
    "INDIVIDUAL_METHODS",
    "SIGMA_METHODS",
    "SUBGROUP_METHODS",
    "sigma_individuals",
    "sigma_subgroups",
]

SUBGROUP_METHODS: tuple[str, ...] = ("r-bar", "s-bar", "pooled", "mvlue-r", "mvlue-s", "sd")
INDIVIDUAL_METHODS: tuple[str, ...] = ("mr", "sd")
SIGMA_METHODS: tuple[str, ...] = (
    "r-bar",
    "s-bar",
    "pooled",
    "mvlue-r",
    "mvlue-s",
    "mr",
    "sd",
)


def _unknown(method: str, allowed: tuple[str, ...], what: str) -> InvalidArgumentError:
    return InvalidArgumentError(
        f"sigma_method {method!r} does not apply to {what}; use one of {', '.join(allowed)}",
        argument="sigma_method",
    )


def sigma_individuals(values: FloatArray, method: str = "mr") -> float:
    """Process sigma from individual values (at least 2): moving range or sample sd."""
    if method not in INDIVIDUAL_METHODS:
        raise _unknown(method, INDIVIDUAL_METHODS, "individual values")
    if method == "mr":
        return float(np.mean(np.abs(np.diff(values)))) / d2(2)
    return float(np.std(values, ddof=1)) / c4(values.shape[0])


def sigma_subgroups(groups: Subgroups, method: str = "r-bar") -> float:
    """Process sigma from rational subgroups (each of size ≥ 2 except for `sd`)."""
    if method not in SUBGROUP_METHODS:
        raise _unknown(method, SUBGROUP_METHODS, "subgroups")
    if method == "sd":
        values = groups.values
        return float(np.std(values, ddof=1)) / c4(values.shape[0])
    sizes = groups.sizes
    if np.any(sizes < 2):
        position = int(np.flatnonzero(sizes < 2)[0])
        raise SubgroupSizeError(
            f"sigma_method {method!r} needs subgroups of at least 2 values "
            f"(subgroup {position} has {int(sizes[position])})",
            argument="sizes",
        )
    if method == "r-bar":
        return float(np.mean(groups.ranges / d2_array(sizes)))
    if method == "s-bar":
        return float(np.mean(groups.sds / c4_array(sizes)))
    if method == "mvlue-r":
        d2s = d2_array(sizes)
        weights = (d2s / d3_array(sizes)) ** 2
        return float(np.sum(groups.ranges / d2s * weights) / np.sum(weights))
    if method == "mvlue-s":
        c4s = c4_array(sizes)
        weights = c4s**2 / (1.0 - c4s**2)
        return float(np.sum(groups.sds / c4s * weights) / np.sum(weights))
    # pooled (qcc RMSDF)
    dof = sizes - 1
    total = int(dof.sum())
    return float(np.sqrt(np.sum(groups.sds**2 * dof) / total)) / c4(total + 1)
