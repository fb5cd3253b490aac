"""Alarms and the notification outbox.

Outbox protocol (the alerting worker is the consumer): every alarm change writes one row to
``outbox`` in the SAME transaction as the alarm change, so a notification exists exactly when
the alarm change committed. Columns: ``id`` (increasing), ``created_at``, ``event`` (one of
``alarm.opened``, ``alarm.hit``, ``alarm.acknowledged``, ``alarm.closed``), ``alarm_id``,
``payload`` (JSON text, see `service.alarms.alarm_payload`), ``delivered_at`` (NULL until a
consumer delivered it), ``attempts`` and ``last_error`` (the consumer's bookkeeping).
A consumer reads `pending_outbox` (oldest first; on PostgreSQL the rows are locked with
``FOR UPDATE SKIP LOCKED`` so that several replicas never deliver one row twice), delivers,
then calls `mark_delivered` or `mark_failed` in that same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from service.domain import Alarm
from service.storage.db import Tx, int_array, text_array, utcnow

ALARM_SELECT = """
SELECT a.id, a.characteristic_id, c.key AS characteristic, a.series, a.rule, a.state,
       a.limit_version, a.opened_at, a.first_ts, a.last_ts, a.hits, a.acknowledged_at,
       a.acknowledged_by, a.cause, a.action, a.note, a.closed_at, a.closed_by, a.close_note
FROM alarms a JOIN characteristics c ON c.id = a.characteristic_id
"""


@dataclass(frozen=True)
class AlarmHits:
    """The violations of one batch for one (characteristic_id, series, rule)."""

    key: tuple[int, str, str]
    limit_version: int | None
    first_ts: datetime
    last_ts: datetime
    count: int


@dataclass(frozen=True)
class AttachedAlarm:
    """The active alarm those hits went to: its hits before them, its state, whether they
    opened it."""

    alarm_id: int
    hits_before: int
    state: str
    opened: bool


_TS = ("opened_at", "first_ts", "last_ts", "acknowledged_at", "closed_at")


class AlarmRepository:
    def active_alarm(self, tx: Tx, cid: int, series: str, rule: str) -> Alarm | None:
        row = tx.fetchone(
            ALARM_SELECT + " WHERE a.characteristic_id = ? AND a.series = ? AND a.rule = ? "
            "AND a.state <> 'closed'",
            [cid, series, rule],
        )
        return None if row is None else self._alarm(tx, row)

    def attach_alarms(
        self, tx: Tx, hits: Sequence[AlarmHits], opened_at: datetime
    ) -> dict[tuple[int, str, str], AttachedAlarm]:
        """Add each key's hits to its active alarm, opening one where none is active; keys
        distinct, in the order of their first violation (new alarms' ids increase along it).
        On PostgreSQL one statement, an upsert on the partial unique index of active alarms,
        so the look-up, the openings and the hit counts cost one round trip."""
        if not hits:
            return {}
        if tx.dialect != "postgresql":
            return {h.key: self._attach_one(tx, h, opened_at) for h in hits}
        found = tx.rows(
            "INSERT INTO alarms AS a (characteristic_id, series, rule, state, limit_version, "
            "opened_at, first_ts, last_ts, hits) "
            "SELECT c, s, r, 'open', v, ?, f, l, n FROM unnest("
            "?::int8[], ?::text[], ?::text[], ?::int8[], ?::timestamptz[], ?::timestamptz[], "
            "?::int4[]) WITH ORDINALITY AS u(c, s, r, v, f, l, n, o) ORDER BY o "
            "ON CONFLICT (characteristic_id, series, rule) WHERE state <> 'closed' DO UPDATE "
            "SET hits = a.hits + excluded.hits, last_ts = greatest(a.last_ts, excluded.last_ts) "
            "RETURNING a.id, a.characteristic_id, a.series, a.rule, a.hits, a.state, "
            "a.xmax = 0",  # xmax is 0 on a row this statement inserted
            [
                opened_at,
                [h.key[0] for h in hits],
                [h.key[1] for h in hits],
                [h.key[2] for h in hits],
                [h.limit_version for h in hits],
                text_array(h.first_ts.isoformat() for h in hits),
                text_array(h.last_ts.isoformat() for h in hits),
                [h.count for h in hits],
            ],
        )
        added = {h.key: h.count for h in hits}
        out = {}
        for alarm_id, cid, series, rule, total, state, opened in found:
            key = (int(cid), series, rule)
            out[key] = AttachedAlarm(int(alarm_id), int(total) - added[key], state, bool(opened))
        return out

    def _attach_one(self, tx: Tx, h: AlarmHits, opened_at: datetime) -> AttachedAlarm:
        cid, series, rule = h.key
        row = tx.rows(
            "SELECT id, hits, state FROM alarms WHERE characteristic_id = ? AND series = ? "
            "AND rule = ? AND state <> 'closed'",
            [cid, series, rule],
        )
        if row:
            alarm_id, before, state = row[0]
            tx.execute(
                "UPDATE alarms SET hits = hits + ?, "
                "last_ts = CASE WHEN last_ts < ? THEN ? ELSE last_ts END WHERE id = ?",
                [h.count, tx.ts(h.last_ts), tx.ts(h.last_ts), alarm_id],
            )
            return AttachedAlarm(int(alarm_id), int(before), state, False)
        alarm_id = tx.insert(
            "alarms",
            {
                "characteristic_id": cid,
                "series": series,
                "rule": rule,
                "state": "open",
                "limit_version": h.limit_version,
                "opened_at": tx.ts(opened_at),
                "first_ts": tx.ts(h.first_ts),
                "last_ts": tx.ts(h.last_ts),
                "hits": h.count,
            },
        )
        return AttachedAlarm(int(alarm_id), 0, "open", True)

    def acknowledge_alarm(
        self,
        tx: Tx,
        alarm_id: int,
        by: str,
        cause: str,
        action: str,
        note: str | None,
        at: datetime,
    ) -> None:
        tx.execute(
            "UPDATE alarms SET state = 'acknowledged', acknowledged_at = ?, acknowledged_by = ?, "
            "cause = ?, action = ?, note = ? WHERE id = ?",
            [tx.ts(at), by, cause, action, note, alarm_id],
        )

    def close_alarm(self, tx: Tx, alarm_id: int, by: str, note: str | None, at: datetime) -> None:
        tx.execute(
            "UPDATE alarms SET state = 'closed', closed_at = ?, closed_by = ?, close_note = ? "
            "WHERE id = ?",
            [tx.ts(at), by, note, alarm_id],
        )

    def get_alarm(self, tx: Tx, alarm_id: int, *, for_update: bool = False) -> Alarm | None:
        if not 0 < alarm_id < 2**63:
            return None  # no such id can exist (and the drivers would overflow)
        sql = ALARM_SELECT + " WHERE a.id = ?"
        if for_update and tx.dialect == "postgresql":
            sql += " FOR UPDATE OF a"
        row = tx.fetchone(sql, [alarm_id])
        return None if row is None else self._alarm(tx, row)

    def list_alarms(
        self,
        tx: Tx,
        *,
        state: str | None = None,
        characteristic_id: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 1000,
    ) -> list[Alarm]:
        where: list[str] = ["1 = 1"]
        params: list[Any] = []
        if state is not None:
            where.append("a.state = ?")
            params.append(state)
        if characteristic_id is not None:
            where.append("a.characteristic_id = ?")
            params.append(characteristic_id)
        if since is not None:
            where.append("a.opened_at >= ?")
            params.append(tx.ts(since))
        if until is not None:
            where.append("a.opened_at < ?")
            params.append(tx.ts(until))
        params.append(limit)
        rows = tx.fetchall(
            ALARM_SELECT + f" WHERE {' AND '.join(where)} ORDER BY a.opened_at DESC, a.id DESC "
            "LIMIT ?",
            params,
        )
        return [self._alarm(tx, r) for r in rows]

    def count_active_alarms(self, tx: Tx) -> int:
        return int(tx.scalar("SELECT count(*) FROM alarms WHERE state = 'open'"))

    @staticmethod
    def _alarm(tx: Tx, row: dict[str, Any]) -> Alarm:
        for col in _TS:
            row[col] = tx.to_dt(row[col])
        return Alarm(**row)

    # --- outbox -------------------------------------------------------------------------------
    def write_outbox(self, tx: Tx, event: str, alarm_id: int, payload: dict[str, Any]) -> int:
        return int(
            tx.insert(
                "outbox",
                {
                    "created_at": tx.ts(utcnow()),
                    "event": event,
                    "alarm_id": alarm_id,
                    "payload": tx.dump_json(payload),
                    "attempts": 0,
                },
            )
        )

    def write_outbox_many(self, tx: Tx, events: Sequence[tuple[str, int, dict[str, Any]]]) -> None:
        """Several (event, alarm_id, payload) rows at once, in order."""
        if not events:
            return
        now = tx.ts(utcnow())
        if tx.dialect == "postgresql":  # one statement over arrays, not one per row
            tx.execute(
                "INSERT INTO outbox (created_at, event, alarm_id, payload, attempts) "
                "SELECT ?, e, a, p, 0 FROM unnest(?::text[], ?::int8[], ?::text[]) "
                "WITH ORDINALITY AS u(e, a, p, o) ORDER BY o",
                [
                    now,
                    text_array(event for event, _, _ in events),
                    int_array(alarm_id for _, alarm_id, _ in events),
                    text_array(tx.dump_json(payload) for _, _, payload in events),
                ],
            )
            return
        tx.executemany(
            "INSERT INTO outbox (created_at, event, alarm_id, payload, attempts) "
            "VALUES (?, ?, ?, ?, 0)",
            [(now, event, alarm_id, tx.dump_json(payload)) for event, alarm_id, payload in events],
        )

    def pending_outbox(self, tx: Tx, limit: int = 100) -> list[dict[str, Any]]:
        """Undelivered rows, oldest first; locked against other consumers on PostgreSQL."""
        sql = (
            "SELECT id, created_at, event, alarm_id, payload, attempts, last_error FROM outbox "
            "WHERE delivered_at IS NULL ORDER BY id LIMIT ?"
        )
        if tx.dialect == "postgresql":
            sql += " FOR UPDATE SKIP LOCKED"
        rows = tx.fetchall(sql, [limit])
        for row in rows:
            row["created_at"] = tx.to_dt(row["created_at"])
            row["payload"] = tx.load_json(row["payload"])
        return rows

    def mark_delivered(self, tx: Tx, ids: Sequence[int]) -> None:
        now = tx.ts(utcnow())
        tx.executemany(
            "UPDATE outbox SET delivered_at = ?, attempts = attempts + 1 WHERE id = ?",
            [(now, i) for i in ids],
        )

    def mark_failed(self, tx: Tx, outbox_id: int, error: str) -> None:
        tx.execute(
            "UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE id = ?",
            [error[:2000], outbox_id],
        )
