"""Live push: an in-process broker of `point` and `alarm` events per characteristic.

Publishers are ingest threads (after their transaction committed); subscribers are asyncio
queues of Server-Sent-Events responses. A slow subscriber loses events rather than slowing
ingest (its queue is bounded; a `lagged` event tells it to reload). Events are local to the
replica that evaluated the point; with several replicas, point the dashboard at each or use one
evaluating replica per characteristic group.
"""

from __future__ import annotations

import asyncio
import json
import threading
from dataclasses import dataclass, field
from typing import Any

QUEUE_SIZE = 2_000


@dataclass(eq=False)
class Subscriber:
    key: str | None
    queue: asyncio.Queue[tuple[str, str]]
    loop: asyncio.AbstractEventLoop
    lagged: bool = field(default=False)


class Broker:
    def __init__(self) -> None:
        self._subs: dict[str | None, set[Subscriber]] = {}
        self._lock = threading.Lock()

    def subscribe(self, key: str | None) -> Subscriber:
        sub = Subscriber(key, asyncio.Queue(QUEUE_SIZE), asyncio.get_running_loop())
        with self._lock:
            self._subs.setdefault(key, set()).add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        with self._lock:
            subs = self._subs.get(sub.key)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self._subs[sub.key]

    @property
    def active(self) -> bool:
        return bool(self._subs)

    def count(self) -> int:
        with self._lock:
            return sum(len(s) for s in self._subs.values())

    def wants(self, key: str) -> bool:
        subs = self._subs
        return bool(subs) and (key in subs or None in subs)

    def publish(self, key: str, event: str, data: dict[str, Any]) -> None:
        """Thread-safe; never blocks."""
        if not self.wants(key):
            return
        text = json.dumps(data, default=str, allow_nan=False)
        with self._lock:
            targets = list(self._subs.get(key, ())) + list(self._subs.get(None, ()))
        for sub in targets:
            sub.loop.call_soon_threadsafe(_offer, sub, event, text)


def _offer(sub: Subscriber, event: str, text: str) -> None:
    try:
        sub.queue.put_nowait((event, text))
    except asyncio.QueueFull:
        sub.lagged = True


def sse(event: str, data: str) -> bytes:
    return f"event: {event}\ndata: {data}\n\n".encode()
