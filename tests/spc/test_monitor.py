"""Streaming equals batch: at every prefix, through single updates, micro-batches and restarts."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import spc
from spc import Limits, Monitor
from spc._last_point import last_point_violations
from spc.rules import ALL_RULES, LOOKBACK, evaluate_rules

LIMITS = {
    "imr": Limits("imr", center=3.0, sigma=1.0, dispersion_center=1.0),
    "xbar-r": Limits("xbar-r", center=3.0, sigma=2.0, subgroup_size=4, dispersion_center=4.0),
    "xbar-s": Limits("xbar-s", center=3.0, sigma=2.0, subgroup_size=4),
    "p": Limits("p", center=0.25, sigma=math.sqrt(0.25 * 0.75), subgroup_size=8),
    "np": Limits("np", center=2.0, sigma=math.sqrt(8 * 0.25 * 0.75), subgroup_size=8),
    "c": Limits("c", center=4.0, sigma=2.0),
    "u": Limits("u", center=1.0, sigma=1.0, subgroup_size=2.0),
    "ewma": Limits("ewma", center=3.0, sigma=1.0, params={"lam": 0.25, "L": 2.5}),
    "cusum": Limits("cusum", center=3.0, sigma=1.0, params={"k": 0.5, "h": 2.0, "head_start": 1.0}),
}
# Values on a coarse grid, so that z lands exactly on rule thresholds and statistics tie often.
GRID = st.integers(-2, 16).map(lambda v: v / 2)


@st.composite
def series(draw: st.DrawFn, kind: str) -> tuple[list[Any], dict[str, Any]]:
    """(points as a monitor takes them, keyword arguments for the batch chart)."""
    length = draw(st.integers(1, 40))
    if kind in ("imr", "ewma", "cusum") and draw(st.booleans()):
        values = draw(st.lists(GRID, min_size=length, max_size=length))
        return values, {"data": values}
    if kind in ("imr", "ewma", "cusum", "xbar-r", "xbar-s"):
        low = 1 if kind in ("ewma", "cusum") else 2
        groups = draw(
            st.lists(st.lists(GRID, min_size=low, max_size=5), min_size=length, max_size=length)
        )
        if kind == "imr":
            values = [g[0] for g in groups]
            return values, {"data": values}
        if kind in ("ewma", "cusum") and all(len(g) == 1 for g in groups):
            values = [g[0] for g in groups]
            return values, {"data": values}
        if kind in ("ewma", "cusum"):
            groups = [g if len(g) > 1 else g * 2 for g in groups]
        return groups, {"data": groups}
    sizes = draw(st.lists(st.integers(4, 12), min_size=length, max_size=length))
    if kind == "u":
        sizes_f = [s / 4 for s in sizes]
        counts = [draw(st.integers(0, 6)) for _ in sizes]
        return list(zip(counts, sizes_f, strict=True)), {"data": counts, "sizes": sizes_f}
    if kind == "c":
        counts = [draw(st.integers(0, 12)) for _ in sizes]
        return counts, {"data": counts}
    counts = [draw(st.integers(0, s)) for s in sizes]
    return list(zip(counts, sizes, strict=True)), {"data": counts, "sizes": sizes}


def stream(monitor: Monitor, points: list[Any], cuts: list[int], restarts: set[int]) -> list[Any]:
    """Feed points in the given chunk sizes; rebuild the monitor from JSON state at restarts."""
    results: list[Any] = []
    position = 0
    for step, size in enumerate(cuts):
        chunk = points[position : position + size]
        if not chunk:
            break
        if len(chunk) == 1:
            results.append(monitor.update(chunk[0]))
        else:
            results.extend(monitor.update_many(chunk))
        position += len(chunk)
        if step in restarts:
            monitor = Monitor.from_state(json.loads(json.dumps(monitor.state_dict())))
    if position < len(points):
        results.extend(monitor.update_many(points[position:]))
    return results


def batch_chart(kind: str, kwargs: dict[str, Any], rules: str, prefix: int) -> spc.ChartResult:
    cut = {key: value[:prefix] for key, value in kwargs.items()}
    return spc.chart(kind, limits=LIMITS[kind], rules=rules, **cut)


@pytest.mark.parametrize("kind", list(LIMITS))
@settings(max_examples=50, deadline=None)
@given(data=st.data())
def test_streaming_equals_batch_at_every_prefix(kind: str, data: st.DataObject) -> None:
    points, kwargs = data.draw(series(kind))
    rules = data.draw(st.sampled_from(["nelson", "western-electric", "none"]))
    cuts = data.draw(st.lists(st.integers(1, 6), min_size=1, max_size=40))
    restarts = set(data.draw(st.lists(st.integers(0, 40), max_size=3)))
    results = stream(Monitor(LIMITS[kind], rules), points, cuts, restarts)
    assert [r.i for r in results] == list(range(len(points)))
    for prefix in range(1, len(points) + 1):
        batch = batch_chart(kind, kwargs, rules, prefix)
        assert [r.violations for r in results[:prefix]] == batch.violations
    batch = batch_chart(kind, kwargs, rules, len(points))
    assert [r.stat for r in results] == batch.stat.tolist()
    assert [r.lcl for r in results] == batch.lcl.tolist()
    assert [r.ucl for r in results] == batch.ucl.tolist()
    if kind == "cusum":
        assert [r.upper for r in results] == batch.upper.tolist()
        assert [r.lower for r in results] == batch.lower.tolist()
    if batch.dispersion is not None:
        offset = len(points) - batch.dispersion.stat.shape[0]
        assert all(r.dispersion_stat is None for r in results[:offset])
        assert [r.dispersion_stat for r in results[offset:]] == batch.dispersion.stat.tolist()
        assert [r.dispersion_violations for r in results[offset:]] == batch.dispersion.violations


def test_restart_loses_no_run() -> None:
    """Seven points above the center, save, restore, one more: WE4 on the eighth."""
    monitor = Monitor(LIMITS["imr"], "western-electric")
    assert all(r.violations == [] for r in monitor.update_many([3.5] * 7))
    state = json.loads(json.dumps(monitor.state_dict(), allow_nan=False))
    restored = Monitor.from_state(state)
    eighth = restored.update(3.5)
    assert eighth.i == 7 and eighth.violations == ["WE4"]
    assert monitor.update(2.5).violations == []  # the original, fed a point below, does not


def test_state_is_bounded_and_json_safe() -> None:
    limits = Limits("p", center=0.0, sigma=0.0, subgroup_size=10)  # σ = 0: z is ±inf or NaN
    monitor = Monitor(limits, "nelson")
    monitor.update_many([(0, 10)] * 100 + [(1, 10)])
    state = monitor.state_dict()
    text = json.dumps(state, allow_nan=False)
    assert len(state["tail_z"]) == LOOKBACK and state["i"] == 101
    restored = Monitor.from_state(json.loads(text))
    assert restored.state_dict() == state
    assert restored.update((1, 10)).violations == ["N1", "N5"]  # 2 of 3 beyond too


def test_ewma_and_cusum_state_continue_exactly() -> None:
    values = np.random.default_rng(7).normal(3.0, 1.0, 300)
    for kind in ("ewma", "cusum"):
        batch = spc.chart(kind, values, limits=LIMITS[kind])
        first = Monitor(LIMITS[kind])
        head = first.update_many(values[:150])
        second = Monitor.from_state(json.loads(json.dumps(first.state_dict())))
        tail = [second.update(v) for v in values[150:].tolist()]
        assert [r.stat for r in head + tail] == batch.stat.tolist()


def test_point_results_carry_the_dispersion_chart() -> None:
    first, second = Monitor(LIMITS["imr"]).update_many([3.0, 9.0])
    assert first.dispersion_stat is None and first.dispersion_violations == []
    assert second.dispersion_stat == 6.0 and second.dispersion_violations == ["WE1"]
    assert second.violations == ["WE1"] and second.z == 6.0
    (subgroup,) = Monitor(LIMITS["xbar-r"]).update_many([[1.0, 2.0, 4.0, 5.0]])
    assert subgroup.n == 4 and subgroup.stat == 3.0 and subgroup.dispersion_stat == 4.0
    (cusum,) = Monitor(LIMITS["cusum"]).update_many([6.0])
    assert (cusum.upper, cusum.lower, cusum.stat) == (3.5, 0.0, 3.0)
    assert cusum.violations == ["WE1"]


def test_np_and_c_take_bare_counts() -> None:
    assert Monitor(LIMITS["np"]).update(8).violations == ["WE1"]
    assert Monitor(LIMITS["c"]).update(11).violations == ["WE1"]
    assert Monitor(LIMITS["c"]).update((11, 1)).violations == ["WE1"]


def test_an_empty_batch_changes_nothing() -> None:
    monitor = Monitor(LIMITS["imr"])
    assert monitor.update_many([]) == []
    assert monitor.count == 0


# The single-update path evaluates the rules for the newest point in plain Python; it must agree
# with the vectorized rules on anything, ties, zeros, NaN and infinities included.
ZONE = st.one_of(
    st.sampled_from([0.0, 1.0, -1.0, 2.0, -2.0, 3.0, -3.0, math.nan, math.inf, -math.inf]),
    st.floats(-4, 4, allow_nan=False),
)


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
@settings(max_examples=400, deadline=None)
@given(
    z=st.lists(ZONE, min_size=1, max_size=LOOKBACK + 1),
    stat=st.lists(
        st.sampled_from([0.0, 1.0, 2.0, math.nan, math.inf]) | st.floats(-5, 5),
        min_size=LOOKBACK + 1,
        max_size=LOOKBACK + 1,
    ),
)
def test_last_point_rules_match_evaluate_rules(z: list[float], stat: list[float]) -> None:
    stat = stat[: len(z)]
    flags = evaluate_rules(z, stat, ALL_RULES)
    expected = [name for name in ALL_RULES if flags[name][-1]]
    assert last_point_violations(z, stat, ALL_RULES) == expected


# One Shewhart point in plain floats (spc._one_point) must give the very same PointResult as the
# vectorized path, bit for bit, on any limits. numpy scalars and arrays take the vectorized path.
def _vectorized(point: Any) -> Any:
    return (
        np.asarray(point, dtype=np.float64)
        if isinstance(point, list | tuple)
        else np.float64(point)
    )


POSITIVE = st.floats(1e-3, 1e3, allow_nan=False, allow_infinity=False)
REAL = st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False)


@st.composite
def limits_and_points(draw: st.DrawFn) -> tuple[Limits, list[Any]]:
    kind = draw(st.sampled_from(["imr", "xbar-r", "xbar-s", "p", "np", "c", "u"]))
    nsigmas = draw(st.sampled_from([3.0, 2.0, 2.5]) | st.floats(1.0, 4.0))
    spread = draw(st.none() | POSITIVE) if kind in ("imr", "xbar-r", "xbar-s") else None
    length = draw(st.integers(1, 30))
    if kind in ("imr", "xbar-r", "xbar-s"):
        center, sigma = draw(REAL), draw(POSITIVE)
        limits = Limits(
            kind,
            center=center,
            sigma=sigma,
            nsigmas=nsigmas,
            dispersion_center=spread,
            subgroup_size=None if kind == "imr" else 4,
        )
        near = st.floats(center - 5 * sigma, center + 5 * sigma, allow_nan=False) | GRID
        if kind == "imr":
            return limits, draw(st.lists(near, min_size=length, max_size=length))
        groups = st.lists(near, min_size=2, max_size=8)
        return limits, draw(st.lists(groups, min_size=length, max_size=length))
    size = draw(st.integers(1, 50))
    if kind == "p":
        p_bar = draw(st.floats(0.001, 0.999))
        limits = Limits(
            "p",
            center=p_bar,
            sigma=math.sqrt(p_bar * (1 - p_bar)),
            nsigmas=nsigmas,
            subgroup_size=size,
        )
    elif kind == "np":
        p_bar = draw(st.floats(0.001, 0.999))
        limits = Limits(
            "np",
            center=size * p_bar,
            sigma=math.sqrt(size * p_bar * (1 - p_bar)),
            nsigmas=nsigmas,
            subgroup_size=size,
        )
    else:
        center = draw(POSITIVE)
        limits = Limits(
            kind,
            center=center,
            sigma=math.sqrt(center),
            nsigmas=nsigmas,
            subgroup_size=size if kind == "u" else None,
        )
    points: list[Any] = []
    bare = kind in ("np", "c") and draw(st.booleans())
    for _ in range(length):
        n = draw(st.integers(1, 60)) if kind != "u" else draw(st.integers(1, 40)) / 4
        top = (size if bare else int(n)) if kind in ("p", "np") else 40
        count = draw(st.integers(0, top))
        points.append(count if bare else (count, n))
    return limits, points


@settings(max_examples=300, deadline=None)
@given(case=limits_and_points(), rules=st.sampled_from(["nelson", "western-electric"]))
def test_one_point_path_equals_the_vectorized_path(
    case: tuple[Limits, list[Any]], rules: str
) -> None:
    limits, points = case
    plain, vectorized = Monitor(limits, rules), Monitor(limits, rules)
    for point in points[:10]:
        assert plain.update(point) == vectorized.update(_vectorized(point))
    rest = points[10:]  # a small batch goes point by point too
    assert plain.update_many(rest) == vectorized.update_many([_vectorized(p) for p in rest])
    assert plain.state_dict() == vectorized.state_dict()


def test_the_one_point_path_leaves_bad_input_to_the_vectorized_checks() -> None:
    with pytest.raises(spc.InvalidDataError, match="NaN or infinite"):
        Monitor(LIMITS["imr"]).update(math.nan)
    with pytest.raises(spc.InvalidDataError, match="larger than its sample size"):
        Monitor(LIMITS["p"]).update((9, 8))
    with pytest.raises(spc.InvalidDataError, match="at least 2 values"):
        Monitor(LIMITS["xbar-r"]).update([1.0])
    with pytest.raises(spc.InvalidDataError, match="whole numbers"):
        Monitor(LIMITS["np"]).update((1, 2.5))
    monitor = Monitor(LIMITS["c"])
    with pytest.raises(spc.InvalidDataError):
        monitor.update_many([1, (2, 1), 3.0])  # bare counts and pairs do not mix in one batch
    assert monitor.count == 0
