"""What a notification says, independent of the channel that carries it.

An `AlarmMessage` is built from one outbox row (`from_outbox`) or by the worker for a digest,
an escalation step or a test message. Channels only format it; they never look anything up,
so the same message renders identically on every channel and in every test.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal

Kind = Literal["alarm", "digest", "escalation", "test"]
Side = Literal["above", "below"]


@dataclass(frozen=True, slots=True)
class Digest:
    """Repeats folded into one message: violations that did not earn a message of their own."""

    count: int
    first_ts: datetime
    last_ts: datetime
    by_rule: Mapping[str, int] = field(default_factory=dict)
    alarm_ids: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class AlarmMessage:
    kind: Kind
    event: str
    characteristic: str
    ts: datetime
    alarm_id: int | None = None
    characteristic_name: str | None = None
    unit: str | None = None
    site: str | None = None
    line: str | None = None
    station: str | None = None
    rule: str | None = None
    rule_text: str | None = None
    severity: str = "warning"
    value: float | None = None
    center: float | None = None
    lcl: float | None = None
    ucl: float | None = None
    chart_url: str | None = None
    recent: tuple[float, ...] = ()
    state: str | None = None
    escalation_level: int | None = None
    escalation_label: str | None = None
    minutes_open: float | None = None
    digest: Digest | None = None
    note: str | None = None
    delivery_id: str | None = None

    @property
    def side(self) -> Side | None:
        """Which side of the center line the violating point lies on (None at the center)."""
        if self.value is None or self.center is None or self.value == self.center:
            return None
        return "above" if self.value > self.center else "below"

    @property
    def display_name(self) -> str:
        return self.characteristic_name or self.characteristic

    def with_delivery(self, delivery_id: str) -> AlarmMessage:
        return replace(self, delivery_id=delivery_id)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form: the generic webhook body and the stored notification payload."""
        out: dict[str, Any] = {
            "kind": self.kind,
            "event": self.event,
            "alarm_id": self.alarm_id,
            "characteristic": self.characteristic,
            "characteristic_name": self.characteristic_name,
            "unit": self.unit,
            "site": self.site,
            "line": self.line,
            "station": self.station,
            "rule": self.rule,
            "rule_text": self.rule_text,
            "side": self.side,
            "severity": self.severity,
            "value": self.value,
            "center": self.center,
            "lcl": self.lcl,
            "ucl": self.ucl,
            "ts": _iso(self.ts),
            "chart_url": self.chart_url,
            "state": self.state,
            "recent": list(self.recent),
        }
        if self.escalation_level is not None:
            out["escalation"] = {
                "level": self.escalation_level,
                "label": self.escalation_label,
                "minutes_open": self.minutes_open,
            }
        if self.digest is not None:
            out["digest"] = {
                "count": self.digest.count,
                "first_ts": _iso(self.digest.first_ts),
                "last_ts": _iso(self.digest.last_ts),
                "by_rule": dict(self.digest.by_rule),
                "alarm_ids": list(self.digest.alarm_ids),
            }
        if self.note:
            out["note"] = self.note
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AlarmMessage:
        """Inverse of `to_dict` (the worker stores messages as JSON between attempts)."""
        esc = data.get("escalation") or {}
        dig = data.get("digest")
        digest = None
        if dig:
            digest = Digest(
                count=int(dig["count"]),
                first_ts=parse_ts(dig["first_ts"]),
                last_ts=parse_ts(dig["last_ts"]),
                by_rule={str(k): int(v) for k, v in (dig.get("by_rule") or {}).items()},
                alarm_ids=tuple(int(a) for a in dig.get("alarm_ids") or ()),
            )
        return cls(
            kind=data.get("kind", "alarm"),
            event=data.get("event", "alarm.opened"),
            alarm_id=_opt_int(data.get("alarm_id")),
            characteristic=str(data["characteristic"]),
            characteristic_name=data.get("characteristic_name"),
            unit=data.get("unit"),
            site=data.get("site"),
            line=data.get("line"),
            station=data.get("station"),
            rule=data.get("rule"),
            rule_text=data.get("rule_text"),
            severity=data.get("severity", "warning"),
            value=_opt_float(data.get("value")),
            center=_opt_float(data.get("center")),
            lcl=_opt_float(data.get("lcl")),
            ucl=_opt_float(data.get("ucl")),
            ts=parse_ts(data["ts"]),
            chart_url=data.get("chart_url"),
            recent=tuple(float(v) for v in data.get("recent") or ()),
            state=data.get("state"),
            escalation_level=_opt_int(esc.get("level")),
            escalation_label=esc.get("label"),
            minutes_open=_opt_float(esc.get("minutes_open")),
            digest=digest,
            note=data.get("note"),
        )


def from_outbox(
    event: str,
    alarm_id: int | None,
    payload: Mapping[str, Any],
    *,
    public_url: str,
    severity: str | None = None,
) -> AlarmMessage:
    """Build the message for one outbox row.

    Lenient about the payload's shape (a nested `characteristic` object or flat
    `characteristic_key`/`characteristic_name`), strict about what a message cannot do
    without: the characteristic and the time.
    """
    char = payload.get("characteristic")
    if isinstance(char, Mapping):
        key = char.get("key")
        name = char.get("name")
        unit = char.get("unit")
    else:
        key = char if char is not None else payload.get("characteristic_key")
        name = payload.get("characteristic_name") or payload.get("name")
        unit = payload.get("unit")
    if not key:
        raise ValueError("outbox payload names no characteristic")
    ts_raw = payload.get("ts") or payload.get("opened_at") or payload.get("created_at")
    if ts_raw is None:
        raise ValueError("outbox payload has no `ts`")
    # The plotted statistic is what crossed the limits (a subgroup mean on an X̄ chart);
    # the raw value only when the service sends no statistic.
    value = payload.get("stat")
    if value is None:
        value = payload.get("value")
    link = (
        payload.get("chart_url")
        or payload.get("dashboard")
        or payload.get("chart_path")
        or payload.get("chart")
    )
    return AlarmMessage(
        kind="alarm",
        event=event,
        alarm_id=alarm_id,
        characteristic=str(key),
        characteristic_name=name,
        unit=unit,
        site=_opt_str(payload.get("site")),
        line=_opt_str(payload.get("line")),
        station=_opt_str(payload.get("station")),
        rule=_opt_str(payload.get("rule")),
        rule_text=_opt_str(payload.get("rule_text")),
        severity=str(payload.get("severity") or severity or "warning"),
        value=_opt_float(value),
        center=_opt_float(payload.get("center")),
        lcl=_opt_float(payload.get("lcl")),
        ucl=_opt_float(payload.get("ucl")),
        ts=parse_ts(ts_raw),
        chart_url=absolute_link(public_url, link),
        recent=tuple(float(v) for v in payload.get("recent") or ()),
        note=_ack_note(payload),
    )


def absolute_link(public_url: str, link: Any) -> str | None:
    if not link:
        return None
    text = str(link)
    if text.startswith(("http://", "https://")):
        return text
    return public_url.rstrip("/") + "/" + text.lstrip("/")


def parse_ts(raw: Any) -> datetime:
    """An aware UTC datetime from an ISO string (with `Z`), epoch seconds or a datetime."""
    if isinstance(raw, datetime):
        ts = raw
    elif isinstance(raw, int | float):
        ts = datetime.fromtimestamp(float(raw), UTC)
    else:
        ts = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return ts.astimezone(UTC)


def _iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _ack_note(payload: Mapping[str, Any]) -> str | None:
    parts = [str(payload[k]) for k in ("cause", "action", "note") if payload.get(k)]
    return " / ".join(parts) or None


def _opt_float(value: Any) -> float | None:
    if value is None:
        return None
    out = float(value)
    return out if math.isfinite(out) else None


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _opt_str(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)
