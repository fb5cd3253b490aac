"""Alerting's set-of-keys queries on both stores: PostgreSQL gets one array parameter (a fixed
SQL text, whatever the number of keys), SQLite keeps `IN` lists; the answers are the same."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from service.alerting import store
from service.alerting.message import AlarmMessage
from service.alerting.worker import _with_state
from service.storage.db import Database, Tx, connect
from service.storage.migrations import migrate

T0 = datetime(2026, 11, 26, 10, 0, 0, 123456, tzinfo=UTC)
# What a text array literal must quote or escape: quotes, backslashes, braces, commas,
# white space, the word NULL, the empty string, non-ASCII.
AWKWARD = ['a"b', "back\\slash", "{x,y}", " sp ", "NULL", "", "ünïcödé 测量"]


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = connect(database_url)
    migrate(database)
    yield database
    database.close()


def alarm_row(alarm_id: int, **over: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "alarm_id": alarm_id,
        "characteristic": f"line1.op{alarm_id % 3}.bore",
        "state": "open",
        "policy": "std" if alarm_id % 2 else None,
        "opened_at": T0 + timedelta(seconds=alarm_id),
        "levels_done": alarm_id % 4,
        "next_due_at": T0 + timedelta(minutes=10) if alarm_id % 3 else None,
        "message": {"event": "alarm.opened", "alarm_id": alarm_id, "note": AWKWARD},
        "updated_at": T0,
    }
    row.update(over)
    return row


def recorded(tx: Tx) -> list[str]:
    """The SQL text of every statement `tx` runs from now on."""
    texts: list[str] = []
    for name in ("execute", "executemany", "rows", "fetchall"):
        method = getattr(tx, name)

        def spy(sql: str, *args: Any, _method: Callable[..., Any] = method) -> Any:
            texts.append(sql)
            return _method(sql, *args)

        setattr(tx, name, spy)
    return texts


def test_upsert_alarms_and_get_alarms_agree_with_the_single_row_path(db: Database) -> None:
    rows = [alarm_row(a) for a in range(1, 8)]
    rows[2]["message"] = {"quoted": 'say "hi" \\ {a,b}', "list": [1, None, "NULL"]}
    with db.transaction() as tx:
        store.upsert_alarms(tx, rows)
        store.upsert_alarms(tx, [alarm_row(3, state="closed", next_due_at=None, levels_done=2)])
        for r in rows:  # the same through upsert_alarm, for comparison
            fields = {k: v for k, v in r.items() if k != "updated_at"}
            fields["alarm_id"] += 100
            store.upsert_alarm(tx, **fields, now=r["updated_at"])
    expected = {r["alarm_id"]: r for r in rows}
    expected[3] = alarm_row(3, state="closed", next_due_at=None, levels_done=2)
    with db.transaction() as tx:
        found = store.get_alarms(tx, [7, 3, 3, 1, 2, 4, 5, 6, 999])
        single = store.get_alarms(tx, [a + 100 for a in range(1, 8)])
    assert sorted(found) == list(range(1, 8))
    for alarm_id, row in found.items():
        assert row == expected[alarm_id]
        assert row["opened_at"].tzinfo is not None
        twin = single[alarm_id + 100]
        assert {**twin, "alarm_id": alarm_id} == {**rows[alarm_id - 1], "alarm_id": alarm_id}
    with db.transaction() as tx:
        assert store.get_alarms(tx, []) == {}


def test_timestamps_in_any_offset_keep_their_instant(db: Database) -> None:
    shanghai = timezone(timedelta(hours=8))
    row = alarm_row(1, opened_at=datetime(2026, 11, 26, 18, 0, 0, 1, tzinfo=shanghai))
    with db.transaction() as tx:
        store.upsert_alarms(tx, [row])
        got = store.get_alarm(tx, 1)
    assert got is not None
    assert got["opened_at"] == datetime(2026, 11, 26, 10, 0, 0, 1, tzinfo=UTC)


def test_characteristic_states_match_characteristic_state(db: Database) -> None:
    rows = [
        alarm_row(1, characteristic="a", state="open"),
        alarm_row(2, characteristic="a", state="acknowledged"),
        alarm_row(3, characteristic="b", state="acknowledged"),
        alarm_row(4, characteristic="c", state="closed"),
        alarm_row(5, characteristic=AWKWARD[0], state="open"),
    ]
    keys = ["a", "b", "c", "d", AWKWARD[0], "b"]
    with db.transaction() as tx:
        store.upsert_alarms(tx, rows)
        states = store.characteristic_states(tx, keys)
        assert states == {k: store.characteristic_state(tx, k) for k in keys}
        assert states == {"a": "alarm", "b": "acknowledged", "c": "ok", "d": "ok", 'a"b': "alarm"}
        assert store.characteristic_states(tx, []) == {}


def test_mark_consumed_marks_exactly_the_given_rows(db: Database) -> None:
    with db.transaction() as tx:
        ids = [
            tx.insert(
                "outbox",
                {
                    "created_at": tx.ts(T0),
                    "event": "alarm.hit",
                    "alarm_id": 1,
                    "payload": "{}",
                    "attempts": 0,
                },
            )
            for _ in range(1200)
        ]
    marked = ids[::2]  # more than one SQLite chunk of 500
    with db.transaction() as tx:
        store.mark_consumed(tx, marked, T0)
        store.mark_consumed(tx, [], T0)
    with db.transaction(readonly=True) as tx:
        done = {
            int(i): (tx.to_dt(at), n)
            for i, at, n in tx.rows("SELECT id, delivered_at, attempts FROM outbox")
        }
    assert {i for i, (at, _) in done.items() if at is not None} == set(marked)
    assert all(done[i] == (T0, 1) for i in marked)
    assert all(done[i] == (None, 0) for i in ids[1::2])


def test_save_digests_matches_save_digest(db: Database) -> None:
    with db.transaction() as tx:
        rows = [store.digest_row(tx, "all", c) for c in ("a", "b", AWKWARD[1])]
        rows[0].update(
            pending=3,
            first_ts=T0,
            last_ts=T0 + timedelta(seconds=5),
            by_rule={"WE1": 2, 'q"': 1},
            alarm_ids=[7, 8],
            message={"text": AWKWARD},
            last_sent_at=T0,
        )
        rows[2].update(pending=1, first_ts=T0, last_ts=T0, by_rule={"WE2": 1}, alarm_ids=[9])
        store.save_digests(tx, rows)  # rows[1] stays as created (NULLs, empty JSON)
        store.save_digests(tx, [])
    with db.transaction() as tx:
        again = [store.digest_row(tx, "all", c) for c in ("a", "b", AWKWARD[1])]
    assert again == rows
    assert again[1]["message"] is None and again[1]["first_ts"] is None


def test_notifications_for_alarm_attaches_each_attempt_to_its_notification(db: Database) -> None:
    with db.transaction() as tx:
        ids = [
            store.insert_notification(
                tx,
                dedup_key=f"k{n}",
                kind="alarm",
                event="alarm.opened",
                route="all",
                channel=f"c{n}",
                alarm_id=5,
                outbox_id=None,
                characteristic="a",
                state="pending",
                message={"n": n},
                now=T0,
            )
            for n in range(3)
        ]
        for attempt, note in enumerate([ids[0], ids[2], ids[0]], start=1):
            assert note is not None
            store.record_attempt(
                tx,
                notification_id=note,
                attempt=attempt,
                started_at=T0,
                duration_ms=1.0,
                ok=False,
                retryable=True,
                status_code=503,
                detail="busy",
                worker="w",
            )
        notes = store.notifications_for_alarm(tx, 5)
    assert [n["id"] for n in notes] == ids
    assert [[a["attempt"] for a in n["attempt_log"]] for n in notes] == [[1, 3], [], [2]]


def test_sql_text_does_not_depend_on_the_number_of_keys(database_url: str) -> None:
    """On PostgreSQL one statement with one text for any number of keys (psycopg converts it
    once and may prepare it); SQLite keeps its `IN` lists."""
    database = connect(database_url)
    migrate(database)
    try:
        texts: dict[int, list[str]] = {}
        for n in (1, 3, 250, 700):
            with database.transaction() as tx:
                seen = recorded(tx)
                store.upsert_alarms(tx, [alarm_row(a) for a in range(1, n + 1)])
                store.get_alarms(tx, list(range(1, n + 1)))
                store.characteristic_states(tx, [f"c{i}" for i in range(n)])
                store.mark_consumed(tx, list(range(1, n + 1)), T0)
                texts[n] = list(seen)
        if database.dialect == "postgresql":
            assert all(len(t) == 4 for t in texts.values())
            assert texts[1] == texts[3] == texts[250] == texts[700]
        else:
            assert texts[1] != texts[3]
    finally:
        database.close()


def test_with_state_is_replace() -> None:
    message = AlarmMessage(
        kind="alarm",
        event="alarm.hit",
        characteristic="a",
        ts=T0,
        alarm_id=3,
        site="Suzhou",
        value=1.5,
        recent=(1.0, 2.0),
        note="n",
    )
    assert _with_state(message, "alarm") == replace(message, state="alarm")
    assert _with_state(message, "alarm").state == "alarm" and message.state is None
