"""The loop every MQTT-based source shares: drain, decode, store durably, then acknowledge.

Exactly-once into the buffer, although MQTT QoS 1 is at-least-once: a message that was written
to the buffer but whose PUBACK never reached the broker (collector killed, connection lost) is
sent again with the DUP flag and its original packet id. With every batch the consumer stores
receipts (packet id, CRC-32 of topic and payload) in the same transaction as the readings; a DUP
message whose packet id and digest match a stored receipt is acknowledged and not buffered again.
The broker reuses a packet id only after our PUBACK for it, and a newer message with that id
replaces the receipt, so a match means "the same message". A broker that lost our session
(session_present false) redelivers nothing, and the receipts are forgotten.
"""

from __future__ import annotations

import asyncio
import contextlib
import zlib
from collections.abc import Callable, Sequence

from collector.config import MqttConnectionConfig
from collector.logs import get_logger
from collector.sources.base import BufferFull, Emit, Reject, SourceSample
from collector.sources.mqtt.link import Incoming, MqttLink

MAX_BATCH = 5000
LINGER_BELOW = 256  # messages: a smaller batch waits LINGER_SECONDS for company
LINGER_SECONDS = 0.003
FULL_RETRY_SECONDS = 1.0

Out = Callable[[SourceSample], None]


class MqttConsumer:
    """Base of the `mqtt` and `sparkplug` sources; subclasses implement `filters` and `handle`."""

    def __init__(self, cfg: MqttConnectionConfig, name: str) -> None:
        self.cfg = cfg
        self.name = name
        self.log = get_logger(f"source.{name}")
        self.recent: dict[int, int] = {}  # packet id -> digest of the last message stored
        self.link: MqttLink | None = None
        self._gen_seen = 0
        self.counts: dict[str, float] = {
            "messages": 0,
            "batches": 0,
            "redeliveries_skipped": 0,
            "buffer_full_waits": 0,
        }

    # ------------------------------------------------------------------ for subclasses

    def filters(self) -> list[str]:
        raise NotImplementedError

    def handle(self, msg: Incoming, out: Out, reject: Reject) -> None:
        """Turns one message into samples (`out`) or rejections; must not raise for bad input."""
        raise NotImplementedError

    def on_batch_stored(self) -> None:
        """Called after a batch is durable and acknowledged (e.g. to publish commands)."""

    # ------------------------------------------------------------------ plugin protocol

    def restore_receipts(self, receipts: Sequence[tuple[int, int]]) -> None:
        for mid, digest in receipts:
            self.recent[mid] = digest

    def stats(self) -> dict[str, float]:
        link = self.link
        return {
            **self.counts,
            "connected": float(bool(link and link.connected)),
            "reconnects": float(max(0, link.connects - 1) if link else 0),
        }

    async def run(self, emit: Emit, reject: Reject, stop: asyncio.Event) -> None:
        self.link = link = MqttLink(self.cfg, self.filters(), log=self.log)
        link.start()
        try:
            while True:
                # Half the in-flight window per batch: while one half is being stored, the
                # broker can send the other, so the stream never waits for our commit.
                limit = max(1, min(MAX_BATCH, self.cfg.max_inflight // 2))
                batch = await link.next_batch(stop, limit)
                if not batch:
                    return
                if len(batch) < min(LINGER_BELOW, limit) and not stop.is_set():
                    # A busy stream: wait a moment for more, so that one commit (and one
                    # hand-over to the buffer thread) serves many messages, not a few.
                    await asyncio.sleep(LINGER_SECONDS)
                    batch += link.take_nowait(limit - len(batch))
                samples, receipts, acks = self.decode(batch, reject)
                self.counts["batches"] += 1
                while True:
                    try:
                        await emit(samples, receipts=receipts)
                        break
                    except BufferFull:
                        # Stop acknowledging: the broker keeps the messages in our session.
                        self.counts["buffer_full_waits"] += 1
                        if stop.is_set():
                            return
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(stop.wait(), FULL_RETRY_SECONDS)
                self.restore_receipts(receipts)
                link.ack(acks)
                self.on_batch_stored()
        finally:
            await asyncio.to_thread(link.stop)

    def decode(
        self, batch: list[Incoming], reject: Reject
    ) -> tuple[list[SourceSample], list[tuple[int, int]], list[tuple[int, int, int]]]:
        """Samples of a batch, the receipts to store with them, and the acks to send after."""
        samples: list[SourceSample] = []
        receipts: list[tuple[int, int]] = []
        acks: list[tuple[int, int, int]] = []
        pending: dict[int, int] = {}
        recent = self.recent
        link = self.link
        out = samples.append
        handle = self.handle
        counts = self.counts
        for msg in batch:
            if msg.gen != self._gen_seen:
                self._gen_seen = msg.gen
                if link is not None and not link.session_present(msg.gen):
                    recent.clear()
                    pending.clear()
            if msg.qos:
                mid = msg.mid
                digest = zlib.crc32(msg.payload, zlib.crc32(msg.topic.encode()))
                acks.append((msg.gen, mid, msg.qos))
                if msg.dup and pending.get(mid, recent.get(mid)) == digest:
                    counts["redeliveries_skipped"] += 1
                    continue
                pending[mid] = digest
                receipts.append((mid, digest))
            counts["messages"] += 1
            try:
                handle(msg, out, reject)
            except Exception as exc:  # a decoder bug must not stop the good readings
                reject(f"decoder-error: {type(exc).__name__}: {exc}", repr(msg.payload[:200]))
        return samples, receipts, acks
