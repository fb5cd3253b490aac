"""Alarms: a violation opens one, further hits of the same rule attach to it.

One active alarm (state ``open`` or ``acknowledged``) per characteristic, series (``stat`` for
the plotted statistic, ``dispersion`` for R, S or MR) and rule; a partial unique index enforces
it. Every alarm change writes an outbox row in the same transaction (protocol in
`service.storage.repo_alarms`) and then runs the `AlarmHook`s registered on the app
(``app.state.linewatch.alarm_hooks``), also inside that transaction, so a hook that writes to
the database commits or rolls back together with the alarm.

Outbox payload (JSON): ``event``, ``alarm_id``, ``state``, ``characteristic`` {key, name, unit},
``site``, ``line``, ``station``, ``series``, ``rule``, ``rule_text`` (spc.describe_rule),
``value``, ``stat``, ``center``, ``lcl``, ``ucl``, ``ts`` (of the point), ``hits``,
``limit_version``, ``chart`` (link path of the chart in the API), ``dashboard`` (link path of the
characteristic page), and on acknowledge/close ``by``, ``cause``, ``action``, ``note``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from service.domain import Alarm, Characteristic, LimitVersion, Violation
from service.storage.db import Tx, utcnow
from service.storage.repo_alarms import AlarmHits
from service.storage.repository import Repository

AlarmHook = Callable[[Tx, str, int, dict[str, Any]], None]
"""Called as hook(tx, event, alarm_id, payload) inside the alarm's transaction."""


@functools.lru_cache(maxsize=64)
def describe(rule: str) -> str:
    try:
        import spc

        return str(spc.describe_rule(rule))
    except Exception:
        return rule


def alarm_payload(
    event: str,
    alarm_id: int,
    state: str,
    char: Characteristic,
    series: str,
    rule: str,
    *,
    ts: datetime | None,
    hits: int,
    limit_version: int | None,
    limits: LimitVersion | None = None,
    point: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    point = point or {}
    center = None
    if limits is not None:
        center = limits.center
        if series == "dispersion":
            center = limits.limits.get("dispersion_center")
    payload: dict[str, Any] = {
        "event": event,
        "alarm_id": alarm_id,
        "state": state,
        "characteristic": {"key": char.key, "name": char.name, "unit": char.unit},
        "site": char.site,
        "line": char.line,
        "station": char.station,
        "series": series,
        "rule": rule,
        "rule_text": describe(rule),
        "value": point.get("value"),
        "stat": point.get("stat"),
        "center": center,
        "lcl": point.get("lcl"),
        "ucl": point.get("ucl"),
        "ts": ts.isoformat() if ts else None,
        "hits": hits,
        "limit_version": limit_version,
        "chart": f"/api/v1/characteristics/{char.key}/chart",
        "dashboard": f"/characteristics/{char.key}",
    }
    if extra:
        payload.update(extra)
    return payload


class AlarmBook:
    """Opens, attaches, acknowledges and closes alarms, always together with the outbox."""

    def __init__(self, repo: Repository, hooks: list[AlarmHook] | None = None) -> None:
        self.repo = repo
        self.hooks: list[AlarmHook] = hooks if hooks is not None else []

    def _emit(self, tx: Tx, event: str, alarm_id: int, payload: dict[str, Any]) -> None:
        self.repo.write_outbox(tx, event, alarm_id, payload)
        for hook in self.hooks:
            hook(tx, event, alarm_id, payload)

    def record(
        self,
        tx: Tx,
        violations: Sequence[Violation],
        chars: dict[int, Characteristic],
        limits: dict[int, LimitVersion | None],
        points: dict[tuple[int, int, str], dict[str, Any]],
    ) -> list[dict[str, Any]]:
        """Attach each violation to its alarm (opening it when none is active); sets
        `violation.alarm_id`. Returns the outbox payloads (for the live stream)."""
        by_key: dict[tuple[int, str, str], list[Violation]] = {}
        for v in violations:
            by_key.setdefault((v.characteristic_id, v.series, v.rule), []).append(v)
        now = utcnow()
        attached = self.repo.attach_alarms(
            tx,
            [
                AlarmHits(key, hit[0].limit_version, hit[0].ts, max(v.ts for v in hit), len(hit))
                for key, hit in by_key.items()
            ],
            now,
        )
        self.repo.audit_many(
            tx,
            [
                {
                    "actor": "evaluator",
                    "entity": "alarm",
                    "entity_key": str(attached[key].alarm_id),
                    "action": "open",
                    "at": now,
                    "after": {
                        "characteristic": chars[key[0]].key,
                        "series": key[1],
                        "rule": key[2],
                        "limit_version": by_key[key][0].limit_version,
                        "ts": by_key[key][0].ts.isoformat(),
                    },
                }
                for key in by_key
                if attached[key].opened
            ],
        )
        counts = {key: alarm.hits_before for key, alarm in attached.items()}
        events: list[dict[str, Any]] = []
        outbox: list[tuple[str, int, dict[str, Any]]] = []
        for v in violations:
            key = (v.characteristic_id, v.series, v.rule)
            alarm = attached[key]
            count = counts[key] = counts[key] + 1
            if alarm.opened and count == 1:
                event, state = "alarm.opened", "open"
            else:
                event, state = "alarm.hit", alarm.state
            v.alarm_id = alarm.alarm_id
            payload = alarm_payload(
                event,
                alarm.alarm_id,
                state,
                chars[v.characteristic_id],
                v.series,
                v.rule,
                ts=v.ts,
                hits=count,
                limit_version=v.limit_version,
                limits=limits.get(v.characteristic_id),
                point=points.get((v.characteristic_id, v.point_no, v.series)),
            )
            outbox.append((event, alarm.alarm_id, payload))
            events.append(payload)
        self.repo.write_outbox_many(tx, outbox)
        for event, alarm_id, payload in outbox:
            for hook in self.hooks:
                hook(tx, event, alarm_id, payload)
        return events

    def acknowledge(
        self,
        tx: Tx,
        alarm: Alarm,
        char: Characteristic,
        by: str,
        cause: str,
        action: str,
        note: str | None,
    ) -> Alarm:
        now = utcnow()
        self.repo.acknowledge_alarm(tx, alarm.id, by, cause, action, note, now)
        self.repo.audit(
            tx,
            actor=by,
            entity="alarm",
            entity_key=str(alarm.id),
            action="acknowledge",
            before=_audit_view(alarm),
            after={"state": "acknowledged", "cause": cause, "action": action, "note": note},
            reason=note,
        )
        updated = self.repo.get_alarm(tx, alarm.id)
        assert updated is not None
        self._emit(
            tx,
            "alarm.acknowledged",
            alarm.id,
            alarm_payload(
                "alarm.acknowledged",
                alarm.id,
                "acknowledged",
                char,
                alarm.series,
                alarm.rule,
                ts=alarm.last_ts,
                hits=alarm.hits,
                limit_version=alarm.limit_version,
                extra={"by": by, "cause": cause, "action": action, "note": note},
            ),
        )
        return updated

    def close(self, tx: Tx, alarm: Alarm, char: Characteristic, by: str, note: str | None) -> Alarm:
        now = utcnow()
        self.repo.close_alarm(tx, alarm.id, by, note, now)
        self.repo.audit(
            tx,
            actor=by,
            entity="alarm",
            entity_key=str(alarm.id),
            action="close",
            before=_audit_view(alarm),
            after={"state": "closed", "note": note},
            reason=note,
        )
        updated = self.repo.get_alarm(tx, alarm.id)
        assert updated is not None
        self._emit(
            tx,
            "alarm.closed",
            alarm.id,
            alarm_payload(
                "alarm.closed",
                alarm.id,
                "closed",
                char,
                alarm.series,
                alarm.rule,
                ts=alarm.last_ts,
                hits=alarm.hits,
                limit_version=alarm.limit_version,
                extra={"by": by, "cause": alarm.cause, "action": alarm.action, "note": note},
            ),
        )
        return updated


def _audit_view(alarm: Alarm) -> dict[str, Any]:
    return {"state": alarm.state, "cause": alarm.cause, "action": alarm.action, "note": alarm.note}
