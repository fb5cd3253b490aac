"""Capability indices beyond the qcc cases: one-sided specs, invariances, ppm, normality, JSON."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

import spc
from spc.capability import anderson_darling

RNG = np.random.default_rng(42)
VALUES = RNG.normal(10.0, 0.1, 120)


def test_two_sided_indices_by_definition() -> None:
    report = spc.capability(VALUES, sigma_within=0.09, lsl=9.7, usl=10.4, target=10.0)
    mean, overall = VALUES.mean(), VALUES.std(ddof=1)
    assert report.cp == pytest.approx(0.7 / (6 * 0.09))
    assert report.cpl == pytest.approx((mean - 9.7) / (3 * 0.09))
    assert report.cpu == pytest.approx((10.4 - mean) / (3 * 0.09))
    assert report.cpk == min(report.cpl, report.cpu)
    assert report.pp == pytest.approx(0.7 / (6 * overall))
    assert report.ppk == pytest.approx(min(mean - 9.7, 10.4 - mean) / (3 * overall))
    assert report.cpm == pytest.approx(report.cp / math.sqrt(1 + ((mean - 10.0) / 0.09) ** 2))
    assert report.ci95["cp"][0] < report.cp < report.ci95["cp"][1]
    assert report.ci95["cpk"][0] < report.cpk < report.ci95["cpk"][1]


@pytest.mark.parametrize("side", ["lsl", "usl"])
def test_one_sided_specs_give_only_existing_indices(side: str) -> None:
    spec = {"lsl": 9.7} if side == "lsl" else {"usl": 10.3}
    report = spc.capability(VALUES, sigma_within=0.1, **spec)  # type: ignore[arg-type]
    one = report.cpl if side == "lsl" else report.cpu
    other = report.cpu if side == "lsl" else report.cpl
    assert one is not None and other is None
    assert report.cp is None and report.pp is None and report.cpm is None
    assert report.cpk == one
    assert report.ppk == (report.ppl if side == "lsl" else report.ppu)
    assert set(report.ci95) == {"cpk"}
    out = report.to_dict()
    present = {"cpl", "ppl"} if side == "lsl" else {"cpu", "ppu"}
    assert (
        set(out)
        == {"n", "mean", "sigma_within", "sigma_overall", "cpk", "ppk", "ci95", "ppm", "normality"}
        | present
    )


def test_expected_and_observed_ppm() -> None:
    values = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0])
    report = spc.capability(values, sigma_within=2.0, lsl=2.0, usl=9.0)
    below = stats.norm.cdf((2.0 - 5.5) / 2.0)
    above = stats.norm.sf((9.0 - 5.5) / 2.0)
    ppm = report.to_dict()["ppm"]
    assert ppm["expected_below_lsl"] == pytest.approx(below * 1e6)
    assert ppm["expected_above_usl"] == pytest.approx(above * 1e6)
    assert ppm["expected_total"] == pytest.approx((below + above) * 1e6)
    # strictly outside: 2.0 and 9.0 are in spec
    assert ppm["observed_below_lsl"] == pytest.approx(1e5)
    assert ppm["observed_above_usl"] == pytest.approx(1e5)
    assert ppm["observed_total"] == pytest.approx(2e5)


def test_contract_keys_and_json() -> None:
    out = spc.capability(VALUES, sigma_within=0.1, lsl=9.7, usl=10.3).to_dict()
    assert list(out) == [
        "n", "mean", "sigma_within", "sigma_overall",
        "cp", "cpl", "cpu", "cpk", "pp", "ppl", "ppu", "ppk", "cpm",
        "ci95", "ppm", "normality",
    ]  # fmt: skip
    assert set(out["ci95"]) == {"cp", "cpk", "cpm"}
    assert all(len(bounds) == 2 for bounds in out["ci95"].values())
    assert json.loads(json.dumps(out, allow_nan=False)) == out
    assert out["normality"]["test"] == "anderson-darling"


def test_normality_is_reported_with_a_warning_when_it_fails() -> None:
    normal = spc.capability(VALUES, sigma_within=0.1, usl=11.0)
    assert normal.normality is not None and normal.normality.normal
    assert normal.normality.warning is None
    skewed = spc.capability(RNG.exponential(1.0, 200), sigma_within=1.0, usl=6.0)
    assert skewed.normality is not None and not skewed.normality.normal
    assert skewed.normality.warning is not None and "normal" in skewed.normality.warning
    assert spc.capability(VALUES[:5], sigma_within=0.1, usl=11.0).normality is None


def test_anderson_darling_matches_scipy() -> None:
    for seed in range(20):
        x = np.random.default_rng(seed).standard_t(5, size=60)
        ours = anderson_darling(x)
        theirs = stats.anderson(x, method="interpolate")
        assert ours.statistic == pytest.approx(theirs.statistic, rel=1e-10)
        if 0.011 < theirs.pvalue < 0.149:  # inside scipy's table, which it interpolates
            assert ours.p_value == pytest.approx(theirs.pvalue, abs=0.01)


finite = st.floats(-1e3, 1e3, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(shift=finite, scale=st.floats(1e-3, 1e3), flip=st.booleans())
def test_indices_are_invariant_under_affine_transforms(
    shift: float, scale: float, flip: bool
) -> None:
    """Cp, Cpk, Pp, Ppk, Cpm of a + b·x against a + b·specs equal those of x (b ≠ 0); a negative
    b swaps the lower and upper specs and with them Cpl and Cpu."""
    base = spc.capability(VALUES, sigma_within=0.09, lsl=9.75, usl=10.35, target=10.1)
    b = -scale if flip else scale
    low, high = sorted((shift + b * 9.75, shift + b * 10.35))
    moved = spc.capability(
        shift + b * VALUES, sigma_within=0.09 * scale, lsl=low, usl=high, target=shift + b * 10.1
    )
    for name in ("cp", "cpk", "pp", "ppk", "cpm"):
        assert getattr(moved, name) == pytest.approx(getattr(base, name), rel=1e-6)
    assert (moved.cpu if flip else moved.cpl) == pytest.approx(base.cpl, rel=1e-6)
    for name in ("cp", "cpk", "cpm"):
        np.testing.assert_allclose(moved.ci95[name], base.ci95[name], rtol=1e-6)
