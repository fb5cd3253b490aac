"""Reading a 100,000-point chart back: `GET /api/v1/characteristics/{key}/chart?max_points=`.

The dashboard asks for a 100,000-point window down-sampled for display (target < 500 ms). The
peer is the floor under it: a bare psycopg fetch of the same 100,000 rows, in the same run.

    .venv/bin/python bench/ingest_chart_read.py [--points 100000] [--max-points 2000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_ingest import load, schema, serve, settings

from service.auth import issue_token
from service.context import Linewatch
from service.storage import open_store


def fill(url: str, points: int) -> str:
    from service import characteristics as char_service
    from service import limits as limit_service

    store = open_store(settings(url))
    try:
        with store.transaction() as tx:
            char = char_service.create(
                tx,
                store.repo,
                {
                    "key": "k",
                    "name": "k",
                    "chart": "imr",
                    "lsl": 6.0,
                    "usl": 14.0,
                    "rules": "western-electric",
                    "params": {},
                },
                actor="bench",
            )
            version = limit_service.propose(
                tx, store.repo, char, {"center": 10.0, "sigma": 1.0}, actor="bench"
            )
            limit_service.approve(tx, store.repo, char, version, actor="bench", reason=None)
        ctx = Linewatch(settings(url), store)
        values = np.random.default_rng(1).normal(10.0, 1.0, points)
        start = datetime.now(UTC) - timedelta(days=30)
        for lo in range(0, points, 10_000):
            ctx.ingest(
                [
                    {
                        "characteristic": "k",
                        "ts": (start + timedelta(seconds=i)).isoformat(),
                        "value": float(values[i]),
                    }
                    for i in range(lo, min(lo + 10_000, points))
                ]
            )
        return issue_token(store, "bench-secret-bench-secret", role="operator", name="reader")
    finally:
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--max-points", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    print(f"load average before: {load()}  (cpus: {os.cpu_count()})")
    with schema() as url:
        token = fill(url, args.points)
        with (
            serve(url) as base,
            httpx.Client(
                base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60
            ) as client,
        ):
            params = {"max_points": args.max_points}
            client.get("/api/v1/characteristics/k/chart", params=params).raise_for_status()
            ours, sizes = [], []
            for _ in range(args.repeat):
                t = time.perf_counter()
                response = client.get("/api/v1/characteristics/k/chart", params=params)
                response.raise_for_status()
                ours.append(time.perf_counter() - t)
                sizes.append(len(response.json()["points"]))
            bare = []
            with psycopg.connect(url) as conn:
                for _ in range(args.repeat):
                    t = time.perf_counter()
                    conn.execute(
                        "SELECT id, ts, value, subgroup, lot, limit_version, point_no, quality "
                        "FROM measurements WHERE characteristic_id = 1 ORDER BY id"
                    ).fetchall()
                    bare.append(time.perf_counter() - t)
    mine, floor = statistics.median(ours), statistics.median(bare)
    print(
        f"chart of {args.points:,} points, max_points={args.max_points}: median "
        f"{1000 * mine:.0f} ms over HTTP ({sizes[0]} points returned, flagged ones included); "
        f"bare psycopg fetch of the rows {1000 * floor:.0f} ms; ratio {mine / floor:.1f}"
    )
    print(f"load average after: {load()}")


if __name__ == "__main__":
    main()
