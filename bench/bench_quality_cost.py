"""Quality cost queries over one year of a 20-line plant (≈ 2 million defect records), PostgreSQL.

Seeds a schema of its own (COPY, then the service's own SQL costs every record and builds the
daily roll-ups, both timed), records good units and a slice of defects through the real
recording path (timed: records/s), starts the service (uvicorn, in this process) and times
the queries over HTTP with a manager token: the cost series per week and line over the year
(target: < 300 ms), other groupings, Pareto, movers, rates. The peer in the same run is the
same cost query answered from the records themselves (a window one second off midnight
forces the raw path): the ratio shows what the roll-ups buy.

    .venv/bin/python bench/bench_quality_cost.py [--records 2000000] [--runs 15] [--keep]
        [--database-url postgresql://postgres@127.0.0.1:5432/test]

``--keep`` keeps the schema ``lw_bench_quality`` (a later run with the same --records reuses
it and skips seeding); without it the schema is dropped at the end.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import numpy as np

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT))
PG_BASE = os.environ.get("LINEWATCH_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
SCHEMA = "lw_bench_quality"
SECRET = "bench-secret-key-0123456789-abcdefghijklmnop"
YEAR = datetime(2025, 1, 1, tzinfo=UTC)
DAYS = 365
LINES = 20
STATIONS = 6
PRODUCTS = [f"P-{100 + 10 * i}" for i in range(8)]
CATEGORIES = ("dimensional", "surface", "assembly", "material")
CODES = [
    (f"{c[:3].upper()}-{i:03d}", c)
    for i, c in ((i, CATEGORIES[i % len(CATEGORIES)]) for i in range(30))
]
DISPOSITIONS = ("scrap", "rework", "repair", "use_as_is", "return_to_supplier", "customer_return")
DISPOSITION_P = (0.35, 0.30, 0.08, 0.10, 0.07, 0.10)
CHUNK = 250_000


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def schema_url(base: str) -> str:
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options={quote(f'-csearch_path={SCHEMA}')}"


def reset_schema(base: str, drop_only: bool = False) -> None:
    import psycopg

    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE')
        if not drop_only:
            conn.execute(f'CREATE SCHEMA "{SCHEMA}"')


def existing_records(base: str) -> int:
    import psycopg

    with psycopg.connect(schema_url(base)) as conn:
        try:
            return int(conn.execute("SELECT count(*) FROM quality_defects").fetchone()[0])
        except psycopg.errors.UndefinedTable:
            return 0


# --- seeding ------------------------------------------------------------------------------------
def build_plant(store: Any) -> dict[str, Any]:
    from service import characteristics as plant
    from service.quality import catalogue, cost_models

    repo = store.repo
    rng = np.random.default_rng(7)
    with store.transaction() as tx:
        plant.plant_create(tx, repo, "site", {"key": "plant1", "name": "Plant 1"}, actor="bench")
        for n in range(LINES):
            plant.plant_create(
                tx,
                repo,
                "line",
                {"key": f"L{n + 1:02d}", "name": f"Line {n + 1}", "site": "plant1"},
                actor="bench",
            )
            for s in range(STATIONS):
                plant.plant_create(
                    tx,
                    repo,
                    "station",
                    {
                        "key": f"L{n + 1:02d}.op{10 * (s + 1)}",
                        "name": f"OP{10 * (s + 1)}",
                        "line": f"L{n + 1:02d}",
                    },
                    actor="bench",
                )
        for code, category in CODES:
            catalogue.create_code(
                tx,
                repo,
                {"code": code, "name": f"{category} {code}", "category": category},
                actor="bench",
            )
        for quarter in range(4):
            products = []
            for product in PRODUCTS:
                unit = float(rng.uniform(20, 80))
                stations = {
                    f"L{n + 1:02d}.op{10 * (s + 1)}": round(unit * (s + 1) / (STATIONS + 1), 2)
                    for n in range(LINES)
                    for s in range(STATIONS)
                }
                products.append(
                    {
                        "product": product,
                        "unit_cost": round(unit, 2),
                        "rework_material": 1.5,
                        "customer_return_cost": 25.0,
                        "supplier_return_cost": 2.0,
                        "stations": stations,
                    }
                )
            cost_models.create_model(
                tx,
                repo,
                {
                    "site": "plant1",
                    "valid_from": date(2025, 1 + 3 * quarter, 1),
                    "currency": "EUR",
                    "labour_rate": 45.0 + quarter,
                    "products": products,
                },
                actor="bench",
            )
        ids = {
            "lines": [int(r[0]) for r in tx.rows("SELECT id FROM lines ORDER BY key")],
            "stations": np.array(
                [
                    int(r[0])
                    for r in tx.rows(
                        "SELECT s.id FROM stations s JOIN lines l ON l.id = s.line_id "
                        "ORDER BY l.key, s.key"
                    )
                ]
            ).reshape(LINES, STATIONS),
            "codes": [
                int(r[0]) for r in tx.rows("SELECT id FROM quality_defect_codes ORDER BY code")
            ],
            "dispositions": [
                int(tx.scalar("SELECT id FROM quality_dispositions WHERE key = ?", [d]))
                for d in DISPOSITIONS
            ],
        }
    return ids


def defect_rows(ids: dict[str, Any], n: int, rng: np.random.Generator) -> list[tuple[Any, ...]]:
    """`n` records spread over the year: Pareto-weighted codes, 3 products per line."""
    seconds = rng.integers(0, DAYS * 86_400, n)
    line = rng.integers(0, LINES, n)
    station = rng.integers(0, STATIONS + 1, n)  # STATIONS: none given
    product = (line * 3 + rng.integers(0, 3, n)) % len(PRODUCTS)
    weights = 1.0 / np.arange(1, len(ids["codes"]) + 1) ** 1.1
    code = rng.choice(len(ids["codes"]), n, p=weights / weights.sum())
    disposition = rng.choice(len(DISPOSITIONS), n, p=DISPOSITION_P)
    quantity = np.minimum(rng.geometric(0.55, n), 20)
    minutes = np.where(
        np.isin(disposition, (1, 2)),
        rng.choice((5.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0, 90.0), n),
        0.0,
    )
    lines, stations, codes, disps = ids["lines"], ids["stations"], ids["codes"], ids["dispositions"]
    now = datetime.now(UTC)
    rows = []
    for i in range(n):
        ln = int(line[i])
        st = int(station[i])
        sec = int(seconds[i])
        rows.append(
            (
                YEAR + timedelta(seconds=sec),
                lines[ln],
                None if st == STATIONS else int(stations[ln, st]),
                PRODUCTS[int(product[i])],
                f"LOT-{ln + 1:02d}-{sec // 86_400:03d}",
                codes[int(code[i])],
                disps[int(disposition[i])],
                int(quantity[i]),
                float(minutes[i]),
                "bench",
                "",
                now,
            )
        )
    return rows


def seed(store: Any, n: int) -> dict[str, float]:
    from service.quality import costing, rollups

    timings: dict[str, float] = {}
    ids = build_plant(store)
    rng = np.random.default_rng(2025)
    columns = (
        "ts",
        "line_id",
        "station_id",
        "product",
        "lot",
        "defect_code_id",
        "disposition_id",
        "quantity",
        "rework_minutes",
        "recorded_by",
        "source",
        "created_at",
    )
    types = (
        "timestamptz",
        "int8",
        "int8",
        "text",
        "text",
        "int8",
        "int8",
        "int4",
        "float8",
        "text",
        "text",
        "timestamptz",
    )
    started = time.perf_counter()
    copy_seconds = 0.0
    for offset in range(0, n, CHUNK):
        rows = defect_rows(ids, min(CHUNK, n - offset), rng)
        t = time.perf_counter()
        with store.transaction() as tx:
            tx.copy_rows("quality_defects", columns, rows, types)
        copy_seconds += time.perf_counter() - t
        log(f"copied {offset + len(rows):,} / {n:,} records")
    timings["generate + COPY (s)"] = time.perf_counter() - started
    timings["COPY alone (s)"] = copy_seconds
    with store.transaction() as tx:
        t = time.perf_counter()
        costed = costing.cost_records(tx, "1 = 1", [])
        timings["cost every record, SQL (s)"] = time.perf_counter() - t
        t = time.perf_counter()
        rollups.rebuild_defects(tx, store.repo, ids["lines"], YEAR, YEAR + timedelta(days=DAYS))
        timings["build daily roll-ups (s)"] = time.perf_counter() - t
    assert costed == n, (costed, n)
    with store.db.connection() as conn:
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")
        conn.autocommit = False
    return timings


def record_through_api_path(store: Any) -> dict[str, float]:
    """Good units for every line, product and day, and 20 000 more defects, through the
    service's `Recorder` (validation, costing, roll-up increments) in batches of 1000."""
    from service.quality.recording import Recorder

    recorder = Recorder(store)
    units = [
        {
            "ts": (YEAR + timedelta(days=d, hours=20)).isoformat(),
            "line": f"L{n + 1:02d}",
            "product": PRODUCTS[(n * 3 + k) % len(PRODUCTS)],
            "quantity": 900 + (d * 7 + n) % 200,
        }
        for d in range(DAYS)
        for n in range(LINES)
        for k in range(3)
    ]
    out = {}
    t = time.perf_counter()
    for i in range(0, len(units), 5000):
        assert recorder.record_good_units(units[i : i + 5000], "bench").accepted
    out["good units recorded"] = float(len(units))
    rng = np.random.default_rng(99)
    records = []
    for _ in range(20_000):
        ln = int(rng.integers(0, LINES))
        records.append(
            {
                "ts": (YEAR + timedelta(seconds=int(rng.integers(0, DAYS * 86_400)))).isoformat(),
                "line": f"L{ln + 1:02d}",
                "station": f"L{ln + 1:02d}.op{10 * int(rng.integers(1, 7))}",
                "product": PRODUCTS[(ln * 3 + int(rng.integers(0, 3))) % len(PRODUCTS)],
                "defect_code": CODES[int(rng.integers(0, len(CODES)))][0],
                "disposition": DISPOSITIONS[int(rng.integers(0, 6))],
                "quantity": 1,
            }
        )
    t = time.perf_counter()
    for i in range(0, len(records), 1000):
        assert recorder.record_defects(records[i : i + 1000], "bench").accepted == 1000
    out["Recorder: defect records/s (batches of 1000)"] = len(records) / (time.perf_counter() - t)
    return out


# --- timing -------------------------------------------------------------------------------------
class Server:
    def __init__(self, url: str) -> None:
        import uvicorn

        from service.app import create_app
        from service.settings import Settings

        self.settings = Settings(
            database_url=url, secret_key=SECRET, config_file=None, migrate_on_start=False
        )
        self.app = create_app(self.settings)
        self.port = free_port()
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("service did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


def time_query(
    client: httpx.Client, path: str, params: dict[str, Any], runs: int
) -> tuple[float, float, int, str]:
    samples = []
    body: Any = None
    for _ in range(runs + 2):
        t = time.perf_counter()
        response = client.get(path, params=params)
        elapsed = (time.perf_counter() - t) * 1000
        assert response.status_code == 200, response.text
        samples.append(elapsed)
        body = response.json()
    samples = samples[2:]  # warm-up
    rows = len(body.get("rows") or body.get("items") or [])
    return (
        statistics.median(samples),
        sorted(samples)[int(0.95 * (len(samples) - 1))],
        rows,
        body.get("source", ""),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=2_000_000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--database-url", default=PG_BASE)
    args = parser.parse_args()

    from service.auth import issue_token
    from service.settings import Settings
    from service.storage import open_store

    load_before = os.getloadavg()
    url = schema_url(args.database_url)
    seeded: dict[str, float] = {}
    reuse = args.keep and existing_records(args.database_url) >= args.records
    if not reuse:
        reset_schema(args.database_url)
    store = open_store(Settings(database_url=url, secret_key=SECRET, config_file=None))
    try:
        if not reuse:
            log(f"seeding {args.records:,} defect records over {DAYS} days, {LINES} lines")
            seeded = seed(store, args.records)
            seeded.update(record_through_api_path(store))
        with store.transaction(readonly=True) as tx:
            total = int(tx.scalar("SELECT count(*) FROM quality_defects"))
            grains = {
                t: int(tx.scalar(f"SELECT count(*) FROM {t}"))
                for t in (
                    "quality_daily_line",
                    "quality_daily_product",
                    "quality_daily_code",
                    "quality_daily_disposition",
                    "quality_daily_product_disposition",
                    "quality_daily_full",
                )
            }
        token = issue_token(store, SECRET, role="manager", name="bench-manager", actor="bench")
    finally:
        store.close()

    year = {"from": "2025-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}
    raw_year = {"from": "2025-01-01T00:00:01Z", "to": "2026-01-01T00:00:00Z"}
    cases = [
        (
            "cost, week × line (the target)",
            "/api/v1/quality-cost",
            {**year, "bucket": "week", "by": "line"},
        ),
        (
            "cost, month × defect_code",
            "/api/v1/quality-cost",
            {**year, "bucket": "month", "by": "defect_code"},
        ),
        ("cost, day × product", "/api/v1/quality-cost", {**year, "bucket": "day", "by": "product"}),
        (
            "cost, week × disposition, line L01",
            "/api/v1/quality-cost",
            {**year, "bucket": "week", "by": "disposition", "line": "L01"},
        ),
        (
            "Pareto defect_code by cost",
            "/api/v1/defects/pareto",
            {**year, "by": "defect_code", "measure": "cost"},
        ),
        (
            "movers defect_code by cost (H2 vs H1)",
            "/api/v1/quality-cost/movers",
            {"from": "2025-07-02T00:00:00Z", "to": "2026-01-01T00:00:00Z", "by": "defect_code"},
        ),
        (
            "FPY/PPM rates, week × line",
            "/api/v1/quality-rates",
            {**year, "bucket": "week", "by": "line"},
        ),
        (
            "peer: cost, week × line from the records",
            "/api/v1/quality-cost",
            {**raw_year, "bucket": "week", "by": "line"},
        ),
    ]
    results = []
    with (
        Server(url) as server,
        httpx.Client(
            base_url=f"http://127.0.0.1:{server.port}",
            timeout=300,
            headers={"Authorization": f"Bearer {token}"},
        ) as client,
    ):
        for label, path, params in cases:
            runs = max(3, args.runs // 5) if label.startswith("peer") else args.runs
            log(f"timing {label}")
            results.append((label, *time_query(client, path, params, runs)))
    if not args.keep:
        reset_schema(args.database_url, drop_only=True)

    target = results[0][1]
    peer = results[-1][1]
    print(f"\nQuality cost queries, PostgreSQL, {total:,} defect records, {LINES} lines, one year")
    print(
        f"load average before {load_before[0]:.1f}, after {os.getloadavg()[0]:.1f} "
        f"({os.cpu_count()} CPUs)"
    )
    for name, value in seeded.items():
        print(f"  {name:<46} {value:>12,.1f}")
    print(
        "  roll-up rows: "
        + ", ".join(f"{k.removeprefix('quality_daily_')} {v:,}" for k, v in grains.items())
    )
    print()
    print(
        f"{'query (HTTP, manager token)':<44} {'source':<26} {'median ms':>10} {'p95 ms':>8}"
        f" {'rows':>6} {'× peer':>8}"
    )
    for label, median, p95, rows, source in results:
        print(
            f"{label:<44} {source:<26} {median:>10.1f} {p95:>8.1f} {rows:>6} {median / peer:>8.3f}"
        )
    verdict = "meets" if target < 300 else "MISSES"
    print(
        f"\ncost per week and line over the year: median {target:.1f} ms, {verdict} the 300 ms "
        f"target; the records themselves take {peer:.0f} ms ({peer / target:.0f}× slower)"
    )


if __name__ == "__main__":
    main()
