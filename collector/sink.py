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
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import zlib
from dataclasses import dataclass
from typing import Any

import httpx

from collector.buffer import AsyncBuffer, BufferedReading
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
        self._gzip = cfg.compression == "gzip"
        self.state = "starting"  # ok | retrying | auth-failed
        self.last_error: str | None = None
        self._deadline: float | None = None
        self._stop: asyncio.Event | None = None

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
                    if self.buffer.pending == 0 or loop.time() >= self._deadline:
                        break
                else:
                    self.buffer.changed.clear()
                    if self.buffer.pending == 0:
                        await _wait_any(self.buffer.changed, stop)
                        continue
                    if not last_full and self.buffer.pending < self.cfg.batch_size:
                        await self._gather(stop)
                rows = await self.buffer.peek(self.cfg.batch_size)
                if not rows:
                    continue
                last_full = len(rows) >= self.cfg.batch_size
                await self._deliver(rows)  # returns early only when stopping
        if self.buffer.pending:
            log.info(
                "stopped with readings left in the buffer",
                extra={"fields": {"readings": self.buffer.pending}},
            )

    async def _gather(self, stop: asyncio.Event) -> None:
        """Waits up to batch_wait_ms for a full batch."""
        loop = asyncio.get_running_loop()
        until = loop.time() + self.cfg.batch_wait_ms / 1000
        while self.buffer.pending < self.cfg.batch_size and not stop.is_set():
            left = until - loop.time()
            if left <= 0:
                return
            self.buffer.changed.clear()
            await _wait_any(self.buffer.changed, stop, timeout=left)

    # ------------------------------------------------------------------ one batch

    async def _deliver(self, rows: list[BufferedReading]) -> bool:
        """Sends `rows` until every one is acknowledged or dead-lettered; False at the deadline."""
        chunks = [rows]
        attempt = 0
        while chunks:
            chunk = chunks[0]
            answer = await self._post(chunk)
            if answer.kind == "ok":
                await self._settle(chunk, answer.body)
                chunks.pop(0)
                attempt = 0
                if self.state != "ok":
                    if self.state in ("retrying", "auth-failed"):
                        log.info("service reachable again, forwarding")
                    self.state, self.last_error = "ok", None
                continue
            if answer.kind == "split":
                if len(chunk) == 1:
                    await self._dead_letter(chunk[0], answer.reason)
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

    async def _post(self, chunk: list[BufferedReading]) -> _Answer:
        body = encode_batch(chunk, self.source)
        headers = {"Content-Type": "application/json"}
        token = read_token(self.cfg)
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if self._gzip:
            body = _gzip(body)
            headers["Content-Encoding"] = "gzip"
        try:
            resp = await self._request(body, headers)
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
        if status == 415 and self._gzip:
            log.warning("the service refuses gzip bodies; sending uncompressed from now on")
            self._gzip = False
            return _Answer("retry", reason)
        return _Answer("retry", reason)

    async def _request(self, body: bytes, headers: dict[str, str]) -> httpx.Response:
        coro = self._client.post(self.cfg.url, content=body, headers=headers)
        if self._deadline is None:
            return await coro
        left = self._deadline - asyncio.get_running_loop().time()
        return await asyncio.wait_for(coro, timeout=max(left, 0.001))

    async def _settle(self, chunk: list[BufferedReading], body: Any) -> None:
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
        await self.buffer.ack(chunk[0].seq, chunk[-1].seq, rejected)
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
                        "characteristic": sample.characteristic,
                        "seq": seq,
                    }
                },
            )

    async def _dead_letter(self, row: BufferedReading, reason: str) -> None:
        await self.buffer.ack(row.seq, row.seq, [(row.seq, reason)])
        self.metrics.rejected.inc()
        log.warning(
            "the service refused a reading; kept in the dead-letter table",
            extra={
                "fields": {"reason": reason, "characteristic": row.characteristic, "seq": row.seq}
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
