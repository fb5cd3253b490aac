"""End to end: an MQTT reject counter -> collector -> the real service's defect records."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from collector_support import config_text, mqtt_source, publish_all, publisher, wait_until
from ingest_stub import free_port

from collector.config import parse_config
from service.app import create_app
from service.auth import issue_token
from service.settings import Settings

SECRET = "collector-counter-test-secret"


class Service:
    """`create_app(settings)` on SQLite, served by uvicorn in a thread (real HTTP)."""

    def __init__(self, database_url: str) -> None:
        self.app = create_app(
            Settings(database_url=database_url, secret_key=SECRET, config_file=None)
        )
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> Service:
        self.thread.start()
        wait_until(lambda: self.server.started, 30, "the service to start")
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)

    def token(self, role: str) -> str:
        store = self.app.state.linewatch.store
        return issue_token(store, SECRET, role=role, name=f"{role}-user", actor="test")


@pytest.fixture
def service(sqlite_url: str) -> Iterator[Service]:
    svc = Service(sqlite_url).start()
    yield svc
    svc.stop()


def _ok(response: httpx.Response, status: int = 201) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def _defects(api: httpx.Client) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = _ok(api.get("/api/v1/defects", params={"line": "L1"}), 200)
    return records


def test_rising_reject_counter_becomes_defect_records_across_a_restart(
    service: Service,
    mqtt_broker: tuple[str, int],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    run_collector: Any,
) -> None:
    admin = httpx.Client(
        base_url=service.url,
        headers={"Authorization": f"Bearer {service.token('admin')}"},
        timeout=30,
    )
    _ok(admin.post("/api/v1/sites", json={"key": "plant1", "name": "Plant 1"}))
    _ok(admin.post("/api/v1/lines", json={"key": "L1", "name": "Line 1", "site": "plant1"}))
    _ok(admin.post("/api/v1/stations", json={"key": "L1.op20", "name": "OP20", "line": "L1"}))
    _ok(
        admin.post(
            "/api/v1/defect-codes",
            json={"code": "DIM-001", "name": "Bore oversize", "category": "dimensional"},
        )
    )
    monkeypatch.setenv("LINEWATCH_TEST_TOKEN", service.token("engineer"))

    _, port = mqtt_broker
    topic = f"lwtest/{uuid.uuid4().hex[:8]}/op20/rejects"
    source = mqtt_source(
        port,
        topic,
        "l1.op20.rejects",
        client_id=f"lw-counter-{uuid.uuid4().hex[:8]}",
        mapping='value = "count"\n  counter = { kind = "defects", line = "L1", '
        'station = "L1.op20", product = "P-100", defect_code = "DIM-001" }',
    )
    cfg = parse_config(
        config_text(
            buffer=tmp_path / "buffer.db",
            sink_url=f"{service.url}/api/v1/measurements",
            sources=source,
        )
    )
    pub = publisher(port)

    def send(*counts: int) -> None:
        now = datetime.now(UTC).isoformat(timespec="milliseconds")
        publish_all(pub, [(topic, {"ts": now, "count": c}) for c in counts])

    def total() -> int:
        return sum(int(d["quantity"]) for d in _defects(admin))

    try:
        first = run_collector(cfg)
        send(0, 3, 3)
        wait_until(lambda: total() == 3, 20, "3 pieces recorded", interval=0.1)
        first.stop()

        second = run_collector(cfg)  # same buffer: the last value 3 is remembered
        send(7, 2)  # +4, then a reset to 0 and 2 more pieces
        wait_until(lambda: total() == 9, 20, "9 pieces recorded", interval=0.1)
        time.sleep(0.5)  # nothing else may arrive
        second.stop()
    finally:
        pub.loop_stop()
        pub.disconnect()

    records = _defects(admin)
    assert sorted(int(d["quantity"]) for d in records) == [2, 3, 4]
    assert {(d["station"], d["defect_code"], d["disposition"]) for d in records} == {
        ("L1.op20", "DIM-001", "scrap")
    }
    assert {d["source"] for d in records} == {"test-collector"}
    assert len({d["seq"] for d in records}) == 3
