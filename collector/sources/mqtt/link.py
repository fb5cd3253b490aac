"""One MQTT connection (paho-mqtt 2.x) shared by the JSON and Sparkplug B sources.

What it guarantees, and why:
- Persistent session (MQTT 5: clean start off + session expiry; 3.1.1: clean session off) with a
  stable client id, so the broker queues QoS 1 messages while the collector is away.
- Manual acknowledgement: paho calls back on its own thread; messages go to a queue that the
  source drains on the event loop, writes to the disk buffer, and only then acknowledges
  (`ack`), in arrival order. A crash before the commit means no PUBACK, so the broker resends.
- A bounded in-flight window: MQTT 5 Receive Maximum = `max_inflight` stops the broker from
  sending more unacknowledged messages than that, which also bounds the queue here (paho itself
  fails past 65,535 unacknowledged messages). MQTT 3.1.1 has no such property: the broker's own
  `max_inflight_messages` applies.
- Each connection has a generation number; acknowledgements for messages received on an older
  connection are not sent (the broker redelivers those, and the source recognises them).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import struct
import time
from collections.abc import Iterable
from typing import Any, NamedTuple

import paho.mqtt.client as mqtt
from paho.mqtt.client import PUBACK
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from collector.config import MqttConnectionConfig, secret_from_env

_PUBACK = struct.Struct("!BBH")


class Incoming(NamedTuple):
    gen: int
    mid: int
    qos: int
    dup: bool
    topic: str
    payload: bytes | bytearray
    received: float  # Unix time


class MqttLink:
    def __init__(
        self, cfg: MqttConnectionConfig, filters: Iterable[str], *, log: logging.Logger
    ) -> None:
        self.cfg = cfg
        self.log = log
        self.filters = [
            f"$share/{cfg.shared_group}/{f}" if cfg.shared_group else f for f in filters
        ]
        self._queue: collections.deque[Incoming] = collections.deque()
        self._signalled = False
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._gen = 0
        self._session_present: dict[int, bool] = {}
        self.connected = False
        self.subscribed = False  # the broker granted our subscriptions on this connection
        self._pending_subs: set[int] = set()
        self._stopping = False
        self.connects = 0
        self.disconnects = 0
        self._client = self._make_client()

    # ------------------------------------------------------------------ paho side (its thread)

    def _make_client(self) -> mqtt.Client:
        cfg = self.cfg
        v5 = cfg.protocol == "5"
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=cfg.client_id or "",
            protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
            clean_session=None if v5 else False,
            manual_ack=True,
        )
        if cfg.username is not None:
            client.username_pw_set(cfg.username, secret_from_env(cfg.password_env))
        if cfg.tls != "off":
            client.tls_set(
                ca_certs=str(cfg.ca_file) if cfg.ca_file else None,
                certfile=str(cfg.cert_file) if cfg.cert_file else None,
                keyfile=str(cfg.key_file) if cfg.key_file else None,
            )
            if cfg.tls == "insecure":
                client.tls_insecure_set(True)
        client.reconnect_delay_set(
            max(1, int(cfg.reconnect_min_seconds)), max(1, int(cfg.reconnect_max_seconds))
        )
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        return client

    def _on_connect(self, client: mqtt.Client, _u: Any, flags: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            self.log.warning(
                "MQTT connection refused",
                extra={"fields": {"broker": self._broker(), "reason": str(reason)}},
            )
            return
        self._gen += 1
        self._session_present[self._gen] = bool(flags.session_present)
        self.connected = True
        self.connects += 1
        self.log.info(
            "MQTT connected",
            extra={
                "fields": {
                    "broker": self._broker(),
                    "client_id": self.cfg.client_id,
                    "session_present": bool(flags.session_present),
                }
            },
        )
        self.subscribed = False
        self._pending_subs = set()
        for topic in self.filters:
            _, mid = client.subscribe(topic, qos=self.cfg.qos)
            if mid is not None:
                self._pending_subs.add(mid)

    def _on_subscribe(self, _c: mqtt.Client, _u: Any, mid: int, codes: Any, _p: Any) -> None:
        refused = [str(c) for c in codes if getattr(c, "is_failure", False)]
        if refused:
            self.log.error(
                "MQTT subscription refused (check the broker's ACL)",
                extra={"fields": {"filters": self.filters, "reasons": refused}},
            )
        self._pending_subs.discard(mid)
        if not self._pending_subs and not self.subscribed:
            self.subscribed = True
            self.log.info("MQTT subscribed", extra={"fields": {"filters": self.filters}})

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if self.connected and not self._stopping:
            self.disconnects += 1
            self.log.warning(
                "MQTT disconnected, reconnecting",
                extra={"fields": {"broker": self._broker(), "reason": str(reason)}},
            )
        self.connected = False
        self.subscribed = False

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        self._queue.append(
            Incoming(self._gen, msg.mid, msg.qos, msg.dup, msg.topic, msg.payload, time.time())
        )
        if not self._signalled:
            self._signalled = True
            loop = self._loop
            if loop is not None:
                with contextlib.suppress(RuntimeError):  # loop closed while shutting down
                    loop.call_soon_threadsafe(self._wake.set)

    def _broker(self) -> str:
        return f"{self.cfg.host}:{self.cfg.port}"

    # ------------------------------------------------------------------ event loop side

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        cfg = self.cfg
        props = None
        kwargs: dict[str, Any] = {}
        if cfg.protocol == "5":
            props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            props.SessionExpiryInterval = cfg.session_expiry_seconds
            props.ReceiveMaximum = cfg.max_inflight
            kwargs = {"clean_start": False, "properties": props}
        self._client.connect_async(cfg.host, cfg.port, keepalive=cfg.keepalive_seconds, **kwargs)
        self._client.loop_start()

    def session_present(self, gen: int) -> bool:
        return self._session_present.get(gen, True)

    async def next_batch(self, stop: asyncio.Event, max_items: int) -> list[Incoming]:
        """Up to `max_items` received messages, waiting for one; [] once `stop` is set."""
        while True:
            self._wake.clear()
            self._signalled = False  # before draining: a message appended now signals again
            q = self._queue
            if q:
                n = min(len(q), max_items)
                items = [q.popleft() for _ in range(n)]
                if q:
                    self._wake.set()
                return items
            if stop.is_set():
                return []
            waiter = asyncio.ensure_future(self._wake.wait())
            stopper = asyncio.ensure_future(stop.wait())
            try:
                await asyncio.wait((waiter, stopper), return_when=asyncio.FIRST_COMPLETED)
            finally:
                waiter.cancel()
                stopper.cancel()

    def take_nowait(self, max_items: int) -> list[Incoming]:
        """Up to `max_items` messages already received, without waiting."""
        q = self._queue
        n = min(len(q), max_items)
        return [q.popleft() for _ in range(n)]

    def ack(self, items: Iterable[tuple[int, int, int]]) -> None:
        """PUBACK (gen, mid, qos) messages of the current connection, in order.

        A batch of PUBACKs is queued to paho as one write: acknowledged one by one from this
        thread, each PUBACK wakes paho's thread and costs a syscall or two, which made the
        collector measurably slower than a bare subscriber. PUBACK is 4 bytes (MQTT 3.1.1 and
        5 alike: reason code "success" and no properties may be left out). Falls back to
        `Client.ack` if paho's internals ever change.
        """
        client, gen = self._client, self._gen
        mids = [mid for item_gen, mid, qos in items if qos == 1 and item_gen == gen]
        if not mids:
            return
        queue = getattr(client, "_packet_queue", None)
        if queue is None or len(mids) == 1:
            for mid in mids:
                client.ack(mid, 1)
            return
        blob = bytearray(4 * len(mids))
        for i, mid in enumerate(mids):
            _PUBACK.pack_into(blob, 4 * i, PUBACK, 2, mid)
        queue(PUBACK, blob, 0, 0)

    def publish(self, topic: str, payload: bytes, qos: int = 0) -> None:
        self._client.publish(topic, payload, qos=qos)

    def stop(self) -> None:
        """Disconnects (the session stays on the broker) and ends paho's thread."""
        self._stopping = True
        try:
            self._client.disconnect()
        finally:
            self._client.loop_stop()
        self.connected = False
