"""The ingest contract's checks of one record's fields (ARCHITECTURE.md "Ingest contract").

Shared by the record-by-record path (`service.ingest.validate_records`), the typed fast path
(`service.ingest_fast`) and quality recording, so that a field means the same everywhere.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

from service.domain import ATTRIBUTE_CHARTS, Characteristic, Measurement

__all__ = [
    "ATTRIBUTE_CHARTS",
    "INT8",
    "MAX_TEXT",
    "QUALITIES",
    "Rejected",
    "RepeatFilter",
    "check_count",
    "parse_ts",
    "parse_value",
    "text_field",
]

MAX_TEXT = 200
QUALITIES = ("good", "uncertain", "bad")
INT8 = 2**63


class Rejected(ValueError):
    pass


def text_field(record: dict[str, Any], name: str) -> str | None:
    value = record.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise Rejected(f"{name} must be a string")
    value = str(value)
    if len(value) > MAX_TEXT:
        raise Rejected(f"{name} is longer than {MAX_TEXT} characters")
    return value


def parse_ts(raw: Any, now: datetime, skew: timedelta, naive: str) -> datetime:
    if type(raw) is str:  # the common case: an ISO string in UTC, before the horizon
        try:
            ts = datetime.fromisoformat(raw)
        except ValueError:
            ts = None
        if ts is not None and ts.tzinfo is UTC and ts <= now + skew:
            return ts
    if not isinstance(raw, str):
        raise Rejected(
            "ts is required: an ISO 8601 timestamp with a time zone"
            if raw is None
            else "ts must be an ISO 8601 string"
        )
    try:
        ts = datetime.fromisoformat(raw)
    except ValueError:
        raise Rejected(f"ts is not an ISO 8601 timestamp: {raw[:40]!r}") from None
    if ts.tzinfo is None:
        if naive != "utc":
            raise Rejected("ts has no time zone; send UTC with 'Z' or an offset like +01:00")
        ts = ts.replace(tzinfo=UTC)
    try:
        ts = ts.astimezone(UTC)
    except (OverflowError, ValueError):
        raise Rejected("ts is out of range") from None
    if ts > now + skew:
        ahead = (ts - now).total_seconds()
        raise Rejected(
            f"ts is {ahead:.0f} s in the future (more than {skew.total_seconds():.0f} s ahead "
            "of the server clock)"
        )
    return ts


def parse_value(raw: Any) -> float:
    kind = type(raw)
    if kind is float:
        value = raw
    elif kind is int:
        try:
            value = float(raw)
        except OverflowError:
            raise Rejected("value is out of range") from None
    elif raw is None:
        raise Rejected("value is required")
    elif kind is bool:
        raise Rejected("value must be a number, not a boolean")
    elif kind is str:
        raise Rejected("value must be a JSON number, not a string")
    else:
        raise Rejected("value must be a number")
    if math.isnan(value):
        raise Rejected("value is NaN")
    if math.isinf(value):
        raise Rejected("value is infinite")
    return value


def check_count(char: Characteristic, value: float) -> None:
    """Attribute charts count things: a whole number ≥ 0, at most the sample size for p/np."""
    if value < 0 or value != int(value):
        raise Rejected(f"value must be a whole count >= 0 for a {char.chart} chart")
    if char.chart in ("p", "np") and value > char.subgroup_size:
        raise Rejected(
            f"value {value:g} exceeds the sample size {char.subgroup_size} "
            f"of this {char.chart} chart"
        )


class RepeatFilter:
    """The contract's duplicate within a batch: the same (source, seq) when a record has a
    ``seq``, else the same (characteristic, ts, value). The first one seen wins."""

    __slots__ = ("_seq", "_value")

    def __init__(self) -> None:
        self._seq: set[tuple[str, int]] = set()
        self._value: set[tuple[int, datetime, float]] = set()

    def first(self, m: Measurement) -> bool:
        """True the first time this record's key is seen."""
        if m.seq is not None:
            key: Any = (m.source, m.seq)
            seen: set[Any] = self._seq
        else:
            key = (m.characteristic_id, m.ts, m.value)
            seen = self._value
        if key in seen:
            return False
        seen.add(key)
        return True
