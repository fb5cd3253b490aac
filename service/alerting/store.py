"""Alerting's own SQL (tables of migration 0100), through the service's `Tx` helper.

Every function takes the open transaction, so the worker composes them into the transactions
that give its guarantees (consume outbox rows + create notifications atomically; claim with a
lease; record an attempt with its outcome).

Sets of keys go to PostgreSQL as one array parameter (`= ANY(?::int8[])`, `unnest(...)`), not
as `IN (?, ?, ...)` lists: the SQL text stays the same whatever the number of keys, so psycopg
converts it once and can prepare it, and an array travels as one literal string (`int_array`;
`text_array` for bulk text such as JSON documents) instead of being dumped item by item. The
worker runs these for every outbox batch in the service's process, where its Python time is
taken from ingest. SQLite has no arrays and keeps the `IN` lists.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from service.alerting.routing import BucketState
from service.storage.db import Tx, int_array, text_array

_NOTIFICATION_COLUMNS = (
    "id, dedup_key, kind, event, route, channel, alarm_id, outbox_id, characteristic, state, "
    "message, attempts, next_attempt_at, lease_until, lease_owner, created_at, sent_at, last_error"
)
_TS_COLUMNS = ("next_attempt_at", "lease_until", "created_at", "sent_at")


def _ts_array(values: Iterable[datetime | None]) -> str:
    """`text_array` of aware datetimes (ISO 8601 with the offset: PostgreSQL reads the instant)."""
    return text_array(None if v is None else v.isoformat() for v in values)


def _for_update(tx: Tx, *, skip_locked: bool = False) -> str:
    if tx.dialect != "postgresql":
        return ""  # SQLite: BEGIN IMMEDIATE already made this the only writer
    return " FOR UPDATE SKIP LOCKED" if skip_locked else " FOR UPDATE"


@dataclass(frozen=True, slots=True)
class Work:
    outbox: bool
    due: bool
    escalations: bool
    digests: bool


def pending_work(tx: Tx, *, now: datetime, periodic: bool, claim: bool) -> Work:
    """Read-only probes (index-only on both stores) telling which write transactions to open."""

    def exists(sql: str, params: list[Any] | None = None) -> bool:
        return bool(tx.rows(sql + " LIMIT 1", params))

    stamp = tx.ts(now)
    return Work(
        outbox=exists("SELECT 1 FROM outbox WHERE delivered_at IS NULL"),
        due=claim
        and exists(
            "SELECT 1 FROM alert_notifications WHERE state = 'pending' AND next_attempt_at <= ? "
            "AND (lease_until IS NULL OR lease_until < ?)",
            [stamp, stamp],
        ),
        escalations=periodic
        and exists(
            "SELECT 1 FROM alert_alarms WHERE state = 'open' AND next_due_at IS NOT NULL "
            "AND next_due_at <= ?",
            [stamp],
        ),
        digests=periodic and exists("SELECT 1 FROM alert_digests WHERE pending > 0"),
    )


def mark_consumed(tx: Tx, outbox_ids: Sequence[int], now: datetime) -> None:
    """The outbox protocol's `delivered_at` (service.storage.repo_alarms), one statement per
    batch (SQLite: per 500 rows) instead of one per row: a flood of repeats is consumed at
    thousands per second."""
    if tx.dialect == "postgresql":
        if outbox_ids:
            tx.execute(
                "UPDATE outbox SET delivered_at = ?, attempts = attempts + 1 "
                "WHERE id = ANY(?::int8[])",
                [tx.ts(now), int_array(outbox_ids)],
            )
        return
    for start in range(0, len(outbox_ids), 500):
        chunk = list(outbox_ids[start : start + 500])
        marks = ", ".join("?" for _ in chunk)
        tx.execute(
            f"UPDATE outbox SET delivered_at = ?, attempts = attempts + 1 WHERE id IN ({marks})",
            [tx.ts(now), *chunk],
        )


def insert_notification(
    tx: Tx,
    *,
    dedup_key: str,
    kind: str,
    event: str,
    route: str | None,
    channel: str,
    alarm_id: int | None,
    outbox_id: int | None,
    characteristic: str,
    state: str,
    message: dict[str, Any],
    now: datetime,
    lease_owner: str | None = None,
    lease_until: datetime | None = None,
    last_error: str | None = None,
) -> int | None:
    """Insert unless the dedup key exists; returns the new id (None for a duplicate)."""
    found = tx.rows(
        "INSERT INTO alert_notifications (dedup_key, kind, event, route, channel, alarm_id, "
        "outbox_id, characteristic, state, message, attempts, next_attempt_at, lease_until, "
        "lease_owner, created_at, last_error) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?) "
        "ON CONFLICT (dedup_key) DO NOTHING RETURNING id",
        [
            dedup_key,
            kind,
            event,
            route,
            channel,
            alarm_id,
            outbox_id,
            characteristic,
            state,
            tx.dump_json(message),
            tx.ts(now) if state == "pending" else None,
            tx.ts(lease_until),
            lease_owner,
            tx.ts(now),
            last_error,
        ],
    )
    return int(found[0][0]) if found else None


def claim_due(
    tx: Tx, *, now: datetime, lease_until: datetime, owner: str, limit: int
) -> list[dict[str, Any]]:
    """Lease pending notifications whose time has come (skipping rows other workers hold)."""
    if limit <= 0:
        return []
    rows = tx.fetchall(
        "UPDATE alert_notifications SET lease_owner = ?, lease_until = ? WHERE id IN ("
        " SELECT id FROM alert_notifications WHERE state = 'pending' AND next_attempt_at <= ?"
        " AND (lease_until IS NULL OR lease_until < ?) ORDER BY next_attempt_at, id LIMIT ?"
        f"{_for_update(tx, skip_locked=True)}) "
        "RETURNING id, channel, message, attempts, kind, event",
        [owner, tx.ts(lease_until), tx.ts(now), tx.ts(now), limit],
    )
    for row in rows:
        row["message"] = tx.load_json(row["message"])
    return rows


def record_attempt(
    tx: Tx,
    *,
    notification_id: int,
    attempt: int,
    started_at: datetime,
    duration_ms: float,
    ok: bool,
    retryable: bool,
    status_code: int | None,
    detail: str,
    worker: str,
) -> None:
    tx.insert(
        "alert_attempts",
        {
            "notification_id": notification_id,
            "attempt": attempt,
            "started_at": tx.ts(started_at),
            "duration_ms": duration_ms,
            "ok": int(ok),
            "retryable": int(retryable),
            "status_code": status_code,
            "detail": detail[:500],
            "worker": worker,
        },
        returning=None,
    )


def finish(
    tx: Tx,
    notification_id: int,
    *,
    owner: str,
    state: str,
    next_attempt_at: datetime | None,
    sent_at: datetime | None,
    last_error: str | None,
) -> bool:
    """Settle one attempt; False when our lease was lost (another worker took the row over)."""
    count = tx.execute(
        "UPDATE alert_notifications SET state = ?, attempts = attempts + 1, next_attempt_at = ?, "
        "sent_at = ?, last_error = ?, lease_owner = NULL, lease_until = NULL "
        "WHERE id = ? AND lease_owner = ? AND state = 'pending'",
        [state, tx.ts(next_attempt_at), tx.ts(sent_at), last_error, notification_id, owner],
    )
    return count > 0


def lock_buckets(tx: Tx, routes: Sequence[str], *, now: float, burst: dict[str, int]) -> None:
    """Create missing bucket rows (full), lock all in name order (no deadlock across replicas)."""
    for name in sorted(routes):
        tx.execute(
            "INSERT INTO alert_route_state (route, tokens, counted_at) VALUES (?, ?, ?) "
            "ON CONFLICT (route) DO NOTHING",
            [name, float(burst[name]), now],
        )
    if tx.dialect == "postgresql" and routes:
        tx.rows(
            "SELECT route FROM alert_route_state WHERE route = ANY(?) ORDER BY route FOR UPDATE",
            [sorted(routes)],
        )


def load_bucket(tx: Tx, route: str) -> BucketState | None:
    row = tx.rows("SELECT tokens, counted_at FROM alert_route_state WHERE route = ?", [route])
    return BucketState(float(row[0][0]), float(row[0][1])) if row else None


def save_bucket(tx: Tx, route: str, state: BucketState) -> None:
    tx.upsert(
        "alert_route_state",
        {"route": route, "tokens": state.tokens, "counted_at": state.updated},
        key=["route"],
    )


def digest_row(tx: Tx, route: str, characteristic: str) -> dict[str, Any]:
    """The route's digest accumulator for a characteristic, created empty and locked."""
    tx.execute(
        "INSERT INTO alert_digests (route, characteristic, pending, by_rule, alarm_ids) "
        "VALUES (?, ?, 0, '{}', '[]') ON CONFLICT (route, characteristic) DO NOTHING",
        [route, characteristic],
    )
    row = tx.fetchone(
        "SELECT * FROM alert_digests WHERE route = ? AND characteristic = ?" + _for_update(tx),
        [route, characteristic],
    )
    assert row is not None
    return _digest(tx, row)


def due_digests(tx: Tx) -> list[dict[str, Any]]:
    rows = tx.fetchall(
        "SELECT * FROM alert_digests WHERE pending > 0 ORDER BY route, characteristic"
        + _for_update(tx, skip_locked=True)
    )
    return [_digest(tx, r) for r in rows]


def save_digest(tx: Tx, row: dict[str, Any]) -> None:
    tx.execute(
        "UPDATE alert_digests SET pending = ?, first_ts = ?, last_ts = ?, by_rule = ?, "
        "alarm_ids = ?, message = ?, last_sent_at = ? WHERE route = ? AND characteristic = ?",
        [
            row["pending"],
            tx.ts(row["first_ts"]),
            tx.ts(row["last_ts"]),
            tx.dump_json(row["by_rule"]),
            tx.dump_json(row["alarm_ids"]),
            None if row["message"] is None else tx.dump_json(row["message"]),
            tx.ts(row["last_sent_at"]),
            row["route"],
            row["characteristic"],
        ],
    )


_SAVE_DIGESTS_PG = (
    "UPDATE alert_digests AS d SET pending = u.pending, first_ts = u.first_ts, "
    "last_ts = u.last_ts, by_rule = u.by_rule, alarm_ids = u.alarm_ids, message = u.message, "
    "last_sent_at = u.last_sent_at FROM unnest(?::text[], ?::text[], ?::int4[], "
    "?::timestamptz[], ?::timestamptz[], ?::text[], ?::text[], ?::text[], ?::timestamptz[]) "
    "AS u(route, characteristic, pending, first_ts, last_ts, by_rule, alarm_ids, message, "
    "last_sent_at) WHERE d.route = u.route AND d.characteristic = u.characteristic"
)


def save_digests(tx: Tx, rows: Sequence[dict[str, Any]]) -> None:
    """`save_digest` of a batch's accumulators (one per route and characteristic), in one
    statement on PostgreSQL: a batch touching many characteristics costs one round trip, not
    one each. The rows are already locked (`digest_row`), so the order does not matter."""
    if tx.dialect != "postgresql":
        for row in rows:
            save_digest(tx, row)
        return
    if not rows:
        return
    tx.execute(
        _SAVE_DIGESTS_PG,
        [
            text_array(r["route"] for r in rows),
            text_array(r["characteristic"] for r in rows),
            int_array(r["pending"] for r in rows),
            _ts_array(r["first_ts"] for r in rows),
            _ts_array(r["last_ts"] for r in rows),
            text_array(tx.dump_json(r["by_rule"]) for r in rows),
            text_array(tx.dump_json(r["alarm_ids"]) for r in rows),
            text_array(None if r["message"] is None else tx.dump_json(r["message"]) for r in rows),
            _ts_array(r["last_sent_at"] for r in rows),
        ],
    )


def delete_digest(tx: Tx, route: str, characteristic: str) -> None:
    tx.execute(
        "DELETE FROM alert_digests WHERE route = ? AND characteristic = ?", [route, characteristic]
    )


def _digest(tx: Tx, row: dict[str, Any]) -> dict[str, Any]:
    for col in ("first_ts", "last_ts", "last_sent_at"):
        row[col] = tx.to_dt(row[col])
    row["by_rule"] = tx.load_json(row["by_rule"]) or {}
    row["alarm_ids"] = tx.load_json(row["alarm_ids"]) or []
    row["message"] = tx.load_json(row["message"])
    return row


def get_alarm(tx: Tx, alarm_id: int) -> dict[str, Any] | None:
    row = tx.fetchone("SELECT * FROM alert_alarms WHERE alarm_id = ?" + _for_update(tx), [alarm_id])
    if row is not None:
        for col in ("opened_at", "next_due_at", "updated_at"):
            row[col] = tx.to_dt(row[col])
        row["message"] = tx.load_json(row["message"])
    return row


def get_alarms(tx: Tx, alarm_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """`get_alarm` of many alarms in one query (an outbox batch names hundreds), locked in
    alarm_id order (concurrent workers on PostgreSQL never wait for each other in a cycle)."""
    ids = sorted(set(alarm_ids))
    rows: list[dict[str, Any]] = []
    if tx.dialect == "postgresql":
        if ids:
            rows = tx.fetchall(
                "SELECT * FROM alert_alarms WHERE alarm_id = ANY(?::int8[]) ORDER BY alarm_id"
                + _for_update(tx),
                [int_array(ids)],
            )
    else:
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ", ".join("?" for _ in chunk)
            rows += tx.fetchall(
                f"SELECT * FROM alert_alarms WHERE alarm_id IN ({marks}) ORDER BY alarm_id",
                chunk,
            )
    found: dict[int, dict[str, Any]] = {}
    for row in rows:
        for col in ("opened_at", "next_due_at", "updated_at"):
            row[col] = tx.to_dt(row[col])
        row["message"] = tx.load_json(row["message"])
        found[int(row["alarm_id"])] = row
    return found


def characteristic_states(tx: Tx, characteristics: Sequence[str]) -> dict[str, str]:
    """`characteristic_state` of many characteristics in one query."""
    seen: dict[str, set[str]] = {c: set() for c in characteristics}
    keys = sorted(seen)
    found: list[tuple[Any, ...]] = []
    if tx.dialect == "postgresql":
        if keys:
            found = tx.rows(
                "SELECT DISTINCT characteristic, state FROM alert_alarms "
                "WHERE characteristic = ANY(?::text[]) AND state <> 'closed'",
                [keys],
            )
    else:
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ", ".join("?" for _ in chunk)
            found += tx.rows(
                "SELECT DISTINCT characteristic, state FROM alert_alarms "
                f"WHERE characteristic IN ({marks}) AND state <> 'closed'",
                chunk,
            )
    for characteristic, state in found:
        seen[characteristic].add(state)
    return {c: _andon(states) for c, states in seen.items()}


def _andon(states: set[str]) -> str:
    if "open" in states:
        return "alarm"
    return "acknowledged" if "acknowledged" in states else "ok"


def upsert_alarm(
    tx: Tx,
    *,
    alarm_id: int,
    characteristic: str,
    state: str,
    policy: str | None,
    opened_at: datetime,
    levels_done: int,
    next_due_at: datetime | None,
    message: dict[str, Any],
    now: datetime,
) -> None:
    tx.upsert(
        "alert_alarms",
        {
            "alarm_id": alarm_id,
            "characteristic": characteristic,
            "state": state,
            "policy": policy,
            "opened_at": tx.ts(opened_at),
            "levels_done": levels_done,
            "next_due_at": tx.ts(next_due_at),
            "message": tx.dump_json(message),
            "updated_at": tx.ts(now),
        },
        key=["alarm_id"],
    )


_ALARM_COLUMNS = (
    "alarm_id",
    "characteristic",
    "state",
    "policy",
    "opened_at",
    "levels_done",
    "next_due_at",
    "message",
    "updated_at",
)


_ALARM_UPDATES = ", ".join(f"{c} = excluded.{c}" for c in _ALARM_COLUMNS[1:])
# One statement for the whole batch on PostgreSQL: rows are written in the given order (so
# row locks are taken in it), each column one array.
_UPSERT_ALARMS_PG = (
    f"INSERT INTO alert_alarms ({', '.join(_ALARM_COLUMNS)}) "
    f"SELECT {', '.join(f'u.{c}' for c in _ALARM_COLUMNS)} FROM unnest("
    "?::int8[], ?::text[], ?::text[], ?::text[], ?::timestamptz[], ?::int4[], "
    "?::timestamptz[], ?::text[], ?::timestamptz[]) "
    f"WITH ORDINALITY AS u({', '.join(_ALARM_COLUMNS)}, ord) ORDER BY u.ord "
    f"ON CONFLICT (alarm_id) DO UPDATE SET {_ALARM_UPDATES}"
)


def upsert_alarms(tx: Tx, rows: Sequence[Mapping[str, Any]]) -> None:
    """`upsert_alarm` of many alarms at once: the consumer writes a batch's alarms together
    instead of one round trip per event. On PostgreSQL one statement over column arrays built
    as literals (an `executemany` pays a full execute in Python per row, a Python list an
    item-by-item dump); on SQLite an `executemany`.

    `rows` have `get_alarm`'s shape (datetimes, `message` a dict); one row per alarm_id (a
    PostgreSQL upsert may not touch a row twice).
    """
    if not rows:
        return
    if tx.dialect == "postgresql":
        tx.execute(
            _UPSERT_ALARMS_PG,
            [
                int_array(r["alarm_id"] for r in rows),
                text_array(r["characteristic"] for r in rows),
                text_array(r["state"] for r in rows),
                text_array(r["policy"] for r in rows),
                _ts_array(r["opened_at"] for r in rows),
                int_array(r["levels_done"] for r in rows),
                _ts_array(r["next_due_at"] for r in rows),
                text_array(tx.dump_json(r["message"]) for r in rows),
                _ts_array(r["updated_at"] for r in rows),
            ],
        )
        return
    tx.executemany(
        f"INSERT INTO alert_alarms ({', '.join(_ALARM_COLUMNS)}) "
        f"VALUES ({', '.join('?' for _ in _ALARM_COLUMNS)}) "
        f"ON CONFLICT (alarm_id) DO UPDATE SET {_ALARM_UPDATES}",
        [
            (
                r["alarm_id"],
                r["characteristic"],
                r["state"],
                r["policy"],
                tx.ts(r["opened_at"]),
                r["levels_done"],
                tx.ts(r["next_due_at"]),
                tx.dump_json(r["message"]),
                tx.ts(r["updated_at"]),
            )
            for r in rows
        ],
    )


def due_escalations(tx: Tx, now: datetime) -> list[dict[str, Any]]:
    rows = tx.fetchall(
        "SELECT * FROM alert_alarms WHERE state = 'open' AND next_due_at IS NOT NULL "
        "AND next_due_at <= ? ORDER BY next_due_at" + _for_update(tx, skip_locked=True),
        [tx.ts(now)],
    )
    for row in rows:
        for col in ("opened_at", "next_due_at", "updated_at"):
            row[col] = tx.to_dt(row[col])
        row["message"] = tx.load_json(row["message"])
    return rows


def characteristic_state(tx: Tx, characteristic: str) -> str:
    """'alarm' while any alarm of the characteristic is open and unacknowledged,
    'acknowledged' while only acknowledged ones remain, else 'ok' (the andon light's colour)."""
    states = {
        r[0]
        for r in tx.rows(
            "SELECT DISTINCT state FROM alert_alarms "
            "WHERE characteristic = ? AND state <> 'closed'",
            [characteristic],
        )
    }
    return _andon(states)


def notifications_for_alarm(tx: Tx, alarm_id: int) -> list[dict[str, Any]]:
    notes = tx.fetchall(
        f"SELECT {_NOTIFICATION_COLUMNS} FROM alert_notifications WHERE alarm_id = ? ORDER BY id",
        [alarm_id],
    )
    if not notes:
        return []
    ids = [n["id"] for n in notes]
    columns = (
        "SELECT notification_id, attempt, started_at, duration_ms, ok, retryable, status_code, "
        "detail, worker FROM alert_attempts"
    )
    if tx.dialect == "postgresql":
        attempts = tx.fetchall(
            f"{columns} WHERE notification_id = ANY(?::int8[]) ORDER BY id", [int_array(ids)]
        )
    else:
        marks = ", ".join("?" for _ in ids)
        attempts = tx.fetchall(f"{columns} WHERE notification_id IN ({marks}) ORDER BY id", ids)
    by_note: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    for a in attempts:
        a["started_at"] = tx.to_dt(a["started_at"])
        a["ok"] = bool(a["ok"])
        a["retryable"] = bool(a["retryable"])
        by_note[int(a.pop("notification_id"))].append(a)
    for n in notes:
        for col in _TS_COLUMNS:
            n[col] = tx.to_dt(n[col])
        n["message"] = tx.load_json(n["message"])
        n["attempt_log"] = by_note[int(n["id"])]
    return notes


def get_notification(tx: Tx, notification_id: int) -> dict[str, Any] | None:
    row = tx.fetchone(
        f"SELECT {_NOTIFICATION_COLUMNS} FROM alert_notifications WHERE id = ?", [notification_id]
    )
    if row is not None:
        for col in _TS_COLUMNS:
            row[col] = tx.to_dt(row[col])
        row["message"] = tx.load_json(row["message"])
    return row


def db_routes(tx: Tx) -> list[dict[str, Any]]:
    rows = tx.fetchall("SELECT name, definition, updated_at, updated_by FROM alert_routes")
    for r in rows:
        r["definition"] = tx.load_json(r["definition"])
        r["updated_at"] = tx.to_dt(r["updated_at"])
    return rows
