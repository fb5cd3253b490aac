"""Schemathesis generates requests for every operation of the running service's /openapi.json
(admin token, a seeded characteristic): no answer may be a 5xx. The core service's operations
and those other parts mount into the app are checked in separate tests, so that a failure
names its owner."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from service_helpers import LiveServer, make_settings

EXAMPLES = 15
CORE_TAGS = {
    "health",
    "measurements",
    "characteristics",
    "limits",
    "charts",
    "alarms",
    "users",
    "audit",
    "stream",
    "plant: sites",
    "plant: lines",
    "plant: stations",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    db = tmp_path_factory.mktemp("openapi") / "linewatch.db"
    live = LiveServer(make_settings(f"sqlite:///{db}")).start()
    api = live.client("admin")
    api.post("/api/v1/characteristics", json={"key": "k", "name": "K", "chart": "imr"})
    api.post("/api/v1/characteristics/k/limits", json={"center": 1.0, "sigma": 0.5})
    yield live
    live.stop()


def exercise_all(server: LiveServer, wanted: Callable[[set[str]], bool]) -> tuple[int, list[str]]:
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    headers = {"Authorization": f"Bearer {server.token('admin', 'schemathesis')}"}
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if not wanted(set(operation.tags or ())):
            continue
        operations += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def exercise(case: schemathesis.Case) -> None:
            if case.path == "/api/v1/stream":
                case.query = {**(case.query or {}), "characteristic": "nope"}
            request = f"{case.method} {case.formatted_path} query={case.query} body={case.body!r}"
            try:
                response = case.call(base_url=server.url, headers=headers, timeout=30)
            except Exception as exc:  # a dropped connection or a timeout: report the case
                failures.append(f"{request[:500]} -> raised {exc!r}")
                return
            if response.status_code >= 500:
                failures.append(f"{request[:500]} -> {response.status_code} {response.text[:200]}")

        exercise()
    return operations, failures


@pytest.mark.slow
def test_no_core_operation_answers_5xx(server: LiveServer) -> None:
    operations, failures = exercise_all(server, lambda tags: bool(tags & CORE_TAGS))
    assert operations >= 35
    assert failures == []


@pytest.mark.slow
def test_no_operation_of_other_parts_answers_5xx(server: LiveServer) -> None:
    _, failures = exercise_all(server, lambda tags: not tags & CORE_TAGS)
    assert failures == []
