"""Daily roll-ups of the defect records and good-unit counts, kept in step with the records.

A year of a 20-line plant is about two million defect records; a cost trend per week and line
must not read them all. Each record is added to one row per UTC day and line in each grain
below (summed records, units, rework minutes, cost, uncosted records), in the transaction that
stores it, so the roll-ups are never stale. Queries pick the narrowest grain that has every
column they group or filter by (`pick_grain`); the widest grain has all four, the raw table
answers the rest (station, lot, ranges that do not start and end at midnight UTC).

Concurrency: writers take the advisory locks of the lines they touch (`lock_lines`) before
they write, so two batches on the same line add to the roll-ups one after the other. Inserts
add increments (``ON CONFLICT DO UPDATE SET n = n + excluded.n``); recosting and deleting
rebuild the affected line-days from the records.

The UTC day of a record is `Repository.bucket_expr` with a width of 86 400 s (time_bucket on
TimescaleDB, date_bin on PostgreSQL, arithmetic on SQLite): the one time-bucket function.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from service.storage.db import Tx, ident
from service.storage.repository import Repository

LOCK_NAMESPACE = 0x4C51  # "LQ": advisory locks of quality writers, keyed by line id
DAY_SECONDS = 86_400
DIM_COLUMNS = {
    "product": "product",
    "defect_code": "defect_code_id",
    "disposition": "disposition_id",
}
MEASURE_COLUMNS = ("currency", "records", "quantity", "rework_minutes", "cost", "uncosted")


@dataclass(frozen=True)
class Grain:
    """One roll-up table: per day and line, plus these dimensions."""

    table: str
    dims: tuple[str, ...]

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(DIM_COLUMNS[d] for d in self.dims)


GRAINS: tuple[Grain, ...] = (  # narrowest first: `pick_grain` takes the first that fits
    Grain("quality_daily_line", ()),
    Grain("quality_daily_product", ("product",)),
    Grain("quality_daily_disposition", ("disposition",)),
    Grain("quality_daily_product_disposition", ("product", "disposition")),
    Grain("quality_daily_code", ("defect_code",)),
    Grain("quality_daily_full", ("product", "defect_code", "disposition")),
)


def pick_grain(needed: set[str]) -> Grain | None:
    """The narrowest grain holding every needed dimension (None: only the raw table can)."""
    for grain in GRAINS:
        if needed <= set(grain.dims):
            return grain
    return None


def day_floor(value: datetime) -> datetime:
    value = value.astimezone(UTC)
    return datetime.combine(value.date(), time(0), tzinfo=UTC)


def day_ceil(value: datetime) -> datetime:
    floor = day_floor(value)
    return floor if floor == value else floor + timedelta(days=1)


def is_midnight(value: datetime) -> bool:
    return day_floor(value) == value


def lock_lines(tx: Tx, line_ids: Sequence[int]) -> None:
    tx.lock_keys(LOCK_NAMESPACE, sorted({int(i) for i in line_ids}))


def _marks(values: Sequence[Any]) -> str:
    return ", ".join("?" for _ in values)


def _aggregate(repo: Repository, tx: Tx, grain: Grain, where: str) -> str:
    dims = "".join(f", d.{c}" for c in grain.columns)
    return (
        f"SELECT {repo.bucket_expr(tx, 'd.ts')} AS day, d.line_id{dims}, max(d.currency), "
        "count(*), sum(d.quantity), sum(d.rework_minutes), coalesce(sum(d.cost), 0), "
        "sum(CASE WHEN d.cost IS NULL THEN 1 ELSE 0 END) "
        f"FROM quality_defects d WHERE {where} "
        f"GROUP BY 1, d.line_id{dims}"
    )


def _insert_head(grain: Grain) -> str:
    cols = ", ".join(("day", "line_id", *grain.columns, *MEASURE_COLUMNS))
    return f"INSERT INTO {ident(grain.table)} ({cols}) "


def add_defects(
    tx: Tx, repo: Repository, first_id: int, last_id: int, line_ids: Sequence[int]
) -> None:
    """Add the records with ids in [first_id, last_id] on these lines (just inserted)."""
    lines = sorted(set(line_ids))
    where = f"d.id >= ? AND d.id <= ? AND d.line_id IN ({_marks(lines)})"
    for grain in GRAINS:
        table = ident(grain.table)
        key = ", ".join(("day", "line_id", *grain.columns))
        sums = ", ".join(
            f"{c} = {table}.{c} + excluded.{c}"
            for c in ("records", "quantity", "rework_minutes", "cost", "uncosted")
        )
        tx.execute(
            _insert_head(grain)
            + _aggregate(repo, tx, grain, where)
            + f" ON CONFLICT ({key}) DO UPDATE SET {sums}, "
            f"currency = coalesce(excluded.currency, {table}.currency)",
            [DAY_SECONDS, first_id, last_id, *lines],
        )


def rebuild_defects(
    tx: Tx, repo: Repository, line_ids: Sequence[int], start: datetime, end: datetime | None
) -> None:
    """Recompute the roll-ups of these lines for the days in [start, end) from the records
    (after a recost or a deletion). `start` and `end` are widened to whole days."""
    lines = sorted(set(line_ids))
    if not lines:
        return
    lo = day_floor(start)
    hi = None if end is None else day_ceil(end)
    time_sql = "d.ts >= ?" + ("" if hi is None else " AND d.ts < ?")
    day_sql = "day >= ?" + ("" if hi is None else " AND day < ?")
    span = [tx.ts(lo)] + ([] if hi is None else [tx.ts(hi)])
    for grain in GRAINS:
        tx.execute(
            f"DELETE FROM {ident(grain.table)} WHERE line_id IN ({_marks(lines)}) AND {day_sql}",
            [*lines, *span],
        )
        where = f"d.line_id IN ({_marks(lines)}) AND {time_sql}"
        tx.execute(
            _insert_head(grain) + _aggregate(repo, tx, grain, where),
            [DAY_SECONDS, *lines, *span],
        )


def add_units(
    tx: Tx, repo: Repository, first_id: int, last_id: int, line_ids: Sequence[int]
) -> None:
    """Add the good-unit counts with ids in [first_id, last_id] on these lines."""
    lines = sorted(set(line_ids))
    tx.execute(
        "INSERT INTO quality_units_daily (day, line_id, product, good) "
        f"SELECT {repo.bucket_expr(tx, 'u.ts')} AS day, u.line_id, u.product, sum(u.quantity) "
        f"FROM quality_good_units u WHERE u.id >= ? AND u.id <= ? "
        f"AND u.line_id IN ({_marks(lines)}) GROUP BY 1, u.line_id, u.product "
        "ON CONFLICT (day, line_id, product) DO UPDATE SET "
        "good = quality_units_daily.good + excluded.good",
        [DAY_SECONDS, first_id, last_id, *lines],
    )
