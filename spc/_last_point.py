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


def _trend(stat: Window) -> bool:
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


def _alternating(stat: Window) -> bool:
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


def _within_1(z: Window) -> bool:
    count = len(z)
    if count < 15:
        return False
    for j in range(count - 1, count - 16, -1):
        if not abs(z[j]) <= 1:
            return False
    return True


def _mixture(z: Window) -> bool:
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


_RULES: dict[str, Callable[[Window, Window], bool]] = {
    "WE1": lambda z, s: abs(z[-1]) > 3,
    "WE2": lambda z, s: _k_of_m(z, 2, 3, 2.0),
    "WE3": lambda z, s: _k_of_m(z, 4, 5, 1.0),
    "WE4": lambda z, s: _same_side(z, 8),
    "N1": lambda z, s: abs(z[-1]) > 3,
    "N2": lambda z, s: _same_side(z, 9),
    "N3": lambda z, s: _trend(s),
    "N4": lambda z, s: _alternating(s),
    "N5": lambda z, s: _k_of_m(z, 2, 3, 2.0),
    "N6": lambda z, s: _k_of_m(z, 4, 5, 1.0),
    "N7": lambda z, s: _within_1(z),
    "N8": lambda z, s: _mixture(z),
}


def last_point_violations(z: Window, stat: Window, names: Sequence[str]) -> list[str]:
    """Names of the rules (in the order given) that the last point of the window violates."""
    return [name for name in names if _RULES[name](z, stat)]
