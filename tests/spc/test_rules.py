"""Run rules: tiny hand-made sequences with exact expected indices (0-based), qcc style.

Plus a naive reference implementation, written from the ARCHITECTURE wording with plain loops
over every window, that must agree with the vectorized code on random sequences full of ties
and zeros; and a check that a streaming evaluator keeping LOOKBACK points sees the same flags.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spc.errors import InvalidArgumentError, InvalidDataError, SpcError
from spc.rules import (
    ALL_RULES,
    LOOKBACK,
    RULE_SETS,
    describe_rule,
    evaluate_rules,
    resolve_rules,
    violations_by_point,
)

NAN = math.nan


def flagged(rule: str, z: Sequence[float], stat: Sequence[float] | None = None) -> list[int]:
    """0-based indices flagged by one rule; stat defaults to z (constant limits)."""
    stat = z if stat is None else stat
    return np.flatnonzero(evaluate_rules(z, stat, [rule])[rule]).tolist()


# --- rule sets and names -------------------------------------------------------------------


def test_rule_sets_and_lookback() -> None:
    assert RULE_SETS["western-electric"] == ("WE1", "WE2", "WE3", "WE4")
    assert RULE_SETS["nelson"] == tuple(f"N{i}" for i in range(1, 9))
    assert RULE_SETS["none"] == ()
    assert RULE_SETS["western-electric"] + RULE_SETS["nelson"] == ALL_RULES
    assert LOOKBACK == 14


def test_resolve_rules_accepts_sets_lists_and_comma_strings() -> None:
    assert resolve_rules("nelson") == RULE_SETS["nelson"]
    assert resolve_rules("none") == ()
    assert resolve_rules(["N3", "WE1", "N3"]) == ("WE1", "N3")
    assert resolve_rules("N8, WE2") == ("WE2", "N8")
    assert resolve_rules("WE4") == ("WE4",)
    assert resolve_rules(()) == ()


@pytest.mark.parametrize("bad", ["nelsen", "WE5", ["WE1", "X9"], "we1", ""])
def test_resolve_rules_rejects_unknown_names(bad: str | list[str]) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        resolve_rules(bad)
    assert info.value.argument == "rules"
    assert isinstance(info.value, SpcError)
    if bad in ("nelsen", "WE5"):
        assert repr(bad) in str(info.value)


def test_describe_rule() -> None:
    assert describe_rule("WE2") == "WE2: 2 of 3 consecutive points beyond 2σ on the same side"
    assert (
        describe_rule("N8") == "N8: 8 consecutive points beyond 1σ, with at least one on each side"
    )
    assert describe_rule("N3", lang="zh") == "N3: 连续 6 个点持续上升或持续下降"
    for rule in ALL_RULES:
        assert describe_rule(rule).startswith(f"{rule}: ")
        assert describe_rule(rule, "zh") != describe_rule(rule, "en")
    with pytest.raises(InvalidArgumentError) as info:
        describe_rule("N9")
    assert info.value.argument == "rule"
    with pytest.raises(InvalidArgumentError) as info:
        describe_rule("N1", lang="fr")
    assert info.value.argument == "lang"


def test_evaluate_rules_checks_shapes() -> None:
    with pytest.raises(InvalidDataError) as info:
        evaluate_rules([0.0, 1.0], [0.0], "nelson")
    assert info.value.argument == "stat"
    with pytest.raises(InvalidDataError):
        evaluate_rules([[0.0]], [[0.0]], "nelson")
    with pytest.raises(InvalidArgumentError):
        evaluate_rules([0.0], [0.0], "bogus")


def test_evaluate_rules_returns_one_mask_per_rule_in_order() -> None:
    flags = evaluate_rules([0.0, 4.0], [0.0, 4.0], ["N1", "WE1"])
    assert list(flags) == ["WE1", "N1"]
    assert flags["WE1"].dtype == np.bool_
    assert flags["WE1"].tolist() == flags["N1"].tolist() == [False, True]
    flags["WE1"][0] = True  # masks are independent arrays
    assert flags["N1"][0] == np.False_
    assert evaluate_rules([1.0], [1.0], "none") == {}
    empty = evaluate_rules([], [], "nelson")
    assert all(mask.shape == (0,) for mask in empty.values())


# --- WE1 / N1: one point beyond 3σ, strict ------------------------------------------------


def test_beyond_3_sigma_is_strict_on_both_sides() -> None:
    z = [3.0, -3.0, 3.0000001, -3.0000001, 2.9, NAN, math.inf, -math.inf]
    assert flagged("WE1", z) == [2, 3, 6, 7]
    assert flagged("N1", z) == [2, 3, 6, 7]


# --- WE2 / N5: 2 of 3 beyond 2σ on the same side ----------------------------------------


def test_two_of_three_flags_last_of_the_k() -> None:
    assert flagged("WE2", [0, 2.5, 0, 2.1, 0]) == [3]
    assert flagged("WE2", [0, -2.5, -2.1, 0, 0]) == [2]
    assert flagged("N5", [0, -2.5, -2.1, 0, 0]) == [2]


def test_two_of_three_flagged_point_must_be_one_of_the_k() -> None:
    # Window (2.5, 2.5, 0) has two beyond but its last point is not one of them.
    assert flagged("WE2", [0, 2.5, 2.5, 0, 0]) == [2]
    # Three in a row beyond: every point that closes a qualifying window.
    assert flagged("WE2", [0, 3.5, 2.5, 2.2, 0]) == [2, 3]


def test_two_of_three_boundary_is_strict() -> None:
    assert flagged("WE2", [2.0, 2.0, 2.0]) == []
    assert flagged("WE2", [-2.0, -2.5, -2.0]) == []
    assert flagged("WE2", [0, 2.0000001, 2.0000001]) == [2]


def test_two_of_three_needs_same_side() -> None:
    assert flagged("WE2", [2.5, -2.5, -2.5]) == [2]
    assert flagged("WE2", [0, 2.5, -2.5]) == []
    assert flagged("WE2", [2.5, -2.5, 2.5]) == [2]  # the two above need not be adjacent


def test_two_of_three_needs_a_full_window_and_a_nan_never_counts() -> None:
    assert flagged("WE2", [2.5, 2.5]) == []  # only 2 points: no window of 3 yet
    assert flagged("WE2", [0, 2.5, 2.5]) == [2]
    assert flagged("WE2", [2.5, NAN, 2.5, NAN, NAN, 2.5]) == [2]


# --- WE3 / N6: 4 of 5 beyond 1σ on the same side ----------------------------------------


def test_four_of_five() -> None:
    assert flagged("WE3", [1.5, 1.5, 0, 1.5, 1.5]) == [4]
    assert flagged("N6", [-1.5, -1.5, 0, -1.5, -1.5]) == [4]
    assert flagged("WE3", [1.5, 1.5, 1.5, 1.5, 0]) == []  # last point not among the 4
    assert flagged("WE3", [1.5, 1.5, 1.5, 0.5, 1.5, 1.5]) == [4, 5]
    assert flagged("WE3", [1.0, 1.5, 1.5, 1.5, 1.5, 1.0]) == [4]  # 1.0 is not beyond 1σ
    assert flagged("WE3", [1.5, 1.5, -1.5, 1.5, 1.5]) == [4]  # 4 above, 1 on the other side
    assert flagged("WE3", [1.5, -1.5, -1.5, 1.5, 1.5]) == []
    assert flagged("WE3", [1.5, 1.5, NAN, 1.5, 1.5]) == [4]  # NaN only fails to count
    assert flagged("WE3", [1.5, NAN, NAN, 1.5, 1.5, 1.5]) == []


# --- WE4 / N2: same side runs -------------------------------------------------------------


def test_run_of_eleven_flags_points_8_to_11() -> None:
    z = [-1.0] + [0.5] * 11 + [-0.5]
    assert flagged("WE4", z) == [8, 9, 10, 11]  # 1-based: points 8..11 of the run
    assert flagged("N2", z) == [9, 10, 11]
    assert flagged("WE4", [-0.1] * 8) == [7]


def test_zero_or_nan_ends_a_same_side_run() -> None:
    assert flagged("WE4", [0.5] * 7 + [0.0] + [0.5] * 7) == []
    assert flagged("WE4", [0.5] * 7 + [NAN] + [0.5] * 7) == []
    assert flagged("N2", [-0.5] * 8 + [0.0] + [-0.5] * 9) == [17]


# --- N3: trend of 6 points (5 strictly monotone differences), reads stat --------------------


def test_trend_flags_sixth_point_on() -> None:
    up = [1, 2, 3, 4, 5, 6, 7, 3]
    assert flagged("N3", [0] * len(up), up) == [5, 6]
    down = [9, 8, 7, 6, 5, 4, 5]
    assert flagged("N3", [0] * len(down), down) == [5]
    assert flagged("N3", [0] * 5, [1, 2, 3, 4, 5]) == []


def test_equal_values_end_a_trend() -> None:
    stat = [1, 2, 3, 3, 4, 5, 6, 7]
    assert flagged("N3", [0] * len(stat), stat) == []
    stat = [1, 2, 3, 3, 4, 5, 6, 7, 8]
    assert flagged("N3", [0] * len(stat), stat) == [8]


def test_trend_reads_stat_not_z() -> None:
    # z could be anything (varying limits); only the plotted statistic matters.
    z = [0.0, -5.0, 5.0, -5.0, 5.0, -5.0]
    assert flagged("N3", z, [1, 2, 3, 4, 5, 6]) == [5]
    assert flagged("N3", [1, 2, 3, 4, 5, 6], [0, 0, 0, 0, 0, 0]) == []


# --- N4: 14 points alternating (13 differences alternating in sign), reads stat -------------


def test_alternation_of_fourteen() -> None:
    stat = [0, 1] * 7  # 14 points, 13 alternating differences
    assert flagged("N4", [0] * 14, stat) == [13]
    assert flagged("N4", [0] * 13, stat[:13]) == []
    stat16 = [0, 1] * 8
    assert flagged("N4", [0] * 16, stat16) == [13, 14, 15]


def test_equal_values_end_an_alternation() -> None:
    stat = [0, 1, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0, 1, 0, 1]
    assert flagged("N4", [0] * len(stat), stat) == []
    # After the tie, 14 alternating points starting at the second of the equal pair.
    stat = [0, 1, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1]
    assert flagged("N4", [0] * len(stat), stat) == []
    assert flagged("N4", [0] * 16, [*stat, 0]) == [15]


def test_alternation_with_tiny_differences_does_not_underflow() -> None:
    stat = [0.0, 1e-200] * 7
    assert flagged("N4", [0] * 14, stat) == [13]


# --- N7: 15 points within 1σ, inclusive -----------------------------------------------------


def test_fifteen_within_one_sigma_inclusive() -> None:
    z = [1.0, -1.0] * 7 + [0.0]
    assert flagged("N7", z) == [14]
    assert flagged("N7", [0.2] * 14) == []
    assert flagged("N7", [0.2] * 7 + [1.0000001] + [0.2] * 14) == []
    assert flagged("N7", [0.2] * 7 + [NAN] + [0.2] * 15) == [22]
    assert flagged("N7", [0.0] * 17) == [14, 15, 16]


# --- N8: 8 points beyond 1σ with both sides --------------------------------------------------


def test_mixture_of_eight() -> None:
    z = [1.5, -1.5] * 4
    assert flagged("N8", z) == [7]
    assert flagged("N8", [1.5] * 8) == []  # all above: no point on the other side
    assert flagged("N8", [-1.5] * 7 + [1.5]) == [7]
    assert flagged("N8", [1.5, -1.5, 1.5, -1.0, 1.5, -1.5, 1.5, -1.5]) == []  # -1.0 not beyond
    assert flagged("N8", [1.5, -1.5, 1.5, NAN, 1.5, -1.5, 1.5, -1.5]) == []
    assert flagged("N8", [0.0] + [1.5, -1.5] * 4 + [2.0]) == [8, 9]


# --- several rules on one point ---------------------------------------------------------------


def test_every_rule_that_fires_is_reported() -> None:
    z = [0.5] * 5 + [1.5, 1.5, 2.5, 3.5]
    flags = evaluate_rules(z, z, "western-electric")
    per_point = violations_by_point(flags, len(z))
    assert per_point[8] == ["WE1", "WE2", "WE3", "WE4"]
    assert per_point[7] == ["WE4"]
    assert per_point[:7] == [[]] * 7
    nelson = evaluate_rules(z, list(range(9)), "nelson")
    assert violations_by_point(nelson, len(z))[8] == ["N1", "N2", "N3", "N5", "N6"]


def test_violations_by_point_lists_are_independent() -> None:
    per_point = violations_by_point({"WE1": np.array([False, False])}, 2)
    per_point[0].append("X")
    assert per_point[1] == []
    with pytest.raises(InvalidDataError):
        violations_by_point({"WE1": np.array([True])}, 2)


# --- independent naive reference ---------------------------------------------------------


def naive(rule: str, z: Sequence[float], stat: Sequence[float]) -> list[bool]:
    """Per point, per window, plain loops, straight from the ARCHITECTURE table."""

    def above(v: float, c: float) -> bool:
        return not math.isnan(v) and v > c

    def below(v: float, c: float) -> bool:
        return not math.isnan(v) and v < c

    def window(i: int, m: int) -> list[float] | None:
        return list(z[i - m + 1 : i + 1]) if i >= m - 1 else None

    out = []
    for i in range(len(z)):
        hit = False
        if rule in ("WE1", "N1"):
            hit = above(abs(z[i]), 3)
        elif rule in ("WE2", "N5", "WE3", "N6"):
            k, m, lim = (2, 3, 2.0) if rule in ("WE2", "N5") else (4, 5, 1.0)
            w = window(i, m)
            if w is not None:
                hi = sum(above(v, lim) for v in w)
                lo = sum(below(v, -lim) for v in w)
                hit = (above(z[i], lim) and hi >= k) or (below(z[i], -lim) and lo >= k)
        elif rule in ("WE4", "N2"):
            m = 8 if rule == "WE4" else 9
            w = window(i, m)
            if w is not None:
                hit = all(above(v, 0) for v in w) or all(below(v, 0) for v in w)
        elif rule == "N3":
            if i >= 5:
                pts = stat[i - 5 : i + 1]
                inc = all(pts[j + 1] > pts[j] for j in range(5))
                dec = all(pts[j + 1] < pts[j] for j in range(5))
                hit = inc or dec
        elif rule == "N4":
            if i >= 13:
                pts = stat[i - 13 : i + 1]
                d = [pts[j + 1] - pts[j] for j in range(13)]
                hit = all(d[j] != 0 for j in range(13)) and all(
                    (d[j] > 0) != (d[j + 1] > 0) for j in range(12)
                )
        elif rule == "N7":
            w = window(i, 15)
            if w is not None:
                hit = all(not math.isnan(v) and abs(v) <= 1 for v in w)
        elif rule == "N8":
            w = window(i, 8)
            if w is not None:
                hit = (
                    all(above(abs(v), 1) for v in w)
                    and any(above(v, 1) for v in w)
                    and any(below(v, -1) for v in w)
                )
        out.append(hit)
    return out


# Small grids (halves of sigma, integers for stat) give exact ties, zeros and boundary values.
grid_z = st.sampled_from(
    [-4.0, -3.5, -3.0, -2.5, -2.0, -1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, NAN]
)
grid_stat = st.integers(min_value=-3, max_value=3).map(float)


@st.composite
def series(draw: st.DrawFn, max_size: int = 60) -> tuple[list[float], list[float]]:
    n = draw(st.integers(min_value=0, max_value=max_size))
    z = draw(st.lists(grid_z, min_size=n, max_size=n))
    stat = draw(st.lists(grid_stat, min_size=n, max_size=n))
    return z, stat


@settings(max_examples=300, deadline=None)
@given(series())
def test_vectorized_rules_match_naive_reference(data: tuple[list[float], list[float]]) -> None:
    z, stat = data
    flags = evaluate_rules(z, stat, ALL_RULES)
    for rule in ALL_RULES:
        assert flags[rule].tolist() == naive(rule, z, stat), rule


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([-1.0, 1.0, 2.0]), min_size=14, max_size=40))
def test_long_runs_match_naive_reference(z: list[float]) -> None:
    # Denser in long same-side runs, mixtures and alternations than the uniform grid.
    stat = np.cumsum(z).tolist()
    flags = evaluate_rules(z, stat, ALL_RULES)
    for rule in ALL_RULES:
        assert flags[rule].tolist() == naive(rule, z, stat), rule


@settings(max_examples=200, deadline=None)
@given(series(max_size=80), st.integers(min_value=0, max_value=80))
def test_tail_plus_new_equals_whole_series(data: tuple[list[float], list[float]], cut: int) -> None:
    z, stat = data
    cut = min(cut, len(z))
    whole = evaluate_rules(z, stat, ALL_RULES)
    start = max(0, cut - LOOKBACK)
    part = evaluate_rules(z[start:], stat[start:], ALL_RULES)
    for rule in ALL_RULES:
        assert part[rule][cut - start :].tolist() == whole[rule][cut:].tolist(), rule


def test_lookback_is_tight() -> None:
    # N7 needs all 15 points: with one point less of history the streamed flag would be lost.
    z = [0.0] * 15
    assert evaluate_rules(z, z, ["N7"])["N7"][-1]
    assert not evaluate_rules(z[1:], z[1:], ["N7"])["N7"][-1]
