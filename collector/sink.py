"""The HTTP sink: forwards the buffer, oldest first, to the service's ingest endpoint.

One request at a time, so readings arrive in seq order; each batch leaves the buffer only once
the service answered for it (ARCHITECTURE.md, "Ingest contract"):
- 200: accepted and duplicates are done; each rejected record moves to the dead-letter table
  with the service's reason (logged, counted), never silently dropped;
- 5xx, timeouts, connection errors: the batch stays, retried with exponential backoff;
- 401/403: forwarding stops and an error is logged; tried again every `auth_retry_seconds`;
- 422 (or 413) for the whole batch: the batch is split in halves until the offending records are
  alone, and those go to the dead-letter table with the reason; the good ones still arrive, in
  order. Replays after a crash are harmless: the service drops (source, seq) it already has.

Counter events (`collector.counters`) take the same road to their own endpoints, POST
/api/v1/defects and /api/v1/good-units: each kind is a `_Channel` (peek, ack, encode, url) and
one loop serves the channels in turn, readings first. They are sent uncompressed: they are few,
and the service's quality endpoints read plain JSON bodies.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import zlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from collector.buffer import AsyncBuffer, BufferedReading, CounterEvent
from collector.config import SinkConfig
from collector.logs import get_logger
from collector.metrics import CollectorMetrics

log = get_logger("sink")


def read_token(cfg: SinkConfig) -> str | None:
    """The bearer token: token_file wins over token_env (re-read per request: it may rotate)."""
    if cfg.token_file is not None:
        try:
            return cfg.token_file.read_text(encoding="utf-8").strip() or None
        except OSError:
            return None
    return os.environ.get(cfg.token_env) if cfg.token_env else None


@dataclass(slots=True)
class _Answer:
    kind: str  # "ok" | "retry" | "auth" | "split"
    reason: str = ""
    body: Any = None


def encode_batch(rows: list[BufferedReading], source: str) -> bytes:
    """The ingest request body for a batch of buffered readings."""
    records = []
    for r in rows:
        rec: dict[str, Any] = {
            "characteristic": r.characteristic,
            "ts": r.ts,
            "value": r.value,
            "source": source,
            "seq": r.seq,
        }
        if r.subgroup is not None:
            rec["subgroup"] = r.subgroup
        if r.lot is not None:
            rec["lot"] = r.lot
        if r.serial is not None:
            rec["serial"] = r.serial
        if r.quality is not None:
            rec["quality"] = r.quality
        records.append(rec)
    return json.dumps({"measurements": records}, separators=(",", ":")).encode()


def encode_counter_events(rows: Sequence[CounterEvent], source: str) -> bytes:
    """The request body of a batch of counter events of one kind (defects or good-units)."""
    kind = rows[0].kind if rows else "defects"
    records: list[dict[str, Any]] = []
    for r in rows:
        rec: dict[str, Any] = {"ts": r.ts, "line": r.line, "product": r.product}
        if kind == "defects":
            if r.station is not None:
                rec["station"] = r.station
            rec["defect_code"] = r.defect_code
            rec["disposition"] = r.disposition
            if r.lot is not None:
                rec["lot"] = r.lot
            if r.serial is not None:
                rec["serial"] = r.serial
        rec.update(quantity=r.quantity, source=source, seq=r.seq)
        records.append(rec)
    field = "defects" if kind == "defects" else "good_units"
    return json.dumps({field: records}, separators=(",", ":")).encode()


@dataclass(slots=True)
class _Channel:
    """One kind of buffered record and the endpoint it goes to."""

    name: str
    url: str
    gzip: bool
    pending: Callable[[], int]
    peek: Callable[[int], Awaitable[Sequence[Any]]]
    ack: Callable[[int, int, Sequence[tuple[int, str]]], Awaitable[int]]
    encode: Callable[[Any, str], bytes]


def _label(row: Any) -> str:
    return str(getattr(row, "characteristic", None) or getattr(row, "counter", ""))


def _gzip(data: bytes) -> bytes:
    comp = zlib.compressobj(level=1, wbits=31)  # wbits 31: gzip container
    return comp.compress(data) + comp.flush()


class HttpSink:
    def __init__(
        self,
        cfg: SinkConfig,
        buffer: AsyncBuffer,
        source: str,
        metrics: CollectorMetrics,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.cfg = cfg
        self.buffer = buffer
        self.source = source
        self.metrics = metrics
        self._transport = transport
        self._channels = [
            _Channel(
                "measurements",
                cfg.url,
                cfg.compression == "gzip",
                lambda: buffer.pending,
                buffer.peek,
                buffer.ack,
                encode_batch,
            )
        ] + [self._counter_channel(kind) for kind in ("defects", "good-units")]
        self.state = "starting"  # ok | retrying | auth-failed
        self.last_error: str | None = None
        self._deadline: float | None = None
        self._stop: asyncio.Event | None = None

    def _counter_channel(self, kind: str) -> _Channel:
        buffer = self.buffer

        async def peek(limit: int) -> Sequence[CounterEvent]:
            return await buffer.peek_counter_events(kind, limit)

        async def ack(first: int, last: int, rejected: Sequence[tuple[int, str]] = ()) -> int:
            return await buffer.ack_counter_events(kind, first, last, rejected)

        return _Channel(
            kind,
            self.cfg.counter_url(kind),
            False,
            lambda: buffer.counter_pending(kind),
            peek,
            ack,
            encode_counter_events,
        )

    def _pending(self) -> int:
        return sum(ch.pending() for ch in self._channels)

    # ------------------------------------------------------------------ loop

    async def run(self, stop: asyncio.Event, flush_seconds: float) -> None:
        """Forwards until `stop`, then for at most `flush_seconds` more while readings remain."""
        self._stop = stop
        loop = asyncio.get_running_loop()
        verify: Any = self.cfg.tls == "verify"
        if verify and self.cfg.ca_file is not None:
            import ssl

            verify = ssl.create_default_context(cafile=str(self.cfg.ca_file))
        async with httpx.AsyncClient(
            timeout=self.cfg.timeout_seconds, transport=self._transport, verify=verify
        ) as client:
            self._client = client
            last_full = False
            while True:
                if stop.is_set():
                    if self._deadline is None:
                        self._deadline = loop.time() + flush_seconds
                    if self._pending() == 0 or loop.time() >= self._deadline:
                        break
                else:
                    self.buffer.changed.clear()
                    if self._pending() == 0:
                        await _wait_any(self.buffer.changed, stop)
                        continue
                    if not last_full and self._pending() < self.cfg.batch_size:
                        await self._gather(stop)
                last_full = False
                for channel in self._channels:
                    if channel.pending() == 0:
                        continue
                    rows = list(await channel.peek(self.cfg.batch_size))
                    if not rows:
                        continue
                    last_full = last_full or len(rows) >= self.cfg.batch_size
                    if not await self._deliver(rows, channel):
                        break  # stopping, past the flush deadline
        if self._pending():
            log.info(
                "stopped with records left in the buffer",
                extra={
                    "fields": {
                        "readings": self.buffer.pending,
                        "counter_events": self.buffer.counter_pending(),
                    }
                },
            )

    async def _gather(self, stop: asyncio.Event) -> None:
        """Waits up to batch_wait_ms for a full batch."""
        loop = asyncio.get_running_loop()
        until = loop.time() + self.cfg.batch_wait_ms / 1000
        while self._pending() < self.cfg.batch_size and not stop.is_set():
            left = until - loop.time()
            if left <= 0:
                return
            self.buffer.changed.clear()
            await _wait_any(self.buffer.changed, stop, timeout=left)

    # ------------------------------------------------------------------ one batch

    async def _deliver(self, rows: list[Any], channel: _Channel | None = None) -> bool:
        """Sends `rows` until every one is acknowledged or dead-lettered; False at the deadline."""
        channel = channel or self._channels[0]
        chunks = [rows]
        attempt = 0
        while chunks:
            chunk = chunks[0]
            answer = await self._post(chunk, channel)
            if answer.kind == "ok":
                await self._settle(chunk, answer.body, channel)
                chunks.pop(0)
                attempt = 0
                if self.state != "ok":
                    if self.state in ("retrying", "auth-failed"):
                        log.info("service reachable again, forwarding")
                    self.state, self.last_error = "ok", None
                continue
            if answer.kind == "split":
                if len(chunk) == 1:
                    await self._dead_letter(chunk[0], answer.reason, channel)
                    chunks.pop(0)
                else:
                    mid = len(chunk) // 2
                    chunks[0:1] = [chunk[:mid], chunk[mid:]]
                continue
            self.last_error = answer.reason
            if answer.kind == "auth":
                self.state = "auth-failed"
                log.error(
                    "the service refused the token: forwarding stopped, readings kept",
                    extra={
                        "fields": {
                            "reason": answer.reason,
                            "retry_in_s": self.cfg.auth_retry_seconds,
                        }
                    },
                )
                delay = self.cfg.auth_retry_seconds
            else:
                if self.state != "retrying":
                    log.warning(
                        "service unavailable, readings kept in the buffer and retried",
                        extra={"fields": {"reason": answer.reason}},
                    )
                self.state = "retrying"
                base = min(
                    self.cfg.retry_max_seconds, self.cfg.retry_initial_ms / 1000 * 2**attempt
                )
                delay = base * random.uniform(0.5, 1.0)
                attempt = min(attempt + 1, 30)
            if not await self._pause(delay):
                return False
        return True

    async def _post(self, chunk: list[Any], channel: _Channel) -> _Answer:
        body = channel.encode(chunk, self.source)
        headers = {"Content-Type": "application/json"}
        token = read_token(self.cfg)
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if channel.gzip:
            body = _gzip(body)
            headers["Content-Encoding"] = "gzip"
        try:
            resp = await self._request(body, headers, channel.url)
        except (httpx.HTTPError, OSError) as exc:
            self.metrics.requests.labels("error").inc()
            return _Answer("retry", f"{type(exc).__name__}: {exc}".strip())
        except TimeoutError:
            self.metrics.requests.labels("error").inc()
            return _Answer("retry", "timeout")
        status = resp.status_code
        self.metrics.requests.labels(str(status)).inc()
        if status == 200:
            try:
                return _Answer("ok", body=resp.json())
            except ValueError:
                log.warning("200 without a JSON body; taking the batch as accepted")
                return _Answer("ok", body={})
        reason = f"HTTP {status}: {resp.text[:500]}"
        if status in (401, 403):
            return _Answer("auth", reason)
        if status in (413, 422):
            return _Answer("split", reason)
        if status == 415 and channel.gzip:
            log.warning("the service refuses gzip bodies; sending uncompressed from now on")
            channel.gzip = False
            return _Answer("retry", reason)
        return _Answer("retry", reason)

    async def _request(self, body: bytes, headers: dict[str, str], url: str) -> httpx.Response:
        coro = self._client.post(url, content=body, headers=headers)
        if self._deadline is None:
            return await coro
        left = self._deadline - asyncio.get_running_loop().time()
        return await asyncio.wait_for(coro, timeout=max(left, 0.001))

    async def _settle(self, chunk: list[Any], body: Any, channel: _Channel) -> None:
        rejected: list[tuple[int, str]] = []
        duplicates = 0
        if isinstance(body, dict):
            duplicates = int(body.get("duplicates") or 0)
            for item in body.get("rejected") or []:
                try:
                    index, error = int(item["index"]), str(item.get("error", "rejected"))
                except (KeyError, TypeError, ValueError):
                    continue
                if 0 <= index < len(chunk):
                    rejected.append((chunk[index].seq, error))
        await channel.ack(chunk[0].seq, chunk[-1].seq, rejected)
        self.metrics.forwarded.inc(len(chunk) - len(rejected))
        self.metrics.duplicates.inc(duplicates)
        if rejected:
            self.metrics.rejected.inc(len(rejected))
            seq, error = rejected[0]
            sample = next(r for r in chunk if r.seq == seq)
            log.warning(
                "the service rejected readings; kept in the dead-letter table",
                extra={
                    "fields": {
                        "count": len(rejected),
                        "reason": error,
                        "characteristic": _label(sample),
                        "endpoint": channel.name,
                        "seq": seq,
                    }
                },
            )

    async def _dead_letter(self, row: Any, reason: str, channel: _Channel) -> None:
        await channel.ack(row.seq, row.seq, [(row.seq, reason)])
        self.metrics.rejected.inc()
        log.warning(
            "the service refused a reading; kept in the dead-letter table",
            extra={
                "fields": {
                    "reason": reason,
                    "characteristic": _label(row),
                    "endpoint": channel.name,
                    "seq": row.seq,
                }
            },
        )

    async def _pause(self, seconds: float) -> bool:
        """Sleeps (waking early on stop); False once the flush deadline has passed."""
        loop = asyncio.get_running_loop()
        assert self._stop is not None
        if self._deadline is None and not self._stop.is_set():
            await _wait_any(self._stop, timeout=seconds)
        if self._stop.is_set():
            if self._deadline is None:
                return False  # run() sets the deadline and decides whether to flush
            left = self._deadline - loop.time()
            if left <= 0:
                return False
            await asyncio.sleep(min(seconds, left))
            return loop.time() < self._deadline
        return True


async def _wait_any(*events: asyncio.Event, timeout: float | None = None) -> None:
    tasks = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(tasks, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()
