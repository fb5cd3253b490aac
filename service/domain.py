"""Typed records the repository returns and the service passes around (no ORM, no pydantic).

Roles are ordered: each includes the rights of the ones before it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

Role = Literal["operator", "engineer", "manager", "admin"]
ROLES: tuple[Role, ...] = ("operator", "engineer", "manager", "admin")

CHART_KINDS: tuple[str, ...] = ("imr", "xbar-r", "xbar-s", "p", "np", "c", "u", "ewma", "cusum")
SUBGROUP_CHARTS = frozenset({"xbar-r", "xbar-s"})
ATTRIBUTE_CHARTS = frozenset({"p", "np", "c", "u"})
INDIVIDUAL_CHARTS = frozenset({"imr", "ewma", "cusum"})
DISPERSION_NAME = {"imr": "mr", "xbar-r": "r", "xbar-s": "s"}

AlarmState = Literal["open", "acknowledged", "closed"]
ALARM_EVENTS = ("alarm.opened", "alarm.hit", "alarm.acknowledged", "alarm.closed")


def role_at_least(role: str, required: str) -> bool:
    return ROLES.index(role) >= ROLES.index(required)  # type: ignore[arg-type,unused-ignore]


@dataclass(frozen=True)
class Principal:
    """Who is calling: the user behind a bearer token."""

    user_id: int
    name: str
    role: Role
    token_id: int | None = None


@dataclass(frozen=True)
class Characteristic:
    id: int
    key: str
    name: str
    unit: str | None
    description: str | None
    station: str | None
    line: str | None
    site: str | None
    chart: str
    subgroup_size: int
    subgroup_by: Literal["size", "field"]
    lsl: float | None
    usl: float | None
    target: float | None
    rules: str | list[str]
    sigma_method: str | None
    decimals: int | None
    params: dict[str, float]
    auto_limits_after: int | None
    created_at: datetime
    updated_at: datetime

    def public(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "name": self.name,
            "unit": self.unit,
            "description": self.description,
            "station": self.station,
            "line": self.line,
            "site": self.site,
            "chart": self.chart,
            "subgroup_size": self.subgroup_size,
            "subgroup_by": self.subgroup_by,
            "lsl": self.lsl,
            "usl": self.usl,
            "target": self.target,
            "rules": self.rules,
            "sigma_method": self.sigma_method,
            "decimals": self.decimals,
            "params": self.params,
            "auto_limits_after": self.auto_limits_after,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


@dataclass(frozen=True)
class LimitVersion:
    characteristic_id: int
    version: int
    chart: str
    center: float
    sigma: float
    nsigmas: float
    subgroup_size: float | None
    lcl: float | None
    ucl: float | None
    limits: dict[str, Any]
    rules: str | list[str]
    method: str
    phase1: dict[str, Any]
    computed_by: str
    computed_at: datetime
    reason: str | None
    approved_by: str | None = None
    approved_at: datetime | None = None
    approval_reason: str | None = None
    start_after_id: int | None = None
    current: bool = False

    def public(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "chart": self.chart,
            "center": self.center,
            "sigma": self.sigma,
            "nsigmas": self.nsigmas,
            "subgroup_size": self.subgroup_size,
            "lcl": self.lcl,
            "ucl": self.ucl,
            "limits": self.limits,
            "rules": self.rules,
            "method": self.method,
            "phase1": self.phase1,
            "computed_by": self.computed_by,
            "computed_at": self.computed_at,
            "reason": self.reason,
            "approved_by": self.approved_by,
            "approved_at": self.approved_at,
            "approval_reason": self.approval_reason,
            "current": self.current,
        }


@dataclass(frozen=True)
class Alarm:
    id: int
    characteristic_id: int
    characteristic: str
    series: str
    rule: str
    state: AlarmState
    limit_version: int | None
    opened_at: datetime
    first_ts: datetime
    last_ts: datetime
    hits: int
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    cause: str | None = None
    action: str | None = None
    note: str | None = None
    closed_at: datetime | None = None
    closed_by: str | None = None
    close_note: str | None = None

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "characteristic": self.characteristic,
            "series": self.series,
            "rule": self.rule,
            "state": self.state,
            "limit_version": self.limit_version,
            "opened_at": self.opened_at,
            "first_ts": self.first_ts,
            "last_ts": self.last_ts,
            "hits": self.hits,
            "acknowledged_at": self.acknowledged_at,
            "acknowledged_by": self.acknowledged_by,
            "cause": self.cause,
            "action": self.action,
            "note": self.note,
            "closed_at": self.closed_at,
            "closed_by": self.closed_by,
            "close_note": self.close_note,
        }


@dataclass(slots=True)
class Measurement:
    """One accepted record on its way into the database (timestamps already validated)."""

    index: int
    characteristic_id: int
    ts: datetime
    value: float
    subgroup: str | None = None
    lot: str | None = None
    serial: str | None = None
    source: str = ""
    seq: int | None = None
    quality: str | None = None
    id: int = 0
    limit_version: int | None = None
    point_no: int | None = None
    batch: int = 0


@dataclass(slots=True)
class Violation:
    characteristic_id: int
    measurement_id: int
    ts: datetime
    limit_version: int
    point_no: int
    series: str
    rule: str
    stat: float | None
    alarm_id: int | None = None


@dataclass
class PlantNode:
    level: Literal["site", "line", "station"]
    id: int
    key: str
    name: str
    parent: str | None
    area: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    children: list[str] = field(default_factory=list)
