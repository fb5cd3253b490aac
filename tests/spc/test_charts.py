"""Chart semantics beyond the qcc cases: layouts, phase I/II, known limits, clipping, JSON."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import spc
from spc import Limits

RNG = np.random.default_rng(20261126)


def subgroups(m: int = 30, n: int = 5, shift_at: int | None = None) -> np.ndarray:
    data = RNG.normal(10.0, 1.0, size=(m, n))
    if shift_at is not None:
        data[shift_at:] += 2.0
    return data


# --- data layouts ---------------------------------------------------------------------------


def test_subgroup_layouts_give_identical_charts() -> None:
    data = subgroups()
    layouts: list[dict[str, Any]] = [
        {"data": data},
        {"data": data.tolist()},
        {"data": data.ravel(), "sizes": 5},
        {"data": data.ravel().tolist(), "sizes": [5] * 30},
    ]
    for builder in (spc.xbar_r, spc.xbar_s):
        charts = [builder(**layout, phase1=20) for layout in layouts]
        for other in charts[1:]:
            assert other.limits == charts[0].limits
            for name in ("stat", "lcl", "ucl", "z"):
                assert np.array_equal(getattr(other, name), getattr(charts[0], name))
            assert np.array_equal(other.dispersion.stat, charts[0].dispersion.stat)


def test_unequal_subgroups_equal_the_equal_path_bit_for_bit() -> None:
    data = subgroups(12, 9) * 1e3 + 1e6  # sums where the order of additions matters
    ragged = [row[: 9 - (i % 2)] for i, row in enumerate(data)]  # sizes 9 and 8
    even = spc.xbar_s(ragged[::2])  # all of size 9, taken through the ragged path
    direct = spc.xbar_s(data[::2])
    assert np.array_equal(even.stat, direct.stat)
    assert np.array_equal(even.dispersion.stat, direct.dispersion.stat)


def test_unequal_subgroup_limits_follow_each_size() -> None:
    ragged = [list(RNG.normal(0, 1, size)) for size in [5, 3, 5, 4, 2, 5, 5, 3]]
    chart = spc.xbar_r(ragged)
    sizes = np.array([len(g) for g in ragged], dtype=float)
    assert chart.n.tolist() == sizes.tolist()
    np.testing.assert_allclose(chart.ucl - chart.center, 3 * chart.sigma / np.sqrt(sizes))
    r_chart = chart.dispersion
    assert r_chart is not None
    np.testing.assert_allclose(r_chart.center, np.sum(sizes * r_chart.stat) / np.sum(sizes))
    d3s = np.array([spc.d3(int(n)) for n in sizes])
    np.testing.assert_allclose(r_chart.ucl - r_chart.center, 3 * d3s * chart.sigma)


# --- phase I / phase II ---------------------------------------------------------------------


def test_phase1_estimates_from_the_first_points_and_judges_all() -> None:
    data = subgroups(40, 5, shift_at=30)
    chart = spc.xbar_r(data, phase1=25)
    head = spc.xbar_r(data[:25])
    assert chart.limits == head.limits
    assert chart.phase1 == 25 and head.phase1 == 25
    changed = data.copy()
    changed[25:] += 100.0  # later points never move the limits
    assert spc.xbar_r(changed, phase1=25).limits == chart.limits
    assert chart.flags["WE1"][30:].sum() >= 5  # the 2σ shift is caught in phase II


def test_known_limits_are_used_as_given() -> None:
    limits = Limits("xbar-r", center=10.0, sigma=1.0, subgroup_size=5)
    chart = spc.xbar_r(subgroups(10), limits=limits)
    assert chart.limits is limits and chart.phase1 is None
    assert chart.to_dict()["phase1"] is None
    np.testing.assert_allclose(chart.ucl, 10.0 + 3.0 / math.sqrt(5))
    r_chart = chart.dispersion
    assert r_chart is not None  # no R̄ given: the R center line is d2(n)·σ
    np.testing.assert_allclose(r_chart.center_line, spc.d2(5))
    np.testing.assert_allclose(r_chart.ucl, spc.d2(5) + 3 * spc.d3(5))


def test_nsigmas_and_confidence_level() -> None:
    data = subgroups(40, 5, shift_at=35)
    three = spc.xbar_r(data, phase1=30)
    two = spc.xbar_r(data, phase1=30, nsigmas=2)
    np.testing.assert_allclose((two.ucl - two.center) * 1.5, three.ucl - three.center)
    # WE1 fires exactly beyond the drawn limits, whatever their width (zones scale, as in qcc)
    beyond = (two.stat > two.ucl) | (two.stat < two.lcl)
    assert np.array_equal(two.flags["WE1"], beyond)
    probability = spc.xbar_r(data, phase1=30, confidence_level=0.9973)
    assert probability.limits.nsigmas == pytest.approx(3.0, abs=1e-3)


def test_dispersion_rules_are_named_by_the_rule_set() -> None:
    data = subgroups()
    assert list(spc.xbar_r(data, rules="nelson").dispersion.flags) == ["N1"]
    assert list(spc.xbar_r(data).dispersion.flags) == ["WE1"]
    assert spc.xbar_r(data, rules="none").dispersion.flags == {}
    assert spc.xbar_r(data, rules="none").flags == {}
    assert list(spc.imr(data.ravel(), rules=["N3"]).dispersion.flags) == ["N1"]
    assert list(spc.ewma(data.ravel(), rules="nelson").flags) == ["N1"]


# --- attributes -----------------------------------------------------------------------------


def test_attribute_limits_are_clipped() -> None:
    p = spc.p_chart([1, 0, 2, 1, 0, 1], sizes=50)
    assert np.all(p.lcl == 0.0)
    high = spc.p_chart([3, 4, 3, 2, 4], sizes=5)  # p̄ = 0.64: UCL would pass 1
    assert np.all(high.ucl == 1.0)
    nps = spc.np_chart([3, 4, 3, 2, 4], sizes=5)
    assert np.all(nps.ucl == 5.0)
    c = spc.c_chart([1, 0, 2, 1, 0])
    assert np.all(c.lcl == 0.0)


def test_zero_defect_phase1_still_flags_a_later_defect() -> None:
    chart = spc.p_chart([0, 0, 0, 0, 0, 1], sizes=100, phase1=5)
    assert chart.sigma == 0.0
    assert chart.violations == [[], [], [], [], [], ["WE1"]]


def test_np_chart_with_varying_sizes_centers_on_each_size() -> None:
    sizes = np.array([50, 60, 40, 50, 55])
    counts = np.array([5, 7, 3, 6, 4])
    chart = spc.np_chart(counts, sizes=sizes)
    p_bar = counts.sum() / sizes.sum()
    np.testing.assert_allclose(chart.center_line, sizes * p_bar)
    np.testing.assert_allclose(chart.ucl, sizes * p_bar + 3 * np.sqrt(sizes * p_bar * (1 - p_bar)))


def test_u_chart_with_fractional_inspection_units() -> None:
    sizes = np.array([10, 8, 13, 10, 9.5])
    counts = np.array([14, 12, 20, 11, 7])
    chart = spc.u_chart(counts, sizes=sizes)
    u_bar = counts.sum() / sizes.sum()
    np.testing.assert_allclose(chart.ucl, u_bar + 3 * np.sqrt(u_bar / sizes))
    points = chart.to_dict()["points"]
    assert [p["n"] for p in points] == sizes.tolist()  # not rounded to integers


# --- EWMA and CUSUM -------------------------------------------------------------------------


def test_ewma_lambda_one_is_the_individuals_chart() -> None:
    values = RNG.normal(size=30)
    chart = spc.ewma(values, lam=1.0)
    np.testing.assert_allclose(chart.stat, values, rtol=0, atol=1e-15)
    np.testing.assert_allclose(chart.sigma_stat, chart.sigma)


def test_ewma_sigma_approaches_its_asymptote() -> None:
    chart = spc.ewma(RNG.normal(size=200), lam=0.1)
    asymptote = chart.sigma * math.sqrt(0.1 / 1.9)
    assert chart.sigma_stat[0] == pytest.approx(chart.sigma * 0.1)
    assert chart.sigma_stat[-1] == pytest.approx(asymptote, rel=1e-12)
    assert np.all(np.diff(chart.sigma_stat) >= 0) and chart.sigma_stat[1] > chart.sigma_stat[0]


def test_cusum_head_start_and_signs() -> None:
    limits = Limits("cusum", 0.0, 1.0, params={"k": 0.5, "h": 4.0, "head_start": 2.0})
    chart = spc.cusum([0.0, 1.0, -3.0], limits=limits)
    assert chart.upper is not None and chart.lower is not None
    assert chart.upper.tolist() == [1.5, 2.0, 0.0]
    assert chart.lower.tolist() == [-1.5, 0.0, -2.5]
    assert chart.stat.tolist() == [0.0, 1.0, -3.0]
    assert chart.lcl.tolist() == [-4.0] * 3 and chart.ucl.tolist() == [4.0] * 3


# --- the dispatcher and the JSON contract ---------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "builder", "kwargs"),
    [
        ("imr", spc.imr, {}),
        ("xbar-r", spc.xbar_r, {}),
        ("xbar-s", spc.xbar_s, {}),
        ("ewma", spc.ewma, {"lam": 0.3}),
        ("cusum", spc.cusum, {"h": 4.0}),
    ],
)
def test_dispatcher_equals_the_direct_call(kind: str, builder: Any, kwargs: Any) -> None:
    data = subgroups() if kind != "imr" else subgroups().ravel()
    via = spc.chart(kind, data, phase1=20, rules="nelson", **kwargs)
    direct = builder(data, phase1=20, rules="nelson", **kwargs)
    assert via.to_dict() == direct.to_dict()


def test_chart_json_follows_the_contract() -> None:
    chart = spc.xbar_r(subgroups(40, 5, shift_at=30), phase1=25)
    out = chart.to_dict()
    text = json.dumps(out, allow_nan=False)
    assert json.loads(text) == out
    assert list(out) == ["chart", "center", "sigma", "phase1", "rules", "points", "dispersion"]
    assert out["chart"] == "xbar-r" and out["phase1"] == 25 and out["rules"] == "western-electric"
    point = out["points"][0]
    assert list(point) == ["i", "n", "stat", "lcl", "ucl", "violations"]
    assert type(point["i"]) is int and type(point["n"]) is int and type(point["stat"]) is float
    assert list(out["dispersion"]) == ["chart", "center", "points"]
    assert out["dispersion"]["chart"] == "r"
    assert [p["i"] for p in out["points"]] == list(range(40))
    flagged = [p["i"] for p in out["points"] if p["violations"]]
    assert flagged == [i for i, v in enumerate(chart.violations) if v]


def test_imr_json_moving_ranges_start_at_one() -> None:
    out = spc.imr(RNG.normal(size=10)).to_dict()
    assert out["dispersion"]["chart"] == "mr"
    assert [p["i"] for p in out["dispersion"]["points"]] == list(range(1, 10))
    assert {p["n"] for p in out["dispersion"]["points"]} == {2}


def test_cusum_and_ewma_json() -> None:
    cusum = spc.cusum(RNG.normal(size=20)).to_dict()
    assert "dispersion" not in cusum
    assert list(cusum["points"][0]) == [
        "i",
        "n",
        "stat",
        "lcl",
        "ucl",
        "violations",
        "upper",
        "lower",
    ]
    assert all(p["upper"] >= 0 and p["lower"] <= 0 for p in cusum["points"])
    ewma = spc.ewma(RNG.normal(size=20)).to_dict()
    assert list(ewma["points"][0]) == ["i", "n", "stat", "lcl", "ucl", "violations"]
    json.dumps(ewma, allow_nan=False)


def test_explicit_rule_lists_are_reported_as_lists() -> None:
    out = spc.imr(RNG.normal(size=20), rules=["N3", "WE1"]).to_dict()
    assert out["rules"] == ["WE1", "N3"]


def test_limits_json_round_trip() -> None:
    for chart in (
        spc.xbar_r(subgroups()),
        spc.ewma(subgroups()),
        spc.cusum(RNG.normal(size=30), head_start=1.0),
        spc.np_chart([3, 4, 5], sizes=50),
    ):
        text = json.dumps(chart.limits.to_dict(), allow_nan=False)
        assert Limits.from_dict(json.loads(text)) == chart.limits


# --- invariances (hypothesis) ---------------------------------------------------------------

THRESHOLDS = np.array([0.0, 1.0, 2.0, 3.0])


def _clear_of_thresholds(chart: spc.ChartResult) -> bool:
    """No zone score within 1e-6 of a rule threshold and no near-tie in the statistic, so that
    rounding in the transformed data cannot flip a rule."""
    z = np.abs(chart.z[np.isfinite(chart.z)])
    if z.size and np.min(np.abs(z[:, None] - THRESHOLDS[None, :])) < 1e-6:
        return False
    steps = np.abs(np.diff(chart.stat))
    return not (steps.size and np.min(steps) < 1e-6 * (1 + np.max(np.abs(chart.stat))))


values = st.lists(
    st.floats(-50, 50, allow_nan=False).map(lambda v: round(v, 3)), min_size=12, max_size=60
)


@pytest.mark.parametrize("kind", ["imr", "xbar-r", "xbar-s", "ewma", "cusum"])
@settings(max_examples=40, deadline=None)
@given(data=values, shift=st.integers(-1000, 1000), power=st.integers(-4, 4))
def test_limits_shift_and_scale_with_the_data(
    kind: str, data: list[float], shift: int, power: int
) -> None:
    x = np.array(data)
    if kind in ("xbar-r", "xbar-s"):
        x = x[: len(x) // 3 * 3].reshape(-1, 3)
    base = spc.chart(kind, x, rules="nelson")
    assume(base.sigma > 1e-6 and _clear_of_thresholds(base))
    scale = 2.0**power  # powers of two scale exactly
    shifted = spc.chart(kind, x + shift, rules="nelson")
    scaled = spc.chart(kind, x * scale, rules="nelson")
    assert shifted.center == pytest.approx(base.center + shift, abs=1e-9 * (1 + abs(shift)))
    assert shifted.sigma == pytest.approx(base.sigma, rel=1e-6)
    assert scaled.center == pytest.approx(base.center * scale, rel=1e-12, abs=1e-12)
    assert scaled.sigma == pytest.approx(base.sigma * scale, rel=1e-12)
    assert scaled.violations == base.violations
    assert shifted.violations == base.violations
    if base.dispersion is not None:
        assert scaled.dispersion.violations == base.dispersion.violations


def test_results_are_frozen_and_never_alias_the_input() -> None:
    values = RNG.normal(size=50)
    original = values.copy()
    chart = spc.imr(values)
    assert values.flags.writeable and np.array_equal(values, original)
    values[0] = 1e6  # the caller's later edits do not reach the result
    assert chart.stat[0] == original[0]
    with pytest.raises(ValueError, match="read-only"):
        chart.stat[0] = 0.0
    with pytest.raises(ValueError, match="read-only"):
        chart.flags["WE1"][0] = True
    with pytest.raises(AttributeError):
        chart.center = 0.0  # type: ignore[misc]


def test_limits_are_hashable_values() -> None:
    a = Limits("ewma", 1.0, 2.0, params={"lam": 0.2, "L": 3.0})
    b = Limits.from_dict(a.to_dict())
    assert a == b and hash(a) == hash(b)
    assert len({a, b}) == 1
