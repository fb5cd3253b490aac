"""`linewatch demo` as a user runs it: one command, a minute of data, Ctrl-C stops everything.

Checks over the service's API that line 1 (read over OPC UA) and line 2 (read over MQTT)
both deliver, that the injected torque shift opens an alarm, that the dashboard answers, and
that SIGINT leaves no child process behind.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for_banner(process: subprocess.Popen[str], timeout: float) -> str:
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            if process.poll() is not None:
                break
            continue
        lines.append(line)
        if line.startswith("Press Ctrl-C"):
            return "".join(lines)
    raise AssertionError(f"demo did not start: {''.join(lines)}")


def _points(api: httpx.Client, key: str) -> int:
    response = api.get(f"/api/v1/characteristics/{key}/chart")
    if response.status_code != 200:
        return 0
    return len(response.json()["points"])


def test_demo_runs_end_to_end_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    port, dash_port = free_port(), free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "linewatch", "demo", "--port", str(port),
         "--dashboard-port", str(dash_port), "--workdir", str(tmp_path / "demo"),
         "--rate", "3"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        banner = _wait_for_banner(process, timeout=180)
        token = re.search(r"admin token\s+(\S+)", banner)
        assert token, banner
        children = psutil.Process(process.pid).children(recursive=True)
        assert len(children) >= 5  # broker, service, simulator, collector, dashboard
        api = httpx.Client(
            base_url=f"http://127.0.0.1:{port}",
            headers={"Authorization": f"Bearer {token.group(1)}"},
            timeout=10,
        )
        opcua_key, mqtt_key = "line1.op20.torque", "line2.op10.fill_temp"
        deadline = time.monotonic() + 120
        alarms: list[dict] = []
        while time.monotonic() < deadline:
            alarms = api.get("/api/v1/alarms", params={"characteristic": opcua_key}).json()
            if alarms and _points(api, opcua_key) > 0 and _points(api, mqtt_key) > 0:
                break
            time.sleep(2)
        assert _points(api, opcua_key) > 0, "no data from line 1 over OPC UA"
        assert _points(api, mqtt_key) > 0, "no data from line 2 over MQTT"
        assert alarms, "the injected torque shift opened no alarm"
        assert {a["characteristic"] for a in alarms} == {opcua_key}
        assert httpx.get(f"http://127.0.0.1:{dash_port}/", timeout=10).status_code == 200
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    assert process.returncode == 0
    time.sleep(0.5)
    alive = [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
    assert alive == [], f"children still running after Ctrl-C: {alive}"
