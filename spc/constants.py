"""Control chart constants computed exactly instead of read from rounded tables.

The AIAG tables and qcc round d₂ to three decimals; we integrate the distribution of the range
of n standard normals instead, so d₂-based limits may differ from those tables by up to 5e-4
relative (ARCHITECTURE.md, "CLI chart contract").

* d₂(n) = E[R] = ∫ (1 − Φ(x)ⁿ − (1 − Φ(x))ⁿ) dx  (Tippett 1925; Montgomery, *Introduction to SQC*,
  appendix VI),
* d₃(n) = sd(R), from E[R²] = ∫₀^∞ 2w (1 − F_R(w)) dw with
  F_R(w) = n ∫ φ(y) (Φ(y + w) − Φ(y))ⁿ⁻¹ dy  (Harter 1960),
* c₄(n) = √(2/(n − 1)) Γ(n/2) / Γ((n − 1)/2), via log-gamma so large n does not overflow.

Both integrands are analytic and decay like a Gaussian, so the trapezoid rule (over x and y) and
Gauss–Legendre (over w) converge geometrically: fixed grids give about 1e-12 absolute. Nothing
is computed at import: the grids (about 12 ms) on first use, then the table of n = 2..100 only
up to the largest n asked for (about 10 ms to 100). Φ is our numpy port of Cody's erfc
(`spc._normal`), Γ comes from `math.lgamma` and the Gauss–Legendre nodes from Newton's method:
importing scipy.special for them would cost `linewatch chart` about 0.3 s at startup.

>>> round(d2(5), 7), round(d3(2), 10), round(c4(2), 10)
(2.3259289, 0.8525024664, 0.7978845608)
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from functools import cache

import numpy as np
from numpy.typing import NDArray

from spc._normal import ndtr
from spc.errors import InvalidArgumentError

__all__ = ["A2", "A3", "B3", "B4", "D3", "D4", "E2", "MAX_RANGE_N", "c4", "d2", "d3"]

MAX_RANGE_N = 1000
"""Largest subgroup size for d₂ and d₃ (range charts are pointless long before that)."""

_TABLE_N = 100
_X = np.linspace(-12.0, 12.0, 2401)
_Y = np.linspace(-9.0, 9.0, 1201)
_W_MAX = 16.0
_W_NODES = 160


def _check_n(n: int, smallest: int, largest: int | None = None) -> int:
    if isinstance(n, bool) or not isinstance(n, int | np.integer):
        raise InvalidArgumentError(f"n must be an integer, got {n!r}", argument="n")
    value = int(n)
    if value < smallest or (largest is not None and value > largest):
        upper = f" and at most {largest}" if largest is not None else ""
        raise InvalidArgumentError(
            f"n must be at least {smallest}{upper}, got {value}", argument="n"
        )
    return value


def _trapezoid_weights(grid: NDArray[np.float64]) -> NDArray[np.float64]:
    """Trapezoid-rule weights of an evenly spaced grid (h, with h/2 at both ends)."""
    weights = np.full(grid.shape, float(grid[1] - grid[0]))
    weights[[0, -1]] *= 0.5
    return weights


def _gauss_legendre(m: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Gauss–Legendre nodes and weights on [−1, 1] by Newton's method on Pₘ (Press et al.,
    *Numerical Recipes*, 3rd ed., §4.6.1 `gauleg`), from Tricomi's asymptotic nodes
    (1 − 1/(8m²) + 1/(8m³)) cos(π(4k − 1)/(4m + 2)) (Lether, *J. Comput. Appl. Math.* 4, 1978),
    close enough that four Newton steps reach full precision.

    numpy's `leggauss` gives the same nodes through a LAPACK eigensolver, which costs 20 ms of
    CPU (and more wall time while OpenBLAS threads compete on a loaded machine), and is less
    accurate (weights off by up to 1e-14 relative, here 1e-16).
    """
    k = np.arange(1, m // 2 + 1)  # the positive half; the rule is symmetric
    x = (1.0 - 1.0 / (8.0 * m**2) + 1.0 / (8.0 * m**3)) * np.cos(np.pi * (4 * k - 1) / (4 * m + 2))
    for _ in range(20):  # quadratic convergence: four steps for m = 160
        p, dp = _legendre(m, x)
        step = p / dp
        x = x - step
        if not x.size or float(np.max(np.abs(step))) < 1e-15:
            break
    dp = _legendre(m, x)[1]
    w = 2.0 / ((1.0 - x * x) * dp * dp)
    middle_x = np.zeros(m % 2)
    middle_w = 2.0 / _legendre(m, middle_x)[1] ** 2
    nodes = np.concatenate([-x, middle_x, x[::-1]])
    weights = np.concatenate([w, middle_w, w[::-1]])
    return nodes, weights


def _legendre(m: int, x: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """(Pₘ(x), Pₘ'(x)) by Bonnet's recurrence jPⱼ = (2j − 1)xPⱼ₋₁ − (j − 1)Pⱼ₋₂."""
    before, current = np.ones_like(x), x.copy()
    for j in range(2, m + 1):
        before, current = current, ((2 * j - 1) / j) * x * current - ((j - 1) / j) * before
    derivative = m * (x * current - before) / (x * x - 1.0)
    return current, derivative


class _Grids:
    """Quadrature nodes and the n-independent parts of both integrands."""

    def __init__(self) -> None:
        self.x_weights = _trapezoid_weights(_X)
        self.phi_x = ndtr(_X)
        self.psi_x = ndtr(-_X)
        # Trapezoid weights over y folded into the normal density, so that the inner integral
        # for every w is one matrix-vector product.
        density = np.exp(-0.5 * _Y * _Y) / math.sqrt(2.0 * math.pi)
        self.density_weights = _trapezoid_weights(_Y) * density
        nodes, weights = _gauss_legendre(_W_NODES)
        self.w = 0.5 * _W_MAX * (nodes + 1.0)
        self.w_weights = 0.5 * _W_MAX * weights
        self.gap = ndtr(_Y[None, :] + self.w[:, None]) - ndtr(_Y)[None, :]

    def moments(
        self,
        n: int,
        phi_pow: NDArray[np.float64],
        psi_pow: NDArray[np.float64],
        gap_pow: NDArray[np.float64],
    ) -> tuple[float, float]:
        """(d₂, d₃) given Φⁿ, (1 − Φ)ⁿ and (Φ(y + w) − Φ(y))ⁿ⁻¹ on the grids."""
        mean = float(np.dot(self.x_weights, 1.0 - phi_pow - psi_pow))
        cdf = n * (gap_pow @ self.density_weights)
        second_moment = float(np.dot(self.w_weights, 2.0 * self.w * (1.0 - cdf)))
        return mean, math.sqrt(second_moment - mean * mean)


@cache
def _grids() -> _Grids:
    return _Grids()


class _Table:
    """(d₂, d₃) for n = 2..100, multiplying the powers up one n at a time, only as far as
    asked: a chart of subgroups of 5 needs four steps, not ninety-nine."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: list[tuple[float, float]] = []  # index n − 2
        self._powers: tuple[NDArray[np.float64], ...] = ()

    def __call__(self, n: int) -> tuple[float, float]:
        with self._lock:  # the powers grow in place: one thread at a time
            g = _grids()
            if not self._powers:
                self._powers = (g.phi_x * g.phi_x, g.psi_x * g.psi_x, g.gap.copy())
            phi_pow, psi_pow, gap_pow = self._powers
            while len(self._values) <= n - 2:
                self._values.append(g.moments(len(self._values) + 2, phi_pow, psi_pow, gap_pow))
                phi_pow *= g.phi_x
                psi_pow *= g.psi_x
                gap_pow *= g.gap
            return self._values[n - 2]


@cache
def _table() -> _Table:
    """The one growing table, made on first use (importing spc computes nothing)."""
    return _Table()


@cache
def _range_moments(n: int) -> tuple[float, float]:
    if n == 2:  # R = |X₁ − X₂| is |N(0, 2)|: E[R] = 2/√π, E[R²] = 2 (no quadrature needed)
        return 2.0 / math.sqrt(math.pi), math.sqrt(2.0 - 4.0 / math.pi)
    if n <= _TABLE_N:
        return _table()(n)
    g = _grids()
    return g.moments(n, g.phi_x**n, g.psi_x**n, g.gap ** (n - 1))


@cache
def d2(n: int) -> float:
    """Mean of the range of n standard normals: σ̂ = R̄ / d₂ (n = 2..1000).

    >>> round(d2(2), 10) == round(2 / 3.141592653589793 ** 0.5, 10)
    True
    """
    n = _check_n(n, 2, MAX_RANGE_N)
    return _range_moments(n)[0]


@cache
def d3(n: int) -> float:
    """Standard deviation of the range of n standard normals: σ_R = d₃ σ (n = 2..1000).

    >>> round(d3(5), 6)
    0.864082
    """
    n = _check_n(n, 2, MAX_RANGE_N)
    return _range_moments(n)[1]


@cache
def c4(n: int) -> float:
    """Bias of the sample standard deviation of n normals: E[s] = c₄ σ (n ≥ 2).

    >>> round(c4(5), 6)
    0.939986
    """
    n = _check_n(n, 2)
    return _c4(n)


def _c4(n: int) -> float:
    if n < 2:
        return math.nan
    return math.sqrt(2.0 / (n - 1)) * math.exp(math.lgamma(n / 2.0) - math.lgamma((n - 1) / 2.0))


def A2(n: int) -> float:
    """X̄ limits from R̄: X̄̄ ± A₂ R̄, A₂ = 3 / (d₂ √n)."""
    return 3.0 / (d2(n) * math.sqrt(n))


def A3(n: int) -> float:
    """X̄ limits from s̄: X̄̄ ± A₃ s̄, A₃ = 3 / (c₄ √n)."""
    return 3.0 / (c4(n) * math.sqrt(n))


def B3(n: int) -> float:
    """S chart lower limit factor: B₃ s̄, B₃ = max(0, 1 − 3 √(1 − c₄²) / c₄)."""
    c = c4(n)
    return max(0.0, 1.0 - 3.0 * math.sqrt(1.0 - c * c) / c)


def B4(n: int) -> float:
    """S chart upper limit factor: B₄ s̄, B₄ = 1 + 3 √(1 − c₄²) / c₄."""
    c = c4(n)
    return 1.0 + 3.0 * math.sqrt(1.0 - c * c) / c


def D3(n: int) -> float:
    """R chart lower limit factor: D₃ R̄, D₃ = max(0, 1 − 3 d₃ / d₂)."""
    return max(0.0, 1.0 - 3.0 * d3(n) / d2(n))


def D4(n: int) -> float:
    """R chart upper limit factor: D₄ R̄, D₄ = 1 + 3 d₃ / d₂."""
    return 1.0 + 3.0 * d3(n) / d2(n)


def E2(n: int = 2) -> float:
    """Individuals limits from the mean moving range of span n: X̄ ± E₂ MR̄, E₂ = 3 / d₂(n)."""
    return 3.0 / d2(n)


def c4_array(sizes: NDArray[np.int64]) -> NDArray[np.float64]:
    """c₄ of many subgroup sizes (looked up once per distinct size; NaN below 2)."""
    return _lookup(sizes, _c4)


def d2_array(sizes: NDArray[np.int64]) -> NDArray[np.float64]:
    """d₂ of many subgroup sizes (looked up once per distinct size)."""
    return _lookup(sizes, d2)


def d3_array(sizes: NDArray[np.int64]) -> NDArray[np.float64]:
    """d₃ of many subgroup sizes (looked up once per distinct size)."""
    return _lookup(sizes, d3)


def _lookup(sizes: NDArray[np.int64], func: Callable[[int], float]) -> NDArray[np.float64]:
    """func per size through a small table indexed by the size (no sort of the sizes)."""
    if sizes.size == 0:
        return np.empty(sizes.shape)
    low, high = int(sizes.min()), int(sizes.max())
    if low == high:
        return np.full(sizes.shape, func(low))
    present = np.zeros(high + 1, dtype=np.bool_)
    present[sizes] = True
    table = np.full(high + 1, np.nan)
    for n in np.flatnonzero(present).tolist():
        table[n] = func(n)
    result: NDArray[np.float64] = table[sizes]
    return result
