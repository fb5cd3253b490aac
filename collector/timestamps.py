"""Timestamps as the ingest contract wants them: ISO 8601 strings with a zone.

Devices send ISO strings, Unix seconds, milliseconds or microseconds; "auto" tells them apart by
size (a Unix time in seconds stays below 1e11 until the year 5138, in ms below 1e14, in us below
1e17). A time without a zone is refused: guessing the zone of a PLC clock shifts every point.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

_UNIT = {"unix-s": 1.0, "unix-ms": 1e-3, "unix-us": 1e-6}


class BadTimestamp(ValueError):
    pass


def from_unix(seconds: float) -> str:
    """Unix seconds -> "2026-11-26T10:00:00.123456Z"."""
    try:
        dt = datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise BadTimestamp(f"Unix time {seconds!r} out of range") from exc
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def from_unix_ms(ms: int) -> str:
    """Unix milliseconds (Sparkplug's unit) -> ISO string with milliseconds."""
    try:
        dt = datetime.fromtimestamp(ms / 1000, UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise BadTimestamp(f"Unix time {ms!r} ms out of range") from exc
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


class ReceiveClock:
    """Formats receive times, reusing the string within one millisecond (hot path)."""

    __slots__ = ("_ms", "_text")

    def __init__(self) -> None:
        self._ms = -1
        self._text = ""

    def format(self, unix_seconds: float) -> str:
        ms = int(unix_seconds * 1000)
        if ms != self._ms:
            self._ms = ms
            self._text = from_unix_ms(ms)
        return self._text


def parse_timestamp(raw: object, fmt: str = "auto") -> str:
    """A payload timestamp in the given format -> ISO string with a zone; BadTimestamp if not."""
    if isinstance(raw, str):
        if fmt not in ("auto", "iso8601"):
            raise BadTimestamp(f"expected a number ({fmt}), got the string {raw[:40]!r}")
        try:
            dt = datetime.fromisoformat(raw)
        except ValueError:
            raise BadTimestamp(f"not ISO 8601: {raw[:40]!r}") from None
        if dt.tzinfo is None:
            raise BadTimestamp(f"no time zone in {raw[:40]!r}")
        return raw
    if type(raw) in (int, float):
        value = float(raw)  # type: ignore[arg-type]
        if not math.isfinite(value):
            raise BadTimestamp(f"not a finite number: {raw!r}")
        if fmt == "iso8601":
            raise BadTimestamp(f"expected an ISO 8601 string, got {raw!r}")
        if fmt == "auto":
            magnitude = abs(value)
            scale = (
                1.0
                if magnitude < 1e11
                else 1e-3
                if magnitude < 1e14
                else 1e-6
                if magnitude < 1e17
                else 1e-9
            )
        else:
            scale = _UNIT[fmt]
        return from_unix(value * scale)
    raise BadTimestamp(f"expected a string or a number, got {type(raw).__name__}")
