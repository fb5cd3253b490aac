"""Every validation error is an SpcError of the documented kind, one line, naming its argument."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import spc
from spc import (
    InsufficientDataError,
    InvalidArgumentError,
    InvalidDataError,
    Limits,
    Monitor,
    SpcError,
    SubgroupSizeError,
)

X = [10.0, 10.2, 9.9, 10.1, 9.8, 10.3, 10.0, 9.7]
GROUPS = [[1.0, 2.0, 3.0], [2.0, 2.5, 1.5], [1.8, 2.2, 2.0]]
IMR_LIMITS = Limits("imr", center=10.0, sigma=1.0)
P_LIMITS = Limits("p", center=0.1, sigma=0.3)

CASES: list[tuple[str, Callable[[], Any], type[SpcError], str]] = [
    # data
    ("too few points", lambda: spc.imr([1.0]), InsufficientDataError, "data"),
    ("NaN value", lambda: spc.imr([1.0, math.nan, 2.0]), InvalidDataError, "data"),
    ("infinite value", lambda: spc.imr([1.0, math.inf, 2.0]), InvalidDataError, "data"),
    ("text value", lambda: spc.imr(["a", "b"]), InvalidDataError, "data"),
    ("2-D individuals", lambda: spc.imr([[1.0, 2.0]]), InvalidDataError, "data"),
    (
        "no points with limits",
        lambda: spc.imr([], limits=IMR_LIMITS),
        InsufficientDataError,
        "data",
    ),
    # phase I
    ("phase1 too small", lambda: spc.imr(X, phase1=1), InsufficientDataError, "phase1"),
    ("phase1 beyond data", lambda: spc.imr(X, phase1=100), InvalidArgumentError, "phase1"),
    ("phase1 not an integer", lambda: spc.imr(X, phase1=2.5), InvalidArgumentError, "phase1"),  # type: ignore[arg-type]
    (
        "phase1 and limits",
        lambda: spc.imr(X, phase1=5, limits=IMR_LIMITS),
        InvalidArgumentError,
        "phase1",
    ),
    (
        "limits of another chart",
        lambda: spc.imr(X, limits=P_LIMITS),
        InvalidArgumentError,
        "limits",
    ),
    (
        "limits not a Limits",
        lambda: spc.imr(X, limits={"center": 1}),
        InvalidArgumentError,
        "limits",
    ),  # type: ignore[arg-type]
    # chart parameters
    (
        "sigma method for subgroups",
        lambda: spc.imr(X, sigma_method="r-bar"),
        InvalidArgumentError,
        "sigma_method",
    ),
    (
        "unknown sigma method",
        lambda: spc.xbar_r(GROUPS, sigma_method="range"),
        InvalidArgumentError,
        "sigma_method",
    ),
    (
        "mr on subgroups",
        lambda: spc.xbar_s(GROUPS, sigma_method="mr"),
        InvalidArgumentError,
        "sigma_method",
    ),
    ("nsigmas zero", lambda: spc.imr(X, nsigmas=0), InvalidArgumentError, "nsigmas"),
    ("nsigmas NaN", lambda: spc.imr(X, nsigmas=math.nan), InvalidArgumentError, "nsigmas"),
    (
        "confidence level 1",
        lambda: spc.imr(X, confidence_level=1.0),
        InvalidArgumentError,
        "confidence_level",
    ),
    ("unknown rule", lambda: spc.imr(X, rules="WE9"), InvalidArgumentError, "rules"),
    # subgroups
    ("subgroup of one on R", lambda: spc.xbar_r([[1.0, 2.0], [3.0]]), SubgroupSizeError, "data"),
    (
        "size 1 via sizes on S",
        lambda: spc.xbar_s([1.0, 2.0, 3.0], sizes=[2, 1]),
        SubgroupSizeError,
        "sizes",
    ),
    ("flat data, no sizes", lambda: spc.xbar_r(X), InvalidArgumentError, "sizes"),
    ("sizes do not divide", lambda: spc.xbar_r(X, sizes=3), InvalidArgumentError, "sizes"),
    ("sizes do not add up", lambda: spc.xbar_r(X, sizes=[4, 3]), InvalidArgumentError, "sizes"),
    ("negative size", lambda: spc.xbar_r(X, sizes=[10, -2]), InvalidDataError, "sizes"),
    ("fractional size", lambda: spc.xbar_r(X, sizes=[4.5, 3.5]), InvalidDataError, "sizes"),
    ("empty subgroup", lambda: spc.xbar_r([[1.0, 2.0], []]), InvalidDataError, "data"),
    (
        "NaN in a subgroup",
        lambda: spc.xbar_s([[1.0, math.nan], [1.0, 2.0]]),
        InvalidDataError,
        "data",
    ),
    (
        "ewma subgroups with NaN",
        lambda: spc.ewma([[1.0, 2.0], [1.0, math.nan]]),
        InvalidDataError,
        "data",
    ),
    # attributes
    ("p without sizes", lambda: spc.p_chart([1, 2, 3]), InvalidArgumentError, "sizes"),
    ("count above size", lambda: spc.p_chart([1, 60, 3], sizes=50), InvalidDataError, "data"),
    ("np count above size", lambda: spc.np_chart([1, 6], sizes=[5, 5]), InvalidDataError, "data"),
    ("negative count", lambda: spc.c_chart([1, -2, 3]), InvalidDataError, "data"),
    ("zero size", lambda: spc.u_chart([1, 2], sizes=[1.0, 0.0]), InvalidDataError, "sizes"),
    (
        "sizes length",
        lambda: spc.u_chart([1, 2, 3], sizes=[1.0, 2.0]),
        InvalidArgumentError,
        "sizes",
    ),
    (
        "fractional binomial size",
        lambda: spc.p_chart([1, 2], sizes=[10.5, 10]),
        InvalidDataError,
        "sizes",
    ),
    ("c with varying sizes", lambda: spc.c_chart([1, 2], sizes=[1, 2]), InvalidDataError, "sizes"),
    # EWMA / CUSUM
    ("lambda zero", lambda: spc.ewma(X, lam=0.0), InvalidArgumentError, "lam"),
    ("lambda above one", lambda: spc.ewma(X, lam=1.5), InvalidArgumentError, "lam"),
    ("L zero", lambda: spc.ewma(X, L=0.0), InvalidArgumentError, "L"),
    ("h zero", lambda: spc.cusum(X, h=0.0), InvalidArgumentError, "h"),
    ("k negative", lambda: spc.cusum(X, k=-0.5), InvalidArgumentError, "k"),
    (
        "head start at h",
        lambda: spc.cusum(X, h=4.0, head_start=4.0),
        InvalidArgumentError,
        "head_start",
    ),
    # dispatcher
    ("unknown kind", lambda: spc.chart("pareto", X), InvalidArgumentError, "kind"),
    (
        "sigma method on p",
        lambda: spc.chart("p", [1, 2], sizes=9, sigma_method="mr"),
        InvalidArgumentError,
        "sigma_method",
    ),
    ("sizes on imr", lambda: spc.chart("imr", X, sizes=1), InvalidArgumentError, "sizes"),
    # Limits
    ("unknown chart", lambda: Limits("xbar", 0.0, 1.0), InvalidArgumentError, "chart"),
    ("negative sigma", lambda: Limits("imr", 0.0, -1.0), InvalidArgumentError, "sigma"),
    ("NaN center", lambda: Limits("imr", math.nan, 1.0), InvalidArgumentError, "center"),
    (
        "nsigmas zero in limits",
        lambda: Limits("imr", 0.0, 1.0, nsigmas=0.0),
        InvalidArgumentError,
        "nsigmas",
    ),
    ("np without size", lambda: Limits("np", 5.0, 2.0), InvalidArgumentError, "subgroup_size"),
    (
        "dispersion on p",
        lambda: Limits("p", 0.1, 0.3, dispersion_center=1.0),
        InvalidArgumentError,
        "dispersion_center",
    ),
    ("missing ewma params", lambda: Limits("ewma", 0.0, 1.0), InvalidArgumentError, "params"),
    (
        "params on imr",
        lambda: Limits("imr", 0.0, 1.0, params={"lam": 0.2}),
        InvalidArgumentError,
        "params",
    ),
    (
        "bad lam in limits",
        lambda: Limits("ewma", 0.0, 1.0, params={"lam": 2.0, "L": 3.0}),
        InvalidArgumentError,
        "lam",
    ),
    (
        "unknown limits key",
        lambda: Limits.from_dict({"chart": "imr", "center": 0, "sigma": 1, "ucl": 3}),
        InvalidArgumentError,
        "limits",
    ),
    (
        "limits without sigma",
        lambda: Limits.from_dict({"chart": "imr", "center": 0}),
        InvalidArgumentError,
        "sigma",
    ),
    # capability
    ("no spec limits", lambda: spc.capability(X, sigma_within=0.2), InvalidArgumentError, "lsl"),
    (
        "lsl above usl",
        lambda: spc.capability(X, sigma_within=0.2, lsl=11, usl=9),
        InvalidArgumentError,
        "lsl",
    ),
    (
        "zero sigma_within",
        lambda: spc.capability(X, sigma_within=0.0, usl=11),
        InvalidArgumentError,
        "sigma_within",
    ),
    (
        "one value",
        lambda: spc.capability([1.0], sigma_within=1.0, usl=3),
        InsufficientDataError,
        "values",
    ),
    (
        "NaN value in capability",
        lambda: spc.capability([1.0, math.nan], sigma_within=1.0, usl=3),
        InvalidDataError,
        "values",
    ),
    (
        "infinite spec",
        lambda: spc.capability(X, sigma_within=1.0, usl=math.inf),
        InvalidArgumentError,
        "usl",
    ),
    # monitor
    ("p point without size", lambda: Monitor(P_LIMITS).update(3), InvalidDataError, "point"),
    (
        "p point count above size",
        lambda: Monitor(P_LIMITS).update((6, 5)),
        InvalidDataError,
        "point",
    ),
    (
        "subgroup of one",
        lambda: Monitor(Limits("xbar-r", 0.0, 1.0)).update([1.0]),
        InvalidDataError,
        "point",
    ),
    ("NaN point", lambda: Monitor(IMR_LIMITS).update(math.nan), InvalidDataError, "point"),
    (
        "mixed ewma batch",
        lambda: Monitor(Limits("ewma", 0.0, 1.0, params={"lam": 0.2, "L": 3.0})).update_many(
            [1.0, [1.0, 2.0]]
        ),
        InvalidDataError,
        "point",
    ),
    ("monitor without limits", lambda: Monitor({"chart": "imr"}), InvalidArgumentError, "limits"),  # type: ignore[arg-type]
    ("bad state", lambda: Monitor.from_state({"version": 1}), InvalidArgumentError, "state"),
    ("not a state", lambda: Monitor.from_state({}), InvalidArgumentError, "state"),
]


@pytest.mark.parametrize(
    ("call", "error", "argument"), [case[1:] for case in CASES], ids=[case[0] for case in CASES]
)
def test_error_names_its_argument(
    call: Callable[[], Any], error: type[SpcError], argument: str
) -> None:
    with pytest.raises(error) as info:
        call()
    assert info.value.argument == argument
    message = str(info.value)
    assert message and "\n" not in message
    assert isinstance(info.value, ValueError)  # generic callers may catch ValueError


def test_errors_leave_a_monitor_unchanged() -> None:
    monitor = Monitor(IMR_LIMITS)
    monitor.update_many([10.0, 10.5])
    before = monitor.state_dict()
    with pytest.raises(InvalidDataError):
        monitor.update_many([10.1, math.nan])
    assert monitor.state_dict() == before


def test_capability_of_a_constant_sample_does_not_crash() -> None:
    report = spc.capability(np.full(10, 5.0), sigma_within=0.1, lsl=4.0, usl=6.0)
    assert report.cp == pytest.approx(10 / 3)
    assert report.pp is not None and report.pp > 1e100
    assert report.normality is not None and not report.normality.normal
