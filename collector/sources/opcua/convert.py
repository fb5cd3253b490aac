"""From an OPC UA DataValue to the collector's sample: quality, timestamp, value, context.

Quality comes from the top two bits of the StatusCode (OPC UA Part 4, §7.39: 00 Good,
01 Uncertain, 10 Bad). A bad value is forwarded flagged, never dropped: when the server sent no
value with it (servers null the value of a Bad DataValue, Part 4 §7.7.1) the sample carries NaN,
so the service records the reading and its reason rather than the collector losing it.
"""

from __future__ import annotations

import math
from collections import deque
from datetime import UTC, datetime
from typing import Any, Literal

from collector.reading import Quality

TimestampChoice = Literal["source", "server", "receive"]
_QUALITY: tuple[Quality, ...] = ("good", "uncertain", "bad", "bad")


def quality_of(status: Any) -> Quality:
    """ "good" | "uncertain" | "bad" from a ua.StatusCode (None counts as Good)."""
    if status is None:
        return "good"
    return _QUALITY[(int(status.value) >> 30) & 0b11]


def iso(ts: datetime) -> str:
    """ISO 8601 UTC with microseconds and a Z (asyncua's datetimes are aware UTC or naive UTC)."""
    if ts.tzinfo is not None and ts.utcoffset():
        ts = ts.astimezone(UTC)
    return ts.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def pick_timestamp(
    choice: TimestampChoice, source: datetime | None, server: datetime | None, received: datetime
) -> datetime:
    """The configured timestamp, falling back source → server → receive when one is missing."""
    if choice == "source":
        return source or server or received
    if choice == "server":
        return server or source or received
    return received


def as_number(value: Any) -> float | None:
    """A float for numeric and boolean values; None for anything else (strings, arrays, ...)."""
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        return float(value)
    return None


NAN = math.nan


class ContextHistory:
    """The recent values of one context variable (a lot, serial or subgroup node).

    A reading takes the context value that was current at its own timestamp: the newest entry
    not later than the reading, so a lot change and a part measured just before it, arriving in
    one publish response, still pair correctly.
    """

    __slots__ = ("_entries",)

    def __init__(self, maxlen: int = 64) -> None:
        self._entries: deque[tuple[datetime | None, str]] = deque(maxlen=maxlen)

    def add(self, ts: datetime | None, value: Any) -> None:
        self._entries.append((ts, "" if value is None else str(value)))

    def at(self, ts: datetime | None) -> str | None:
        if not self._entries:
            return None
        if ts is None:
            return self._entries[-1][1] or None
        for entry_ts, value in reversed(self._entries):
            if entry_ts is not None and entry_ts <= ts:
                return value or None
        return self._entries[0][1] or None  # the reading predates what we know: the oldest
