"""numpy stand-ins for scipy.special (Φ, Gauss–Legendre nodes), and what they are for: `import spc`
and the common charts load no scipy, while confidence levels and capability still use it."""

from __future__ import annotations

import math
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal, localcontext

import numpy as np
import pytest
from scipy import special

from spc import constants
from spc._normal import ndtr
from spc.constants import _gauss_legendre

TINY = np.finfo(np.float64).tiny  # smallest normal double; Φ is subnormal below x ≈ −37.5
EPS = np.finfo(np.float64).eps
SUBNORMAL_ULP = 5e-324


def phi_reference(x: float) -> float:
    """Φ(x) from the exact value of the double x, in 60-digit decimals: the series
    Φ(a) − ½ = φ(a) Σ a^(2k+1)/(2k+1)!! (positive terms) below |x| = 3, Laplace's continued
    fraction for the Mills ratio 1 − Φ(a) = φ(a)/(a + 1/(a + 2/(a + …))) above."""
    with localcontext() as ctx:
        ctx.prec = 60
        d = Decimal(x)
        a = abs(d)
        pi = Decimal("3.14159265358979323846264338327950288419716939937510582097494459")
        density = (-(a * a) / 2).exp() / (2 * pi).sqrt()
        if a < 3:
            term = total = a
            k = 0
            while term > Decimal(10) ** -70:
                k += 1
                term = term * a * a / (2 * k + 1)
                total += term
            lower = Decimal("0.5") - density * total
        else:
            fraction = a
            for k in range(2000 if a < 6 else 400, 0, -1):
                fraction = a + k / fraction
            lower = density / fraction
        return float(lower if d < 0 else 1 - lower)


def test_matches_scipy_over_a_wide_grid() -> None:
    """Against scipy.special.ndtr from −40 to 40. Cephes (scipy) evaluates e^(−t²) at the
    rounded t = x/√2, which costs it up to about x²·ε relative in the lower tail (2.4e-13 near
    x = −37); ours splits x instead (see the module), so the allowance grows with x² and is
    1e-14 up to |x| = 6. The decimal reference below checks ours alone, to the last ulp."""
    x = np.concatenate([np.linspace(-40.0, 40.0, 400_001), [-np.inf, np.inf, -0.0, 0.0]])
    ours, theirs = ndtr(x), special.ndtr(x)
    normal = theirs >= TINY
    allowed = (5e-15 + x * x * EPS)[normal] * theirs[normal]
    excess = np.abs(ours[normal] - theirs[normal]) - allowed
    assert excess.max() <= 0.0, x[normal][excess.argmax()]
    central = normal & (np.abs(x) <= 6.0)
    assert np.max(np.abs(ours[central] / theirs[central] - 1.0)) < 1e-14
    # Where Φ is subnormal (x < −37.5) both lose digits; scipy more (up to 1e13 ulps).
    assert np.all(ours[~normal] < TINY)
    assert np.max(np.abs(ours[~normal] - theirs[~normal])) <= 0.01 * TINY
    assert np.all(ours[x >= 8.3] == 1.0)
    assert np.all(ours[x <= -38.6] == 0.0)


@pytest.mark.parametrize(
    "x",
    [
        *np.linspace(-38.4, 9.0, 241).tolist(),
        # Cody's interval ends in t = |x|/√2 (0.46875, 4) and our shortcut to 1 above 8.5
        *(s * v for s in (-1.0, 1.0) for v in (0.66291260736239, 0.66291260736240)),
        *(s * v for s in (-1.0, 1.0) for v in (5.656854249492379, 5.656854249492382)),
        -37.5,
        -37.51,
        -38.0,
        8.4999999,
        1e-300,
        -1e-12,
    ],
)
def test_matches_an_independent_decimal_reference(x: float) -> None:
    expected = phi_reference(x)
    got = float(ndtr(x))
    if expected >= TINY:
        assert got == pytest.approx(expected, rel=2e-15, abs=0.0)
    else:
        assert abs(got - expected) <= 2 * SUBNORMAL_ULP


def test_special_values_and_shapes() -> None:
    assert float(ndtr(-np.inf)) == 0.0
    assert float(ndtr(np.inf)) == 1.0
    assert math.isnan(float(ndtr(np.nan)))
    assert float(ndtr(0.0)) == 0.5 == float(ndtr(-0.0))
    assert ndtr(1.0).shape == ()
    grid = np.linspace(-3.0, 3.0, 12).reshape(3, 4)
    assert ndtr(grid).shape == (3, 4)
    assert np.array_equal(ndtr(grid).ravel(), ndtr(grid.ravel()))
    assert ndtr(np.array([])).shape == (0,)
    # many values pass through several internal blocks: the same as one at a time
    many = np.random.default_rng(7).normal(0.0, 6.0, 20_000)
    one_by_one = np.array([float(ndtr(v)) for v in many[::97]])
    assert np.array_equal(ndtr(many)[::97], one_by_one)


def test_symmetry() -> None:
    x = np.linspace(0.0, 8.0, 2001)
    assert np.max(np.abs(ndtr(x) + ndtr(-x) - 1.0)) <= 2 * EPS


@pytest.mark.parametrize("m", [1, 2, 3, 5, 20, 160, 161])
def test_gauss_legendre_nodes(m: int) -> None:
    """Same nodes as scipy; weights integrate polynomials of degree < 2m exactly."""
    nodes, weights = _gauss_legendre(m)
    ref_nodes, _ = special.roots_legendre(m)
    assert np.max(np.abs(nodes - ref_nodes)) < 1e-15
    assert np.all(np.diff(nodes) > 0.0)
    for k in range(0, 2 * m, 2):
        exact = 2.0 / (k + 1)
        assert float(np.dot(weights, nodes**k)) == pytest.approx(exact, rel=1e-13)
    assert float(np.dot(weights, nodes ** (2 * m - 1))) == pytest.approx(0.0, abs=1e-15)


def fresh_range_constants(order: list[int], threads: int = 1) -> dict[int, tuple[float, float]]:
    """d₂ and d₃ computed from empty caches in the given order (the table grows on demand)."""
    for cached in (constants._table, constants._range_moments, constants.d2, constants.d3):
        cached.cache_clear()
    with ThreadPoolExecutor(threads) as pool:
        values = list(pool.map(lambda n: (constants.d2(n), constants.d3(n)), order))
    return dict(zip(order, values, strict=True))


def test_the_growing_table_gives_the_same_constants_in_any_order_and_thread() -> None:
    sizes = list(range(2, 101))
    in_order = fresh_range_constants(sizes)
    shuffled = [int(n) for n in np.random.default_rng(5).permutation(sizes)]
    assert fresh_range_constants(shuffled) == in_order
    assert fresh_range_constants(shuffled, threads=4) == in_order
    assert in_order[2] == (2 / math.sqrt(math.pi), math.sqrt(2 - 4 / math.pi))


def run_python(code: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_import_spc_loads_no_scipy() -> None:
    assert run_python("import sys, spc; print('scipy' in sys.modules)") == "False"


def test_common_charts_load_no_scipy_and_levels_load_it_lazily() -> None:
    code = """
import sys
import numpy as np
import spc

rng = np.random.default_rng(3)
values = 10.0 + rng.normal(0.0, 1.0, 60)
groups = values.reshape(12, 5)
counts = rng.integers(0, 6, 12)
sizes = np.full(12, 50)
spc.imr(values)
spc.xbar_r(groups)
spc.xbar_s(groups)
spc.p_chart(counts, sizes=sizes)
spc.np_chart(counts, sizes=sizes)
spc.c_chart(counts)
spc.u_chart(counts, sizes=sizes)
spc.cusum(values)
before = 'scipy' in sys.modules
spc.d2(7), spc.d3(30), spc.d2(250), spc.c4(9)
constants = 'scipy' in sys.modules
wide = spc.imr(values, confidence_level=0.9973)
level = 'scipy' in sys.modules
print(before, constants, level, round(wide.limits.nsigmas, 4))
"""
    assert run_python(code) == "False False True 3.0"


def test_capability_still_uses_scipy() -> None:
    code = """
import sys
import numpy as np
import spc

values = 10.0 + np.random.default_rng(1).normal(0.0, 0.1, 200)
report = spc.capability(values, sigma_within=0.1, lsl=9.7, usl=10.3)
print('scipy' in sys.modules, report.normality is not None, len(report.ci95))
"""
    assert run_python(code) == "True True 3"
