"""Ingest throughput and latency of the service on PostgreSQL, with peers in the same run.

1. Raw COPY: the repository's binary COPY (`Repository.insert_measurements`) against a bare
   psycopg binary COPY of the same rows into an identical table; target ratio >= 0.9.
2. End to end over HTTP: `linewatch serve` in its own process, 1,000 characteristics with
   approved limits, batches of 1,000 records (one per characteristic) from concurrent senders;
   the peer is the same run with evaluation off (no approved limits). Target >= 50,000/s.
3. Latency at 5,000 measurements/s: paced batches of 100 records, each with one point beyond
   3 sigma; the answer comes after the transaction that stored the point, its violation and its
   alarm committed, so the request latency is "request to violation stored". Target p99 < 50 ms.

    .venv/bin/python bench/bench_ingest.py [--seconds 15] [--senders 8]

The machine load (1-minute load average) is printed before and after: on a shared 2-core box
the figures move with it.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from service.auth import issue_token  # noqa: E402
from service.domain import Measurement  # noqa: E402
from service.settings import Settings  # noqa: E402
from service.storage import open_store  # noqa: E402
from service.storage.repo_measurements import MEASUREMENT_COLUMNS, MEASUREMENT_PG_TYPES  # noqa: E402

BASE = os.environ.get("LINEWATCH_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
SECRET = "bench-secret-bench-secret"


def load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


@contextmanager
def schema() -> Iterator[str]:
    name = f"lw_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(BASE, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
    try:
        yield f"{BASE}?options=-csearch_path%3D{name}"
    finally:
        with psycopg.connect(BASE, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{name}" CASCADE')


def settings(url: str) -> Settings:
    return Settings(database_url=url, secret_key=SECRET, config_file=None)


# --- 1. raw COPY -------------------------------------------------------------------------------


def copy_rows(n: int) -> list[Measurement]:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    return [
        Measurement(
            i,
            1 + i % 1000,
            start + timedelta(milliseconds=i),
            10.0 + (i % 97) * 0.01,
            None,
            "L1",
            None,
            "bench",
            i,
            None,
            id=i + 1,
            limit_version=1,
            point_no=i // 1000,
        )
        for i in range(n)
    ]


def bench_copy(n: int, rounds: int) -> dict[str, float]:
    rows = copy_rows(n)
    tuples = [
        (
            m.id,
            m.characteristic_id,
            m.ts,
            m.value,
            m.subgroup,
            m.lot,
            m.serial,
            m.source,
            m.seq,
            m.quality,
            m.limit_version,
            m.point_no,
        )
        for m in rows
    ]
    ours: list[float] = []
    bare: list[float] = []
    with schema() as url:
        store = open_store(settings(url))
        try:

            def run_ours() -> float:
                t = time.perf_counter()
                with store.transaction() as tx:
                    store.repo.insert_measurements(tx, rows)
                return n / (time.perf_counter() - t)

            def run_bare() -> float:
                with psycopg.connect(url) as conn:
                    t = time.perf_counter()
                    with (
                        conn.cursor() as cur,
                        cur.copy(
                            f"COPY measurements ({', '.join(MEASUREMENT_COLUMNS)}) "
                            "FROM STDIN (FORMAT BINARY)"
                        ) as copy,
                    ):
                        copy.set_types(list(MEASUREMENT_PG_TYPES))
                        for row in tuples:
                            copy.write_row(row)
                    conn.commit()
                    return n / (time.perf_counter() - t)

            # alternate which goes first, each into an emptied table
            for i in range(2 * rounds):
                with store.transaction() as tx:
                    tx.execute("TRUNCATE measurements")
                if (i % 2 == 0) == (i // 2 % 2 == 0):
                    ours.append(run_ours())
                else:
                    bare.append(run_bare())
        finally:
            store.close()
    return {"ours": statistics.median(ours), "bare": statistics.median(bare)}


# --- 2. and 3. over HTTP --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prepare(url: str, chars: int, approve: bool) -> str:
    from service import characteristics as char_service
    from service import limits as limit_service

    store = open_store(settings(url))
    try:
        with store.transaction() as tx:
            for i in range(chars):
                char = char_service.create(
                    tx,
                    store.repo,
                    {
                        "key": f"c{i:04d}",
                        "name": f"c{i}",
                        "chart": "imr",
                        "rules": "western-electric",
                        "params": {},
                    },
                    actor="bench",
                )
                if approve:
                    version = limit_service.propose(
                        tx, store.repo, char, {"center": 10.0, "sigma": 1.0}, actor="bench"
                    )
                    limit_service.approve(tx, store.repo, char, version, actor="bench", reason=None)
        return issue_token(store, SECRET, role="operator", name="bench")
    finally:
        store.close()


@contextmanager
def serve(url: str) -> Iterator[str]:
    port = free_port()
    env = {
        **os.environ,
        "LINEWATCH_DATABASE_URL": url,
        "LINEWATCH_SECRET_KEY": SECRET,
        "LINEWATCH_CONFIG_FILE": "/nonexistent/linewatch.toml",
        "LINEWATCH_POOL_MAX_SIZE": "8",
    }
    log = open(os.environ.get("LINEWATCH_BENCH_LOG", os.devnull), "ab")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "linewatch", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("service did not start")
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def bodies(count: int, chars: int, batch: int, start_seq: int = 0) -> list[bytes]:
    rng = random.Random(start_seq)
    start = datetime.now(UTC) - timedelta(hours=2)
    out = []
    seq = start_seq
    for b in range(count):
        records = []
        for j in range(batch):
            i = (b * batch + j) % chars
            records.append(
                {
                    "characteristic": f"c{i:04d}",
                    "ts": (start + timedelta(microseconds=seq % 10**9)).isoformat(),
                    "value": round(rng.gauss(10.0, 1.0), 4),  # in control: rare violations
                    "source": "bench",
                    "seq": seq,
                }
            )
            seq += 1
        out.append(json.dumps({"measurements": records}).encode())
    return out


def throughput(
    base: str, token: str, payloads: list[bytes], senders: int, seconds: float
) -> dict[str, float]:
    lock = threading.Lock()
    state = {"next": 0, "accepted": 0, "requests": 0}
    stop_at = time.monotonic() + seconds

    def sender() -> None:
        with httpx.Client(
            base_url=base,
            timeout=120,
            headers={"Authorization": f"Bearer {token}", "content-type": "application/json"},
        ) as client:
            while time.monotonic() < stop_at:
                with lock:
                    if state["next"] >= len(payloads):
                        return
                    body = payloads[state["next"]]
                    state["next"] += 1
                answer = client.post("/api/v1/measurements", content=body)
                answer.raise_for_status()
                with lock:
                    state["accepted"] += answer.json()["accepted"]
                    state["requests"] += 1

    t = time.perf_counter()
    threads = [threading.Thread(target=sender) for _ in range(senders)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    elapsed = time.perf_counter() - t
    with httpx.Client(base_url=base) as client:
        metrics = client.get("/metrics").text
    found = {}
    for line in metrics.splitlines():
        name, _, value = line.partition(" ")
        if name in ("linewatch_evaluation_seconds_count", "linewatch_evaluation_seconds_sum"):
            found[name] = float(value)
    transactions = found.get("linewatch_evaluation_seconds_count", 0.0)
    return {
        "rate": state["accepted"] / elapsed,
        "accepted": state["accepted"],
        "seconds": elapsed,
        "requests": state["requests"],
        "transactions": transactions,
        "transaction_ms": 1000.0
        * found.get("linewatch_evaluation_seconds_sum", 0.0)
        / max(transactions, 1.0),
    }


def latency(
    base: str, token: str, rate: float, seconds: float, chars: int, batch: int
) -> dict[str, float]:
    per_second = rate / batch
    count = int(per_second * seconds)
    payloads = []
    rng = random.Random(7)
    start = datetime.now(UTC) - timedelta(minutes=30)
    seq = 10_000_000_000
    for b in range(count):
        records = []
        for j in range(batch):
            i = (b * batch + j) % chars
            value = round(rng.gauss(10.0, 1.0), 4)
            if j == 0:
                value = 30.0  # 20 sigma: a WE1 violation in every batch
            records.append(
                {
                    "characteristic": f"c{i:04d}",
                    "ts": (start + timedelta(microseconds=seq % 10**9)).isoformat(),
                    "value": value,
                    "source": "pace",
                    "seq": seq,
                }
            )
            seq += 1
        payloads.append(json.dumps({"measurements": records}).encode())
    latencies: list[float] = []
    lock = threading.Lock()
    senders = 4
    interval = senders / per_second
    t0 = time.perf_counter() + 0.5

    def sender(k: int) -> None:
        with httpx.Client(
            base_url=base,
            timeout=60,
            headers={"Authorization": f"Bearer {token}", "content-type": "application/json"},
        ) as client:
            for n, body in enumerate(payloads[k::senders]):
                due = t0 + k * interval / senders + n * interval
                pause = due - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)
                sent = time.perf_counter()
                client.post("/api/v1/measurements", content=body).raise_for_status()
                with lock:
                    latencies.append(time.perf_counter() - sent)

    threads = [threading.Thread(target=sender, args=(k,)) for k in range(senders)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    latencies.sort()
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as client:
        metrics = client.get("/metrics").text
    violations = sum(
        float(line.split()[-1])
        for line in metrics.splitlines()
        if line.startswith("linewatch_violations_total")
    )
    return {
        "p50_ms": 1000 * latencies[len(latencies) // 2],
        "p99_ms": 1000 * latencies[int(len(latencies) * 0.99) - 1],
        "max_ms": 1000 * latencies[-1],
        "batches": len(latencies),
        "violations": violations,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--chars", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--senders", type=int, default=8)
    parser.add_argument("--copy-rows", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip", nargs="*", default=[], choices=["copy", "http", "latency"])
    args = parser.parse_args()
    print(f"load average before: {load()}  (cpus: {os.cpu_count()})")

    if "copy" not in args.skip:
        copy = bench_copy(args.copy_rows, args.rounds)
        print(
            f"raw binary COPY, {args.copy_rows} rows: repository {copy['ours']:,.0f} rows/s, "
            f"bare psycopg {copy['bare']:,.0f} rows/s, ratio {copy['ours'] / copy['bare']:.2f}"
        )

    if "http" not in args.skip:
        count = int(args.seconds * 120_000 / args.batch) + args.senders  # more than any run sends
        payloads = bodies(count, args.chars, args.batch)
        results = {}
        for label, approve in (("evaluation on", True), ("evaluation off (peer)", False)):
            with schema() as url:
                token = prepare(url, args.chars, approve)
                with serve(url) as base:
                    warm = bodies(args.senders, args.chars, args.batch, start_seq=10**12)
                    throughput(base, token, warm, args.senders, 60)
                    results[label] = throughput(base, token, payloads, args.senders, args.seconds)
            r = results[label]
            print(
                f"HTTP ingest into PostgreSQL, {label}: {r['rate']:,.0f} measurements/s "
                f"({r['accepted']:,} in {r['seconds']:.1f} s, {r['requests']} batches of "
                f"{args.batch} over {args.chars} characteristics, {args.senders} senders; "
                f"{r['transactions']:.0f} transactions, {r['transaction_ms']:.0f} ms each on "
                "average, warm-up included)"
            )
        on, off = results["evaluation on"]["rate"], results["evaluation off (peer)"]["rate"]
        print(f"  evaluation on / off: {on / off:.2f}")

    if "latency" not in args.skip:
        with schema() as url:
            token = prepare(url, args.chars, True)
            with serve(url) as base:
                lat = latency(base, token, 5000.0, args.seconds, args.chars, 100)
        print(
            f"latency at 5,000 measurements/s (batches of 100, one violation each): "
            f"p50 {lat['p50_ms']:.1f} ms, p99 {lat['p99_ms']:.1f} ms, max {lat['max_ms']:.1f} ms "
            f"over {lat['batches']} batches; violations stored: {lat['violations']:.0f}"
        )
    print(f"load average after: {load()}")


if __name__ == "__main__":
    main()
