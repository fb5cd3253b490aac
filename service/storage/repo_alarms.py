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
from datetime import datetime
from typing import Any

from service.domain import Alarm
from service.storage.db import Tx, utcnow

ALARM_SELECT = """
SELECT a.id, a.characteristic_id, c.key AS characteristic, a.series, a.rule, a.state,
       a.limit_version, a.opened_at, a.first_ts, a.last_ts, a.hits, a.acknowledged_at,
       a.acknowledged_by, a.cause, a.action, a.note, a.closed_at, a.closed_by, a.close_note
FROM alarms a JOIN characteristics c ON c.id = a.characteristic_id
"""
_TS = ("opened_at", "first_ts", "last_ts", "acknowledged_at", "closed_at")


class AlarmRepository:
    def active_alarm(self, tx: Tx, cid: int, series: str, rule: str) -> Alarm | None:
        row = tx.fetchone(
            ALARM_SELECT + " WHERE a.characteristic_id = ? AND a.series = ? AND a.rule = ? "
            "AND a.state <> 'closed'",
            [cid, series, rule],
        )
        return None if row is None else self._alarm(tx, row)

    def active_alarms(
        self, tx: Tx, keys: Sequence[tuple[int, str, str]]
    ) -> dict[tuple[int, str, str], tuple[int, int, str]]:
        """(id, hits, state) of the active alarm of each (characteristic_id, series, rule)."""
        wanted = set(keys)
        found: dict[tuple[int, str, str], tuple[int, int, str]] = {}
        cids = sorted({k[0] for k in wanted})
        for start in range(0, len(cids), 500):
            chunk = cids[start : start + 500]
            marks = ", ".join("?" for _ in chunk)
            rows = tx.rows(
                "SELECT characteristic_id, series, rule, id, hits, state FROM alarms "
                f"WHERE state <> 'closed' AND characteristic_id IN ({marks})",
                chunk,
            )
            for cid, series, rule, alarm_id, hits, state in rows:
                key = (int(cid), series, rule)
                if key in wanted:
                    found[key] = (int(alarm_id), int(hits), state)
        return found

    def add_hits(self, tx: Tx, hits: Sequence[tuple[int, int, datetime]]) -> None:
        """hits += n and last_ts = max(last_ts, ts) for each (alarm_id, n, ts)."""
        if not hits:
            return
        tx.executemany(
            "UPDATE alarms SET hits = hits + ?, "
            "last_ts = CASE WHEN last_ts < ? THEN ? ELSE last_ts END WHERE id = ?",
            [(n, tx.ts(ts), tx.ts(ts), alarm_id) for alarm_id, n, ts in hits],
        )

    def insert_alarms(
        self,
        tx: Tx,
        rows: Sequence[tuple[int, str, str, int | None, datetime]],
        opened_at: datetime,
    ) -> dict[tuple[int, str, str], int]:
        """Open one alarm per (characteristic_id, series, rule, limit_version, ts), keys
        distinct; their ids by (characteristic_id, series, rule). One statement on PostgreSQL,
        in the given order (ids increase along it)."""
        if tx.dialect != "postgresql":
            return {
                (cid, series, rule): self.insert_alarm(tx, cid, series, rule, lv, ts, opened_at)
                for cid, series, rule, lv, ts in rows
            }
        if not rows:
            return {}
        found = tx.rows(
            "INSERT INTO alarms (characteristic_id, series, rule, state, limit_version, "
            "opened_at, first_ts, last_ts, hits) "
            "SELECT c, s, r, 'open', v, ?, t, t, 1 FROM unnest("
            "?::int8[], ?::text[], ?::text[], ?::int8[], ?::timestamptz[]) "
            "WITH ORDINALITY AS u(c, s, r, v, t, o) ORDER BY o "
            "RETURNING id, characteristic_id, series, rule",
            [
                opened_at,
                [r[0] for r in rows],
                [r[1] for r in rows],
                [r[2] for r in rows],
                [r[3] for r in rows],
                [r[4] for r in rows],
            ],
        )
        return {(int(c), series, rule): int(alarm_id) for alarm_id, c, series, rule in found}

    def insert_alarm(
        self,
        tx: Tx,
        cid: int,
        series: str,
        rule: str,
        limit_version: int | None,
        ts: datetime,
        opened_at: datetime,
    ) -> int:
        return int(
            tx.insert(
                "alarms",
                {
                    "characteristic_id": cid,
                    "series": series,
                    "rule": rule,
                    "state": "open",
                    "limit_version": limit_version,
                    "opened_at": tx.ts(opened_at),
                    "first_ts": tx.ts(ts),
                    "last_ts": tx.ts(ts),
                    "hits": 1,
                },
            )
        )

    def hit_alarm(self, tx: Tx, alarm_id: int, ts: datetime) -> None:
        tx.execute(
            "UPDATE alarms SET hits = hits + 1, "
            "last_ts = CASE WHEN last_ts < ? THEN ? ELSE last_ts END WHERE id = ?",
            [tx.ts(ts), tx.ts(ts), alarm_id],
        )

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
