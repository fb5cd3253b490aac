"""The repository: one interface, a PostgreSQL and a SQLite implementation, the same behaviour.

Usage from any service module (alerting and quality cost included)::

    store = Store.open(url)                 # pool + repository for the URL's dialect
    with store.transaction() as tx:         # one transaction (write by default)
        char = store.repo.get_characteristic(tx, "line1.op20.bore")
        store.repo.audit(tx, actor="ana", entity="characteristic", entity_key=char.key,
                         action="update", before=..., after=..., reason="...")
        tx.execute("UPDATE my_table SET x = ? WHERE id = ?", [1, 2])   # own SQL, ? placeholders

Every repository method takes the open `Tx` as first argument, so several calls (and your own
SQL through the `Tx` helpers, see `service.storage.db`) share one transaction. The dialect
differences are in `service.storage.db.Tx` and in the few methods the two subclasses override.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

from service.storage.db import Database, Tx, connect, int_array
from service.storage.repo_alarms import AlarmRepository
from service.storage.repo_auth import AuthRepository
from service.storage.repo_limits import LimitRepository
from service.storage.repo_measurements import Bucket, Head, IngestLookups, MeasurementRepository
from service.storage.repo_plant import PlantRepository

__all__ = [
    "PostgresRepository",
    "Repository",
    "SqliteRepository",
    "Store",
    "int_array",
    "repository_for",
]

_CHUNK = 500


class Repository(
    PlantRepository, LimitRepository, MeasurementRepository, AlarmRepository, AuthRepository
):
    """All data access of the service, dialect-neutral except for the abstract methods."""


class PostgresRepository(Repository):
    def __init__(self, timescale: bool = False) -> None:
        self.timescale = timescale

    # The ingest look-ups are queued with `Tx.rows_later`: inside the ingest transaction's
    # pipeline the locks, the duplicate look-ups, the new ids and the heads cost one round trip.
    def ingest_lookups(
        self,
        tx: Tx,
        seq_keys: Sequence[tuple[str, int]],
        value_keys: Sequence[tuple[int, datetime, float]],
        n_ids: int,
        characteristic_ids: Sequence[int],
    ) -> Callable[[], IngestLookups]:
        seq = self._seq_keys_later(tx, seq_keys)
        value = self._value_keys_later(tx, value_keys)
        ids = self._ids_later(tx, n_ids)
        heads = self._heads_later(tx, characteristic_ids)
        return lambda: IngestLookups(seq(), value(), ids(), heads())

    def allocate_measurement_ids(self, tx: Tx, n: int) -> list[int]:
        return self._ids_later(tx, n)()

    def existing_seq_keys(self, tx: Tx, keys: Sequence[tuple[str, int]]) -> set[tuple[str, int]]:
        return self._seq_keys_later(tx, keys)()

    def existing_value_keys(
        self, tx: Tx, keys: Sequence[tuple[int, datetime, float]]
    ) -> set[tuple[int, datetime, float]]:
        return self._value_keys_later(tx, keys)()

    def heads(self, tx: Tx, characteristic_ids: Sequence[int]) -> dict[int, Head]:
        return self._heads_later(tx, characteristic_ids)()

    def _ids_later(self, tx: Tx, n: int) -> Callable[[], list[int]]:
        """`n` ids from the sequence, which hands them out in blocks of its increment
        (migration 0002): one ``nextval`` per block, not per row."""
        if n <= 0:
            return list
        answer = tx.rows_later(
            "SELECT b, array_agg(v ORDER BY v) FROM (SELECT seqincrement AS b FROM pg_sequence "
            "WHERE seqrelid = 'measurements_id_seq'::regclass) inc, LATERAL (SELECT "
            "nextval('measurements_id_seq') AS v FROM generate_series(1, (?::int8 + b - 1) / b)) s "
            "GROUP BY b",
            [n],
        )

        def ids() -> list[int]:
            ((block, starts),) = answer()
            block = int(block)
            out = [i for start in starts for i in range(int(start), int(start) + block)]
            del out[n:]
            return out

        return ids

    def _seq_keys_later(
        self, tx: Tx, keys: Sequence[tuple[str, int]]
    ) -> Callable[[], set[tuple[str, int]]]:
        if not keys:
            return set
        by_source: dict[str, list[int]] = {}
        for source, seq in keys:
            by_source.setdefault(source, []).append(seq)
        # A collector numbers its records consecutively: a range scan per source is far
        # cheaper than shipping every key as an array (psycopg dumps lists item by item).
        if len(by_source) <= 4 and all(
            max(seqs) - min(seqs) <= 4 * len(seqs) + 1000 for seqs in by_source.values()
        ):
            ranges = [
                (
                    source,
                    set(seqs),
                    tx.rows_later(
                        "SELECT seq FROM measurements WHERE source = ? AND seq BETWEEN ? AND ?",
                        [source, min(seqs), max(seqs)],
                    ),
                )
                for source, seqs in by_source.items()
            ]
            return lambda: {
                (source, int(seq))
                for source, wanted, answer in ranges
                for (seq,) in answer()
                if seq in wanted
            }
        answer = tx.rows_later(
            "SELECT m.source, m.seq FROM measurements m "
            "JOIN unnest(?::text[], ?::int8[]) AS k(source, seq) "
            "ON m.source = k.source AND m.seq = k.seq WHERE m.seq IS NOT NULL",
            [[k[0] for k in keys], [k[1] for k in keys]],
        )
        return lambda: {(r[0], int(r[1])) for r in answer()}

    def _value_keys_later(
        self, tx: Tx, keys: Sequence[tuple[int, datetime, float]]
    ) -> Callable[[], set[tuple[int, datetime, float]]]:
        if not keys:
            return set
        answer = tx.rows_later(
            "SELECT m.characteristic_id, m.ts, m.value FROM measurements m "
            "JOIN unnest(?::int4[], ?::timestamptz[], ?::float8[]) AS k(c, ts, v) "
            "ON m.characteristic_id = k.c AND m.ts = k.ts AND m.value = k.v",
            [[k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys]],
        )
        return lambda: {(int(r[0]), r[1], r[2]) for r in answer()}

    def _heads_later(
        self, tx: Tx, characteristic_ids: Sequence[int]
    ) -> Callable[[], dict[int, Head]]:
        if not characteristic_ids:
            return dict
        answer = tx.rows_later(
            "SELECT characteristic_id, s.limit_version, h.head_id, s.checkpoint_id "
            "FROM monitor_state s JOIN monitor_heads h USING (characteristic_id) "
            "WHERE characteristic_id = ANY(?::int8[])",
            [int_array(characteristic_ids)],
        )
        return lambda: {r[0]: Head(r[0], r[1], r[2], r[3]) for r in answer()}

    def save_heads(self, tx: Tx, heads: Sequence[tuple[int, int]]) -> None:
        if not heads:
            return
        tx.execute(
            "UPDATE monitor_heads AS m SET head_id = u.h "
            "FROM unnest(?::int8[], ?::int8[]) AS u(c, h) WHERE m.characteristic_id = u.c",
            [int_array([h[0] for h in heads]), int_array([h[1] for h in heads])],
        )

    def bucket_stats(
        self,
        tx: Tx,
        cid: int,
        start: datetime,
        end: datetime,
        width_seconds: float,
        reference: float = 0.0,
    ) -> list[Bucket]:
        """Hourly buckets come from the continuous aggregate when TimescaleDB is on."""
        if not (self.timescale and width_seconds == 3600.0):
            return super().bucket_stats(tx, cid, start, end, width_seconds, reference)
        rows = tx.rows(
            "SELECT bucket, n, mean, min, max, stddev FROM measurements_hourly "
            "WHERE characteristic_id = ? AND bucket >= date_trunc('hour', ?::timestamptz) "
            "AND bucket < ? ORDER BY bucket",
            [cid, start, end],
        )
        return [Bucket(tx.to_dt(r[0]), int(r[1]), r[2], r[3], r[4], r[5]) for r in rows]  # type: ignore[arg-type]

    def bucket_expr(self, tx: Tx, column: str = "ts") -> str:
        if self.timescale:
            return f"time_bucket(make_interval(secs => ?::float8), {column})"
        return (
            f"date_bin(make_interval(secs => ?::float8), {column}, "
            "TIMESTAMPTZ '2000-01-01 00:00:00+00')"
        )


class SqliteRepository(Repository):
    def allocate_measurement_ids(self, tx: Tx, n: int) -> list[int]:
        start = int(tx.scalar("SELECT coalesce(max(id), 0) FROM measurements")) + 1
        return list(range(start, start + n))

    def _temp_keys(self, tx: Tx, columns: str, rows: Sequence[tuple[object, ...]]) -> None:
        tx.execute(f"CREATE TEMP TABLE IF NOT EXISTS lw_keys ({columns})")
        tx.execute("DELETE FROM lw_keys")
        marks = ", ".join("?" for _ in columns.split(","))
        tx.executemany(f"INSERT INTO lw_keys VALUES ({marks})", rows)

    def existing_seq_keys(self, tx: Tx, keys: Sequence[tuple[str, int]]) -> set[tuple[str, int]]:
        if not keys:
            return set()
        if len(keys) <= 8:
            found: set[tuple[str, int]] = set()
            for source, seq in keys:
                if tx.scalar(
                    "SELECT 1 FROM measurements WHERE source = ? AND seq = ? AND seq IS NOT NULL",
                    [source, seq],
                ):
                    found.add((source, seq))
            return found
        tx.execute("DROP TABLE IF EXISTS temp.lw_keys")
        self._temp_keys(tx, "source, seq", keys)
        rows = tx.rows(
            "SELECT m.source, m.seq FROM lw_keys k JOIN measurements m "
            "ON m.source = k.source AND m.seq = k.seq WHERE m.seq IS NOT NULL"
        )
        return {(r[0], int(r[1])) for r in rows}

    def existing_value_keys(
        self, tx: Tx, keys: Sequence[tuple[int, datetime, float]]
    ) -> set[tuple[int, datetime, float]]:
        if not keys:
            return set()
        tx.execute("DROP TABLE IF EXISTS temp.lw_keys")
        self._temp_keys(tx, "c, ts, v", [(c, tx.ts(t), v) for c, t, v in keys])
        rows = tx.rows(
            "SELECT m.characteristic_id, m.ts, m.value FROM lw_keys k JOIN measurements m "
            "ON m.characteristic_id = k.c AND m.ts = k.ts AND m.value = k.v"
        )
        return {(int(r[0]), tx.to_dt(r[1]), r[2]) for r in rows}  # type: ignore[misc]

    def heads(self, tx: Tx, characteristic_ids: Sequence[int]) -> dict[int, Head]:
        out: dict[int, Head] = {}
        ids = list(characteristic_ids)
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            rows = tx.rows(
                "SELECT characteristic_id, s.limit_version, h.head_id, s.checkpoint_id "
                f"FROM monitor_state s JOIN monitor_heads h USING (characteristic_id) "
                f"WHERE characteristic_id IN ({', '.join('?' for _ in chunk)})",
                chunk,
            )
            for r in rows:
                out[int(r[0])] = Head(int(r[0]), r[1], int(r[2]), int(r[3]))
        return out

    def save_heads(self, tx: Tx, heads: Sequence[tuple[int, int]]) -> None:
        tx.executemany(
            "UPDATE monitor_heads SET head_id = ? WHERE characteristic_id = ?",
            [(h, c) for c, h in heads],
        )

    def bucket_expr(self, tx: Tx, column: str = "ts") -> str:
        return (
            f"(strftime('%Y-%m-%dT%H:%M:%S', unixepoch({column}) - "
            f"(unixepoch({column}) % CAST(? AS INTEGER)), 'unixepoch') || '.000000+00:00')"
        )


def repository_for(db: Database) -> Repository:
    if db.dialect == "postgresql":
        return PostgresRepository(timescale=db.timescale)
    return SqliteRepository()


class Store:
    """A database pool and its repository: what route handlers receive as `Store`."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.repo = repository_for(db)

    @classmethod
    def open(cls, url: str, *, min_size: int = 1, max_size: int = 8) -> Store:
        return cls(connect(url, min_size=min_size, max_size=max_size))

    @contextmanager
    def transaction(self, *, readonly: bool = False) -> Iterator[Tx]:
        with self.db.transaction(readonly=readonly) as tx:
            yield tx

    @property
    def dialect(self) -> str:
        return self.db.dialect

    def close(self) -> None:
        self.db.close()
