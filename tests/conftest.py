"""Shared fixtures: real PostgreSQL and Mosquitto, never mocks.

A test that needs a service fails (never skips) when the service is missing; `make test`
starts both where they are installed.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

DATA = Path(__file__).parent / "data"
PG_BASE = os.environ.get("LINEWATCH_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
MQTT_HOST = os.environ.get("LINEWATCH_TEST_MQTT_HOST", "127.0.0.1")
MQTT_PORT = int(os.environ.get("LINEWATCH_TEST_MQTT_PORT", "1883"))


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def free_port() -> int:
    """A TCP port on loopback that nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA


@pytest.fixture(scope="session")
def postgres_available() -> str:
    if not _port_open("127.0.0.1", 5432):
        pytest.fail("PostgreSQL is not listening on 127.0.0.1:5432 (run `make services`)")
    return PG_BASE


@pytest.fixture
def pg_url(postgres_available: str) -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped after the test."""
    import psycopg

    schema = f"lw_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_available, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in postgres_available else "?"
    yield f"{postgres_available}{sep}options={quote(f'-csearch_path={schema}')}"
    with psycopg.connect(postgres_available, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'linewatch.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Both stores, so that every repository test runs against each."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'linewatch.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture(scope="session")
def mqtt_broker() -> tuple[str, int]:
    if not _port_open(MQTT_HOST, MQTT_PORT):
        pytest.fail(f"Mosquitto is not listening on {MQTT_HOST}:{MQTT_PORT} (run `make services`)")
    return MQTT_HOST, MQTT_PORT
