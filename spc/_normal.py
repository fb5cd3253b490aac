"""The standard normal CDF Φ in numpy alone, so that charts need not import scipy (~0.3 s).

Φ(x) = ½ erfc(−x/√2), with erfc from W. J. Cody, "Rational Chebyshev approximations for the
error function", Math. Comp. 23 (1969) 631–638, in the form and with the coefficients of his
SPECFUN routine CALERF (netlib.org/specfun/erf): erf(t) = t·A(t²)/B(t²) for |t| ≤ 0.46875,
erfc(t) = e^(−t²)·C(t)/D(t) for 0.46875 < t ≤ 4, and
erfc(t) = e^(−t²)/t·(1/√π − t⁻²·P(t⁻²)/Q(t⁻²)) beyond, each accurate beyond double precision.

Cody splits t = t₁ + t₂ (t₁ on a 1/16 grid) and takes e^(−t₁²)·e^(−(t − t₁)(t + t₁)) because
e^(−t²) magnifies the rounding of t² by t². We split x instead of t = x/√2: the rounding of
x/√2 would otherwise cost up to about x²·ε relative (scipy.special.ndtr, which rounds it, is off
by 2.4e-13 near x = −37), while the rational factor barely feels it. Against a 60-digit
reference Φ is then within 7e-16 relative down to the smallest normal double (x ≈ −37.5) and
within one subnormal ulp below, where it underflows to 0 at about −38.5 (tests/spc/test_normal.py).

>>> import numpy as np
>>> [round(float(v), 12) for v in ndtr(np.array([-1.96, 0.0, 1.0]))]
[0.024997895148, 0.5, 0.841344746069]
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["ndtr"]

_A = (3.16112374387056560e00, 1.13864154151050156e02, 3.77485237685302021e02,
      3.20937758913846947e03, 1.85777706184603153e-1)  # fmt: skip
_B = (2.36012909523441209e01, 2.44024637934444173e02, 1.28261652607737228e03,
      2.84423683343917062e03)  # fmt: skip
_C = (5.64188496988670089e-1, 8.88314979438837594e00, 6.61191906371416295e01,
      2.98635138197400131e02, 8.81952221241769090e02, 1.71204761263407058e03,
      2.05107837782607147e03, 1.23033935479799725e03, 2.15311535474403846e-8)  # fmt: skip
_D = (1.57449261107098347e01, 1.17693950891312499e02, 5.37181101862009858e02,
      1.62138957456669019e03, 3.29079923573345963e03, 4.36261909014324716e03,
      3.43936767414372164e03, 1.23033935480374942e03)  # fmt: skip
_P = (3.05326634961232344e-1, 3.60344899949804439e-1, 1.25781726111229246e-1,
      1.60837851487422766e-2, 6.58749161529837803e-4, 1.63153871373020978e-2)  # fmt: skip
_Q = (2.56852019228982242e00, 1.87295284992346047e00, 5.27905102951428412e-1,
      6.05183413124413191e-2, 2.33520497626869185e-3)  # fmt: skip

_SQRT_HALF = 0.70710678118654752440
_ONE_OVER_SQRT_PI = 5.6418958354775628695e-1
_THRESH = 0.46875  # Cody's break between the erf and erfc forms, in t = |x|/√2
_FAR = 40.0  # below −40, Φ underflows to 0 (it does from about −38.5)
_ONE_ABOVE = 8.5  # above 8.5, 1 − Φ(−x) < 1e-17 rounds to exactly 1.0
_BLOCK = 8192

FloatArray = NDArray[np.float64]


def _erf_small(t: FloatArray) -> FloatArray:
    """erf(t) for |t| ≤ 0.46875 (Cody's first interval)."""
    tt = t * t
    num = _A[4] * tt
    den = tt
    for i in range(3):
        num = (num + _A[i]) * tt
        den = (den + _B[i]) * tt
    result: FloatArray = t * (num + _A[3]) / (den + _B[3])
    return result


def _ratio_middle(t: FloatArray) -> FloatArray:
    """erfc(t)·e^(t²) for 0.46875 < t ≤ 4 (Cody's second interval)."""
    num = _C[8] * t
    den = t
    for i in range(7):
        num = (num + _C[i]) * t
        den = (den + _D[i]) * t
    result: FloatArray = (num + _C[7]) / (den + _D[7])
    return result


def _ratio_far(t: FloatArray) -> FloatArray:
    """erfc(t)·e^(t²) for t > 4 (Cody's third interval, an expansion in 1/t²)."""
    inv = 1.0 / (t * t)
    num = _P[5] * inv
    den = inv
    for i in range(4):
        num = (num + _P[i]) * inv
        den = (den + _Q[i]) * inv
    result: FloatArray = (_ONE_OVER_SQRT_PI - inv * (num + _P[4]) / (den + _Q[4])) / t
    return result


def _half_gaussian(a: FloatArray) -> FloatArray:
    """e^(−a²/2) for a ≥ 0 to a few ulp: a₁ = ⌊16a⌋/16 makes a₁² exact (Cody's split)."""
    a1 = np.trunc(a * 16.0) / 16.0
    rest = (a - a1) * (a + a1)
    result: FloatArray = np.exp(-0.5 * (a1 * a1)) * np.exp(-0.5 * rest)
    return result


def ndtr(x: ArrayLike) -> FloatArray:
    """Standard normal CDF Φ(x), elementwise (a drop-in for scipy.special.ndtr on floats).

    >>> float(ndtr(-8.0))
    6.220960574271784e-16
    """
    values = np.asarray(x, dtype=np.float64)
    flat = values.reshape(-1)
    out = np.empty(flat.shape)
    # Blocks that stay in the CPU cache: about four times faster on the 192 000 values of the
    # d₃ quadrature grid than whole-array temporaries.
    for start in range(0, flat.size, _BLOCK):
        _ndtr_block(flat[start : start + _BLOCK], out[start : start + _BLOCK])
    return out.reshape(values.shape)


def _ndtr_block(x: FloatArray, out: FloatArray) -> None:
    out[x > _ONE_ABOVE] = 1.0
    out[np.isnan(x)] = np.nan
    a = np.minimum(np.abs(x), _FAR)  # ±inf → 40, where Φ is 0 (and +inf was done above)
    t = a * _SQRT_HALF
    small = t <= _THRESH
    if small.any():
        out[small] = 0.5 + 0.5 * _erf_small(x[small] * _SQRT_HALF)
    tail = np.flatnonzero(~small & (x <= _ONE_ABOVE))  # NaN compares False: left out
    if tail.size:
        a_tail, t_tail = a[tail], t[tail]
        ratio = np.empty(tail.shape)
        middle = t_tail <= 4.0
        ratio[middle] = _ratio_middle(t_tail[middle])
        far = ~middle
        if far.any():
            ratio[far] = _ratio_far(t_tail[far])
        lower = 0.5 * _half_gaussian(a_tail) * ratio  # Φ(−|x|) = ½ erfc(|x|/√2)
        out[tail] = np.where(x[tail] < 0.0, lower, 1.0 - lower)
