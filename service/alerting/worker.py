"""The notification worker: outbox → routed notifications → channels, with retries.

One round (`tick`):
1. Consume: in ONE transaction, take undelivered outbox rows (`FOR UPDATE SKIP LOCKED` on
   PostgreSQL), decide per matching route (send / fold into the digest / skip; rate limit and
   quiet hours in `routing`), insert one notification per (event, route, channel) under a unique
   dedup key, update the alarm state kept for escalation, and mark the outbox rows delivered.
   A crash before commit leaves the outbox untouched; after commit every notification exists
   exactly once. Notifications to send now are leased to this worker in the same transaction.
2. Every second: escalation steps that fell due, and digests whose period has passed.
3. Claim due notifications with a lease (retries, and rows a dead worker had leased).
4. Send each in its own task (a slow channel delays nobody else) and record the attempt and
   its outcome in one transaction: sent, retry at now + exponential backoff, or failed.

Delivery is at-least-once with a stable delivery id (`X-Linewatch-Delivery`, the notification
id): a worker killed after the receiver answered but before the commit resends the same id
once its lease expires, so a receiver that de-duplicates on it sees the message exactly once.

The database helper is synchronous; each transaction runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta
from operator import attrgetter
from typing import Any

import anyio

from service.alerting import store
from service.alerting.channels.base import Channel, DeliveryResult
from service.alerting.config import AlertingConfig, RouteConfig
from service.alerting.escalation import due_levels, next_due_at, policy_for
from service.alerting.message import AlarmMessage, Digest, from_outbox
from service.alerting.routing import (
    AlarmFacts,
    BucketState,
    backoff_delay,
    decide,
    digest_due,
    in_quiet_hours,
    matching_routes,
    needs_token,
    take_token,
)
from service.storage.db import Database, Tx
from service.storage.repo_alarms import AlarmRepository

log = logging.getLogger("linewatch.alerting")

_ALARM_STATE = {
    "alarm.opened": "open",
    "alarm.hit": "open",
    "alarm.acknowledged": "acknowledged",
    "alarm.closed": "closed",
}
_PERIODIC_S = 1.0
_GATHER_S = 0.05
"""Pause after a busy round before the next: under load one round takes the events of several
ingest commits (bench/README.md: alerting p99 at 5,000 measurements/s fell, not rose)."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


class AlertWorker:
    def __init__(
        self,
        db: Database,
        config: AlertingConfig,
        channels: Mapping[str, Channel],
        *,
        clock: Callable[[], datetime] = _utcnow,
        rng: Callable[[], float] = random.random,
        worker_id: str | None = None,
        recent_points: Callable[[Tx, AlarmMessage, int], tuple[float, ...]] | None = None,
        periodic_s: float = _PERIODIC_S,
        per_channel_concurrency: int = 4,
    ) -> None:
        self.db = db
        self.config = config
        self.channels = dict(channels)
        self.clock = clock
        self.rng = rng
        self.worker_id = worker_id or f"{socket.gethostname()}-{uuid.uuid4().hex[:6]}"
        self._outbox = AlarmRepository()
        # Called inside the consume transaction while alarm writes are still pending in
        # `_Batch`: it must not read alert_alarms (recent_statistics reads measurements).
        self._recent = recent_points if recent_points is not None else recent_statistics
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._inflight: set[asyncio.Task[None]] = set()
        self._last_periodic = 0.0
        self._periodic_s = periodic_s
        self._per_channel = per_channel_concurrency
        self._gates: dict[str, asyncio.Semaphore] = {}
        self._routes_cache: tuple[float, list[RouteConfig]] = (0.0, [])
        self._saturated = False

    # --- public ---------------------------------------------------------------------------
    def wake(self) -> None:
        """Ask for a round now; callable from any thread (e.g. `tx.after_commit(worker.wake)`)."""
        loop, event = self._loop, self._wake
        if loop is not None and event is not None and not loop.is_closed():
            loop.call_soon_threadsafe(event.set)

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Rounds until `stop` is set (or the task is cancelled); never dies on an error."""
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        stop = stop or asyncio.Event()
        poll = self.config.worker.poll_interval_s
        log.info("alerting worker started", extra={"worker": self.worker_id})
        try:
            while not stop.is_set():
                # Cleared before the round: a commit during it wakes the next round at once,
                # and a round that left nothing behind is not followed by an empty one (one
                # read transaction per ingest commit, taken from ingest's interpreter lock).
                self._wake.clear()
                busy = 0
                try:
                    busy = await self.tick()
                except Exception:
                    log.exception("alerting round failed; retrying")
                    self._saturated = False
                    await asyncio.sleep(min(5.0, poll * 10))
                if self._saturated:
                    continue
                if busy:
                    # Under load, gather the events of the next few commits into one round:
                    # a round per ingest commit costs ingest more than 50 ms costs a message.
                    await asyncio.sleep(min(_GATHER_S, poll))
                waiters = [asyncio.ensure_future(self._wake.wait())]
                waiters.append(asyncio.ensure_future(stop.wait()))
                _done, pending = await asyncio.wait(
                    waiters, timeout=poll, return_when=asyncio.FIRST_COMPLETED
                )
                for w in pending:
                    w.cancel()
        finally:
            await self.drain(timeout=5.0)

    async def drain(self, timeout: float = 10.0) -> None:
        """Wait for in-flight sends (their results are recorded); leases cover the rest."""
        if self._inflight:
            await asyncio.wait(set(self._inflight), timeout=timeout)

    async def tick(self) -> int:
        """One round; returns the work done (notifications started + outbox rows consumed)."""
        now = self.clock()
        free = self.config.worker.batch_size - len(self._inflight)
        periodic = time.monotonic() - self._last_periodic >= self._periodic_s
        if periodic:
            self._last_periodic = time.monotonic()
        claimed, consumed = await anyio.to_thread.run_sync(self._prepare, now, free, periodic)
        # A full outbox batch or as many claims as there was room for: more may be waiting.
        self._saturated = consumed >= self.config.worker.outbox_batch or (
            free > 0 and len(claimed) >= free
        )
        for row in claimed:
            task = asyncio.create_task(self._deliver(row))
            self._inflight.add(task)
            task.add_done_callback(self._sent)
        return len(claimed) + consumed

    def _sent(self, task: asyncio.Task[None]) -> None:
        """A send finished: room for another, so a worker that was full rounds again now."""
        full = len(self._inflight) >= self.config.worker.batch_size
        self._inflight.discard(task)
        if full and self._wake is not None:
            self._wake.set()

    async def run_until_idle(self, timeout: float = 10.0) -> None:
        """Rounds until nothing is due or in flight (tests and the CLI)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            work = await self.tick()
            await self.drain(timeout=max(0.0, deadline - time.monotonic()))
            if work == 0 and not self._inflight:
                return
        raise TimeoutError("alerting worker did not become idle")

    # --- preparation (sync, in a thread) ---------------------------------------------------
    def _prepare(
        self, now: datetime, free: int, periodic: bool
    ) -> tuple[list[dict[str, Any]], int]:
        """Write transactions only when a cheap read found work: on SQLite every write
        transaction takes the database's single write lock away from ingest."""
        lease_until = now + timedelta(seconds=self.config.worker.lease_s)
        with self.db.transaction(readonly=True) as tx:
            work = store.pending_work(tx, now=now, periodic=periodic, claim=free > 0)
        consumed, fresh = 0, list[dict[str, Any]]()
        if work.outbox:
            routes = self._routes()
            with self.db.transaction() as tx:
                consumed, fresh = self._consume(tx, now, lease_until, routes)
        if work.escalations or work.digests:
            routes = self._routes()
            with self.db.transaction() as tx:
                if work.escalations:
                    self._escalate(tx, now)
                if work.digests:
                    self._digests(tx, now, routes)
        room = max(0, free - len(fresh))
        if room and (work.due or work.escalations or work.digests):
            with self.db.transaction() as tx:
                fresh += store.claim_due(
                    tx, now=now, lease_until=lease_until, owner=self.worker_id, limit=room
                )
        return fresh, consumed

    def _routes(self) -> list[RouteConfig]:
        """Routes from linewatch.toml plus those created over the API (re-read every 5 s)."""
        stamp, cached = self._routes_cache
        if time.monotonic() - stamp < 5.0:
            return cached
        routes = list(self.config.routes)
        names = {r.name for r in routes}
        with self.db.transaction(readonly=True) as tx:
            for row in store.db_routes(tx):
                if row["name"] in names:
                    continue
                try:
                    routes.append(RouteConfig.model_validate(row["definition"]))
                except ValueError:
                    log.warning("stored route %s is invalid; ignored", row["name"])
        self._routes_cache = (time.monotonic(), routes)
        return routes

    def invalidate_routes(self) -> None:
        self._routes_cache = (0.0, [])

    def _consume(
        self, tx: Tx, now: datetime, lease_until: datetime, routes: list[RouteConfig]
    ) -> tuple[int, list[dict[str, Any]]]:
        """Consume one outbox batch (see the module docstring).

        Whatever depends only on the batch is worked out once, not per event: the routes an
        alarm's facts match (a flood of hits repeats the same facts) and each route's quiet
        hours (`now` is the batch's). The worker shares the GIL with ingest, so its Python
        time per event is ingest's loss."""
        rows = self._outbox.pending_outbox(tx, limit=self.config.worker.outbox_batch)
        if not rows:
            return 0, []
        cfg = self.config
        by_name = {r.name: r for r in routes}
        epoch = now.timestamp()
        store.lock_buckets(
            tx, list(by_name), now=epoch, burst={n: r.rate_limit.burst for n, r in by_name.items()}
        )
        buckets: dict[str, BucketState] = {}
        batch = _Batch()
        send_now: list[dict[str, Any]] = []
        readable: list[tuple[dict[str, Any], AlarmMessage]] = []
        for row in rows:
            payload = row["payload"] or {}
            try:
                message = from_outbox(
                    row["event"],
                    row["alarm_id"],
                    payload,
                    public_url=cfg.public_url,
                    severity=cfg.severity_of(payload.get("rule")),
                )
            except (ValueError, KeyError, TypeError) as exc:
                log.warning("outbox row %s unreadable: %s", row["id"], exc)
                continue
            readable.append((row, message))
        batch.prefetch(tx, [m for _, m in readable])
        routed: dict[AlarmFacts, list[RouteConfig]] = {}
        quiet: dict[str, bool] = {}
        for row, message in readable:
            message = self._track_alarm(tx, message, row["created_at"], now, batch)
            stale = (now - row["created_at"]).total_seconds() > cfg.worker.max_event_age_s
            facts = AlarmFacts(
                message.characteristic, message.site, message.line, message.rule, message.severity
            )
            matched = routed.get(facts)
            if matched is None:
                matched = routed[facts] = matching_routes(routes, facts)
            for route in matched:
                if route.name not in quiet:
                    quiet[route.name] = in_quiet_hours(route.quiet_hours, now, cfg.timezone)
                choice = decide(route, message.event, quiet=quiet[route.name], token=True)
                if choice == "send" and needs_token(message.event) and not stale:
                    state = buckets.get(route.name) or store.load_bucket(tx, route.name)
                    state = state or BucketState.full(route.rate_limit, epoch)
                    granted, buckets[route.name] = take_token(state, route.rate_limit, epoch)
                    if not granted:
                        choice = "fold"
                if choice == "fold" and not stale:
                    batch.fold(tx, route.name, message)
                elif choice == "send":
                    send_now += self._emit(
                        tx, route, message, row["id"], now, lease_until, stale, batch
                    )
        batch.flush(tx)
        for name, state in buckets.items():
            store.save_bucket(tx, name, state)
        store.save_digests(tx, batch.digest_rows())
        store.mark_consumed(tx, [r["id"] for r in rows], now)
        return len(rows), send_now

    def _track_alarm(
        self, tx: Tx, message: AlarmMessage, created_at: datetime, now: datetime, batch: _Batch
    ) -> AlarmMessage:
        """Keep the alarm's state for escalation and the characteristic's andon state.

        Escalation counts from when the alarm was raised (the outbox row's commit time), not
        from the measurement's timestamp, which a buffering collector may deliver hours late.
        The alarm's write waits in `batch` (flushed with the others before `alert_alarms` is
        queried): a burst of openings costs one round trip, not one each.
        """
        if message.alarm_id is None:
            return message
        current = batch.alarm(tx, message.alarm_id)
        state = _ALARM_STATE.get(message.event, "open")
        if current is not None and current["state"] == "closed":
            state = "closed"  # a late hit never reopens a closed alarm
        if current is not None and message.event == "alarm.hit":
            # A repeat changes nothing alerting keeps (state, escalation clock); floods of
            # hits cost one read each.
            return _with_state(message, batch.state(tx, message.characteristic))
        if current is None:
            facts = AlarmFacts(
                message.characteristic, message.site, message.line, message.rule, message.severity
            )
            policy = policy_for(self.config.escalation, facts)
            opened_at = created_at
            due = next_due_at(policy, opened_at=opened_at, levels_done=0) if policy else None
            policy_name = policy.name if policy else None
            levels_done = 0
            base = message
        else:
            policy_name = current["policy"]
            opened_at = current["opened_at"]
            levels_done = current["levels_done"]
            due = current["next_due_at"]
            base = message if message.event == "alarm.opened" else _merge(current, message)
        if state != "open":
            due = None
        batch.put_alarm(
            {
                "alarm_id": message.alarm_id,
                "characteristic": message.characteristic,
                "state": state,
                "policy": policy_name,
                "opened_at": opened_at,
                "levels_done": levels_done,
                "next_due_at": due,
                "message": base.to_dict(),
                "updated_at": now,
            }
        )
        if state == "open":  # an open alarm makes the andon red whatever the others are
            batch.states[message.characteristic] = "alarm"
        else:
            batch.states.pop(message.characteristic, None)
        return _with_state(message, batch.state(tx, message.characteristic))

    def _emit(
        self,
        tx: Tx,
        route: RouteConfig,
        message: AlarmMessage,
        outbox_id: int,
        now: datetime,
        lease_until: datetime,
        stale: bool,
        batch: _Batch,
    ) -> list[dict[str, Any]]:
        if (
            not stale
            and not message.recent
            and self.config.worker.recent_points
            and message.event == "alarm.opened"
        ):
            recent = self._recent(tx, message, self.config.worker.recent_points)
            message = replace(message, recent=recent)
        if message.event == "alarm.opened" and not stale:
            batch.digest(tx, route.name, message.characteristic)["last_sent_at"] = now
        key_base = (
            f"{message.event}:a{message.alarm_id}"
            if message.alarm_id is not None and message.event != "alarm.hit"
            else f"o{outbox_id}"
        )
        return self._insert_for_channels(
            tx,
            route.channels,
            message,
            key=f"{key_base}:{route.name}",
            route=route.name,
            outbox_id=outbox_id,
            now=now,
            lease_until=lease_until,
            expired=stale,
        )

    def _insert_for_channels(
        self,
        tx: Tx,
        channels: list[str],
        message: AlarmMessage,
        *,
        key: str,
        route: str,
        outbox_id: int | None,
        now: datetime,
        lease_until: datetime | None,
        expired: bool = False,
    ) -> list[dict[str, Any]]:
        """One notification per channel; leased to this worker when `lease_until` is given
        (sent right away), else left for the next claim."""
        leased: list[dict[str, Any]] = []
        for channel in channels:
            body = message.to_dict()
            new_id = store.insert_notification(
                tx,
                dedup_key=f"{key}:{channel}",
                kind=message.kind,
                event=message.event,
                route=route,
                channel=channel,
                alarm_id=message.alarm_id,
                outbox_id=outbox_id,
                characteristic=message.characteristic,
                state="expired" if expired else "pending",
                message=body,
                now=now,
                lease_owner=None if expired or lease_until is None else self.worker_id,
                lease_until=None if expired else lease_until,
                last_error="older than max_event_age_s when first seen" if expired else None,
            )
            if new_id is not None and not expired and lease_until is not None:
                leased.append(
                    {
                        "id": new_id,
                        "channel": channel,
                        "message": body,
                        "attempts": 0,
                        "kind": message.kind,
                        "event": message.event,
                    }
                )
        return leased

    def _escalate(self, tx: Tx, now: datetime) -> None:
        policies = {p.name: p for p in self.config.escalation}
        for alarm in store.due_escalations(tx, now):
            policy = policies.get(alarm["policy"] or "")
            if policy is None:
                tx.execute(
                    "UPDATE alert_alarms SET next_due_at = NULL WHERE alarm_id = ?",
                    [alarm["alarm_id"]],
                )
                continue
            done = alarm["levels_done"]
            base = AlarmMessage.from_dict(alarm["message"])
            minutes = (now - alarm["opened_at"]).total_seconds() / 60.0
            for number, level in due_levels(
                policy, opened_at=alarm["opened_at"], levels_done=done, now=now
            ):
                message = replace(
                    base,
                    kind="escalation",
                    event="alarm.escalated",
                    escalation_level=number,
                    escalation_label=level.label or None,
                    minutes_open=minutes,
                )
                self._insert_for_channels(
                    tx,
                    level.channels,
                    message,
                    key=f"escalation:a{base.alarm_id}:L{number}",
                    route=f"escalation:{policy.name}",
                    outbox_id=None,
                    now=now,
                    lease_until=None,
                )
                done = number
            store.upsert_alarm(
                tx,
                alarm_id=alarm["alarm_id"],
                characteristic=alarm["characteristic"],
                state=alarm["state"],
                policy=alarm["policy"],
                opened_at=alarm["opened_at"],
                levels_done=done,
                next_due_at=next_due_at(policy, opened_at=alarm["opened_at"], levels_done=done),
                message=alarm["message"],
                now=now,
            )

    def _digests(self, tx: Tx, now: datetime, routes: list[RouteConfig]) -> None:
        by_name = {r.name: r for r in routes}
        epoch = now.timestamp()
        for row in store.due_digests(tx):
            route = by_name.get(row["route"])
            if route is None or row["message"] is None:
                store.delete_digest(tx, row["route"], row["characteristic"])
                continue
            quiet = in_quiet_hours(route.quiet_hours, now, self.config.timezone)
            if not digest_due(route, last_message_at=row["last_sent_at"], now=now, quiet=quiet):
                continue
            state = store.load_bucket(tx, route.name) or BucketState.full(route.rate_limit, epoch)
            granted, state = take_token(state, route.rate_limit, epoch)
            store.save_bucket(tx, route.name, state)
            if not granted:
                continue
            last = AlarmMessage.from_dict(row["message"])
            message = replace(
                last,
                kind="digest",
                event="alarm.digest",
                alarm_id=None,
                digest=Digest(
                    count=int(row["pending"]),
                    first_ts=row["first_ts"],
                    last_ts=row["last_ts"],
                    by_rule=dict(row["by_rule"]),
                    alarm_ids=tuple(int(a) for a in row["alarm_ids"]),
                ),
            )
            stamp = now.strftime("%Y%m%dT%H%M%S.%f")
            self._insert_for_channels(
                tx,
                route.channels,
                message,
                key=f"digest:{route.name}:{last.characteristic}:{stamp}",
                route=route.name,
                outbox_id=None,
                now=now,
                lease_until=None,
            )
            row.update(
                pending=0, first_ts=None, last_ts=None, by_rule={}, alarm_ids=[], last_sent_at=now
            )
            store.save_digest(tx, row)

    # --- delivery (async) ------------------------------------------------------------------
    async def _deliver(self, row: dict[str, Any]) -> None:
        started_at = self.clock()
        channel = self.channels.get(row["channel"])
        message = AlarmMessage.from_dict(row["message"]).with_delivery(f"lw-{row['id']}")
        if channel is None:
            result = DeliveryResult.failure(
                f"channel {row['channel']!r} is not configured", retryable=False
            )
        else:
            # A few requests at a time per channel: a burst of alarms must not look like a
            # denial-of-service attack to a chat vendor or a plant's small webhook receiver.
            gate = self._gates.setdefault(row["channel"], asyncio.Semaphore(self._per_channel))
            try:
                async with gate:
                    result = await channel.send(message)
            except Exception as exc:  # a channel bug must not kill the worker
                log.exception("channel %s raised", row["channel"])
                result = DeliveryResult.failure(f"{type(exc).__name__}: {exc}", retryable=True)
        try:
            await anyio.to_thread.run_sync(self._record, row, result, started_at)
        except Exception:
            log.exception("recording notification %s failed; the lease will retry it", row["id"])

    def _record(self, row: dict[str, Any], result: DeliveryResult, started_at: datetime) -> None:
        attempt = int(row["attempts"]) + 1
        now = self.clock()
        wcfg = self.config.worker
        next_at: datetime | None = None
        if result.ok:
            state = "sent"
        elif result.retryable and attempt < wcfg.max_attempts:
            state = "pending"
            delay = backoff_delay(attempt, wcfg.backoff_initial_s, wcfg.backoff_max_s, self.rng())
            next_at = now + timedelta(seconds=delay)
        else:
            state = "failed"
        with self.db.transaction() as tx:
            store.record_attempt(
                tx,
                notification_id=int(row["id"]),
                attempt=attempt,
                started_at=started_at,
                duration_ms=result.duration_ms,
                ok=result.ok,
                retryable=result.retryable,
                status_code=result.status_code,
                detail=result.detail,
                worker=self.worker_id,
            )
            kept = store.finish(
                tx,
                int(row["id"]),
                owner=self.worker_id,
                state=state,
                next_attempt_at=next_at,
                sent_at=now if result.ok else None,
                last_error=None if result.ok else result.detail,
            )
        if not kept:
            log.warning("notification %s: lease lost before the result was recorded", row["id"])
        elif not result.ok:
            log.info(
                "notification %s via %s failed (%s): %s",
                row["id"],
                row["channel"],
                state,
                result.detail,
            )


class _Batch:
    """Per-transaction caches of one outbox batch: digest accumulators (read and locked once,
    written once), characteristic states (re-read only after an alarm changed) and alarm rows,
    whose writes are deferred and flushed together (one round trip, not one per event).

    Pending alarm writes must reach the database before anything reads `alert_alarms` beyond
    the rows cached here: `state` flushes before it queries, `_consume` before it finishes.
    """

    def __init__(self) -> None:
        self.digests: dict[tuple[str, str], dict[str, Any]] = {}
        self.states: dict[str, str] = {}
        self.alarms: dict[int, dict[str, Any] | None] = {}
        self.pending: dict[int, dict[str, Any]] = {}
        self.last_folded: dict[tuple[str, str], AlarmMessage] = {}

    def prefetch(self, tx: Tx, messages: list[AlarmMessage]) -> None:
        """Read (and lock) the batch's alarms and andon states in two queries, not two per
        event: a flood of hits would otherwise cost a round trip each."""
        ids = [m.alarm_id for m in messages if m.alarm_id is not None]
        found = store.get_alarms(tx, ids)
        for alarm_id in ids:
            self.alarms[alarm_id] = found.get(alarm_id)
        wanted = [m.characteristic for m in messages if m.characteristic not in self.states]
        self.states.update(store.characteristic_states(tx, wanted))

    def alarm(self, tx: Tx, alarm_id: int) -> dict[str, Any] | None:
        """The alarm as this batch left it: its pending write, else the row read (a read of
        one alarm_id sees nothing of the other alarms' pending writes, so needs no flush)."""
        pending = self.pending.get(alarm_id)
        if pending is not None:
            return pending
        if alarm_id not in self.alarms:
            self.alarms[alarm_id] = store.get_alarm(tx, alarm_id)
        return self.alarms[alarm_id]

    def put_alarm(self, row: dict[str, Any]) -> None:
        """Defer an alarm's upsert (`get_alarm`'s row shape); a later one of the same alarm
        replaces it, as the later UPDATE would have."""
        self.pending[int(row["alarm_id"])] = row

    def flush(self, tx: Tx) -> None:
        """Write the pending alarms in one `executemany`, in alarm_id order (concurrent
        workers on PostgreSQL lock the rows in one order); they stay cached as written."""
        if not self.pending:
            return
        rows = [self.pending[k] for k in sorted(self.pending)]
        store.upsert_alarms(tx, rows)
        self.alarms.update(self.pending)
        self.pending.clear()

    def digest(self, tx: Tx, route: str, characteristic: str) -> dict[str, Any]:
        key = (route, characteristic)
        if key not in self.digests:
            self.digests[key] = store.digest_row(tx, route, characteristic)
        return self.digests[key]

    def fold(self, tx: Tx, route: str, message: AlarmMessage) -> None:
        """Add one event to a route's digest accumulator (saved at the end of the batch).

        The accumulator's `message` is the last event folded: it is serialised once per
        batch, in `digest_rows`, not once for every event of a flood of hits."""
        row = self.digest(tx, route, message.characteristic)
        row["pending"] += 1
        row["first_ts"] = min(row["first_ts"] or message.ts, message.ts)
        row["last_ts"] = max(row["last_ts"] or message.ts, message.ts)
        if message.rule:
            row["by_rule"][message.rule] = int(row["by_rule"].get(message.rule, 0)) + 1
        if message.alarm_id is not None and message.alarm_id not in row["alarm_ids"]:
            row["alarm_ids"].append(message.alarm_id)
        self.last_folded[route, message.characteristic] = message

    def digest_rows(self) -> list[dict[str, Any]]:
        """The accumulators to save, each with the last event folded into it as its message."""
        for key, message in self.last_folded.items():
            self.digests[key]["message"] = message.to_dict()
        return list(self.digests.values())

    def state(self, tx: Tx, characteristic: str) -> str:
        if characteristic not in self.states:
            self.flush(tx)  # the andon state is read over all the characteristic's alarms
            self.states[characteristic] = store.characteristic_state(tx, characteristic)
        return self.states[characteristic]


_MESSAGE_VALUES = attrgetter(*(f.name for f in fields(AlarmMessage)))
_STATE_AT = [f.name for f in fields(AlarmMessage)].index("state")


def _with_state(message: AlarmMessage, state: str) -> AlarmMessage:
    """`replace(message, state=state)` at half the cost, for the one call every outbox event
    makes: `dataclasses.replace` walks the fields' metadata on each call. (All of
    `AlarmMessage`'s fields are positional `__init__` parameters, in field order.)"""
    values = list(_MESSAGE_VALUES(message))
    values[_STATE_AT] = state
    return AlarmMessage(*values)


def _merge(current: dict[str, Any], message: AlarmMessage) -> AlarmMessage:
    """A later event's facts (last value, time) over the opening's (site, limits, link)."""
    opening = AlarmMessage.from_dict(current["message"])
    return replace(
        opening,
        event=message.event,
        value=message.value if message.value is not None else opening.value,
        ts=message.ts,
        note=message.note or opening.note,
    )


def recent_statistics(tx: Tx, message: AlarmMessage, limit: int = 30) -> tuple[float, ...]:
    """Last plotted points of the characteristic up to the alarm, for the e-mail chart.

    Individuals charts plot the value itself, X̄ charts the subgroup mean (measurements of one
    subgroup share a `point_no`); attribute charts are left without a picture rather than
    drawn wrong.
    """
    row = tx.fetchone(
        "SELECT id, chart FROM characteristics WHERE key = ?", [message.characteristic]
    )
    if row is None or row["chart"] in ("p", "np", "c", "u"):
        return ()
    if row["chart"] in ("xbar-r", "xbar-s"):
        found = tx.rows(
            "SELECT point_no, avg(value) FROM measurements WHERE characteristic_id = ? "
            "AND ts <= ? AND point_no IS NOT NULL GROUP BY point_no "
            "ORDER BY point_no DESC LIMIT ?",
            [row["id"], tx.ts(message.ts), limit],
        )
        values = [float(r[1]) for r in found]
    else:
        found = tx.rows(
            "SELECT value FROM measurements WHERE characteristic_id = ? AND ts <= ? "
            "ORDER BY ts DESC, id DESC LIMIT ?",
            [row["id"], tx.ts(message.ts), limit],
        )
        values = [float(r[0]) for r in found]
    return tuple(reversed(values))
