"""Live push over Server-Sent Events: `point` and `alarm` events for a characteristic."""

from __future__ import annotations

import json
import queue
import threading
from typing import Any

import httpx
from service_helpers import LiveServer, approve_known, create_characteristic, ingest, records


def listen(
    url: str,
    events: queue.Queue[tuple[str, dict[str, Any]]],
    ready: threading.Event,
    headers: dict[str, str] | None = None,
) -> None:
    with (
        httpx.Client(timeout=httpx.Timeout(10.0, read=20.0)) as client,
        client.stream("GET", url, headers=headers or {}) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        event = None
        for line in response.iter_lines():
            if line.startswith(": connected"):
                ready.set()
            elif line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event:
                events.put((event, json.loads(line[6:])))
                if event == "alarm":
                    return


def test_stream_pushes_points_and_alarms(live: LiveServer, api: httpx.Client) -> None:
    create_characteristic(api, key="k", chart="imr")
    create_characteristic(api, key="other", chart="imr")
    approve_known(api, "k", 10.0, 1.0)
    token = live.token("operator", "dashboard")
    events: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
    ready = threading.Event()
    thread = threading.Thread(
        target=listen,
        args=(f"{live.url}/api/v1/stream?characteristic=k&token={token}", events, ready),
        daemon=True,
    )
    thread.start()
    assert ready.wait(10)
    ingest(api, records("other", [1.0, 2.0]))
    ingest(api, records("k", [10.5, 14.0]))
    got = [events.get(timeout=10) for _ in range(3)]
    thread.join(10)
    points = [d for e, d in got if e == "point"]
    alarms = [d for e, d in got if e == "alarm"]
    assert [p["stat"] for p in points] == [10.5, 14.0]
    assert all(p["characteristic"] == "k" for p in points)
    assert points[1]["violations"] == ["WE1"] and points[1]["ucl"] == 13.0
    assert alarms[0]["event"] == "alarm.opened" and alarms[0]["rule"] == "WE1"


def test_stream_needs_a_token_and_a_known_characteristic(live: LiveServer) -> None:
    anonymous = httpx.get(f"{live.url}/api/v1/stream", timeout=10)
    assert anonymous.status_code == 401
    token = live.token("operator")
    unknown = httpx.get(f"{live.url}/api/v1/stream?characteristic=nope&token={token}", timeout=10)
    assert unknown.status_code == 404
