"""Run rules (Western Electric, Nelson) evaluated over a whole series at once.

Conventions (ARCHITECTURE.md, "Rule definitions"), following R's qcc 3.0 ``rules.R`` except that
each point is standardized against its own sigma, ``z = (stat - center) / sigma_i``, so that
charts with varying subgroup sizes work:

* a point is flagged when it is the LAST point of a window meeting the rule (in a run of 11
  points above the center, WE4 flags points 8 to 11, 1-based);
* k-of-m rules (WE2/N5, WE3/N6): the flagged point must itself be one of the k;
* "beyond" is strict (``z > 3``), "within" is inclusive (``|z| <= 1``);
* ``z == 0`` ends a same-side run; equal consecutive values end a trend and an alternation;
* a NaN z (sigma 0) never satisfies a zone condition, so it also breaks every zone run;
* zone rules read ``z``; the trend and alternation rules (N3, N4) read ``stat``.

A window needs all its points: the first ``m - 1`` points of a series can never be flagged by a
rule whose window is ``m`` points long (qcc's ``embed``). Hence a streaming evaluator only needs
the last ``LOOKBACK`` points of history to reproduce the batch flags exactly.

Every rule is a windowed count over boolean conditions, computed with whole-array additions:
no per-point Python loop, so a million points with all eight Nelson rules take milliseconds.

>>> import numpy as np
>>> z = np.array([0.5, 2.5, 0.1, 2.2, 3.5])
>>> flags = evaluate_rules(z, z, "western-electric")
>>> np.flatnonzero(flags["WE2"]).tolist(), np.flatnonzero(flags["WE1"]).tolist()
([3, 4], [4])
>>> violations_by_point(flags, len(z))[4]
['WE1', 'WE2']
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Mapping, Sequence
from itertools import repeat

import numpy as np
from numpy.typing import ArrayLike, NDArray

from spc.errors import InvalidArgumentError, InvalidDataError

__all__ = [
    "ALL_RULES",
    "LOOKBACK",
    "RULE_SETS",
    "describe_rule",
    "evaluate_rules",
    "resolve_rules",
    "violations_by_point",
]

BoolArray = NDArray[np.bool_]
FloatArray = NDArray[np.float64]

RULE_SETS: dict[str, tuple[str, ...]] = {
    "western-electric": ("WE1", "WE2", "WE3", "WE4"),
    "nelson": ("N1", "N2", "N3", "N4", "N5", "N6", "N7", "N8"),
    "none": (),
}

ALL_RULES: tuple[str, ...] = RULE_SETS["western-electric"] + RULE_SETS["nelson"]

# Points per window of each rule; the longest (N7, 15 points) fixes the streaming look-back.
WINDOW: dict[str, int] = {
    "WE1": 1,
    "WE2": 3,
    "WE3": 5,
    "WE4": 8,
    "N1": 1,
    "N2": 9,
    "N3": 6,
    "N4": 14,
    "N5": 3,
    "N6": 5,
    "N7": 15,
    "N8": 8,
}

LOOKBACK: int = max(WINDOW.values()) - 1

_DESCRIPTIONS: dict[str, dict[str, str]] = {
    "en": {
        "WE1": "1 point beyond 3σ",
        "WE2": "2 of 3 consecutive points beyond 2σ on the same side",
        "WE3": "4 of 5 consecutive points beyond 1σ on the same side",
        "WE4": "8 consecutive points on the same side of the center",
        "N1": "1 point beyond 3σ",
        "N2": "9 consecutive points on the same side of the center",
        "N3": "6 consecutive points steadily increasing or steadily decreasing",
        "N4": "14 consecutive points alternating up and down",
        "N5": "2 of 3 consecutive points beyond 2σ on the same side",
        "N6": "4 of 5 consecutive points beyond 1σ on the same side",
        "N7": "15 consecutive points within 1σ (either side)",
        "N8": "8 consecutive points beyond 1σ, with at least one on each side",
    },
    "zh": {
        "WE1": "1 个点超出 3σ",
        "WE2": "连续 3 个点中有 2 个点在中心线同一侧超出 2σ",
        "WE3": "连续 5 个点中有 4 个点在中心线同一侧超出 1σ",
        "WE4": "连续 8 个点落在中心线同一侧",
        "N1": "1 个点超出 3σ",
        "N2": "连续 9 个点落在中心线同一侧",
        "N3": "连续 6 个点持续上升或持续下降",
        "N4": "连续 14 个点交替上下",
        "N5": "连续 3 个点中有 2 个点在中心线同一侧超出 2σ",
        "N6": "连续 5 个点中有 4 个点在中心线同一侧超出 1σ",
        "N7": "连续 15 个点落在 1σ 以内（中心线两侧）",
        "N8": "连续 8 个点超出 1σ，且中心线两侧都有",
    },
}


def resolve_rules(rules: str | Sequence[str]) -> tuple[str, ...]:
    """Turn a rule-set name or an explicit list of rule names into rule names in canonical order.

    A string is a set name (``"western-electric"``, ``"nelson"``, ``"none"``) or rule names
    separated by commas (``"WE1,N3"``), so that a CLI flag or a config value can carry either.
    The result follows ``ALL_RULES`` order without duplicates, so that violations are always
    listed the same way whatever order the user typed.

    >>> resolve_rules("western-electric")
    ('WE1', 'WE2', 'WE3', 'WE4')
    >>> resolve_rules(["N3", "WE1", "N3"])
    ('WE1', 'N3')
    """
    if isinstance(rules, str):
        if rules in RULE_SETS:
            return RULE_SETS[rules]
        names = [part.strip() for part in rules.split(",") if part.strip()]
        if not names:
            raise InvalidArgumentError(
                f"empty rules {rules!r}; use one of {', '.join(RULE_SETS)} or rule names",
                argument="rules",
            )
    else:
        names = list(rules)
    for name in names:
        if name not in WINDOW:
            raise InvalidArgumentError(
                f"unknown rule {name!r}; rule sets: {', '.join(RULE_SETS)}; "
                f"rules: {', '.join(ALL_RULES)}",
                argument="rules",
            )
    wanted = set(names)
    return tuple(rule for rule in ALL_RULES if rule in wanted)


def describe_rule(rule: str, lang: str = "en") -> str:
    """One line naming the rule, for alarms and chart annotations.

    >>> describe_rule("WE2")
    'WE2: 2 of 3 consecutive points beyond 2σ on the same side'
    """
    if lang not in _DESCRIPTIONS:
        raise InvalidArgumentError(
            f"unknown language {lang!r}; use one of {', '.join(_DESCRIPTIONS)}", argument="lang"
        )
    if rule not in WINDOW:
        raise InvalidArgumentError(
            f"unknown rule {rule!r}; rules: {', '.join(ALL_RULES)}", argument="rule"
        )
    return f"{rule}: {_DESCRIPTIONS[lang][rule]}"


def _window_count(condition: BoolArray, m: int) -> NDArray[np.uint8]:
    """Number of True values in the m-point window ending at each point (0 where incomplete).

    Windows are built by doubling (1, 2, 4, 8 points, each the sum of two halves) and the
    binary digits of m are added together: about 2·log2(m) byte-wide additions, several times
    faster than a cumulative sum in int32. Counts never exceed 15, so uint8 cannot overflow.
    """
    n = condition.shape[0]
    counts = np.zeros(n, dtype=np.uint8)
    if n < m:
        return counts
    block = condition.view(np.uint8)  # windows of `size` points, indexed by their first point
    size = 1
    total: NDArray[np.uint8] | None = None
    total_size = 0
    remaining = m
    while True:
        if remaining & 1:
            if total is None:
                total, total_size = block, size
            else:
                length = n - total_size - size + 1
                total = total[:length] + block[total_size : total_size + length]
                total_size += size
        remaining >>= 1
        if not remaining:
            break
        block = block[:-size] + block[size:]
        size *= 2
    assert total is not None and total_size == m
    counts[m - 1 :] = total
    return counts


def _run_end(condition: BoolArray, m: int) -> BoolArray:
    """True where the point closes m consecutive True values."""
    result: BoolArray = _window_count(condition, m) == m
    return result


def _k_of_m_same_side(beyond_up: BoolArray, beyond_down: BoolArray, k: int, m: int) -> BoolArray:
    """k of m consecutive points beyond on one side, the flagged point itself among the k."""
    up = beyond_up & (_window_count(beyond_up, m) >= k)
    down = beyond_down & (_window_count(beyond_down, m) >= k)
    result: BoolArray = up | down
    return result


class _Conditions:
    """Boolean conditions shared by several rules, each computed at most once per call."""

    def __init__(self, z: FloatArray, stat: FloatArray) -> None:
        self.z = z
        self.stat = stat
        self._cache: dict[str, BoolArray] = {}

    def get(self, name: str) -> BoolArray:
        cached = self._cache.get(name)
        if cached is None:
            cached = self._compute(name)
            self._cache[name] = cached
        return cached

    def _compute(self, name: str) -> BoolArray:
        z = self.z
        if name == "above":
            return z > 0
        if name == "below":
            return z < 0
        if name == "above1":
            return z > 1
        if name == "below1":
            return z < -1
        if name == "above2":
            return z > 2
        if name == "below2":
            return z < -2
        if name == "beyond3":
            return np.abs(z) > 3
        if name == "within1":
            return np.abs(z) <= 1
        if name == "up":
            return np.diff(self.stat) > 0
        if name == "down":
            return np.diff(self.stat) < 0
        raise AssertionError(name)  # pragma: no cover


def _beyond_3(c: _Conditions) -> BoolArray:
    return c.get("beyond3").copy()


def _same_side(m: int) -> Callable[[_Conditions], BoolArray]:
    def rule(c: _Conditions) -> BoolArray:
        result: BoolArray = _run_end(c.get("above"), m) | _run_end(c.get("below"), m)
        return result

    return rule


def _two_of_three(c: _Conditions) -> BoolArray:
    return _k_of_m_same_side(c.get("above2"), c.get("below2"), 2, 3)


def _four_of_five(c: _Conditions) -> BoolArray:
    return _k_of_m_same_side(c.get("above1"), c.get("below1"), 4, 5)


def _trend(c: _Conditions) -> BoolArray:
    # Six points = five consecutive strictly monotone differences (qcc NEL3); difference j
    # joins points j and j + 1, so a run ending at difference j flags point j + 1.
    flags = np.zeros(c.stat.shape[0], dtype=np.bool_)
    flags[1:] = _run_end(c.get("up"), 5) | _run_end(c.get("down"), 5)
    return flags


def _alternating(c: _Conditions) -> BoolArray:
    # Fourteen points = thirteen differences alternating in sign = twelve consecutive sign
    # changes (qcc NEL4); change j spans points j..j + 2, so a run ending at j flags j + 2.
    # Signs are compared instead of multiplying differences, which could underflow to 0.
    flags = np.zeros(c.stat.shape[0], dtype=np.bool_)
    up, down = c.get("up"), c.get("down")
    if up.shape[0] >= 2:
        change = (up[1:] & down[:-1]) | (down[1:] & up[:-1])
        flags[2:] = _run_end(change, 12)
    return flags


def _within_1(c: _Conditions) -> BoolArray:
    return _run_end(c.get("within1"), 15)


def _mixture(c: _Conditions) -> BoolArray:
    # Eight points all beyond 1σ (strict), at least one above and one below: the above count
    # is then between 1 and 7 and the below count is 8 minus it.
    above = _window_count(c.get("above1"), 8)
    below = _window_count(c.get("below1"), 8)
    result: BoolArray = (above + below == 8) & (above >= 1) & (below >= 1)
    return result


_RULES: dict[str, Callable[[_Conditions], BoolArray]] = {
    "WE1": _beyond_3,
    "WE2": _two_of_three,
    "WE3": _four_of_five,
    "WE4": _same_side(8),
    "N1": _beyond_3,
    "N2": _same_side(9),
    "N3": _trend,
    "N4": _alternating,
    "N5": _two_of_three,
    "N6": _four_of_five,
    "N7": _within_1,
    "N8": _mixture,
}


def evaluate_rules(
    z: ArrayLike, stat: ArrayLike, rules: str | Sequence[str]
) -> dict[str, BoolArray]:
    """Flag every point of a series by every requested rule.

    ``z`` is each point's distance from the center in its own sigmas; ``stat`` is the plotted
    statistic (read only by N3 and N4). Returns one boolean mask per rule, in canonical rule
    order (see ``resolve_rules``); a rule that is the same as another (WE1 and N1) still gets
    its own mask, so every requested rule is reported by name.

    >>> import numpy as np
    >>> x = np.array([1.0, 2, 3, 4, 5, 6, 5])
    >>> evaluate_rules(x - 3.0, x, ["N3"])["N3"].tolist()
    [False, False, False, False, False, True, False]
    """
    names = resolve_rules(rules)
    z_arr = np.asarray(z, dtype=np.float64)
    stat_arr = np.asarray(stat, dtype=np.float64)
    if z_arr.ndim != 1:
        raise InvalidDataError(f"z must be one-dimensional, got shape {z_arr.shape}", argument="z")
    if stat_arr.shape != z_arr.shape:
        raise InvalidDataError(
            f"stat has shape {stat_arr.shape} but z has shape {z_arr.shape}", argument="stat"
        )
    conditions = _Conditions(z_arr, stat_arr)
    return {name: _RULES[name](conditions) for name in names}


def violations_by_point(flags: Mapping[str, BoolArray], n: int) -> list[list[str]]:
    """The names of the rules each point violates, in the order of ``flags``.

    Only flagged points are visited, so a long in-control series costs one empty list per
    point. Building a million small lists would trigger the cyclic garbage collector over and
    over (3x the cost); empty lists cannot form cycles, so it is paused while they are made.

    >>> import numpy as np
    >>> violations_by_point({"WE1": np.array([False, True]), "WE2": np.array([False, True])}, 2)
    [[], ['WE1', 'WE2']]
    """
    masks: list[tuple[str, BoolArray]] = []
    for name, mask in flags.items():
        mask_arr = np.asarray(mask, dtype=np.bool_)
        if mask_arr.shape != (n,):
            raise InvalidDataError(
                f"flags[{name!r}] has shape {mask_arr.shape}, expected ({n},)", argument="flags"
            )
        masks.append((name, mask_arr))
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        result: list[list[str]] = list(map(list, repeat((), n)))
        for name, mask_arr in masks:
            for i in np.flatnonzero(mask_arr).tolist():
                result[i].append(name)
    finally:
        if was_enabled:
            gc.enable()
    return result
