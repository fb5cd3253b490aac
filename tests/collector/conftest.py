"""Fixtures of the collector tests: the ingest stub server, config files, a running collector."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from collector_support import RunningCollector
from ingest_stub import IngestServer, free_port


@pytest.fixture
def ingest() -> Iterator[IngestServer]:
    server = IngestServer(free_port()).start()
    yield server
    server.stop()


@pytest.fixture
def run_collector() -> Iterator[Any]:
    started: list[RunningCollector] = []

    def start(config: Any, **kwargs: Any) -> RunningCollector:
        rc = RunningCollector(config, **kwargs).start()
        started.append(rc)
        # publishing before the subscription is granted would lose the first messages
        deadline = time.monotonic() + 10
        for source in rc.collector.sources:
            if not hasattr(source, "link"):
                continue
            while source.link is None or not source.link.subscribed:
                assert time.monotonic() < deadline, "collector did not subscribe"
                time.sleep(0.01)
        return rc

    yield start
    for rc in started:
        if rc._thread.is_alive():
            rc.stop()


@pytest.fixture(autouse=True)
def _test_token(monkeypatch: pytest.MonkeyPatch) -> None:
    from collector_support import TOKEN

    monkeypatch.setenv("LINEWATCH_TEST_TOKEN", TOKEN)


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[Any]:
    """A private Mosquitto (persistent, max_queued_messages raised) that a test may restart."""
    from collector_support import OwnBroker

    broker = OwnBroker(tmp_path / "mosquitto").start()
    yield broker
    broker.stop()


@pytest.fixture
def collector_processes() -> Iterator[list[Any]]:
    procs: list[Any] = []
    yield procs
    for p in procs:
        p.ensure_stopped()
