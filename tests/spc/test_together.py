"""`update_together` and `flagged_together` against each monitor's own `update_many`: same
results (all of them, or the flagged ones), same state, on individuals monitors (the vectorized
pass) mixed with every other kind (the fallback)."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import spc
from spc import Limits, Monitor
from spc.rules import ALL_RULES, LOOKBACK
from spc.together import flagged_together, update_together

# Values on zone boundaries and beyond them, so that every rule fires now and then.
STEPS = [-3.5, -3.0, -2.5, -2.0, -1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5]
OTHERS: dict[str, tuple[Limits, Any]] = {
    "xbar-r": (
        Limits("xbar-r", center=3.0, sigma=2.0, subgroup_size=4, dispersion_center=4.0),
        st.lists(st.floats(-5, 10), min_size=4, max_size=4),
    ),
    "c": (Limits("c", center=4.0, sigma=2.0), st.integers(0, 12)),
    "ewma": (
        Limits("ewma", center=3.0, sigma=1.0, params={"lam": 0.25, "L": 2.5}),
        st.floats(-2, 8),
    ),
}


@st.composite
def individuals(draw: st.DrawFn) -> tuple[Monitor, list[Any], list[Any]]:
    center = draw(st.floats(-50, 50))
    sigma = draw(st.floats(0.01, 5))
    nsigmas = draw(st.sampled_from([3.0, 3.0, 2.5, 2.0]))
    limits = Limits(
        "imr", center=center, sigma=sigma, nsigmas=nsigmas, dispersion_center=1.128 * sigma
    )
    rules: Any = draw(
        st.one_of(
            st.sampled_from(["western-electric", "nelson", "none"]),
            st.lists(st.sampled_from(ALL_RULES), min_size=1, max_size=4, unique=True),
        )
    )
    value = st.one_of(
        st.sampled_from(STEPS).map(lambda k: center + k * sigma),
        st.floats(center - 5 * sigma, center + 5 * sigma),
        st.integers(-3, 3),
    )
    history = draw(st.lists(value, max_size=LOOKBACK + 12))
    batch = draw(st.lists(value, max_size=9))
    return Monitor(limits, rules), history, batch


@st.composite
def other(draw: st.DrawFn) -> tuple[Monitor, list[Any], list[Any]]:
    limits, point = OTHERS[draw(st.sampled_from(sorted(OTHERS)))]
    return (
        Monitor(limits),
        draw(st.lists(point, max_size=20)),
        draw(st.lists(point, max_size=5)),
    )


def _same(a: list[spc.PointResult], b: list[spc.PointResult]) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        for u, v in zip(x, y, strict=True):
            if isinstance(u, float) and math.isnan(u):
                assert isinstance(v, float) and math.isnan(v)
            else:
                assert u == v, (x, y)


@settings(max_examples=300, deadline=None)
@given(cases=st.lists(st.one_of(individuals(), individuals(), other()), min_size=1, max_size=12))
def test_equals_each_monitor_alone(cases: list[tuple[Monitor, list[Any], list[Any]]]) -> None:
    ours, theirs, batches = [], [], []
    for monitor, history, batch in cases:
        monitor.update_many(history)
        ours.append(monitor)
        theirs.append(Monitor.from_state(monitor.state_dict()))
        batches.append(batch)
    twins = [Monitor.from_state(m.state_dict()) for m in ours]
    together = update_together(ours, batches)
    flagged = flagged_together(twins, batches)
    for mine, twin, reference, batch, got, hits in zip(
        ours, twins, theirs, batches, together, flagged, strict=True
    ):
        expected = reference.update_many(batch)
        _same(got, expected)
        assert mine.state_dict() == reference.state_dict()
        assert twin.state_dict() == reference.state_dict()
        wanted = [k for k, r in enumerate(expected) if r.violations or r.dispersion_violations]
        assert [k for k, _ in hits] == wanted
        _same([r for _, r in hits], [expected[k] for k in wanted])


def test_full_tails_take_the_vectorized_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    limits = Limits("imr", center=10.0, sigma=1.0, dispersion_center=1.128)
    monitors = [Monitor(limits, "nelson") for _ in range(50)]
    for k, monitor in enumerate(monitors):
        monitor.update_many([10.0 + (k % 7) * 0.3 * (-1) ** j for j in range(LOOKBACK + k % 3)])
    reference = [Monitor.from_state(m.state_dict()) for m in monitors]
    batches = [[10.0 + 0.9 * j * (-1) ** k for j in range(k % 5)] for k in range(50)]
    batches[7] = [14.0, 13.5]  # beyond 3 sigma, with a moving range beyond its limit
    expected = [r.update_many(b) for r, b in zip(reference, batches, strict=True)]

    def refuse(self: Monitor, points: Any) -> list[spc.PointResult]:
        if points:
            raise AssertionError("took the point-by-point path")
        return []

    twins = [Monitor.from_state(m.state_dict()) for m in monitors]
    monkeypatch.setattr(Monitor, "update_many", refuse)
    got = update_together(monitors, batches)
    hits = flagged_together(twins, batches)
    assert [(k, r) for k, r in enumerate(got[7]) if r.violations] == hits[7]
    assert sum(map(len, hits)) < sum(map(len, batches))  # only the flagged points come back
    for g, e in zip(got, expected, strict=True):
        _same(g, e)
    assert got[7][0].violations == ["N1"] and got[7][0].dispersion_violations == ["N1"]
    assert "N5" in got[7][1].violations  # 2 of 3 beyond 2 sigma


def test_a_bad_point_raises_as_update_many_does() -> None:
    limits = Limits("imr", center=10.0, sigma=1.0, dispersion_center=1.128)
    monitor = Monitor(limits)
    monitor.update_many([10.0] * LOOKBACK)
    with pytest.raises(spc.InvalidDataError):
        update_together([monitor], [[float("nan")]])
    with pytest.raises(ValueError, match="one batch per monitor"):
        update_together([monitor], [])
    with pytest.raises(spc.InvalidDataError):
        flagged_together([monitor], [[float("inf")]])


def test_the_same_monitor_twice_goes_in_turn() -> None:
    limits = Limits("imr", center=10.0, sigma=1.0, dispersion_center=1.128)
    monitor = Monitor(limits)
    monitor.update_many([10.0] * LOOKBACK)
    twin = Monitor.from_state(monitor.state_dict())
    third = Monitor.from_state(monitor.state_dict())
    got = update_together([monitor, monitor], [[10.5] * 4, [10.5] * 4])
    _same(got[0] + got[1], twin.update_many([10.5] * 8))
    assert got[1][-1].violations == ["WE4"]
    hits = flagged_together([third, third], [[10.5] * 4, [10.5] * 4])
    assert [(k, r.violations) for k, r in hits[1]] == [(3, ["WE4"])] and hits[0] == []
    _same([r for _, r in hits[1]], got[1][-1:])
    assert third.state_dict() == monitor.state_dict()
