"""Process capability and performance indices with confidence intervals (qcc `process.capability`).

Cp-type indices use the within sigma of the control chart, Pp-type the overall sample standard
deviation (n − 1), both over the same (phase I) values; `cpm` = Cp / √(1 + ((x̄ − T)/σ)²) with T
the spec midpoint unless given. Confidence intervals, as in qcc 2.7:

* Cp: chi-square, Cp·√(χ²_{α/2, n−1}/(n − 1)) .. Cp·√(χ²_{1−α/2, n−1}/(n − 1)) (Montgomery §8.3);
* Cpk: Bissell (1990), Cpk·(1 ∓ z_{1−α/2}·√(1/(9n·Cpk²) + 1/(2(n − 1))));
* Cpm: chi-square with ν = n(1 + δ²)/(1 + 2δ²), δ = (x̄ − T)/σ (Boyles 1991).

Expected fractions beyond the specs assume a normal distribution with the within sigma; an
Anderson–Darling test (D'Agostino & Stephens 1986, case 3: mean and sd estimated) is reported
beside them, because every index here assumes normality.

scipy.special is imported inside the functions: it costs about 0.3 s, which a chart without
spec limits (and `import spc`) should not pay.

>>> import numpy as np
>>> values = 10.0 + np.random.default_rng(1).normal(0.0, 0.1, 200)
>>> report = capability(values, sigma_within=0.1, lsl=9.7, usl=10.3)
>>> round(report.cp, 3)
1.0
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from spc._data import as_float_array
from spc.errors import InsufficientDataError, InvalidArgumentError

__all__ = ["Capability", "Normality", "anderson_darling", "capability"]

_NORMALITY_ALPHA = 0.05


@dataclass(frozen=True)
class Normality:
    """Anderson–Darling normality test of the values behind the indices."""

    statistic: float
    p_value: float
    normal: bool
    warning: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "test": "anderson-darling",
            "statistic": self.statistic,
            "p_value": self.p_value,
            "normal": self.normal,
            "warning": self.warning,
        }


def anderson_darling(values: ArrayLike) -> Normality:
    """A² with estimated mean and sd, its small-sample correction A*² = A²(1 + 0.75/n + 2.25/n²)
    and the p-value of D'Agostino & Stephens (1986, table 4.9), as R's nortest::ad.test.

    >>> round(anderson_darling([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]).p_value, 4)
    0.9615
    """
    x = np.sort(as_float_array(values, "values"))
    n = x.shape[0]
    if n < 8:
        raise InsufficientDataError(
            f"the Anderson-Darling test needs at least 8 values, got {n}", argument="values"
        )
    sd = float(np.std(x, ddof=1))
    if sd == 0.0:
        return Normality(math.inf, 0.0, False, "all values are equal: normality cannot hold")
    from scipy.special import log_ndtr

    u = (x - float(np.mean(x))) / sd
    log_cdf = log_ndtr(u)
    log_sf = log_ndtr(-u)
    i = np.arange(1, n + 1)
    a2 = float(-n - np.mean((2 * i - 1) * (log_cdf + log_sf[::-1])))
    a2_star = a2 * (1.0 + 0.75 / n + 2.25 / n**2)
    if a2_star < 0.2:
        p = 1.0 - math.exp(-13.436 + 101.14 * a2_star - 223.73 * a2_star**2)
    elif a2_star < 0.34:
        p = 1.0 - math.exp(-8.318 + 42.796 * a2_star - 59.938 * a2_star**2)
    elif a2_star < 0.6:
        p = math.exp(0.9177 - 4.279 * a2_star - 1.38 * a2_star**2)
    elif a2_star < 10.0:
        p = math.exp(1.2937 - 5.709 * a2_star + 0.0186 * a2_star**2)
    else:
        p = 3.7e-24
    p = min(max(p, 0.0), 1.0)
    normal = p >= _NORMALITY_ALPHA
    warning = (
        None
        if normal
        else f"values do not look normal (Anderson-Darling p = {p:.3g} < {_NORMALITY_ALPHA}): "
        "capability indices and expected ppm assume normality"
    )
    return Normality(a2, p, normal, warning)


@dataclass(frozen=True)
class Capability:
    """Capability (within σ) and performance (overall σ) indices of one set of values.

    Indices that do not exist for the given specs are None (Cp, Pp and Cpm need both limits);
    with one spec limit, cpk/ppk equal the one-sided index.
    """

    n: int
    mean: float
    sigma_within: float
    sigma_overall: float
    lsl: float | None
    usl: float | None
    target: float | None
    cp: float | None
    cpl: float | None
    cpu: float | None
    cpk: float
    pp: float | None
    ppl: float | None
    ppu: float | None
    ppk: float
    cpm: float | None
    ci95: dict[str, tuple[float, float]]
    expected_below_lsl: float
    expected_above_usl: float
    observed_below_lsl: float
    observed_above_usl: float
    normality: Normality | None = field(default=None)

    def to_dict(self) -> dict[str, Any]:
        """The contract's "capability" object plus "ppm" and "normality"; absent indices are
        left out rather than null, so a one-sided spec shows only what exists."""
        result: dict[str, Any] = {
            "n": self.n,
            "mean": self.mean,
            "sigma_within": self.sigma_within,
            "sigma_overall": self.sigma_overall,
        }
        for name in ("cp", "cpl", "cpu", "cpk", "pp", "ppl", "ppu", "ppk", "cpm"):
            value = getattr(self, name)
            if value is not None:
                result[name] = value
        result["ci95"] = {name: list(bounds) for name, bounds in self.ci95.items()}
        million = 1_000_000.0
        result["ppm"] = {
            "expected_below_lsl": self.expected_below_lsl * million,
            "expected_above_usl": self.expected_above_usl * million,
            "expected_total": (self.expected_below_lsl + self.expected_above_usl) * million,
            "observed_below_lsl": self.observed_below_lsl * million,
            "observed_above_usl": self.observed_above_usl * million,
            "observed_total": (self.observed_below_lsl + self.observed_above_usl) * million,
        }
        result["normality"] = None if self.normality is None else self.normality.to_dict()
        return result


def _spec(value: float | None, argument: str) -> float | None:
    if value is None:
        return None
    number = float(value)
    if not math.isfinite(number):
        raise InvalidArgumentError(f"{argument} must be finite, got {value!r}", argument=argument)
    return number


def _chi2_interval(index: float, dof: float, alpha: float) -> tuple[float, float]:
    from scipy.special import chdtri

    # chdtri(ν, q) is the chi-square quantile with upper-tail probability q
    low, high = chdtri(dof, [1.0 - alpha / 2.0, alpha / 2.0])
    return index * math.sqrt(low / dof), index * math.sqrt(high / dof)


def _bissell_interval(index: float, n: int, alpha: float) -> tuple[float, float]:
    from scipy.special import ndtri

    z = float(ndtri(1.0 - alpha / 2.0))
    half = z * math.sqrt(1.0 / (9.0 * n * index**2) + 1.0 / (2.0 * (n - 1)))
    return index * (1.0 - half), index * (1.0 + half)


def capability(
    values: ArrayLike,
    *,
    sigma_within: float,
    lsl: float | None = None,
    usl: float | None = None,
    target: float | None = None,
    confidence_level: float = 0.95,
) -> Capability:
    """Capability of `values` against spec limits, given the chart's within sigma.

    `ci95` holds (lower, upper) for cp, cpk and cpm (whichever exist), at `confidence_level`.
    """
    x = as_float_array(values, "values")
    n = x.shape[0]
    if n < 2:
        raise InsufficientDataError(
            f"capability needs at least 2 values, got {n}", argument="values"
        )
    sigma = float(sigma_within)
    if not (math.isfinite(sigma) and sigma > 0.0):
        raise InvalidArgumentError(
            f"sigma_within must be positive, got {sigma_within!r}", argument="sigma_within"
        )
    low, high = _spec(lsl, "lsl"), _spec(usl, "usl")
    if low is None and high is None:
        raise InvalidArgumentError("give lsl, usl or both", argument="lsl")
    if low is not None and high is not None and not low < high:
        raise InvalidArgumentError(f"lsl ({low}) must be below usl ({high})", argument="lsl")
    if not 0.0 < confidence_level < 1.0:
        raise InvalidArgumentError(
            f"confidence_level must be in (0, 1), got {confidence_level!r}",
            argument="confidence_level",
        )
    alpha = 1.0 - confidence_level
    mean = float(np.mean(x))
    overall = float(np.std(x, ddof=1))
    two_sided = low is not None and high is not None
    goal = _spec(target, "target")
    if goal is None and two_sided:
        assert low is not None and high is not None
        goal = (low + high) / 2.0

    def indices(s: float) -> tuple[float | None, float | None, float | None, float]:
        if s == 0.0:
            s = math.nextafter(0.0, 1.0)  # a constant sample: indices are huge, not a crash
        whole = (high - low) / (6.0 * s) if low is not None and high is not None else None
        lower = (mean - low) / (3.0 * s) if low is not None else None
        upper = (high - mean) / (3.0 * s) if high is not None else None
        worst = min(v for v in (lower, upper) if v is not None)
        return whole, lower, upper, worst

    cp, cpl, cpu, cpk = indices(sigma)
    pp, ppl, ppu, ppk = indices(overall)
    ci95: dict[str, tuple[float, float]] = {}
    cpm = None
    if cp is not None:
        ci95["cp"] = _chi2_interval(cp, n - 1.0, alpha)
    ci95["cpk"] = _bissell_interval(cpk, n, alpha)
    if cp is not None and goal is not None:
        delta = (mean - goal) / sigma
        cpm = cp / math.sqrt(1.0 + delta**2)
        dof = n * (1.0 + delta**2) / (1.0 + 2.0 * delta**2)
        ci95["cpm"] = _chi2_interval(cpm, dof, alpha)
    normality = anderson_darling(x) if n >= 8 else None
    from scipy.special import ndtr

    return Capability(
        n=n,
        mean=mean,
        sigma_within=sigma,
        sigma_overall=overall,
        lsl=low,
        usl=high,
        target=goal,
        cp=cp,
        cpl=cpl,
        cpu=cpu,
        cpk=cpk,
        pp=pp,
        ppl=ppl,
        ppu=ppu,
        ppk=ppk,
        cpm=cpm,
        ci95=ci95,
        expected_below_lsl=float(ndtr((low - mean) / sigma)) if low is not None else 0.0,
        expected_above_usl=float(ndtr((mean - high) / sigma)) if high is not None else 0.0,
        observed_below_lsl=float(np.mean(x < low)) if low is not None else 0.0,
        observed_above_usl=float(np.mean(x > high)) if high is not None else 0.0,
        normality=normality,
    )
