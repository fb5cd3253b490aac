"""The collector process: sources -> disk buffer -> HTTP sink, plus /health and /metrics.

`Collector(config).run(stop)` is the whole runtime; `run_until_signalled` adds the process
concerns (logging, SIGTERM/SIGINT). On stop the sources end first (what they had not stored is
not acknowledged upstream, so the broker keeps it), then the sink flushes the buffer for at
most `collector.shutdown_flush_seconds`; whatever is left stays on disk for the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import signal
from collections.abc import Sequence
from typing import Any

from collector.buffer import AsyncBuffer, DiskBuffer
from collector.config import CollectorConfig
from collector.counters import BadCounterValue, counter_value
from collector.health import HealthServer
from collector.logs import configure_logging, get_logger
from collector.metrics import CollectorMetrics
from collector.sink import HttpSink
from collector.sources.base import BufferFull, RestoresReceipts, Source, SourceSample

log = get_logger()
SOURCE_RESTART_SECONDS = 5.0


class RejectLog:
    """Counts invalid inputs by (source, kind) and logs the first of each kind with a sample.

    Logged once because a misconfigured device repeats the same fault thousands of times a
    second; the counter keeps the rate, the log keeps one example and the reason.
    """

    def __init__(self, metrics: CollectorMetrics) -> None:
        self.metrics = metrics
        self.counts: dict[tuple[str, str], int] = {}

    def for_source(self, source: str) -> Any:
        def reject(reason: str, sample: str) -> None:
            kind = reason.split(":", 1)[0].strip() or "invalid"
            key = (source, kind)
            n = self.counts.get(key, 0)
            self.counts[key] = n + 1
            self.metrics.invalid.labels(source, kind).inc()
            if n == 0:
                log.warning(
                    "invalid input dropped (further ones of this kind are only counted)",
                    extra={
                        "fields": {
                            "source": source,
                            "kind": kind,
                            "reason": reason,
                            "sample": sample[:200],
                        }
                    },
                )

        return reject


class Collector:
    def __init__(
        self,
        config: CollectorConfig,
        *,
        sources: Sequence[Source] | None = None,
        transport: Any = None,
    ) -> None:
        """`sources` and `transport` (an httpx transport) are seams for tests."""
        self.config = config
        self.metrics = CollectorMetrics()
        self.rejects = RejectLog(self.metrics)
        self._given_sources = list(sources) if sources is not None else None
        self._transport = transport
        self.sources: list[Source] = []
        self.buffer: AsyncBuffer | None = None
        self.sink: HttpSink | None = None
        self.health: HealthServer | None = None
        self.ready = asyncio.Event()
        self._full = False

    # ------------------------------------------------------------------ wiring

    def _build_sources(self) -> list[Source]:
        if self._given_sources is not None:
            return self._given_sources
        from collector.sources.registry import build_source

        return [build_source(kind, section) for kind, section in self.config.sources()]

    def _emitter(self, source: str, reject: Any) -> Any:
        assert self.buffer is not None
        buffer, metrics = self.buffer, self.metrics
        readings_in = metrics.readings_in.labels(source)

        async def emit(
            samples: Sequence[SourceSample], *, receipts: Sequence[tuple[int, int]] = ()
        ) -> None:
            if not all(map(math.isfinite, [s.value for s in samples])):
                good = []
                for s in samples:
                    if math.isfinite(s.value):
                        good.append(s)
                    else:
                        reject(f"non-finite: value {s.value!r}", f"{s.characteristic} {s.ts}")
                samples = good
            if any(s.counter is not None for s in samples):
                samples = _valid_counters(samples, reject)
            try:
                result = await buffer.append(samples, source if receipts else None, receipts)
            except BufferFull:
                if not self._full:
                    self._full = True
                    log.warning(
                        "buffer full: not acknowledging new readings (policy stop-acknowledging)",
                        extra={"fields": {"source": source}},
                    )
                raise
            if self._full:
                self._full = False
                log.info("buffer accepts readings again")
            readings_in.inc(result.stored)
            if result.dropped_oldest:
                metrics.dropped.labels("buffer-full-drop-oldest").inc(result.dropped_oldest)
            if result.dropped_newest:
                metrics.dropped.labels("buffer-full-drop-newest").inc(result.dropped_newest)

        return emit

    async def _run_source(self, source: Source, stop: asyncio.Event) -> None:
        reject = self.rejects.for_source(source.name)
        emit = self._emitter(source.name, reject)
        while not stop.is_set():
            try:
                await source.run(emit, reject, stop)
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception(
                    "source failed; restarting it", extra={"fields": {"source": source.name}}
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), SOURCE_RESTART_SECONDS)

    async def _run_sink(self, stop: asyncio.Event) -> None:
        assert self.sink is not None
        while True:
            try:
                await self.sink.run(stop, self.config.collector.shutdown_flush_seconds)
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("sink failed; restarting it")
                if stop.is_set():
                    return
                await asyncio.sleep(SOURCE_RESTART_SECONDS)

    async def _health(self) -> tuple[bool, dict[str, Any]]:
        assert self.buffer is not None and self.sink is not None
        stats = await self.buffer.stats()
        blocked = stats.full and self.config.buffer.when_full == "stop-acknowledging"
        failing = self.sink.state == "auth-failed" or blocked
        degraded = self.sink.state == "retrying"
        doc = {
            "status": "failing" if failing else "degraded" if degraded else "ok",
            "collector": self.config.collector.name,
            "buffer": {
                "readings": stats.readings,
                "bytes": stats.bytes,
                "dead_letters": stats.dead_letters,
                "full": stats.full,
                "counter_events": stats.counter_events,
            },
            "sink": {"state": self.sink.state, "last_error": self.sink.last_error},
            "sources": self._source_stats(),
        }
        return not failing, doc

    def _source_stats(self) -> dict[str, dict[str, float]]:
        out = {}
        for s in self.sources:
            stats = getattr(s, "stats", None)
            if callable(stats):
                try:
                    out[s.name] = dict(stats())
                except Exception:  # a stats bug must not break /metrics
                    out[s.name] = {}
        return out

    async def _gauges(self, stop: asyncio.Event) -> None:
        assert self.buffer is not None
        while not stop.is_set():
            stats = await self.buffer.stats()
            self.metrics.buffered.set(stats.readings)
            self.metrics.buffer_bytes.set(stats.bytes)
            self.metrics.dead_letters.set(stats.dead_letters)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)

    # ------------------------------------------------------------------ run

    async def run(self, stop: asyncio.Event) -> None:
        cfg = self.config
        self.buffer = buffer = AsyncBuffer(
            DiskBuffer(
                cfg.buffer.path,
                max_bytes=int(cfg.buffer.max_bytes),
                when_full=cfg.buffer.when_full,
                synchronous=cfg.buffer.synchronous,
                dead_letter_max_rows=cfg.buffer.dead_letter_max_rows,
            )
        )
        self.sink = HttpSink(
            cfg.sink, buffer, cfg.collector.name, self.metrics, transport=self._transport
        )
        self.metrics.add_source_stats(self._source_stats)
        address = cfg.health.address
        if address is not None:
            self.health = HealthServer(
                address[0], address[1], self._health, self.metrics.exposition
            )
            await self.health.start()
        self.sources = self._build_sources()
        for s in self.sources:
            if isinstance(s, RestoresReceipts):
                s.restore_receipts(await buffer.receipts(s.name))
        log.info(
            "collector started",
            extra={
                "fields": {
                    "collector": cfg.collector.name,
                    "sources": [s.name for s in self.sources],
                    "buffered": buffer.pending,
                    "sink": cfg.sink.url,
                }
            },
        )
        sources_stop, sink_stop, gauges_stop = asyncio.Event(), asyncio.Event(), asyncio.Event()
        source_tasks = [
            asyncio.create_task(self._run_source(s, sources_stop)) for s in self.sources
        ]
        sink_task = asyncio.create_task(self._run_sink(sink_stop))
        gauges_task = asyncio.create_task(self._gauges(gauges_stop))
        self.ready.set()
        try:
            await stop.wait()
        finally:
            log.info("stopping: sources first, then flushing the buffer")
            sources_stop.set()
            if source_tasks:
                _, late = await asyncio.wait(source_tasks, timeout=10)
                for t in late:
                    t.cancel()
                await asyncio.gather(*source_tasks, return_exceptions=True)
            sink_stop.set()
            try:
                await sink_task
            except Exception:
                log.exception("sink failed while flushing")
            gauges_stop.set()
            await gauges_task
            if self.health is not None:
                await self.health.stop()
            left = buffer.pending
            await buffer.close()
            log.info("collector stopped", extra={"fields": {"readings_left_in_buffer": left}})


def _valid_counters(samples: Sequence[SourceSample], reject: Any) -> list[SourceSample]:
    """Drops (and reports) counter readings that are not whole numbers >= 0."""
    good = []
    for s in samples:
        if s.counter is not None:
            try:
                counter_value(s.value)
            except BadCounterValue as exc:
                reject(f"bad-counter: {exc}", f"{s.characteristic} {s.ts}")
                continue
        good.append(s)
    return good


def run_until_signalled(config: CollectorConfig) -> int:
    """Runs the collector until SIGTERM or SIGINT; returns the process exit code."""
    configure_logging(config.collector.log_level, config.collector.log_format)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await Collector(config).run(stop)

    try:
        asyncio.run(main())
    except OSError as exc:  # e.g. the health port is taken, the buffer directory unwritable
        log.error("collector could not start", extra={"fields": {"error": str(exc)}})
        return 1
    except Exception:  # e.g. a source plugin whose library is not installed
        log.exception("collector stopped on an unexpected error")
        return 1
    return 0
