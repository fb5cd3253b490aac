"""Per-point center, sigma and limits from frozen `Limits`, shared by batch charts and monitors.

Both paths call these same vectorized functions on their points, so a point gets bit-identical
limits and zone scores whether it arrived in a batch of a million or alone.
"""

from __future__ import annotations

import numpy as np

from spc._data import BoolArray, FloatArray
from spc.constants import c4_array, d2, d2_array, d3, d3_array
from spc.limits import Limits

_CLIP_AT_ZERO = frozenset({"p", "np", "c", "u", "mr", "r", "s"})


def main_scale(limits: Limits, sizes: FloatArray) -> tuple[FloatArray, FloatArray]:
    """(center, sigma of the plotted statistic) per point of a Shewhart chart."""
    kind = limits.chart
    count = sizes.shape[0]
    if kind in ("imr", "c"):
        return np.full(count, limits.center), np.full(count, limits.sigma)
    if kind == "np":
        reference = float(limits.subgroup_size or 1.0)
        p_bar = limits.center / reference
        center = sizes * p_bar
        sigma: FloatArray = np.sqrt(center * (1.0 - p_bar))
        return center, sigma
    # xbar-r, xbar-s, p, u, cusum: the sigma of a mean of nᵢ units.
    return np.full(count, limits.center), limits.sigma / np.sqrt(sizes)


def dispersion_scale(limits: Limits, sizes: FloatArray) -> tuple[FloatArray, FloatArray]:
    """(center, sigma) per point of the R, S or MR chart (Montgomery §6.2–6.4; qcc limits.R/S).

    With a dispersion center from phase I (qcc: the size-weighted mean of Rᵢ or sᵢ) the center
    line is flat; with known limits alone it is the expected value d₂(nᵢ)σ or c₄(nᵢ)σ.
    """
    kind = limits.chart
    sigma = limits.sigma
    count = sizes.shape[0]
    whole = sizes.astype(np.int64)
    if kind == "imr":
        spread = np.full(count, d3(2) * sigma)
        expected = np.full(count, d2(2) * sigma)
    elif kind == "xbar-r":
        spread = d3_array(whole) * sigma
        expected = d2_array(whole) * sigma
    else:  # xbar-s
        c = c4_array(whole)
        spread = sigma * np.sqrt(1.0 - c * c)
        expected = c * sigma
    if limits.dispersion_center is not None:
        return np.full(count, limits.dispersion_center), spread
    return expected, spread


def control_limits(
    kind: str, center: FloatArray, sigma: FloatArray, nsigmas: float, sizes: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """center ∓ nsigmas·σᵢ, clipped where the statistic cannot go (qcc: LCL ≥ 0, p ≤ 1, np ≤ n)."""
    width = nsigmas * sigma
    lcl = center - width
    ucl = center + width
    if kind in _CLIP_AT_ZERO:
        lcl = np.maximum(lcl, 0.0)
    if kind == "p":
        ucl = np.minimum(ucl, 1.0)
    elif kind == "np":
        ucl = np.minimum(ucl, sizes)
    return lcl, ucl


def zone_scores(
    stat: FloatArray, center: FloatArray, sigma: FloatArray, nsigmas: float
) -> FloatArray:
    """Distance from the center in units of (limit width / 3), the z the run rules read.

    With 3σ limits this is the plain z = (x − center)/σᵢ. With other limits the zones scale
    with them, as in qcc (its 2σ and 1σ zone lines are nsigmas·2/3 and nsigmas/3), so WE1
    fires exactly beyond the drawn limits. σᵢ = 0 gives ±inf off center and NaN on it.
    """
    scale = nsigmas / 3.0
    # Constant limits arrive as broadcast views: work on their one value, not a million copies.
    unit = sigma[0] * scale if _is_constant(sigma) else sigma * scale
    z: FloatArray = np.subtract(stat, center[0] if _is_constant(center) else center)
    with np.errstate(divide="ignore", invalid="ignore"):
        np.divide(z, unit, out=z)
    return z


def _is_constant(array: FloatArray) -> bool:
    return array.ndim == 1 and array.shape[0] > 0 and array.strides[0] == 0


def beyond(stat: FloatArray, lcl: FloatArray, ucl: FloatArray) -> BoolArray:
    """Strictly outside the limits (qcc's beyond.limits), for charts judged on limits alone."""
    result: BoolArray = (stat > ucl) | (stat < lcl)
    return result
