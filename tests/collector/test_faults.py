"""Fault tests: service outage, SIGKILL of the collector, broker restart, SIGTERM.

Each one streams numbered readings for several characteristics through a private Mosquitto
and checks, at the ingest server, that every reading arrived exactly once and in order per
characteristic. The ingest server drops replays of a (source, seq) it already has, as the
service does; a reading buffered twice (e.g. an MQTT redelivery stored again) would arrive with
a new seq and show up as a duplicate value.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from collector_support import (
    CollectorProcess,
    config_text,
    mqtt_source,
    publish_all,
    publisher,
    wait_until,
)
from ingest_stub import IngestServer

from collector.config import parse_config

CHARACTERISTICS = ("a", "b", "c", "d")


def _messages(tag: str, start: int, stop: int) -> list[tuple[str, Any]]:
    return [
        (
            f"{tag}/{CHARACTERISTICS[i % 4]}",
            {"ts": f"2026-11-26T10:00:00.{i % 1000:03d}Z", "value": i},
        )
        for i in range(start, stop)
    ]


def _assert_exactly_once_in_order(ingest: IngestServer, total: int) -> None:
    for k, name in enumerate(CHARACTERISTICS):
        expected = [float(i) for i in range(k, total, 4)]
        got = ingest.state.values(name)
        assert len(got) == len(expected), (name, len(got), len(expected))
        assert got == expected, name
    assert ingest.state.count() == total


class StreamPublisher(threading.Thread):
    """Publishes `total` readings at about `rate` per second (QoS 1)."""

    def __init__(self, port: int, tag: str, total: int, rate: float) -> None:
        super().__init__(daemon=True)
        self.port, self.tag, self.total, self.rate = port, tag, total, rate
        self.sent = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            client = publisher(self.port)
            chunk = 100
            t0 = time.monotonic()
            for start in range(0, self.total, chunk):
                publish_all(client, _messages(self.tag, start, min(start + chunk, self.total)))
                self.sent = min(start + chunk, self.total)
                ahead = self.sent / self.rate - (time.monotonic() - t0)
                if ahead > 0:
                    time.sleep(ahead)
            client.loop_stop()
            client.disconnect()
        except BaseException as exc:
            self.error = exc


def test_service_outage_loses_nothing(
    tmp_path: Path, ingest: IngestServer, own_broker: Any, run_collector: Any
) -> None:
    tag = uuid.uuid4().hex[:8]
    sources = mqtt_source(own_broker.port, f"{tag}/+", "{1}", client_id=f"c-{tag}")
    rc = run_collector(
        parse_config(config_text(buffer=tmp_path / "b.db", sink_url=ingest.url, sources=sources))
    )
    stream = StreamPublisher(own_broker.port, tag, 6000, rate=3000)
    stream.start()
    wait_until(lambda: ingest.state.count() >= 500, 10, "first readings")
    ingest.stop()  # the service goes away while readings keep flowing
    time.sleep(1.0)
    assert rc.collector.sink.state == "retrying"
    assert rc.collector.buffer.pending > 0  # held on disk
    ingest.start()
    stream.join(30)
    assert stream.error is None
    ingest.wait_for(6000, timeout=30)
    time.sleep(0.3)
    _assert_exactly_once_in_order(ingest, 6000)
    rc.stop()


@pytest.mark.slow
def test_sigkill_mid_stream_loses_and_duplicates_nothing(
    tmp_path: Path, ingest: IngestServer, own_broker: Any, collector_processes: list[Any]
) -> None:
    tag = uuid.uuid4().hex[:8]
    cfg = tmp_path / "collector.toml"
    sources = mqtt_source(own_broker.port, f"{tag}/+", "{1}", client_id=f"c-{tag}")
    cfg.write_text(config_text(buffer=tmp_path / "b.db", sink_url=ingest.url, sources=sources))
    log = tmp_path / "collector.log"
    total = 20_000
    proc = CollectorProcess(cfg, log).start()
    collector_processes.append(proc)
    proc.wait_log("MQTT subscribed")
    stream = StreamPublisher(own_broker.port, tag, total, rate=5000)
    stream.start()
    for threshold in (3000, 9000):  # killed twice, mid-stream
        wait_until(lambda t=threshold: ingest.state.count() >= t, 30, f"{threshold} readings")
        proc.kill()
        time.sleep(0.3)
        proc = CollectorProcess(cfg, log).start()
        collector_processes.append(proc)
    stream.join(60)
    assert stream.error is None
    ingest.wait_for(total, timeout=60)
    time.sleep(0.5)  # anything duplicated would arrive now
    _assert_exactly_once_in_order(ingest, total)
    assert proc.terminate() == 0


@pytest.mark.slow
def test_broker_restarts_lose_and_duplicate_nothing(
    tmp_path: Path, ingest: IngestServer, own_broker: Any, run_collector: Any
) -> None:
    tag = uuid.uuid4().hex[:8]
    sources = mqtt_source(
        own_broker.port,
        f"{tag}/+",
        "{1}",
        client_id=f"c-{tag}",
        extra="reconnect_min_seconds = 0.2\nreconnect_max_seconds = 1",
    )
    text = config_text(buffer=tmp_path / "b.db", sink_url=ingest.url, sources=sources)
    rc = run_collector(parse_config(text))
    pub = publisher(own_broker.port)
    publish_all(pub, _messages(tag, 0, 1000))
    ingest.wait_for(1000)
    rc.stop()
    # the collector is away: its session queues a backlog, which must survive a broker restart
    publish_all(pub, _messages(tag, 1000, 41_000))
    pub.loop_stop()
    pub.disconnect()
    own_broker.restart()
    rc = run_collector(parse_config(text))
    # and the broker restarts again while the collector drains that backlog: restart on what
    # the collector has read (not what the sink delivered), so a fast machine cannot finish
    # draining first
    readings_in = rc.collector.metrics.readings_in.labels("mqtt-1")._value.get
    wait_until(lambda: readings_in() >= 3000, 30, "draining")
    own_broker.restart()
    assert readings_in() < 40_000  # mid-drain
    link = rc.collector.sources[0].link
    wait_until(lambda: link.connected and link.connects >= 2, 15, "reconnect")
    pub = publisher(own_broker.port)
    publish_all(pub, _messages(tag, 41_000, 42_000))
    ingest.wait_for(42_000, timeout=120)
    time.sleep(0.3)
    _assert_exactly_once_in_order(ingest, 42_000)
    pub.loop_stop()
    rc.stop()


def test_sigterm_flushes_and_exits_cleanly(
    tmp_path: Path, ingest: IngestServer, own_broker: Any, collector_processes: list[Any]
) -> None:
    tag = uuid.uuid4().hex[:8]
    cfg = tmp_path / "collector.toml"
    sources = mqtt_source(own_broker.port, f"{tag}/+", "{1}", client_id=f"c-{tag}")
    # a long batch wait: readings are still in the buffer when SIGTERM comes
    text = config_text(buffer=tmp_path / "b.db", sink_url=ingest.url, sources=sources)
    cfg.write_text(text.replace("batch_wait_ms = 20", "batch_wait_ms = 60000\nbatch_size = 50000"))
    log = tmp_path / "collector.log"
    proc = CollectorProcess(cfg, log).start()
    collector_processes.append(proc)
    proc.wait_log("MQTT subscribed")
    pub = publisher(own_broker.port)
    publish_all(pub, _messages(tag, 0, 1000))
    pub.loop_stop()
    time.sleep(0.5)
    assert ingest.state.count() == 0
    assert proc.terminate(timeout=20) == 0
    _assert_exactly_once_in_order(ingest, 1000)
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    stopped = [x for x in lines if x["event"] == "collector stopped"]
    assert stopped and stopped[-1]["readings_left_in_buffer"] == 0


@pytest.mark.slow
def test_full_buffer_stops_acknowledging_and_loses_nothing(
    tmp_path: Path, ingest: IngestServer, own_broker: Any, run_collector: Any
) -> None:
    """Default policy: keep the oldest, refuse new readings, leave the rest with the broker."""
    tag = uuid.uuid4().hex[:8]
    long_name = "x" * 300  # big rows: a 1 MiB buffer fills after a few thousand readings
    sources = mqtt_source(own_broker.port, f"{tag}/+", "{1}", client_id=f"c-{tag}")
    text = config_text(
        buffer=tmp_path / "b.db", sink_url=ingest.url, sources=sources, extra="max_bytes = 1048576"
    )
    ingest.stop()
    rc = run_collector(parse_config(text))
    pub = publisher(own_broker.port)
    total = 10_000
    msgs = [
        (f"{tag}/{long_name}", {"ts": "2026-11-26T10:00:00Z", "value": i}) for i in range(total)
    ]
    publish_all(pub, msgs)
    source = rc.collector.sources[0]
    wait_until(lambda: source.counts["buffer_full_waits"] > 0, 20, "buffer full")
    stored = rc.collector.buffer.pending
    assert 0 < stored < total  # the rest waits, unacknowledged, at the broker
    ok, health = asyncio_run(rc, rc.collector._health())
    assert not ok and health["buffer"]["full"] and health["status"] == "failing"
    ingest.start()
    ingest.wait_for(total, timeout=60)
    time.sleep(0.3)
    assert ingest.state.values(long_name) == [float(i) for i in range(total)]
    pub.loop_stop()
    rc.stop()


def asyncio_run(rc: Any, coro: Any) -> Any:
    """Runs a coroutine on the running collector's event loop and waits for its result."""
    import asyncio

    return asyncio.run_coroutine_threadsafe(coro, rc._loop).result(10)
