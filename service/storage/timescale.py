"""TimescaleDB when available, plain PostgreSQL tables otherwise.

With the `timescaledb` extension in ``pg_available_extensions`` (and ``timescale = "auto"``),
`measurements` becomes a hypertable chunked by day (migration 0001), with a real-time continuous
aggregate ``measurements_hourly`` (count, mean, min, max, stddev per characteristic and hour) and
compression and retention policies taken from the settings. Those statements cannot run inside
a transaction, so they are not migrations: `ensure_timescale` runs them idempotently at every
start. Without the extension the same queries run on the plain table (BRIN on time, B-tree on
(characteristic, time)); bucketing goes through `Repository.bucket_expr` (time_bucket,
date_bin or SQLite arithmetic).
"""

from __future__ import annotations

import logging
from typing import Any

from service.storage.db import Database, PgDatabase

log = logging.getLogger("linewatch.storage")

CAGG = """
CREATE MATERIALIZED VIEW IF NOT EXISTS measurements_hourly
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT characteristic_id, time_bucket(INTERVAL '1 hour', ts) AS bucket, count(*) AS n,
       avg(value) AS mean, min(value) AS min, max(value) AS max, stddev_samp(value) AS stddev
FROM measurements GROUP BY characteristic_id, bucket WITH NO DATA
"""


def detect_timescale(db: Database, mode: str) -> bool:
    """Enable the extension when it is available and wanted; sets `db.timescale`."""
    db.timescale = False
    if mode == "off" or not isinstance(db, PgDatabase):
        return False
    with db.connection() as conn:
        conn.autocommit = True
        try:
            available = conn.execute(
                "SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'"
            ).fetchone()
            if not available:
                return False
            conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
        except Exception as exc:  # e.g. not in shared_preload_libraries, no privilege
            log.warning("timescaledb available but cannot be enabled: %s", exc)
            return False
        finally:
            conn.autocommit = False
    db.timescale = True
    return True


def measurements_is_hypertable(db: PgDatabase) -> bool:
    with db.connection() as conn:
        row = conn.execute(
            "SELECT 1 FROM timescaledb_information.hypertables "
            "WHERE hypertable_name = 'measurements' AND hypertable_schema = current_schema()"
        ).fetchone()
        conn.rollback()
    return row is not None


def ensure_timescale(db: Database, settings: Any) -> None:
    """Continuous aggregate and policies (idempotent); no-op without TimescaleDB."""
    if not db.timescale or not isinstance(db, PgDatabase):
        return
    if not measurements_is_hypertable(db):
        log.warning("timescaledb enabled but measurements is a plain table (created before)")
        return
    with db.connection() as conn:
        conn.autocommit = True
        try:
            conn.execute(CAGG)
            conn.execute(
                "SELECT add_continuous_aggregate_policy('measurements_hourly', "
                "start_offset => INTERVAL '3 days', end_offset => INTERVAL '1 hour', "
                "schedule_interval => INTERVAL '30 minutes', if_not_exists => true)"
            )
            conn.execute("SELECT remove_compression_policy('measurements', if_exists => true)")
            if settings.timescale_compress_after:
                conn.execute(
                    "ALTER TABLE measurements SET (timescaledb.compress, "
                    "timescaledb.compress_segmentby = 'characteristic_id', "
                    "timescaledb.compress_orderby = 'ts, id')"
                )
                conn.execute(
                    "SELECT add_compression_policy('measurements', %s::interval)",
                    [settings.timescale_compress_after],
                )
            conn.execute("SELECT remove_retention_policy('measurements', if_exists => true)")
            if settings.timescale_retention:
                conn.execute(
                    "SELECT add_retention_policy('measurements', %s::interval)",
                    [settings.timescale_retention],
                )
        finally:
            conn.autocommit = False
