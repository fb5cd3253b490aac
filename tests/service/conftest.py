"""Service fixtures: a real uvicorn server on a free port, per test, on each store
(`database_url` from tests/conftest.py: SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from service_helpers import LiveServer, make_settings

from service.settings import Settings


@pytest.fixture
def service_settings(database_url: str) -> Settings:
    return make_settings(database_url)


@pytest.fixture
def live(service_settings: Settings) -> Iterator[LiveServer]:
    server = LiveServer(service_settings).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def api(live: LiveServer) -> httpx.Client:
    return live.client("admin", "admin-user")
