"""Timestamps between the API (ISO 8601, UTC) and the screen (local wall time).

Plotly draws a date string at its wall-clock value and ignores any offset, so every timestamp is
converted to the display zone *before* it reaches a figure, and written without an offset.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, tzinfo

PLOTLY_FORMAT = "%Y-%m-%d %H:%M:%S.%f"


def parse_ts(value: str | datetime) -> datetime:
    """An aware datetime; naive input is taken as UTC (the service always stores UTC)."""
    ts = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)


def to_plotly(value: str | datetime | None, tz: tzinfo = UTC) -> str | None:
    """Wall time in ``tz`` as Plotly wants it (milliseconds, no offset)."""
    if value is None or value == "":
        return None
    return parse_ts(value).astimezone(tz).strftime(PLOTLY_FORMAT)[:-3]


def to_plotly_many(values: Iterable[str | datetime | None], tz: tzinfo = UTC) -> list[str | None]:
    return [to_plotly(v, tz) for v in values]


def short(value: str | datetime | None, tz: tzinfo = UTC) -> str:
    """Human wall time for tables and hovers: ``2026-11-26 10:00:00``."""
    if value is None or value == "":
        return ""
    return parse_ts(value).astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")


def to_utc_iso(value: str | datetime, tz: tzinfo = UTC) -> str:
    """A wall time read off a chart in ``tz`` (naive) back to the API's UTC ISO form."""
    ts = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=tz)
    return ts.astimezone(UTC).isoformat().replace("+00:00", "Z")


def age_seconds(value: str | datetime, now: datetime | None = None) -> float:
    now = now or datetime.now(UTC)
    return (now - parse_ts(value)).total_seconds()


def format_age(seconds: float, lang: str = "en") -> str:
    """Compact age of an alarm: ``42 s``, ``7 min``, ``3 h 05 min``, ``2 d 4 h``."""
    s = max(0, int(seconds))
    units = {"en": ("s", "min", "h", "d"), "zh": ("秒", "分", "小时", "天")}[lang]
    if s < 60:
        return f"{s} {units[0]}"
    if s < 3600:
        return f"{s // 60} {units[1]}"
    if s < 86400:
        return f"{s // 3600} {units[2]} {s % 3600 // 60:02d} {units[1]}"
    return f"{s // 86400} {units[3]} {s % 86400 // 3600} {units[2]}"
