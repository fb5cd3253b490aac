"""Control chart constants: exact values, textbook tables, an independent adaptive integration."""

from __future__ import annotations

import json
import math
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
from scipy import integrate, special

from spc import A2, A3, B3, B4, D3, D4, E2, InvalidArgumentError, c4, d2, d3
from spc.constants import MAX_RANGE_N, c4_array, d2_array, d3_array

META = json.loads((Path(__file__).resolve().parents[1] / "data" / "expected_qcc.json").read_text())[
    "meta"
]


def test_known_exact_values() -> None:
    assert c4(2) == pytest.approx(0.7978845608, abs=1e-10)
    assert c4(2) == pytest.approx(math.sqrt(2 / math.pi), abs=1e-15)
    assert d2(2) == pytest.approx(2 / math.sqrt(math.pi), abs=1e-12)  # 1.1283791671
    assert d2(3) == pytest.approx(3 / math.sqrt(math.pi), abs=1e-12)
    assert d2(5) == pytest.approx(2.3259289, abs=1e-7)
    assert d3(2) == pytest.approx(0.8525024664, abs=1e-9)
    assert d3(2) == pytest.approx(math.sqrt(2 - 4 / math.pi), abs=1e-10)  # |N(0, 2)|


@pytest.mark.parametrize("n", range(2, 26))
def test_qcc_d2_table_agrees_to_its_three_decimals(n: int) -> None:
    assert d2(n) == pytest.approx(META["qcc_d2_table"][n - 1], abs=5e-4 + 1e-12)


@pytest.mark.parametrize("n", range(2, 51))
def test_qcc_d3_table_agrees_within_its_accuracy(n: int) -> None:
    # qcc prints d3 with 7 decimals, but its values sit up to 1.7e-5 relative above the exact
    # ones (test_against_independent_adaptive_integration confirms ours to 1e-9).
    assert d3(n) == pytest.approx(META["qcc_d3_table"][n - 1], rel=2e-5)


@pytest.mark.parametrize("n", [3, 10, 40, 100])
def test_against_independent_adaptive_integration(n: int) -> None:
    """E[R] and E[R²] by scipy's adaptive quad over the range's survival function."""
    mean = integrate.quad(
        lambda x: 1 - special.ndtr(x) ** n - special.ndtr(-x) ** n,
        -np.inf,
        np.inf,
        epsabs=1e-13,
        epsrel=1e-13,
    )[0]

    def survival(w: float) -> float:
        density = integrate.quad(
            lambda y: (
                math.exp(-y * y / 2)
                / math.sqrt(2 * math.pi)
                * (special.ndtr(y + w) - special.ndtr(y)) ** (n - 1)
            ),
            -np.inf,
            np.inf,
            epsabs=1e-14,
            epsrel=1e-13,
        )[0]
        return 1 - n * density

    second = integrate.quad(lambda w: 2 * w * survival(w), 0, np.inf, epsabs=1e-12, epsrel=1e-12)[0]
    assert d2(n) == pytest.approx(mean, abs=1e-10)
    assert d3(n) == pytest.approx(math.sqrt(second - mean**2), abs=1e-9)


def test_beyond_the_table() -> None:
    # n > 100 is computed directly; it must continue the table smoothly.
    assert d2(100) < d2(101) < d2(150) < d2(MAX_RANGE_N)
    assert d3(101) < d3(100)
    assert d2(1000) == pytest.approx(6.4829, abs=1e-3)  # Harter (1960): 6.48287


def test_textbook_factors() -> None:
    # Montgomery, appendix VI (three decimals)
    assert A2(5) == pytest.approx(0.577, abs=5e-4)
    assert A3(5) == pytest.approx(1.427, abs=5e-4)
    assert B3(5) == 0.0 and B3(6) == pytest.approx(0.030, abs=5e-4)
    assert B4(5) == pytest.approx(2.089, abs=5e-4)
    assert D3(5) == 0.0 and D3(7) == pytest.approx(0.076, abs=5e-4)
    assert D4(5) == pytest.approx(2.114, abs=5e-4)
    assert E2() == pytest.approx(2.660, abs=2e-3)  # 3/1.128 in the tables, 3/d2(2) here
    assert E2(2) == 3 / d2(2)


def test_shapes_and_monotonicity() -> None:
    ns = list(range(2, 101))
    d2s = [d2(n) for n in ns]
    c4s = [c4(n) for n in ns]
    assert all(b > a for a, b in pairwise(d2s))
    assert all(b > a for a, b in pairwise(c4s)) and c4s[-1] < 1
    assert max(range(2, 101), key=d3) == 3  # sd(R) peaks at n = 3


def test_vectorized_twins_match() -> None:
    sizes = np.array([2, 5, 5, 3, 25, 2])
    assert d2_array(sizes).tolist() == [d2(int(n)) for n in sizes]
    assert d3_array(sizes).tolist() == [d3(int(n)) for n in sizes]
    np.testing.assert_allclose(c4_array(sizes), [c4(int(n)) for n in sizes], rtol=1e-15)


@pytest.mark.parametrize("bad", [1, 0, -3, MAX_RANGE_N + 1])
def test_range_constants_reject_bad_n(bad: int) -> None:
    for func in (d2, d3):
        with pytest.raises(InvalidArgumentError, match="n must be") as info:
            func(bad)
        assert info.value.argument == "n"


@pytest.mark.parametrize("bad", [2.5, "5", True, None])
def test_constants_reject_non_integers(bad: object) -> None:
    for func in (d2, d3, c4):
        with pytest.raises(InvalidArgumentError) as info:
            func(bad)  # type: ignore[arg-type]
        assert info.value.argument == "n"


def test_c4_large_n_does_not_overflow() -> None:
    assert c4(10**6) == pytest.approx(1 - 1 / (4 * 10**6), rel=1e-9)
