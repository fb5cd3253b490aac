"""Alerting latency: HTTP ingest of a violating measurement → webhook received.

Runs the real service (uvicorn, subprocess) on PostgreSQL (or SQLite), a webhook receiver in
this process, and a background load of in-control measurements at 0, 1,000 and 5,000
measurements/s. Each probe posts one measurement far beyond 3σ on its own characteristic
(so that every probe opens a new alarm) and measures the time until the webhook arrives.

    .venv/bin/python bench/bench_alerting.py [--database postgresql|sqlite] [--probes 150]

Prints p50/p99 per load level, the achieved background rate, the plain ingest round trip of
the same probe request (the peer: what the service needs without alerting) and the ratio of
the alerting p99 to the 250 ms target.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT))
SECRET = "bench-secret-key-0123456789-abcdefghijklmnop"
PG_BASE = os.environ.get("LINEWATCH_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
BACKGROUND_CHARS = 50


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Receiver:
    """Webhook receiver: arrival time per characteristic key."""

    def __init__(self) -> None:
        self.arrivals: dict[str, float] = {}
        self.cond = threading.Condition()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                at = time.perf_counter()
                key = json.loads(body).get("characteristic", "")
                with owner.cond:
                    owner.arrivals.setdefault(key, at)
                    owner.cond.notify_all()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 128

        self.port = free_port()
        self.server = Server(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def wait(self, key: str, timeout: float) -> float | None:
        deadline = time.perf_counter() + timeout
        with self.cond:
            while key not in self.arrivals:
                left = deadline - time.perf_counter()
                if left <= 0:
                    return None
                self.cond.wait(left)
            return self.arrivals[key]


def database_url(kind: str, workdir: Path) -> tuple[str, str | None]:
    if kind == "sqlite":
        return f"sqlite:///{workdir / 'bench.db'}", None
    import psycopg

    schema = f"lw_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_BASE, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    return f"{PG_BASE}?options=-csearch_path%3D{schema}", schema


def start_service(url: str, workdir: Path, receiver: Receiver) -> tuple[subprocess.Popen, int]:
    config = workdir / "alerting.toml"
    config.write_text(
        f"""
[alerting.channels.bench]
type = "webhook"
url = "http://127.0.0.1:{receiver.port}/hook"

[[alerting.routes]]
name = "probes"
channels = ["bench"]
characteristics = ["probe.*"]
rate_limit = {{ per_minute = 100000, burst = 1000 }}
""",
        encoding="utf-8",
    )
    port = free_port()
    env = {
        **os.environ,
        "LINEWATCH_DATABASE_URL": url,
        "LINEWATCH_SECRET_KEY": SECRET,
        "LINEWATCH_ALERTING_CONFIG": str(config),
        "LINEWATCH_LOG_LEVEL": "warning",
        "PYTHONPATH": str(ROOT),
    }
    code = (
        "import uvicorn; from service.app import create_app; from service.settings import "
        f"Settings; uvicorn.run(create_app(Settings()), host='127.0.0.1', port={port}, "
        "log_level='warning')"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=workdir, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc, port
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError("service did not start")


def token_for(url: str) -> str:
    from service.auth import issue_token
    from service.settings import Settings
    from service.storage import open_store

    store = open_store(Settings(database_url=url, secret_key=SECRET, config_file=None))
    try:
        return issue_token(store, SECRET, role="admin", name="bench")
    finally:
        store.close()


async def post(client: httpx.AsyncClient, url: str, **kw: object) -> httpx.Response:
    """POST with two retries on a dropped connection (the box is shared and busy)."""
    for attempt in range(3):
        try:
            return await client.post(url, **kw)  # type: ignore[arg-type]
        except httpx.TransportError:
            if attempt == 2:
                raise
            await asyncio.sleep(0.2)
    raise AssertionError("unreachable")


async def create_characteristics(client: httpx.AsyncClient, keys: list[str]) -> None:
    sem = asyncio.Semaphore(8)

    async def one(key: str) -> None:
        async with sem:
            r = await post(
                client,
                "/api/v1/characteristics",
                json={"key": key, "name": key, "unit": "mm", "chart": "imr", "rules": ["WE1"]},
            )
            r.raise_for_status()
            r = await post(
                client, f"/api/v1/characteristics/{key}/limits", json={"center": 10.0, "sigma": 1.0}
            )
            r.raise_for_status()
            version = r.json()["version"]
            r = await post(client, f"/api/v1/characteristics/{key}/limits/{version}/approve")
            r.raise_for_status()

    await asyncio.gather(*(one(k) for k in keys))


async def background(client: httpx.AsyncClient, rate: int, stop: asyncio.Event) -> int:
    """In-control measurements at `rate` per second, in 20 batches a second."""
    if rate <= 0:
        await stop.wait()
        return 0
    sent = 0
    per_batch = max(1, rate // 20)
    rng = random.Random(1)
    start = time.perf_counter()
    inflight: set[asyncio.Task] = set()
    tick = 0
    while not stop.is_set():
        now = datetime.now(UTC).isoformat()
        batch = [
            {
                "characteristic": f"bg.{rng.randrange(BACKGROUND_CHARS):03d}",
                "ts": now,
                "value": 10.0 + rng.uniform(-0.8, 0.8),
            }
            for _ in range(per_batch)
        ]
        task = asyncio.create_task(
            client.post("/api/v1/measurements", json={"measurements": batch})
        )
        inflight.add(task)
        task.add_done_callback(inflight.discard)
        sent += per_batch
        tick += 1
        await asyncio.sleep(max(0.0, start + tick / 20 - time.perf_counter()))
    await asyncio.gather(*inflight, return_exceptions=True)
    return sent


async def measure(
    client: httpx.AsyncClient, receiver: Receiver, keys: list[str], rate: int
) -> dict[str, float]:
    stop = asyncio.Event()
    load = asyncio.create_task(background(client, rate, stop))
    await asyncio.sleep(2.0)  # let the load settle
    latencies, round_trips, lost = [], [], 0
    load_started = time.perf_counter()
    for key in keys:
        t0 = time.perf_counter()
        r = await post(
            client,
            "/api/v1/measurements",
            json={
                "measurements": [
                    {"characteristic": key, "ts": datetime.now(UTC).isoformat(), "value": 25.0}
                ]
            },
        )
        round_trips.append(time.perf_counter() - t0)
        r.raise_for_status()
        arrived = await asyncio.to_thread(receiver.wait, key, 10.0)
        if arrived is None:
            lost += 1
        else:
            latencies.append(arrived - t0)
        await asyncio.sleep(0.1)
    elapsed = time.perf_counter() - load_started
    stop.set()
    sent = await load
    q = statistics.quantiles(latencies, n=100, method="inclusive")
    rt = statistics.quantiles(round_trips, n=100, method="inclusive")
    return {
        "rate": rate,
        "achieved": sent / (elapsed + 2.0) if rate else 0.0,
        "p50": q[49] * 1000,
        "p99": q[98] * 1000,
        "ingest_p50": rt[49] * 1000,
        "ingest_p99": rt[98] * 1000,
        "lost": lost,
        "n": len(latencies),
    }


async def run(url: str, port: int, token: str, receiver: Receiver, probes: int) -> list[dict]:
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=40)
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=30, limits=limits
    ) as client:
        levels = (0, 1000, 5000)
        probe_keys = {rate: [f"probe.r{rate}.{i:04d}" for i in range(probes)] for rate in levels}
        bg_keys = [f"bg.{i:03d}" for i in range(BACKGROUND_CHARS)]
        await create_characteristics(
            client, bg_keys + [k for ks in probe_keys.values() for k in ks]
        )
        return [await measure(client, receiver, probe_keys[rate], rate) for rate in levels]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--probes", type=int, default=150)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="lw-bench-alerting-"))
    receiver = Receiver()
    url, schema = database_url(args.database, workdir)
    token = token_for(url)
    proc, port = start_service(url, workdir, receiver)
    try:
        load1 = os.getloadavg()[0]
        results = asyncio.run(run(url, port, token, receiver, args.probes))
        load2 = os.getloadavg()[0]
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        if schema:
            import psycopg

            with psycopg.connect(PG_BASE, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    print(f"alerting latency, ingest → webhook ({args.database}, {args.probes} probes per level)")
    print(f"machine: {os.cpu_count()} cores, load average {load1:.1f} → {load2:.1f}")
    head = (
        f"{'load/s':>7} {'achieved/s':>10} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'ingest p50':>10} {'ingest p99':>10} {'p99/ingest p99':>14} {'p99/250ms':>9} {'lost':>4}"
    )
    print(head)
    for r in results:
        print(
            f"{r['rate']:>7} {r['achieved']:>10.0f} {r['p50']:>8.1f} {r['p99']:>8.1f} "
            f"{r['ingest_p50']:>10.1f} {r['ingest_p99']:>10.1f} "
            f"{r['p99'] / r['ingest_p99']:>14.2f} {r['p99'] / 250:>9.2f} {r['lost']:>4}"
        )


if __name__ == "__main__":
    main()
