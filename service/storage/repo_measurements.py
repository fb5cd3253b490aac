"""Measurements, evaluation state (monitor heads and checkpoints), violations and time buckets.

The dialect-specific halves (id allocation, key look-ups over arrays, the time-bucket function)
are abstract here and implemented by `PostgresRepository` and `SqliteRepository`.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter
from typing import Any

from service.domain import Measurement, Violation
from service.storage.db import Tx, int_array, text_array, utcnow

MEASUREMENT_COLUMNS = (
    "id",
    "characteristic_id",
    "ts",
    "value",
    "subgroup",
    "lot",
    "serial",
    "source",
    "seq",
    "quality",
    "limit_version",
    "point_no",
)
MEASUREMENT_PG_TYPES = (
    "int8",
    "int4",
    "timestamptz",
    "float8",
    "text",
    "text",
    "text",
    "text",
    "int8",
    "text",
    "int4",
    "int8",
)
VIOLATION_COLUMNS = (
    "characteristic_id",
    "measurement_id",
    "ts",
    "limit_version",
    "point_no",
    "series",
    "rule",
    "stat",
    "alarm_id",
    "created_at",
)


@dataclass(slots=True)
class Head:
    """Where evaluation of one characteristic stands in the database."""

    characteristic_id: int
    limit_version: int | None
    head_id: int
    checkpoint_id: int
    state: dict[str, Any] | None = None


@dataclass
class IngestLookups:
    """What an ingest transaction reads once it holds the locks (`ingest_lookups`)."""

    seen_seq: set[tuple[str, int]]
    seen_value: set[tuple[int, datetime, float]]
    ids: list[int]
    heads: dict[int, Head]


@dataclass(frozen=True)
class StoredPoint:
    """A measurement as charts and replays read it back."""

    id: int
    ts: datetime
    value: float
    subgroup: str | None
    lot: str | None
    limit_version: int | None
    point_no: int | None
    quality: str | None


@dataclass(frozen=True)
class Bucket:
    start: datetime
    n: int
    mean: float
    min: float
    max: float
    stddev: float | None


class MeasurementRepository:
    # --- dialect-specific ---------------------------------------------------------------------
    @abstractmethod
    def allocate_measurement_ids(self, tx: Tx, n: int) -> list[int]:
        """`n` new measurement ids, increasing; the caller holds the characteristic locks."""

    @abstractmethod
    def existing_seq_keys(self, tx: Tx, keys: Sequence[tuple[str, int]]) -> set[tuple[str, int]]:
        """Those (source, seq) already stored."""

    @abstractmethod
    def existing_value_keys(
        self, tx: Tx, keys: Sequence[tuple[int, datetime, float]]
    ) -> set[tuple[int, datetime, float]]:
        """Those (characteristic_id, ts, value) already stored."""

    @abstractmethod
    def heads(self, tx: Tx, characteristic_ids: Sequence[int]) -> dict[int, Head]:
        """Evaluation heads (no state) of these characteristics."""

    @abstractmethod
    def save_heads(self, tx: Tx, heads: Sequence[tuple[int, int]]) -> None:
        """Set head_id for each (characteristic_id, head_id)."""

    @abstractmethod
    def bucket_expr(self, tx: Tx, column: str = "ts") -> str:
        """SQL for the start of the time bucket of `column`, with ONE placeholder: the width
        in seconds. The one place that knows time_bucket / date_bin / SQLite arithmetic."""

    # --- shared -------------------------------------------------------------------------------
    def ingest_lookups(
        self,
        tx: Tx,
        seq_keys: Sequence[tuple[str, int]],
        value_keys: Sequence[tuple[int, datetime, float]],
        n_ids: int,
        characteristic_ids: Sequence[int],
    ) -> Callable[[], IngestLookups]:
        """The stored duplicates among these keys, `n_ids` new measurement ids and the heads
        of these characteristics; answered when the returned function is called (PostgreSQL
        queues the reads in the caller's pipeline)."""
        found = IngestLookups(
            self.existing_seq_keys(tx, seq_keys) if seq_keys else set(),
            self.existing_value_keys(tx, value_keys) if value_keys else set(),
            self.allocate_measurement_ids(tx, n_ids),
            self.heads(tx, characteristic_ids),
        )
        return lambda: found

    def insert_measurements(
        self, tx: Tx, rows: Sequence[Measurement], meanwhile: Callable[[], None] | None = None
    ) -> int:
        """COPY the rows; `meanwhile` (no database work) runs while PostgreSQL stores them.

        The rows go in by characteristic (arrival order within each): a batch spread over many
        characteristics then walks the (characteristic, ...) indexes in key order instead of
        jumping between their leaf pages, about 10 % less COPY time in bench/bench_ingest.py."""
        ts = tx.ts
        return tx.copy_rows(
            "measurements",
            MEASUREMENT_COLUMNS,
            [
                (
                    m.id,
                    m.characteristic_id,
                    ts(m.ts),
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
                for m in sorted(rows, key=_characteristic)
            ],
            MEASUREMENT_PG_TYPES,
            meanwhile,
        )

    def head_state(self, tx: Tx, cid: int) -> Head:
        row = tx.fetchone(
            "SELECT s.limit_version, h.head_id, s.checkpoint_id, s.state "
            "FROM monitor_state s JOIN monitor_heads h USING (characteristic_id) "
            "WHERE characteristic_id = ?",
            [cid],
        )
        if row is None:
            return Head(cid, None, 0, 0, None)
        return Head(
            cid,
            row["limit_version"],
            int(row["head_id"]),
            int(row["checkpoint_id"]),
            tx.load_json(row["state"]),
        )

    def head_states(self, tx: Tx, cids: Sequence[int]) -> dict[int, Head]:
        """`head_state` of many characteristics at once."""
        out: dict[int, Head] = {}
        for start in range(0, len(cids), 500):
            chunk = list(cids[start : start + 500])
            rows = tx.rows(
                "SELECT characteristic_id, s.limit_version, h.head_id, s.checkpoint_id, s.state "
                f"FROM monitor_state s JOIN monitor_heads h USING (characteristic_id) "
                f"WHERE characteristic_id IN ({', '.join('?' for _ in chunk)})",
                chunk,
            )
            for cid, version, head, checkpoint, state in rows:
                out[int(cid)] = Head(
                    int(cid), version, int(head), int(checkpoint), tx.load_json(state)
                )
        return out

    def save_checkpoints(
        self, tx: Tx, checkpoints: Sequence[tuple[int, int, dict[str, Any]]]
    ) -> None:
        """(characteristic_id, checkpoint_id, state) snapshots; head_id moves along."""
        now = tx.ts(utcnow())
        tx.executemany(
            "UPDATE monitor_state SET checkpoint_id = ?, state = ?, updated_at = ? "
            "WHERE characteristic_id = ?",
            [(cp, tx.dump_json(state), now, cid) for cid, cp, state in checkpoints],
        )
        self.save_heads(tx, [(cid, cp) for cid, cp, _ in checkpoints])

    def reset_monitor(
        self, tx: Tx, cid: int, limit_version: int | None, start_after_id: int
    ) -> None:
        tx.upsert(
            "monitor_state",
            {
                "characteristic_id": cid,
                "limit_version": limit_version,
                "checkpoint_id": start_after_id,
                "state": None,
                "updated_at": tx.ts(utcnow()),
            },
            key=["characteristic_id"],
        )
        tx.upsert(
            "monitor_heads",
            {"characteristic_id": cid, "head_id": start_after_id},
            key=["characteristic_id"],
        )

    def max_measurement_id(self, tx: Tx, cid: int) -> int:
        found = tx.scalar("SELECT max(id) FROM measurements WHERE characteristic_id = ?", [cid])
        return int(found or 0)

    def replay_points(
        self, tx: Tx, cid: int, after_id: int, upto_id: int, limit_version: int
    ) -> list[tuple[int, datetime, float, str | None, str | None]]:
        """(id, ts, value, subgroup, quality) evaluated under `limit_version`, in arrival order."""
        rows = tx.rows(
            "SELECT id, ts, value, subgroup, quality FROM measurements "
            "WHERE characteristic_id = ? AND id > ? AND id <= ? AND limit_version = ? "
            "ORDER BY id",
            [cid, after_id, upto_id, limit_version],
        )
        to_dt = tx.to_dt
        return [(int(r[0]), to_dt(r[1]), r[2], r[3], r[4]) for r in rows]  # type: ignore[misc]

    def window(
        self,
        tx: Tx,
        cid: int,
        start: datetime | None,
        end: datetime | None,
        limit: int | None = None,
        *,
        unevaluated_only: bool = False,
        subgroups: Sequence[str] | None = None,
        max_id: int | None = None,
    ) -> list[StoredPoint]:
        """Measurements of one characteristic in [start, end), in arrival order; with `limit`,
        the most recent `limit` of them."""
        where = ["characteristic_id = ?"]
        params: list[Any] = [cid]
        if start is not None:
            where.append("ts >= ?")
            params.append(tx.ts(start))
        if end is not None:
            where.append("ts < ?")
            params.append(tx.ts(end))
        if max_id is not None:
            where.append("id <= ?")
            params.append(max_id)
        if unevaluated_only:
            where.append("limit_version IS NULL")
        if subgroups is not None:
            if not subgroups:
                return []
            where.append(f"subgroup IN ({', '.join('?' for _ in subgroups)})")
            params.extend(subgroups)
        sql = (
            "SELECT id, ts, value, subgroup, lot, limit_version, point_no, quality "
            f"FROM measurements WHERE {' AND '.join(where)} ORDER BY id"
        )
        if limit is not None:
            sql = sql.replace("ORDER BY id", "ORDER BY id DESC") + " LIMIT ?"
            params.append(limit)
        rows = tx.rows(sql, params)
        if limit is not None:
            rows.reverse()
        to_dt = tx.to_dt
        return [
            StoredPoint(int(r[0]), to_dt(r[1]), r[2], r[3], r[4], r[5], r[6], r[7])  # type: ignore[arg-type]
            for r in rows
        ]

    def raw_window(
        self,
        tx: Tx,
        cid: int,
        start: datetime | None,
        end: datetime | None,
        limit: int | None = None,
    ) -> list[tuple[Any, ...]]:
        """The chart's read: (id, value, subgroup, limit_version, point_no) of the usable
        (quality not bad) measurements, in arrival order; no timestamps (`ts_lot` fetches those
        for the points actually returned): the chart reads 100,000 rows at a time."""
        where = ["characteristic_id = ?", "(quality IS NULL OR quality <> 'bad')"]
        params: list[Any] = [cid]
        if start is not None:
            where.append("ts >= ?")
            params.append(tx.ts(start))
        if end is not None:
            where.append("ts < ?")
            params.append(tx.ts(end))
        order = "id DESC" if limit is not None else "id"
        sql = (
            "SELECT id, value, subgroup, limit_version, point_no "
            f"FROM measurements WHERE {' AND '.join(where)} ORDER BY {order}"
        )
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        rows = tx.rows(sql, params)
        if limit is not None:
            rows.reverse()
        return rows

    def ts_lot(self, tx: Tx, cid: int, ids: Sequence[int]) -> dict[int, tuple[str, str | None]]:
        """ISO timestamp and lot of the given measurements."""
        out: dict[int, tuple[str, str | None]] = {}
        ordered = sorted(set(ids))
        for start in range(0, len(ordered), 900):
            chunk = ordered[start : start + 900]
            rows = tx.rows(
                "SELECT id, ts, lot FROM measurements WHERE characteristic_id = ? "
                f"AND id IN ({', '.join('?' for _ in chunk)})",
                [cid, *chunk],
            )
            for mid, ts, lot in rows:
                out[int(mid)] = (tx.ts_text(ts), lot)
        return out

    def count_unevaluated(self, tx: Tx, cid: int) -> int:
        return int(
            tx.scalar(
                "SELECT count(*) FROM measurements WHERE characteristic_id = ? "
                "AND limit_version IS NULL AND (quality IS NULL OR quality <> 'bad')",
                [cid],
            )
        )

    def count_measurements(self, tx: Tx, cid: int | None = None) -> int:
        if cid is None:
            return int(tx.scalar("SELECT count(*) FROM measurements"))
        return int(
            tx.scalar("SELECT count(*) FROM measurements WHERE characteristic_id = ?", [cid])
        )

    # --- violations ---------------------------------------------------------------------------
    def insert_violations(self, tx: Tx, violations: Sequence[Violation]) -> None:
        if not violations:
            return
        now = tx.ts(utcnow())
        if tx.dialect == "postgresql":  # one statement over arrays, not one per row
            tx.execute(
                f"INSERT INTO violations ({', '.join(VIOLATION_COLUMNS)}) "
                "SELECT c, m, t, lv, p, s, r, v, a, ? FROM unnest(?::int8[], ?::int8[], "
                "?::timestamptz[], ?::int8[], ?::int8[], ?::text[], ?::text[], ?::float8[], "
                "?::int8[]) WITH ORDINALITY AS u(c, m, t, lv, p, s, r, v, a, o) ORDER BY o",
                [
                    now,
                    int_array(v.characteristic_id for v in violations),
                    int_array(v.measurement_id for v in violations),
                    text_array(v.ts.isoformat() for v in violations),
                    [v.limit_version for v in violations],
                    int_array(v.point_no for v in violations),
                    text_array(v.series for v in violations),
                    text_array(v.rule for v in violations),
                    [v.stat for v in violations],
                    [v.alarm_id for v in violations],
                ],
            )
            return
        marks = ", ".join("?" for _ in VIOLATION_COLUMNS)
        tx.executemany(
            f"INSERT INTO violations ({', '.join(VIOLATION_COLUMNS)}) VALUES ({marks})",
            [
                (
                    v.characteristic_id,
                    v.measurement_id,
                    tx.ts(v.ts),
                    v.limit_version,
                    v.point_no,
                    v.series,
                    v.rule,
                    v.stat,
                    v.alarm_id,
                    now,
                )
                for v in violations
            ],
        )

    def violations(
        self,
        tx: Tx,
        cid: int | None,
        start: datetime | None = None,
        end: datetime | None = None,
        *,
        min_id: int | None = None,
    ) -> list[dict[str, Any]]:
        where: list[str] = ["1 = 1"]
        params: list[Any] = []
        if cid is not None:
            where.append("v.characteristic_id = ?")
            params.append(cid)
        if start is not None:
            where.append("v.ts >= ?")
            params.append(tx.ts(start))
        if end is not None:
            where.append("v.ts < ?")
            params.append(tx.ts(end))
        if min_id is not None:
            where.append("v.measurement_id >= ?")
            params.append(min_id)
        rows = tx.fetchall(
            "SELECT v.id, c.key AS characteristic, v.measurement_id, v.ts, v.limit_version, "
            "v.point_no, v.series, v.rule, v.stat, v.alarm_id FROM violations v "
            "JOIN characteristics c ON c.id = v.characteristic_id "
            f"WHERE {' AND '.join(where)} ORDER BY v.measurement_id, v.series, v.rule",
            params,
        )
        for row in rows:
            row["ts"] = tx.to_dt(row["ts"])
        return rows

    # --- time buckets -------------------------------------------------------------------------
    def bucket_stats(
        self,
        tx: Tx,
        cid: int,
        start: datetime,
        end: datetime,
        width_seconds: float,
        reference: float = 0.0,
    ) -> list[Bucket]:
        """Count, mean, min, max and sample standard deviation per time bucket.

        The variance is taken around `reference` (pass the center line) so that the sums of
        squares do not cancel catastrophically for values far from zero."""
        bucket = self.bucket_expr(tx)
        rows = tx.rows(
            f"SELECT {bucket} AS bucket, count(*), avg(value), min(value), max(value), "
            "sum((value - ?) * (value - ?)) FROM measurements "
            "WHERE characteristic_id = ? AND ts >= ? AND ts < ? GROUP BY 1 ORDER BY 1",
            [width_seconds, reference, reference, cid, tx.ts(start), tx.ts(end)],
        )
        out = []
        for b, n, mean, lo, hi, ss in rows:
            n = int(n)
            sd = None
            if n > 1:
                shifted = mean - reference
                sd = math.sqrt(max(ss - n * shifted * shifted, 0.0) / (n - 1))
            out.append(Bucket(tx.to_dt(b), n, mean, lo, hi, sd))  # type: ignore[arg-type]
        return out


_characteristic = attrgetter("characteristic_id")
