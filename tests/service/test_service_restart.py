"""SIGKILL mid-stream loses no run: ingest, kill -9 the service process while batches are in
flight, start it again, resend what was not acknowledged (at-least-once, as a collector does),
and the stored violations equal those of one uninterrupted run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from service_helpers import SECRET, LiveServer, free_port, make_settings

CHARS = [
    {"key": "r.imr", "name": "imr", "chart": "imr", "rules": "nelson"},
    {"key": "r.xbar", "name": "xbar", "chart": "xbar-r", "subgroup_size": 5},
    {"key": "r.ewma", "name": "ewma", "chart": "ewma", "params": {"lam": 0.2, "L": 2.7}},
]
BATCH = 17


def stream() -> list[dict[str, Any]]:
    rng = np.random.default_rng(42)
    start = datetime(2026, 5, 1, tzinfo=UTC)
    out = []
    for i in range(600):
        shift = 1.3 if 200 <= i < 300 or i >= 450 else 0.0
        for c in CHARS:
            out.append(
                {
                    "characteristic": c["key"],
                    "ts": (start + timedelta(seconds=i)).isoformat(),
                    "value": float(rng.normal(10.0 + shift, 1.0)),
                    "source": "line-sim",
                    "seq": len(out),
                }
            )
    return out


def setup(client: httpx.Client) -> None:
    for c in CHARS:
        assert client.post("/api/v1/characteristics", json=c).status_code == 201
        version = client.post(
            f"/api/v1/characteristics/{c['key']}/limits", json={"center": 10.0, "sigma": 1.0}
        ).json()["version"]
        assert (
            client.post(f"/api/v1/characteristics/{c['key']}/limits/{version}/approve").status_code
            == 200
        )


def violations(client: httpx.Client) -> list[tuple[Any, ...]]:
    rows = client.get("/api/v1/violations").json()
    return sorted(
        (r["characteristic"], r["point_no"], r["series"], r["rule"], r["ts"]) for r in rows
    )


def reference(tmp_path: Path, data: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    server = LiveServer(make_settings(f"sqlite:///{tmp_path / 'reference.db'}")).start()
    try:
        client = server.client("admin")
        setup(client)
        for i in range(0, len(data), BATCH):
            assert (
                client.post(
                    "/api/v1/measurements", json={"measurements": data[i : i + BATCH]}
                ).status_code
                == 200
            )
        return violations(client)
    finally:
        server.stop()


class Service:
    def __init__(self, database_url: str, cwd: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "LINEWATCH_SECRET_KEY": SECRET,
            "LINEWATCH_CHECKPOINT_EVERY": "7",
            "LINEWATCH_DATABASE_URL": database_url,
        }
        self.cwd = cwd
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.log = (self.cwd / f"serve-{time.monotonic_ns()}.log").open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "linewatch", "serve", "--port", str(self.port)],
            cwd=self.cwd,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=self.log,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert self.proc.poll() is None, Path(self.log.name).read_text()
            time.sleep(0.1)
        raise AssertionError("service did not become healthy")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@pytest.mark.slow
def test_sigkill_mid_stream_loses_no_run(database_url: str, tmp_path: Path) -> None:
    data = stream()
    want = reference(tmp_path, data)
    assert len(want) > 20
    service = Service(database_url, tmp_path)
    token = subprocess.run(
        [sys.executable, "-m", "linewatch", "token", "create", "--role", "admin", "--name", "t"],
        cwd=tmp_path,
        env=service.env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.strip()
    service.start()
    try:
        client = httpx.Client(
            base_url=service.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        setup(client)
        batches = [data[i : i + BATCH] for i in range(0, len(data), BATCH)]
        acknowledged = 0
        kill_after = len(batches) * 2 // 5
        killed = threading.Event()

        def killer() -> None:
            while acknowledged < kill_after:
                time.sleep(0.001)
            service.kill()
            killed.set()

        threading.Thread(target=killer, daemon=True).start()
        while not killed.is_set():
            try:
                client.post("/api/v1/measurements", json={"measurements": batches[acknowledged]})
            except httpx.HTTPError:
                break
            acknowledged += 1
        killed.wait(10)
        assert acknowledged < len(batches)
        service.start()
        duplicates = 0
        for batch in batches[acknowledged:]:
            answer = client.post("/api/v1/measurements", json={"measurements": batch}).json()
            duplicates += answer["duplicates"]
            assert not answer["rejected"]
        counts = client.get("/metrics").text
        assert "linewatch_measurements_total" in counts
        got = violations(client)
        assert got == want
        total = sum(
            len(
                client.get(
                    f"/api/v1/characteristics/{c['key']}/measurements", params={"limit": 100_000}
                ).json()
            )
            for c in CHARS
        )
        assert total == len(data)
        client.close()
    finally:
        service.stop()
