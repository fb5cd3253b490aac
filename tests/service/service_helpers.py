"""Helpers of the service tests: a real uvicorn server in a thread, token-carrying clients.

`LiveServer` starts `create_app(settings)` in a background thread (real HTTP, real lifespan, the
database from the shared `database_url` fixture: SQLite and PostgreSQL); `live.client(role)`
is an httpx client carrying a fresh token of that role.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import httpx
import uvicorn

from service.app import create_app
from service.auth import issue_token
from service.settings import Settings
from service.storage import open_store
from service.storage.repository import Store

SECRET = "test-secret-not-the-default"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.app = create_app(settings)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self._clients: list[httpx.Client] = []

    def start(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the service did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        for client in self._clients:
            client.close()
        self.server.should_exit = True
        self.thread.join(timeout=15)

    @property
    def ctx(self) -> Any:
        return self.app.state.linewatch

    def token(self, role: str, name: str | None = None) -> str:
        return issue_token(
            self.ctx.store, SECRET, role=role, name=name or f"{role}-user", actor="test"
        )

    def client(self, role: str | None = "admin", name: str | None = None) -> httpx.Client:
        headers = {} if role is None else {"Authorization": f"Bearer {self.token(role, name)}"}
        client = httpx.Client(base_url=self.url, headers=headers, timeout=60.0)
        self._clients.append(client)
        return client


def open_small_store(url: str, *, pool_max_size: int = 4) -> Store:
    """A store on `url` (migrated, plain tables unless TimescaleDB is there) with a small pool,
    for repository-level tests that need no service around it."""
    return open_store(
        SimpleNamespace(
            resolved_database_url=url,
            pool_min_size=1,
            pool_max_size=pool_max_size,
            timescale="auto",
            migrate_on_start=True,
            timescale_compress_after=None,
            timescale_retention=None,
        )
    )


def make_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "secret_key": SECRET,
        "config_file": None,
    }
    values.update(overrides)
    return Settings(**values)


BORE = {
    "key": "line1.op20.bore",
    "name": "Bore diameter",
    "unit": "mm",
    "chart": "xbar-r",
    "subgroup_size": 5,
    "lsl": 73.95,
    "usl": 74.05,
    "target": 74.0,
    "rules": "western-electric",
}


def create_characteristic(api: httpx.Client, **fields: Any) -> dict[str, Any]:
    body = {"key": "c1", "name": "C1", "chart": "imr", **fields}
    response = api.post("/api/v1/characteristics", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def approve_known(api: httpx.Client, key: str, center: float, sigma: float) -> int:
    response = api.post(
        f"/api/v1/characteristics/{key}/limits", json={"center": center, "sigma": sigma}
    )
    assert response.status_code == 201, response.text
    version = response.json()["version"]
    response = api.post(f"/api/v1/characteristics/{key}/limits/{version}/approve")
    assert response.status_code == 200, response.text
    return int(version)


def records(
    key: str, values: list[float], start: datetime | None = None, **extra: Any
) -> list[dict[str, Any]]:
    start = start or datetime(2026, 1, 1, tzinfo=UTC)
    return [
        {
            "characteristic": key,
            "ts": (start + timedelta(seconds=i)).isoformat(),
            "value": v,
            **extra,
        }
        for i, v in enumerate(values)
    ]


def ingest(api: httpx.Client, batch: list[dict[str, Any]]) -> dict[str, Any]:
    response = api.post("/api/v1/measurements", json={"measurements": batch})
    assert response.status_code == 200, response.text
    return response.json()
