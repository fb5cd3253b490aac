"""The set-based writes and pipelined reads of the ingest transaction, on both dialects:
array literals round-trip any text, `ingest_lookups` answers what the single look-ups answer,
`attach_alarms` opens, hits and re-opens alarms as one alarm at a time would."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from service_helpers import open_small_store

from service import characteristics as char_service
from service.domain import Measurement
from service.storage.db import text_array, utcnow
from service.storage.repo_alarms import AlarmHits
from service.storage.repository import Store

AWKWARD = [
    "plain",
    "",
    "NULL",
    "null",
    'say "hi"',
    "back\\slash",
    '\\"',
    "{braces}, commas",
    "  spaces  ",
    "ünïcødé 测量",
    '{"json": ["a", "b\\"c"], "n": null}',
    None,
]


@pytest.fixture
def store(database_url: str):
    s = open_small_store(database_url)
    yield s
    s.close()


def test_text_array_literals_round_trip_any_text(pg_url: str) -> None:
    s = open_small_store(pg_url)
    try:
        with s.transaction() as tx:
            rows = tx.rows(
                "SELECT v FROM unnest(?::text[]) WITH ORDINALITY AS u(v, o) ORDER BY o",
                [text_array(AWKWARD)],
            )
        assert [r[0] for r in rows] == AWKWARD
    finally:
        s.close()


def _characteristic(store: Store, key: str) -> int:
    with store.transaction() as tx:
        char = char_service.create(
            tx, store.repo, {"key": key, "name": key, "chart": "imr"}, actor="test"
        )
    return char.id


def test_ingest_lookups_answer_what_the_single_look_ups_answer(store: Store) -> None:
    cid = _characteristic(store, "look.a")
    start = datetime(2026, 1, 1, tzinfo=UTC)
    stored = [
        Measurement(i, cid, start + timedelta(seconds=i), 1.0 + i, None, None, None, "s", i, None)
        for i in range(5)
    ] + [Measurement(9, cid, start, 7.5, None, None, None, "", None, None)]
    with store.transaction() as tx:
        for m, mid in zip(stored, store.repo.allocate_measurement_ids(tx, 6), strict=True):
            m.id = mid
        store.repo.insert_measurements(tx, stored)
    seq_keys = [("s", 3), ("s", 4), ("s", 5), ("other", 3)]
    value_keys = [(cid, start, 7.5), (cid, start, 7.6)]
    with store.transaction() as tx, tx.pipeline():
        found = store.repo.ingest_lookups(tx, seq_keys, value_keys, 3, [cid])()
    with store.transaction() as tx:
        assert found.seen_seq == store.repo.existing_seq_keys(tx, seq_keys) == {("s", 3), ("s", 4)}
        assert found.seen_value == store.repo.existing_value_keys(tx, value_keys)
        assert found.seen_value == {(cid, start, 7.5)}
        assert found.heads == store.repo.heads(tx, [cid])
        later = store.repo.allocate_measurement_ids(tx, 2)
    assert len(found.ids) == 3 and found.ids == sorted(found.ids)
    assert min(later) > max(m.id for m in stored)


def test_attach_alarms_opens_hits_and_reopens_after_close(store: Store) -> None:
    a, b = _characteristic(store, "al.a"), _characteristic(store, "al.b")
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    now = utcnow()
    first = [
        AlarmHits((a, "stat", "we1"), 1, t0, t0 + timedelta(seconds=5), 3),
        AlarmHits((b, "dispersion", "we1"), 1, t0, t0, 1),
    ]
    with store.transaction() as tx:
        opened = store.repo.attach_alarms(tx, first, now)
    assert {k: (v.opened, v.hits_before, v.state) for k, v in opened.items()} == {
        (a, "stat", "we1"): (True, 0, "open"),
        (b, "dispersion", "we1"): (True, 0, "open"),
    }
    assert opened[(a, "stat", "we1")].alarm_id < opened[(b, "dispersion", "we1")].alarm_id
    with store.transaction() as tx:
        hit = store.repo.attach_alarms(
            tx,
            [
                AlarmHits((a, "stat", "we1"), 1, t0 - timedelta(days=1), t0, 2),
                AlarmHits((a, "stat", "we2"), 1, t0, t0, 1),
            ],
            now,
        )
        alarm = store.repo.get_alarm(tx, opened[(a, "stat", "we1")].alarm_id)
    assert hit[(a, "stat", "we1")].alarm_id == opened[(a, "stat", "we1")].alarm_id
    assert (hit[(a, "stat", "we1")].opened, hit[(a, "stat", "we1")].hits_before) == (False, 3)
    assert hit[(a, "stat", "we2")].opened
    assert alarm is not None and alarm.hits == 5
    assert alarm.first_ts == t0 and alarm.last_ts == t0 + timedelta(seconds=5)  # kept the later
    with store.transaction() as tx:
        store.repo.close_alarm(tx, alarm.id, "ana", None, now)
        again = store.repo.attach_alarms(tx, [AlarmHits((a, "stat", "we1"), 2, t0, t0, 1)], now)
    assert again[(a, "stat", "we1")].opened
    assert again[(a, "stat", "we1")].alarm_id != alarm.id


def test_measurement_ids_are_unique_and_increasing_across_blocks(store: Store) -> None:
    """PostgreSQL hands out ids in blocks (migration 0002): any count, block edges included,
    comes back as that many distinct increasing ids, above every id handed out before (SQLite
    numbers from the largest stored id, so there only within one call)."""
    postgres = store.db.dialect == "postgresql"
    seen: list[int] = []
    for n in (1, 1023, 1024, 1025, 3000, 2):
        with store.transaction() as tx:
            ids = store.repo.allocate_measurement_ids(tx, n)
        assert len(ids) == n and ids == sorted(set(ids))
        assert not postgres or not seen or ids[0] > seen[-1]
        seen += ids
    if postgres:
        with store.transaction() as tx:
            block = tx.scalar(
                "SELECT seqincrement FROM pg_sequence "
                "WHERE seqrelid = 'measurements_id_seq'::regclass"
            )
        assert block == 1024
