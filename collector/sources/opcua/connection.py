"""One OPC UA client connection: connect, subscribe, read, and start over when it goes quiet.

asyncua's own `auto_reconnect` is young (ECOSYSTEM.md: one restart test hung 12 s), so it stays
off and this loop owns recovery: a connection that is lost (asyncua's supervisor notices within a
second), whose subscription reports a bad status, or that delivers neither data nor keep-alive for
`watchdog_seconds` is dropped whole; a new client connects with exponential backoff (0.5 s
doubling to 30 s, with jitter so many connections do not reconnect in lock-step) and subscribes
again. The subscription's keep-alive count is set so that a keep-alive arrives at least three
times per watchdog period: a line that stands still is not mistaken for a dead server.

Notifications are read in asyncua's iterator mode with an unbounded queue (its handler mode starts
a task per notification and its bounded queue drops on overflow) and only appended to a pending
list here; the source drains that list in batches, after each complete publish response, which is
also when a value is paired with the lot/serial/subgroup current at its timestamp.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from asyncua import Client, ua
from asyncua.common.subscription import DataChangeEvent, StatusChangeEvent, Subscription

from collector.config import OpcuaSourceConfig
from collector.logs import get_logger
from collector.sources.base import Reject, SourceSample
from collector.sources.opcua.convert import (
    NAN,
    ContextHistory,
    as_number,
    iso,
    pick_timestamp,
    quality_of,
)
from collector.sources.opcua.nodeids import NodeIdError, resolve_node_id
from collector.sources.opcua.plan import ConnectionPlan, Target
from collector.sources.opcua.security import SecurityConfigError, configure_security

log = get_logger("opcua")

ClientFactory = Callable[[OpcuaSourceConfig], Client]
BACKOFF_INITIAL = 0.5
BACKOFF_MAX = 30.0
ITEMS_PER_CALL = 500  # CreateMonitoredItems per request: below common server limits
_FILTER_REFUSED = {
    ua.StatusCodes.BadFilterNotAllowed,
    ua.StatusCodes.BadMonitoredItemFilterUnsupported,
    ua.StatusCodes.BadMonitoredItemFilterInvalid,
    ua.StatusCodes.BadDeadbandFilterInvalid,
}


def default_client_factory(cfg: OpcuaSourceConfig) -> Client:
    """asyncua probes the server every `watchdog_intervall` seconds and, by default, gives up
    after 1 s without an answer: a server busy writing thousands of values then looks dead and
    every reconnect costs a full resubscription (seen at 1,000 items x 10 Hz on 2 cores). The
    probe waits half the watchdog period here (at least 5 s); a closed socket is still noticed
    at once, and a silent subscription by our own watchdog."""
    return Client(
        cfg.endpoint, timeout=10.0, watchdog_intervall=max(5.0, cfg.watchdog_seconds / 2.0)
    )


@dataclass(slots=True)
class OpcuaStats:
    """Counters of one OPC UA source (all its connections)."""

    notifications: int = 0
    samples: int = 0
    duplicates: int = 0
    rejected: int = 0
    dropped: int = 0
    connects: int = 0
    drops: int = 0
    watchdog_fired: int = 0


@dataclass(slots=True)
class _Item:
    node: str
    targets: list[Target]
    context: ContextHistory | None
    last: tuple[Any, Any] | None = None


class Connection:
    """Reads one `ConnectionPlan`'s variables through one client, forever, until `stop`."""

    def __init__(
        self,
        cfg: OpcuaSourceConfig,
        plan: ConnectionPlan,
        *,
        source: str,
        reject: Reject,
        wake: asyncio.Event,
        stats: OpcuaStats,
        client_factory: ClientFactory = default_client_factory,
    ) -> None:
        self.cfg, self.plan, self.source = cfg, plan, source
        self.label = f"{source}#{plan.index}"
        self._reject, self._wake, self.stats = reject, wake, stats
        self._factory = client_factory
        self._contexts: dict[str, ContextHistory] = {n: ContextHistory() for n in plan.contexts}
        self._items: dict[int, _Item] = {}
        self._last: dict[str, tuple[Any, Any]] = {}
        self._pending: list[tuple[_Item, float, str, datetime | None, str]] = []
        self._lost = asyncio.Event()
        self._last_activity = time.monotonic()
        self._had_data = False
        self._session = False
        self.connected = asyncio.Event()

    # ------------------------------------------------------------------ the outer loop

    async def run(self, stop: asyncio.Event) -> None:
        delay = BACKOFF_INITIAL
        while not stop.is_set():
            client = self._factory(self.cfg)
            self._had_data = False
            self._session = False
            try:
                sub = await asyncio.wait_for(self._open(client), timeout=self._open_timeout())
                self.stats.connects += 1
                self.connected.set()
                reason = await self._pump(sub, stop)
                if reason != "stop":
                    log.warning(
                        "opcua connection dropped",
                        extra={"fields": {"source": self.label, "reason": reason}},
                    )
            except asyncio.CancelledError:
                raise
            except (
                TimeoutError,
                OSError,
                ConnectionError,
                ua.UaError,
                NodeIdError,
                SecurityConfigError,
            ) as exc:
                log.warning(
                    "opcua connect failed",
                    extra={
                        "fields": {
                            "source": self.label,
                            "error": f"{type(exc).__name__}: {exc}",
                            "retry_s": round(delay, 2),
                        }
                    },
                )
            except Exception:
                log.exception(
                    "opcua connection failed unexpectedly", extra={"fields": {"source": self.label}}
                )
            finally:
                self.connected.clear()
                await self._drop(client)
            if stop.is_set():
                break
            self.stats.drops += 1
            if self._had_data:
                delay = BACKOFF_INITIAL
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay * random.uniform(0.8, 1.2))
            delay = min(delay * 2.0, BACKOFF_MAX)

    def _open_timeout(self) -> float:
        # connect + namespace read + one CreateMonitoredItems call per ITEMS_PER_CALL nodes
        return 15.0 + 2.0 * (len(self.plan.node_ids()) / ITEMS_PER_CALL)

    async def _open(self, client: Client) -> Subscription:
        cfg = self.cfg
        # Abandoned sessions (ours, after a crash) should not pin server resources for an hour.
        client.session_timeout = int(max(60_000.0, 4_000.0 * cfg.watchdog_seconds))
        await configure_security(client, cfg)
        self._lost = asyncio.Event()
        lost = self._lost

        async def on_lost(exc: Exception) -> None:
            lost.set()

        client.connection_lost_callback = on_lost
        await client.connect()
        self._session = True
        namespaces = await client.get_namespace_array()
        sub = await client.create_subscription(self._subscription_params(), None, queue_maxsize=0)
        await self._monitor(sub, namespaces)
        self._last_activity = time.monotonic()
        return sub

    def _subscription_params(self) -> ua.CreateSubscriptionParameters:
        period = float(self.cfg.publishing_interval_ms)
        keepalive = max(1, int(self.cfg.watchdog_seconds * 1000.0 / 3.0 / period))
        params = ua.CreateSubscriptionParameters()
        params.RequestedPublishingInterval = period
        params.RequestedMaxKeepAliveCount = keepalive
        params.RequestedLifetimeCount = keepalive * 10
        params.MaxNotificationsPerPublish = 0  # no limit: the server sends what is queued
        params.PublishingEnabled = True
        params.Priority = 0
        return params

    async def _monitor(self, sub: Subscription, namespaces: list[str]) -> None:
        """Creates one monitored item per node; items the server refuses are reported, not fatal."""
        self._items = {}
        requests: list[ua.MonitoredItemCreateRequest] = []
        handle = 0
        nodes = [(n, t) for n, t in self.plan.values.items()]
        nodes += [(n, []) for n in self.plan.contexts if n not in self.plan.values]
        for node_text, targets in nodes:
            try:
                node_id = resolve_node_id(node_text, namespaces)
            except NodeIdError as exc:
                self._reject_node(str(exc), node_text)
                continue
            handle += 1
            item = _Item(
                node_text, targets, self._contexts.get(node_text), self._last.get(node_text)
            )
            self._items[handle] = item
            requests.append(self._request(handle, node_id, deadband=bool(targets)))
        refused = await self._create(sub, requests)
        retry = [r for r, status in refused if status.value in _FILTER_REFUSED]
        if retry:
            for r in retry:
                r.RequestedParameters.Filter = None
            log.warning(
                "opcua server refused the deadband filter; those nodes report every change",
                extra={"fields": {"source": self.label, "nodes": len(retry)}},
            )
            refused = [(r, s) for r, s in refused if s.value not in _FILTER_REFUSED]
            refused += await self._create(sub, retry)
        for request, status in refused:
            item = self._items.pop(request.RequestedParameters.ClientHandle)
            self._reject_node(f"the server refused it: {status.name}", item.node)
        if not any(item.targets for item in self._items.values()):
            raise ConnectionError("no value node could be subscribed")

    def _request(
        self, handle: int, node_id: ua.NodeId, *, deadband: bool
    ) -> ua.MonitoredItemCreateRequest:
        cfg = self.cfg
        params = ua.MonitoringParameters()
        params.ClientHandle = handle
        params.SamplingInterval = float(cfg.sampling_interval_ms)
        params.QueueSize = int(cfg.queue_size)
        params.DiscardOldest = True
        if deadband and cfg.deadband > 0:
            flt = ua.DataChangeFilter()
            flt.Trigger = ua.DataChangeTrigger.StatusValue
            flt.DeadbandType = ua.DeadbandType.Absolute
            flt.DeadbandValue = float(cfg.deadband)
            params.Filter = flt
        item_to_monitor = ua.ReadValueId()
        item_to_monitor.NodeId = node_id
        item_to_monitor.AttributeId = ua.AttributeIds.Value
        request = ua.MonitoredItemCreateRequest()
        request.ItemToMonitor = item_to_monitor
        request.MonitoringMode = ua.MonitoringMode.Reporting
        request.RequestedParameters = params
        return request

    @staticmethod
    async def _create(
        sub: Subscription, requests: list[ua.MonitoredItemCreateRequest]
    ) -> list[tuple[ua.MonitoredItemCreateRequest, ua.StatusCode]]:
        refused = []
        for start in range(0, len(requests), ITEMS_PER_CALL):
            chunk = requests[start : start + ITEMS_PER_CALL]
            results = await sub.create_monitored_items(chunk)
            refused += [
                (r, res)
                for r, res in zip(chunk, results, strict=True)
                if isinstance(res, ua.StatusCode)
            ]
        return refused

    def _reject_node(self, why: str, node: str) -> None:
        self.stats.rejected += 1
        self._reject(f"opcua-node: {why}", node)

    # ------------------------------------------------------------------ while connected

    async def _pump(self, sub: Subscription, stop: asyncio.Event) -> str:
        """Reads until stopped, lost or silent; returns why it stopped."""
        consumer = asyncio.create_task(self._consume(sub))
        stop_task = asyncio.create_task(stop.wait())
        lost_task = asyncio.create_task(self._lost.wait())
        watchdog = float(self.cfg.watchdog_seconds)
        check = min(1.0, watchdog / 4.0)
        try:
            while True:
                await asyncio.wait(
                    (consumer, stop_task, lost_task),
                    timeout=check,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                if stop.is_set():
                    return "stop"
                if self._lost.is_set():
                    return "connection lost"
                if consumer.done():
                    exc = consumer.exception()
                    return f"subscription ended: {exc!r}" if exc else "subscription ended"
                last = max(self._last_activity, sub.last_publish_at or 0.0)
                if time.monotonic() - last > watchdog:
                    self.stats.watchdog_fired += 1
                    return f"watchdog: no data nor keep-alive for {watchdog:g} s"
        finally:
            for task in (consumer, stop_task, lost_task):
                task.cancel()
            await asyncio.gather(consumer, stop_task, lost_task, return_exceptions=True)

    async def _consume(self, sub: Subscription) -> None:
        on_data = self._on_data
        async for event in sub:
            if type(event) is DataChangeEvent:
                on_data(event.data.monitored_item)
            elif isinstance(event, StatusChangeEvent):
                status = event.notification.Status
                if status is not None and not status.is_good():
                    log.warning(
                        "opcua subscription status",
                        extra={"fields": {"source": self.label, "status": status.name}},
                    )
                    self._lost.set()

    def _on_data(self, notification: ua.MonitoredItemNotification) -> None:
        item = self._items.get(notification.ClientHandle)
        if item is None:
            return
        self._last_activity = time.monotonic()
        self._had_data = True
        self.stats.notifications += 1
        dv = notification.Value
        raw = dv.Value.Value if dv.Value is not None else None
        source_ts, server_ts = dv.SourceTimestamp, dv.ServerTimestamp
        match_ts = source_ts or server_ts
        if item.context is not None:
            item.context.add(match_ts, raw)
        if not item.targets:
            return
        key = (match_ts, raw)
        if match_ts is not None and key == item.last:
            # The initial notification after a resubscription repeats the last value we read.
            self.stats.duplicates += 1
            return
        item.last = key
        self._last[item.node] = key
        quality = quality_of(dv.StatusCode)
        number = as_number(raw)
        if number is None:
            if raw is None and quality != "good":
                number = NAN  # a bad reading with no value: forwarded flagged, not dropped
            else:
                self.stats.rejected += 1
                self._reject(
                    f"wrong-type: {type(raw).__name__} value of {item.node}", repr(raw)[:200]
                )
                return
        choice = self.cfg.timestamp
        if choice == "source" and source_ts is not None:
            ts = source_ts  # the common case, without reading the clock
        else:
            ts = pick_timestamp(choice, source_ts, server_ts, datetime.now(UTC))
        self._pending.append((item, number, quality, match_ts, iso(ts)))
        self._wake.set()

    def drain(self) -> list[SourceSample]:
        """The samples read since the last drain, each tagged with its context at its timestamp."""
        pending, self._pending = self._pending, []
        contexts = self._contexts
        out: list[SourceSample] = []
        for item, number, quality, match_ts, ts in pending:
            for t in item.targets:
                out.append(
                    SourceSample(
                        t.characteristic,
                        ts,
                        number * t.scale + t.offset,
                        contexts[t.subgroup].at(match_ts) if t.subgroup else None,
                        contexts[t.lot].at(match_ts) if t.lot else None,
                        contexts[t.serial].at(match_ts) if t.serial else None,
                        quality,  # type: ignore[arg-type]
                        t.counter,
                    )
                )
        self.stats.samples += len(out)
        return out

    # ------------------------------------------------------------------ teardown

    async def _drop(self, client: Client) -> None:
        """Closes the session (bounded: the server may be gone) and always the socket."""
        client.connection_lost_callback = None
        if self._session:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.disconnect(), timeout=3.0)
        with contextlib.suppress(Exception):
            client.disconnect_socket()
