"""Piece counters: from successive readings of a PLC counter to counted pieces.

Equipment counts rejects and good parts in a register that only rises, until a PLC restart, a
shift reset or a rollover sets it back. The collector forwards increments, not totals, because
the service sums records. The rules (`CounterState.step`):

- the first value ever seen for a counter is a baseline: what was counted before the collector
  first saw it is unknown, so nothing is emitted;
- a rise emits the difference; an unchanged value emits nothing;
- a drop is a reset: the new value itself is counted, as the pieces counted since the reset
  (a counter reset to 0 that counted 2 more reads 2). Pieces counted between the last reading
  before the reset and the reset itself are not visible and are lost; a counter read often
  enough (on every change, as MQTT and OPC UA subscriptions do) loses none.

The last value per counter lives in the disk buffer, written in the same transaction as the
events it produced (`collector.buffer`), so a restart neither loses nor double-counts a rise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


class BadCounterValue(ValueError):
    """A counter reading that is not a whole number >= 0."""


def counter_value(value: float) -> int:
    """The reading as a count; BadCounterValue when it is negative, fractional or not finite."""
    if not math.isfinite(value) or value < 0 or value != math.floor(value):
        raise BadCounterValue(f"counter value {value!r} is not a whole number >= 0")
    return int(value)


def increment(last: int | None, value: int) -> int:
    """Pieces counted between the readings `last` and `value` (see the module's rules)."""
    if last is None:
        return 0
    if value >= last:
        return value - last
    return value  # reset: the new value counts since the reset


@dataclass(slots=True)
class CounterState:
    """Last values of named counters; `step` returns the increment and remembers the value."""

    last: dict[str, int] = field(default_factory=dict)

    def step(self, name: str, value: int) -> int:
        quantity = increment(self.last.get(name), value)
        self.last[name] = value
        return quantity
