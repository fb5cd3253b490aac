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


def _same_side(z: Window, m: int) -> bool:
    if len(z) < m:
        return False
    last = z[-m:]
    return all(v > 0 for v in last) or all(v < 0 for v in last)


def _k_of_m(z: Window, k: int, m: int, level: float) -> bool:
    if len(z) < m:
        return False
    current = z[-1]
    window = z[-m:]
    if current > level:
        return sum(1 for v in window if v > level) >= k
    if current < -level:
        return sum(1 for v in window if v < -level) >= k
    return False


def _trend(stat: Window) -> bool:
    if len(stat) < 6:
        return False
    s = stat[-6:]
    first = s[1] - s[0]
    if not (first > 0 or first < 0):
        return False
    rising = first > 0
    for j in range(1, 5):
        step = s[j + 1] - s[j]
        if not (step > 0 if rising else step < 0):
            return False
    return True


def _alternating(stat: Window) -> bool:
    if len(stat) < 14:
        return False
    s = stat[-14:]
    previous = 0
    for j in range(13):  # 13 differences, each nonzero and of the other sign than the last
        step = s[j + 1] - s[j]
        sign = 1 if step > 0 else -1 if step < 0 else 0
        if sign == 0 or sign == previous:
            return False
        previous = sign
    return True


def _within_1(z: Window) -> bool:
    return len(z) >= 15 and all(abs(v) <= 1 for v in z[-15:])


def _mixture(z: Window) -> bool:
    if len(z) < 8:
        return False
    window = z[-8:]
    above = sum(1 for v in window if v > 1)
    below = sum(1 for v in window if v < -1)
    return above + below == 8 and above >= 1 and below >= 1


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
