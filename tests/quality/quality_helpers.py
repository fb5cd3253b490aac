"""Helpers of the quality tests: a real uvicorn server in a thread, token-carrying clients,
a small plant built over the API."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import httpx
import uvicorn

from service.app import create_app
from service.auth import issue_token
from service.settings import Settings

SECRET = "quality-test-secret-not-the-default"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """`create_app(settings)` served by uvicorn on a free port (real HTTP, real lifespan)."""

    def __init__(self, database_url: str) -> None:
        self.settings = Settings(database_url=database_url, secret_key=SECRET, config_file=None)
        self.app = create_app(self.settings)
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
    def store(self) -> Any:
        return self.app.state.linewatch.store

    def token(self, role: str, name: str | None = None) -> str:
        return issue_token(self.store, SECRET, role=role, name=name or f"{role}-user", actor="test")

    def client(self, role: str | None = "admin", name: str | None = None) -> httpx.Client:
        headers = {} if role is None else {"Authorization": f"Bearer {self.token(role, name)}"}
        client = httpx.Client(base_url=self.url, headers=headers, timeout=60.0)
        self._clients.append(client)
        return client


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


PLANT = {
    "sites": [{"key": "plant1", "name": "Plant 1"}],
    "lines": [
        {"key": "L1", "name": "Line 1", "site": "plant1"},
        {"key": "L2", "name": "Line 2", "site": "plant1"},
    ],
    "stations": [
        {"key": f"{line}.op{n}", "name": f"OP{n}", "line": line}
        for line in ("L1", "L2")
        for n in (10, 20, 30)
    ],
}
CODES = [
    {"code": "DIM-001", "name": "Bore oversize", "category": "dimensional"},
    {"code": "DIM-002", "name": "Length short", "category": "dimensional"},
    {"code": "SUR-001", "name": "Scratch", "category": "surface"},
    {"code": "ASM-001", "name": "Missing O-ring", "category": "assembly"},
    {"code": "MAT-001", "name": "Porosity", "category": "material"},
]


def build_plant(
    api: httpx.Client,
    plant: dict[str, list[dict[str, Any]]] | None = None,
    codes: list[dict[str, Any]] | None = None,
) -> None:
    plant = plant or PLANT
    for level in ("sites", "lines", "stations"):
        for body in plant[level]:
            ok(api.post(f"/api/v1/{level}", json=body), 201)
    for code in CODES if codes is None else codes:
        ok(api.post("/api/v1/defect-codes", json=code), 201)


def post_defects(api: httpx.Client, records: list[dict[str, Any]]) -> dict[str, Any]:
    return ok(api.post("/api/v1/defects", json={"defects": records}))  # type: ignore[no-any-return]
