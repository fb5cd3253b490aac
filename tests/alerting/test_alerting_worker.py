"""The worker against real stores (SQLite and PostgreSQL) and a real HTTP receiver.

Outbox rows are written with the service's own repository, as the alarm code does; time is a
test clock that starts at the real now (outbox rows carry the real creation time).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from alerting_receivers import Answer, HttpReceiver

from service.alerting import store
from service.alerting.channels.http import WebhookChannel
from service.alerting.config import parse_alerting
from service.alerting.worker import AlertWorker
from service.storage.db import Database, connect
from service.storage.migrations import migrate
from service.storage.repo_alarms import AlarmRepository

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


@pytest.fixture
def db(database_url: str):
    database = connect(database_url)
    migrate(database)
    yield database
    database.close()


def payload(rule: str = "WE1", value: float = 74.03, **extra: Any) -> dict[str, Any]:
    return {
        "characteristic": {"key": "line1.op20.bore", "name": "Bore diameter", "unit": "mm"},
        "site": "Suzhou",
        "line": "line1",
        "station": "op20",
        "rule": rule,
        "value": value,
        "center": 74.0,
        "lcl": 73.99,
        "ucl": 74.01,
        "ts": datetime.now(UTC).isoformat(),
        "chart_path": "/characteristics/line1.op20.bore",
        **extra,
    }


def write_event(db: Database, event: str, alarm_id: int, **kw: Any) -> int:
    with db.transaction() as tx:
        return AlarmRepository().write_outbox(tx, event, alarm_id, payload(**kw))


def make_config(receiver: HttpReceiver, **route: Any) -> Any:
    return parse_alerting(
        {
            "channels": {
                "hook": {"type": "webhook", "url": receiver.url + "/hook"},
                "boss": {"type": "webhook", "url": receiver.url + "/boss"},
            },
            "routes": [{"name": "all", "channels": ["hook"], **route}],
            "worker": {"backoff_initial_s": 1, "backoff_max_s": 60, "max_attempts": 5},
        }
    )


def make_worker(db, config, client, clock, **kw) -> AlertWorker:
    channels = {
        name: WebhookChannel(name, cfg.url, client, secret="s", timeout_s=2.0)
        for name, cfg in config.channels.items()
    }
    return AlertWorker(db, config, channels, clock=clock, rng=lambda: 0.999, periodic_s=0, **kw)


def notes(db: Database, alarm_id: int) -> list[dict[str, Any]]:
    with db.transaction(readonly=True) as tx:
        return store.notifications_for_alarm(tx, alarm_id)


async def test_opened_alarm_is_delivered_once_and_logged(db, receiver):
    clock = Clock()
    config = make_config(receiver)
    write_event(db, "alarm.opened", 7)
    async with httpx.AsyncClient() as client:
        worker = make_worker(db, config, client, clock)
        await worker.run_until_idle()
        await worker.run_until_idle()  # a second round finds nothing new
    (req,) = receiver.wait_for(1)
    body = req.json()
    assert body["alarm_id"] == 7 and body["event"] == "alarm.opened"
    assert body["delivery_id"].startswith("lw-")
    assert body["state"] == "alarm"
    (note,) = notes(db, 7)
    assert note["state"] == "sent" and note["attempts"] == 1 and note["channel"] == "hook"
    assert [a["ok"] for a in note["attempt_log"]] == [True]
    assert note["attempt_log"][0]["status_code"] == 200
    with db.transaction(readonly=True) as tx:
        assert tx.scalar("SELECT count(*) FROM outbox WHERE delivered_at IS NULL") == 0


async def test_receiver_down_then_up_delivers_once(db, receiver):
    clock = Clock()
    config = make_config(receiver)
    receiver.stop()
    write_event(db, "alarm.opened", 8)
    async with httpx.AsyncClient() as client:
        worker = make_worker(db, config, client, clock)
        await worker.run_until_idle()  # attempt 1 fails: connection refused
        (note,) = notes(db, 8)
        assert note["state"] == "pending" and note["attempts"] == 1
        delay = (note["next_attempt_at"] - clock.now).total_seconds()
        assert delay == pytest.approx(0.9995, abs=1e-3)  # backoff 1 s × jitter (0.5 + 0.5·0.999)
        await worker.run_until_idle()  # not due yet: no attempt
        assert notes(db, 8)[0]["attempts"] == 1
        clock.advance(seconds=1)
        await worker.run_until_idle()  # attempt 2 fails too, backoff doubles
        assert notes(db, 8)[0]["attempts"] == 2
        receiver.start()  # the receiver comes back
        clock.advance(seconds=2)
        await worker.run_until_idle()
        clock.advance(seconds=60)
        await worker.run_until_idle()
    assert len(receiver.wait_for(1)) == 1
    (note,) = notes(db, 8)
    assert note["state"] == "sent" and note["attempts"] == 3
    assert [a["ok"] for a in note["attempt_log"]] == [False, False, True]
    assert "ConnectError" in note["attempt_log"][0]["detail"]


async def test_permanent_error_fails_without_retry(db, receiver):
    clock = Clock()
    receiver.default = Answer(status=410, body=b"gone")
    write_event(db, "alarm.opened", 9)
    async with httpx.AsyncClient() as client:
        worker = make_worker(db, make_config(receiver), client, clock)
        await worker.run_until_idle()
        clock.advance(minutes=10)
        await worker.run_until_idle()
    (note,) = notes(db, 9)
    assert note["state"] == "failed" and note["attempts"] == 1
    assert "HTTP 410" in note["last_error"]


async def test_flood_gives_one_message_then_digests_within_the_rate_limit(db, receiver):
    clock = Clock()
    config = make_config(receiver, rate_limit={"per_minute": 2, "burst": 2}, digest_minutes=1)
    write_event(db, "alarm.opened", 20, rule="WE1")
    for _ in range(150):
        write_event(db, "alarm.hit", 20, rule="WE1")
    for alarm_id, rule in ((21, "WE2"), (22, "WE3"), (23, "WE4")):  # more rules open meanwhile
        write_event(db, "alarm.opened", alarm_id, rule=rule, value=74.006)
    async with httpx.AsyncClient() as client:
        worker = make_worker(db, config, client, clock)
        await worker.run_until_idle()
        first = receiver.wait_for(2, timeout=2)
        assert sorted(r.json()["alarm_id"] for r in first) == [20, 21]  # burst 2; WE3, WE4 folded
        clock.advance(seconds=59)
        await worker.run_until_idle()
        assert len(receiver.received) == 2  # digest period not over
        clock.advance(seconds=1)
        await worker.run_until_idle()
        for _ in range(5):  # more hits keep coming; at most one digest per period
            write_event(db, "alarm.hit", 20, rule="WE1")
            clock.advance(seconds=10)
            await worker.run_until_idle()
        clock.advance(seconds=60)
        await worker.run_until_idle()
    got = receiver.wait_for(4, timeout=2)
    kinds = [r.json()["kind"] for r in got]
    assert kinds == ["alarm", "alarm", "digest", "digest"]
    digest = got[2].json()["digest"]
    assert digest["count"] == 152  # 150 hits + the two folded openings
    assert digest["by_rule"] == {"WE1": 150, "WE3": 1, "WE4": 1}
    assert digest["alarm_ids"] == [20, 22, 23]
    assert got[3].json()["digest"]["count"] == 5
    # Within the route's rate limit: burst + rate × elapsed minutes.
    elapsed_min = 3.0
    assert len(got) <= 2 + 2 * elapsed_min


async def test_quiet_hours_fold_into_a_digest_after_the_window(db, receiver):
    clock = Clock()
    start = (clock.now - timedelta(minutes=1)).time().replace(second=0, microsecond=0)
    end = (clock.now + timedelta(minutes=5)).time().replace(second=0, microsecond=0)
    config = make_config(
        receiver,
        quiet_hours=[{"start": start.isoformat(), "end": end.isoformat()}],
        digest_minutes=1,
    )
    write_event(db, "alarm.opened", 30)
    async with httpx.AsyncClient() as client:
        worker = make_worker(db, config, client, clock)
        await worker.run_until_idle()
        assert receiver.received == []
        clock.advance(minutes=6)
        await worker.run_until_idle()
    (req,) = receiver.wait_for(1)
    assert req.json()["kind"] == "digest" and req.json()["digest"]["count"] == 1


async def test_escalation_steps_and_acknowledgement_cancels(db, receiver):
    clock = Clock()
    config = parse_alerting(
        {
            "channels": {
                "hook": {"type": "webhook", "url": receiver.url + "/hook"},
                "eng": {"type": "webhook", "url": receiver.url + "/eng"},
                "qm": {"type": "webhook", "url": receiver.url + "/qm"},
            },
            "routes": [{"name": "all", "channels": ["hook"]}],
            "escalation": [
                {
                    "name": "std",
                    "levels": [
                        {"after_minutes": 10, "channels": ["eng"], "label": "line engineer"},
                        {"after_minutes": 30, "channels": ["qm"], "label": "quality manager"},
                    ],
                }
            ],
        }
    )
    write_event(db, "alarm.opened", 40)
    write_event(db, "alarm.opened", 41, rule="WE2")
    async with httpx.AsyncClient() as client:
        worker = make_worker(db, config, client, clock)
        await worker.run_until_idle()
        assert sorted(r.path for r in receiver.wait_for(2)) == ["/hook", "/hook"]
        clock.advance(minutes=10, seconds=1)
        await worker.run_until_idle()
        paths = [r.path for r in receiver.wait_for(4)]
        assert paths[2:] == ["/eng", "/eng"]
        write_event(db, "alarm.acknowledged", 40, cause="tool-wear")
        clock.advance(minutes=25)
        await worker.run_until_idle()
    got = receiver.wait_for(5)
    assert len(got) == 5
    last = got[4].json()
    assert got[4].path == "/qm" and last["alarm_id"] == 41
    assert last["escalation"]["level"] == 2
    assert last["escalation"]["label"] == "quality manager"
    assert last["escalation"]["minutes_open"] >= 35
    assert "Escalation L2 (quality manager)" in last["text"]["title"]
    kinds = [(n["kind"], n["channel"]) for n in notes(db, 41)]
    assert kinds == [("alarm", "hook"), ("escalation", "eng"), ("escalation", "qm")]


async def test_acknowledged_and_closed_reach_routes_that_ask_for_them(db, receiver):
    clock = Clock()
    config = make_config(receiver, events=["alarm.opened", "alarm.acknowledged", "alarm.closed"])
    write_event(db, "alarm.opened", 50)
    write_event(db, "alarm.acknowledged", 50, cause="tool-wear", action="tool-changed")
    write_event(db, "alarm.closed", 50)
    async with httpx.AsyncClient() as client:
        await make_worker(db, config, client, clock).run_until_idle()
    got = [r.json() for r in receiver.wait_for(3)]
    assert sorted((g["event"], g["state"]) for g in got) == [
        ("alarm.acknowledged", "acknowledged"),
        ("alarm.closed", "ok"),
        ("alarm.opened", "alarm"),
    ]
    ack = next(g for g in got if g["event"] == "alarm.acknowledged")
    assert ack["note"] == "tool-wear / tool-changed"


async def test_old_events_are_recorded_but_not_sent(db, receiver):
    clock = Clock()
    write_event(db, "alarm.opened", 60)
    clock.advance(hours=2)
    async with httpx.AsyncClient() as client:
        await make_worker(db, make_config(receiver), client, clock).run_until_idle()
    await asyncio.sleep(0.2)
    assert receiver.received == []
    (note,) = notes(db, 60)
    assert note["state"] == "expired"


async def test_two_workers_deliver_each_notification_once(pg_url, receiver):
    database = connect(pg_url)
    migrate(database)
    try:
        for alarm_id in range(100, 160):
            write_event(database, "alarm.opened", alarm_id, rule="WE1")
        config = make_config(receiver, rate_limit={"per_minute": 1000, "burst": 1000})
        clock = Clock()
        async with httpx.AsyncClient() as client:
            a = make_worker(database, config, client, clock, worker_id="a")
            b = make_worker(database, config, client, clock, worker_id="b")
            await asyncio.gather(a.run_until_idle(), b.run_until_idle())
        got = receiver.wait_for(60)
        ids = sorted(r.json()["alarm_id"] for r in got)
        assert ids == list(range(100, 160))
        with database.transaction(readonly=True) as tx:
            assert tx.scalar("SELECT count(*) FROM alert_notifications WHERE state='sent'") == 60
    finally:
        database.close()


async def test_one_batch_with_openings_and_later_events_keeps_alarms_and_andon(
    db, receiver, monkeypatch
):
    """Alarm writes are deferred within a batch: a later event of an alarm sees its opening,
    the andon state is read only after the pending writes reached the database, and the rows
    left behind are those per-event writes would have left."""
    clock = Clock()
    config = parse_alerting(
        {
            "channels": {
                "hook": {"type": "webhook", "url": receiver.url + "/hook"},
                "boss": {"type": "webhook", "url": receiver.url + "/boss"},
            },
            "routes": [
                {
                    "name": "all",
                    "channels": ["hook"],
                    "events": ["alarm.opened", "alarm.hit", "alarm.acknowledged", "alarm.closed"],
                    "rate_limit": {"per_minute": 1000, "burst": 1000},
                }
            ],
            "escalation": [
                {"name": "std", "levels": [{"after_minutes": 10, "channels": ["boss"]}]}
            ],
        }
    )
    depth = {"key": "line1.op30.depth", "name": "Depth", "unit": "mm"}
    write_event(db, "alarm.opened", 73, characteristic=depth)
    write_event(db, "alarm.opened", 74, rule="WE2", characteristic=depth)
    write_event(db, "alarm.opened", 70)
    write_event(db, "alarm.opened", 71, rule="WE2")
    write_event(db, "alarm.acknowledged", 70, cause="tool-wear")
    write_event(db, "alarm.hit", 70, value=74.05)
    write_event(db, "alarm.closed", 71)
    with db.transaction(readonly=True) as tx:
        opened = tx.rows("SELECT alarm_id, created_at FROM outbox WHERE event = 'alarm.opened'")
        created = {a: tx.to_dt(c) for a, c in opened}

    flushes: list[list[int]] = []
    upsert_alarms = store.upsert_alarms

    def spy(tx: Any, rows: Any) -> None:
        flushes.append([r["alarm_id"] for r in rows])
        upsert_alarms(tx, rows)

    monkeypatch.setattr(store, "upsert_alarms", spy)
    async with httpx.AsyncClient() as client:
        worker = make_worker(db, config, client, clock)
        await worker.run_until_idle()
        got = [r.json() for r in receiver.wait_for(7)]
        # Openings wait until the acknowledgement needs the andon state; 70's opening is
        # replaced by its acknowledgement (last write wins); the close is flushed for its state.
        assert flushes == [[70, 71, 73, 74], [71]]
        clock.advance(minutes=10, seconds=1)
        await worker.run_until_idle()
        escalated = receiver.wait_for(9)[7:]

    states = {(g["alarm_id"], g["event"]): g["state"] for g in got}
    assert states == {
        (73, "alarm.opened"): "alarm",
        (74, "alarm.opened"): "alarm",
        (70, "alarm.opened"): "alarm",
        (71, "alarm.opened"): "alarm",
        (70, "alarm.acknowledged"): "alarm",  # 71 is still open
        (70, "alarm.hit"): "alarm",
        (71, "alarm.closed"): "acknowledged",  # only 70, acknowledged, remains
    }
    assert sorted(r.json()["alarm_id"] for r in escalated) == [73, 74]
    assert {r.path for r in escalated} == {"/boss"}
    with db.transaction(readonly=True) as tx:
        alarms = {a: store.get_alarm(tx, a) for a in (70, 71, 73, 74)}
        assert store.characteristic_state(tx, "line1.op20.bore") == "acknowledged"
        assert store.characteristic_state(tx, "line1.op30.depth") == "alarm"
        assert tx.scalar("SELECT count(*) FROM alert_alarms") == 4
    summary = {
        a: (r["characteristic"], r["state"], r["policy"], r["levels_done"], r["message"]["event"])
        for a, r in alarms.items()
        if r is not None
    }
    assert summary == {
        70: ("line1.op20.bore", "acknowledged", "std", 0, "alarm.acknowledged"),
        71: ("line1.op20.bore", "closed", "std", 0, "alarm.closed"),
        73: ("line1.op30.depth", "open", "std", 1, "alarm.opened"),
        74: ("line1.op30.depth", "open", "std", 1, "alarm.opened"),
    }
    for alarm_id, row in alarms.items():
        assert row is not None and row["opened_at"] == created[alarm_id]
    assert alarms[70]["next_due_at"] is None and alarms[71]["next_due_at"] is None
    assert alarms[70]["message"]["note"] == "tool-wear"
    assert alarms[70]["message"]["rule"] == "WE1"  # the opening's facts, merged
    assert alarms[71]["message"]["rule"] == "WE2"


async def test_run_drains_a_backlog_at_once_then_rests_until_woken(db, receiver):
    """Rounds follow each other without waiting only while a round filled its outbox batch;
    after that the worker waits for a wake (the poll here is too long to help), and a wake
    gets a round at once."""
    for alarm_id in range(200, 230):
        write_event(db, "alarm.opened", alarm_id)
    config = parse_alerting(
        {
            "channels": {"hook": {"type": "webhook", "url": receiver.url + "/hook"}},
            "routes": [
                {
                    "name": "all",
                    "channels": ["hook"],
                    "rate_limit": {"per_minute": 1000, "burst": 1000},
                }
            ],
            "worker": {"outbox_batch": 10, "poll_interval_s": 60},
        }
    )

    class Counting(AlertWorker):
        rounds = 0

        async def tick(self) -> int:
            Counting.rounds += 1
            return await super().tick()

    stop = asyncio.Event()
    async with httpx.AsyncClient() as client:
        channels = {"hook": WebhookChannel("hook", config.channels["hook"].url, client)}
        worker = Counting(db, config, channels, clock=Clock(), periodic_s=3600)
        task = asyncio.create_task(worker.run(stop))
        assert len(await asyncio.to_thread(receiver.wait_for, 30)) == 30
        await asyncio.sleep(0.3)
        assert Counting.rounds == 4  # three full batches, one that found the outbox empty
        write_event(db, "alarm.opened", 300)
        worker.wake()
        assert len(await asyncio.to_thread(receiver.wait_for, 31)) == 31
        await asyncio.sleep(0.3)
        assert Counting.rounds == 5
        stop.set()
        await asyncio.wait_for(task, 10)
