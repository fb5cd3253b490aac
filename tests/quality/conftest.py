"""Quality fixtures: a live service per test on each store (`database_url`: SQLite, PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from quality_helpers import LiveServer, build_plant


@pytest.fixture
def live(database_url: str) -> Iterator[LiveServer]:
    server = LiveServer(database_url).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def admin(live: LiveServer) -> httpx.Client:
    return live.client("admin", "admin-user")


@pytest.fixture
def manager(live: LiveServer) -> httpx.Client:
    return live.client("manager", "maria")


@pytest.fixture
def operator(live: LiveServer) -> httpx.Client:
    return live.client("operator", "otto")


@pytest.fixture
def plant(admin: httpx.Client) -> httpx.Client:
    """The two-line plant and the defect catalogue; returns the admin client."""
    build_plant(admin)
    return admin
