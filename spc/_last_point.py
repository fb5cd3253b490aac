"""The run rules for the newest point only, in plain Python, for a monitor's single `update`.

`rules.evaluate_rules` is vectorized for long series; on the 15 points a monitor holds it spends
most of its time in numpy call overhead. This evaluates the same windows (ARCHITECTURE.md, "Rule
definitions"; conventions as in spc.rules: strict "beyond", inclusive "within", z = 0 or NaN ends
a same-side run, equal values end a trend or an alternation, a window needs all its points) for
the last point alone. tests/spc/test_monitor.py checks it against `evaluate_rules` on random
series full of ties, zeros, NaN and infinities.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

Window = Sequence[float]


# Each check walks back from the newest point and stops at the first point that settles it:
# on in-control data most rules are decided by one or two points. Plain loops rather than
# all(<generator>): building the generator costs as much as the check.
# ruff: noqa: SIM110


def _same_side(z: Window, m: int) -> bool:
    count = len(z)
    if count < m:
        return False
    if z[-1] > 0:
        for j in range(count - 2, count - m - 1, -1):
            if not z[j] > 0:
                return False
        return True
    if z[-1] < 0:
        for j in range(count - 2, count - m - 1, -1):
            if not z[j] < 0:
                return False
        return True
    return False


def _k_of_m(z: Window, k: int, m: int, level: float) -> bool:
    count = len(z)
    if count < m:
        return False
    current = z[-1]
    if current > level:
        return sum(1 for j in range(count - m, count) if z[j] > level) >= k
    if current < -level:
        return sum(1 for j in range(count - m, count) if z[j] < -level) >= k
    return False


def _trend(z: Window, stat: Window) -> bool:
    """Five steps (six points) all rising or all falling; a tie or NaN breaks the trend."""
    count = len(stat)
    if count < 6:
        return False
    last = stat[-1] - stat[-2]
    if last > 0:
        for j in range(count - 2, count - 6, -1):
            if not stat[j] - stat[j - 1] > 0:
                return False
        return True
    if last < 0:
        for j in range(count - 2, count - 6, -1):
            if not stat[j] - stat[j - 1] < 0:
                return False
        return True
    return False


def _alternating(z: Window, stat: Window) -> bool:
    """13 differences (14 points), each nonzero and of the other sign than the one before."""
    count = len(stat)
    if count < 14:
        return False
    following = 0
    for j in range(count - 1, count - 14, -1):
        step = stat[j] - stat[j - 1]
        sign = 1 if step > 0 else -1 if step < 0 else 0
        if sign == 0 or sign == following:
            return False
        following = sign
    return True


def _within_1(z: Window, stat: Window) -> bool:
    count = len(z)
    if count < 15:
        return False
    for j in range(count - 1, count - 16, -1):
        if not abs(z[j]) <= 1:
            return False
    return True


def _mixture(z: Window, stat: Window) -> bool:
    """Eight points all beyond ±1, on both sides."""
    count = len(z)
    if count < 8:
        return False
    above = below = False
    for j in range(count - 1, count - 9, -1):
        v = z[j]
        if v > 1:
            above = True
        elif v < -1:
            below = True
        else:
            return False
    return above and below


def _beyond_3(z: Window, stat: Window) -> bool:
    return abs(z[-1]) > 3


def _two_of_three(z: Window, stat: Window) -> bool:
    current = z[-1]
    if -2.0 <= current <= 2.0 or current != current:  # in zone A or nearer, or NaN
        return False
    return _k_of_m(z, 2, 3, 2.0)


def _four_of_five(z: Window, stat: Window) -> bool:
    current = z[-1]
    if -1.0 <= current <= 1.0 or current != current:
        return False
    return _k_of_m(z, 4, 5, 1.0)


def _run_of(m: int) -> Callable[[Window, Window], bool]:
    def check(z: Window, stat: Window) -> bool:
        if len(z) < m:
            return False
        last, before = z[-1], z[-2]  # two points settle most cases
        if not ((last > 0 and before > 0) or (last < 0 and before < 0)):
            return False
        return _same_side(z, m)

    return check


_RULES: dict[str, Callable[[Window, Window], bool]] = {
    "WE1": _beyond_3,
    "WE2": _two_of_three,
    "WE3": _four_of_five,
    "WE4": _run_of(8),
    "N1": _beyond_3,
    "N2": _run_of(9),
    "N3": _trend,
    "N4": _alternating,
    "N5": _two_of_three,
    "N6": _four_of_five,
    "N7": _within_1,
    "N8": _mixture,
}

Checks = tuple[tuple[str, Callable[[Window, Window], bool]], ...]


def compile_rules(names: Sequence[str]) -> Checks:
    """(name, check) pairs, resolved once per monitor."""
    return tuple((name, _RULES[name]) for name in names)


def last_point_violations(z: Window, stat: Window, names: Sequence[str]) -> list[str]:
    """Names of the rules (in the order given) that the last point of the window violates."""
    return [name for name in names if _RULES[name](z, stat)]
