"""The HTTP sink against a real HTTP server implementing the ingest contract (ingest_stub.py)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from ingest_stub import IngestServer, free_port

from collector.buffer import AsyncBuffer, DiskBuffer
from collector.config import SinkConfig
from collector.metrics import CollectorMetrics
from collector.sink import HttpSink
from collector.sources.base import SourceSample


def sink_config(url: str, **kw: Any) -> SinkConfig:
    base: dict[str, Any] = {
        "url": url,
        "token_env": "LINEWATCH_TEST_TOKEN",
        "batch_wait_ms": 50,
        "retry_initial_ms": 20,
        "retry_max_seconds": 0.2,
        "auth_retry_seconds": 0.2,
    }
    base.update(kw)
    return SinkConfig(**base)


def readings(n: int, start: int = 0, characteristic: str = "c") -> list[SourceSample]:
    return [
        SourceSample(characteristic, "2026-11-26T10:00:00Z", float(i))
        for i in range(start, start + n)
    ]


Scenario = Callable[[HttpSink, AsyncBuffer], Awaitable[None]]


def run_sink(
    tmp_path: Path, cfg: SinkConfig, scenario: Scenario, flush: float = 2.0
) -> tuple[HttpSink, DiskBuffer]:
    disk = DiskBuffer(tmp_path / "b.db")

    async def main() -> HttpSink:
        buffer = AsyncBuffer(disk)
        sink = HttpSink(cfg, buffer, "edge-test", CollectorMetrics())
        stop = asyncio.Event()
        task = asyncio.create_task(sink.run(stop, flush))
        await scenario(sink, buffer)
        stop.set()
        await asyncio.wait_for(task, flush + 5)
        return sink

    sink = asyncio.run(main())
    return sink, disk


async def until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


def test_batches_by_count_with_gzip_and_token(tmp_path: Path, ingest: IngestServer) -> None:
    async def scenario(sink: HttpSink, buffer: AsyncBuffer) -> None:
        await buffer.append(readings(2500))
        await until(lambda: ingest.state.count() == 2500)

    sink, disk = run_sink(tmp_path, sink_config(ingest.url, batch_wait_ms=1000), scenario)
    assert ingest.state.requests == 3  # 1000 + 1000 + 500, the last one after batch_wait_ms
    assert ingest.state.gzip_requests == 3
    assert ingest.state.values("c") == [float(i) for i in range(2500)]
    seqs = [r["seq"] for r in ingest.state.stored]
    assert seqs == sorted(seqs) and len(set(seqs)) == 2500
    assert {r["source"] for r in ingest.state.stored} == {"edge-test"}
    assert disk.pending == 0 and sink.state == "ok"


def test_small_batch_leaves_after_batch_wait(tmp_path: Path, ingest: IngestServer) -> None:
    waited: list[float] = []

    async def scenario(sink: HttpSink, buffer: AsyncBuffer) -> None:
        t0 = time.monotonic()
        await buffer.append(readings(5))
        await until(lambda: ingest.state.count() == 5)
        waited.append(time.monotonic() - t0)

    run_sink(tmp_path, sink_config(ingest.url, batch_wait_ms=300, compression="none"), scenario)
    assert ingest.state.requests == 1 and ingest.state.gzip_requests == 0
    assert 0.25 <= waited[0] < 2.0


def test_outage_keeps_readings_and_replays_in_order(tmp_path: Path, ingest: IngestServer) -> None:
    ingest.stop()

    async def scenario(sink: HttpSink, buffer: AsyncBuffer) -> None:
        for i in range(10):
            await buffer.append(readings(300, start=i * 300))
            await asyncio.sleep(0.02)
        await until(lambda: sink.state == "retrying")
        await asyncio.sleep(0.5)
        assert buffer.pending == 3000
        ingest.start()
        await until(lambda: ingest.state.count() == 3000)

    sink, disk = run_sink(tmp_path, sink_config(ingest.url), scenario)
    assert ingest.state.values("c") == [float(i) for i in range(3000)]
    assert ingest.state.duplicates == 0 and disk.pending == 0 and sink.state == "ok"


def test_server_errors_are_retried(tmp_path: Path, ingest: IngestServer) -> None:
    ingest.state.force_status = 503

    async def scenario(sink: HttpSink, buffer: AsyncBuffer) -> None:
        await buffer.append(readings(10))
        await until(lambda: ingest.state.requests >= 3)
        assert sink.state == "retrying" and "HTTP 503" in (sink.last_error or "")
        ingest.state.force_status = None
        await until(lambda: ingest.state.count() == 10)

    run_sink(tmp_path, sink_config(ingest.url), scenario)
    assert ingest.state.values("c") == [float(i) for i in range(10)]


def test_bad_token_stops_forwarding_and_keeps_readings(
    tmp_path: Path, ingest: IngestServer
) -> None:
    ingest.state.token = "another-token"

    async def scenario(sink: HttpSink, buffer: AsyncBuffer) -> None:
        await buffer.append(readings(20))
        await until(lambda: sink.state == "auth-failed")
        requests = ingest.state.requests
        await asyncio.sleep(0.1)
        assert ingest.state.requests <= requests + 1  # stopped, only the periodic retry
        assert buffer.pending == 20 and ingest.state.count() == 0
        ingest.state.token = "test-token"  # the operator fixes the token
        await until(lambda: ingest.state.count() == 20)

    sink, _ = run_sink(tmp_path, sink_config(ingest.url), scenario)
    assert sink.state == "ok"


def test_rejected_records_go_to_dead_letters_not_lost(tmp_path: Path, ingest: IngestServer) -> None:
    ingest.state.known = {"good"}

    async def scenario(sink: HttpSink, buffer: AsyncBuffer) -> None:
        batch = (
            readings(3, characteristic="good")
            + readings(2, characteristic="typo")
            + readings(3, 3, "good")
        )
        await buffer.append(batch)
        await until(lambda: buffer.pending == 0)

    sink, disk = run_sink(tmp_path, sink_config(ingest.url), scenario)
    assert ingest.state.values("good") == [0, 1, 2, 3, 4, 5]
    dead = disk.dead_letters()
    assert [(r.characteristic, r.value) for r, _ in dead] == [("typo", 0.0), ("typo", 1.0)]
    assert all("unknown characteristic" in reason for _, reason in dead)
    assert sink.metrics.rejected._value.get() == 2
    assert sink.metrics.forwarded._value.get() == 6


def test_whole_batch_422_is_split_until_the_bad_record_is_alone(
    tmp_path: Path, ingest: IngestServer
) -> None:
    ingest.state.reject_whole_batch_if = "poison"

    async def scenario(sink: HttpSink, buffer: AsyncBuffer) -> None:
        batch = readings(500) + readings(1, characteristic="poison") + readings(499, 500)
        await buffer.append(batch)
        await until(lambda: buffer.pending == 0)

    _, disk = run_sink(tmp_path, sink_config(ingest.url), scenario)
    assert ingest.state.values("c") == [float(i) for i in range(999)]  # in order, none lost
    dead = disk.dead_letters()
    assert [r.characteristic for r, _ in dead] == ["poison"]
    assert "HTTP 422" in dead[0][1]


def test_stop_flushes_within_deadline_and_keeps_the_rest(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/api/v1/measurements"  # nobody listens
    t0 = time.monotonic()

    async def scenario(sink: HttpSink, buffer: AsyncBuffer) -> None:
        await buffer.append(readings(50))

    _, disk = run_sink(tmp_path, sink_config(url), scenario, flush=0.5)
    assert time.monotonic() - t0 < 4
    assert disk.pending == 50


def test_encoded_records_are_the_ingest_records() -> None:
    import json

    from collector.buffer import BufferedReading
    from collector.reading import Reading
    from collector.sink import encode_batch

    rows = [
        BufferedReading(7, "a.b", "2026-11-26T10:00:00Z", 1.5, None, None, None, None),
        BufferedReading(8, "a.b", "2026-11-26T10:00:01Z", 2.5, "sg", "lot", "sn", "bad"),
    ]
    body = json.loads(encode_batch(rows, "edge"))
    expected = [
        Reading(
            r.characteristic,
            r.ts,
            r.value,
            "edge",
            r.seq,
            r.subgroup,
            r.lot,
            r.serial,
            r.quality or "good",
        ).to_ingest()
        for r in rows
    ]
    assert body == {"measurements": expected}
    assert "quality" not in expected[0] and expected[1]["quality"] == "bad"
