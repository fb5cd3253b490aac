"""Cost of poor quality over time, Pareto, top movers and yield rates, aggregated in SQL.

Every query reads the narrowest daily roll-up that holds the columns it groups and filters by
(`service.quality.rollups.pick_grain`); a query by station or lot, or one whose range does not
start and end at midnight UTC, reads the records themselves (same SQL, other source). Calendar
buckets are computed in the database from the UTC day: ``day``; ``week`` (ISO week, starting on
Monday); ``month``. The fixed-width `Repository.bucket_expr` gives the day; weeks and months
are calendar units it cannot express (its week origin is not a Monday on every dialect), so
they are truncated here: ``date_trunc`` on PostgreSQL and TimescaleDB, date modifiers on SQLite.

Rates (`rates`), per bucket and line, site or product, against the good units counted:

    total       = good + internal nonconforming units (every disposition but customer_return)
    FPY         = good / total                       (first-pass yield)
    PPM         = internal nonconforming / total × 10⁶
    scrap rate  = units scrapped / total
    rework rate = units reworked or repaired / total

``good`` must count the units that passed without a nonconformance (first pass); customer
returns are reported apart, since they were counted good when they shipped.

Costs in different currencies are never added: rows carry their currency, and a Pareto or a
movers list by cost over several currencies is refused (409) with the currencies named.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from service.errors import Conflict, Invalid
from service.quality.rollups import DAY_SECONDS, day_ceil, is_midnight, pick_grain
from service.storage.db import Tx, utcnow
from service.storage.repository import Repository

Bucket = Literal["day", "week", "month"]
Measure = Literal["count", "records", "cost", "rework_minutes"]
MEASURE_COLUMN = {
    "count": "quantity",
    "records": "records",
    "cost": "cost",
    "rework_minutes": "rework_minutes",
}
SUMS = ("records", "quantity", "rework_minutes", "cost", "uncosted")
INTERNAL_NONCONFORMING = ("scrap", "rework", "repair", "use_as_is", "return_to_supplier")


@dataclass(frozen=True)
class Dim:
    needs: str | None  # roll-up dimension (or "station"/"lot": the records only)
    column: str  # grouped on in the inner query (ids, so that labels join the few sums)
    key: str
    name: str
    join: str


LINE_JOIN = " JOIN lines l ON l.id = g.line_id"
SITE_JOIN = LINE_JOIN + " JOIN sites si ON si.id = l.site_id"
CODE_JOIN = " JOIN quality_defect_codes dc ON dc.id = g.defect_code_id"
DISPOSITION_JOIN = " JOIN quality_dispositions dp ON dp.id = g.disposition_id"
DIMENSIONS: dict[str, Dim] = {
    "line": Dim(None, "line_id", "l.key", "l.name", LINE_JOIN),
    "site": Dim(None, "line_id", "si.key", "si.name", SITE_JOIN),
    "product": Dim("product", "product", "g.product", "CAST(NULL AS TEXT)", ""),
    "defect_code": Dim("defect_code", "defect_code_id", "dc.code", "dc.name", CODE_JOIN),
    "category": Dim(
        "defect_code", "defect_code_id", "dc.category", "CAST(NULL AS TEXT)", CODE_JOIN
    ),
    "disposition": Dim("disposition", "disposition_id", "dp.key", "dp.name", DISPOSITION_JOIN),
    "station": Dim(
        "station",
        "station_id",
        "st.key",
        "st.name",
        " LEFT JOIN stations st ON st.id = g.station_id",
    ),
}
# filter -> (roll-up dimension it needs, column it restricts, SQL resolving keys to its values)
FILTERS: dict[str, tuple[str | None, str, str | None]] = {
    "site": (
        None,
        "line_id",
        "SELECT l.id FROM lines l JOIN sites si ON si.id = l.site_id WHERE si.key IN ({})",
    ),
    "line": (None, "line_id", "SELECT id FROM lines WHERE key IN ({})"),
    "product": ("product", "product", None),
    "defect_code": (
        "defect_code",
        "defect_code_id",
        "SELECT id FROM quality_defect_codes WHERE code IN ({})",
    ),
    "category": (
        "defect_code",
        "defect_code_id",
        "SELECT id FROM quality_defect_codes WHERE category IN ({})",
    ),
    "disposition": (
        "disposition",
        "disposition_id",
        "SELECT id FROM quality_dispositions WHERE key IN ({})",
    ),
    "station": ("station", "station_id", "SELECT id FROM stations WHERE key IN ({})"),
    "lot": ("lot", "lot", None),
}
RAW_ONLY = {"station", "lot"}


EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


@dataclass
class Window:
    start: datetime
    end: datetime

    @classmethod
    def of(cls, start: datetime | None, end: datetime | None, default_days: int = 30) -> Window:
        # The bounds given are checked before the default `from` is computed from `to`: near
        # year 1, `to − default_days` overflows (a 500 instead of a 422 naming the field).
        for name, value in (("from", start), ("to", end)):
            if value is not None and not EARLIEST <= value <= LATEST:
                raise Invalid(name, "must lie between 1970-01-01 and 2200-01-01")
        end = end or day_ceil(utcnow())
        if start is None:
            start = end - timedelta(days=default_days)
            if start < EARLIEST:
                raise Invalid(
                    "from",
                    f"the default (to − {default_days} days) would start before 1970-01-01: "
                    "give from",
                )
        if not start < end:
            raise Invalid("from", "must be before to")
        return cls(start, end)

    @property
    def aligned(self) -> bool:
        return is_midnight(self.start) and is_midnight(self.end)

    def previous(self) -> Window:
        """The period of the same length just before (top movers compare with it)."""
        start = self.start - (self.end - self.start)
        if start < EARLIEST:
            raise Invalid("from", "the previous period would start before 1970-01-01")
        return Window(start, self.start)

    def public(self) -> dict[str, datetime]:
        return {"from": self.start, "to": self.end}


@dataclass
class Query:
    """What to aggregate: a window, an optional calendar bucket, a group-by, filters."""

    window: Window
    by: str | None = None
    bucket: Bucket | None = None
    filters: dict[str, list[str]] = field(default_factory=dict)
    split_basis: bool = False  # also group by the disposition's cost basis (rates)

    def needed(self) -> set[str]:
        needs = {DIMENSIONS[self.by].needs} if self.by else set()
        needs |= {FILTERS[name][0] for name, values in self.filters.items() if values}
        if self.split_basis:
            needs.add("disposition")
        return {n for n in needs if n is not None}


def calendar_bucket(tx: Tx, bucket: Bucket, column: str) -> str:
    """The start of the calendar bucket holding `column` (a UTC day start). PostgreSQL
    sessions run in UTC (`service.storage.db` sets it on every pooled connection), so the
    two-argument date_trunc cuts UTC weeks and months (the three-argument form, with its zone
    look-up per row, is three times slower)."""
    if bucket == "day":
        return column
    if tx.dialect == "postgresql":
        return f"date_trunc('{bucket}', {column})"
    if bucket == "week":
        return f"strftime('%Y-%m-%dT00:00:00.000000+00:00', {column}, '-6 days', 'weekday 1')"
    return f"strftime('%Y-%m-01T00:00:00.000000+00:00', {column})"


def resolve(tx: Tx, filters: dict[str, list[str]]) -> dict[str, set[Any]]:
    """The allowed values of each source column the filters restrict (keys resolved to ids;
    filters on one column intersect: site and line both narrow ``line_id``)."""
    allowed: dict[str, set[Any]] = {}
    for name, values in filters.items():
        if not values:
            continue
        _, column, lookup = FILTERS[name]
        found: set[Any] = set(values)
        if lookup is not None:
            marks = ", ".join("?" for _ in values)
            found = {r[0] for r in tx.rows(lookup.format(marks), list(values))}
        allowed[column] = allowed[column] & found if column in allowed else found
    return allowed


def _restrictions(tx: Tx, filters: dict[str, list[str]]) -> tuple[list[str], list[Any]]:
    """Filters as conditions on the source's own columns, so the big table is read without
    joins."""
    where: list[str] = []
    params: list[Any] = []
    for column, chosen in resolve(tx, filters).items():
        if not chosen:
            where.append("1 = 0")
            continue
        ordered = sorted(chosen, key=str)
        where.append(f"r.{column} IN ({', '.join('?' for _ in ordered)})")
        params += ordered
    return where, params


def analytic(tx: Tx) -> None:
    """Room for the hash aggregates of a year of roll-ups (PostgreSQL's default work_mem, 4 MB,
    makes them spill to disk); SET LOCAL ends with the transaction."""
    if tx.dialect == "postgresql":
        tx.execute("SET LOCAL work_mem = '64MB'")


def aggregate_defects(tx: Tx, repo: Repository, q: Query) -> tuple[list[dict[str, Any]], str]:
    """Sums per (bucket, key[, basis], currency); returns the rows and the source read.

    Two steps in one statement: the inner query sums one table per calendar bucket and id
    columns (no joins); the outer one joins the labels to those few sums."""
    analytic(tx)
    needed = q.needed()
    grain = None if needed & RAW_ONLY or not q.window.aligned else pick_grain(needed)
    dim = DIMENSIONS[q.by] if q.by is not None else None
    columns = [] if dim is None else [dim.column]
    if q.split_basis and "disposition_id" not in columns:
        columns.append("disposition_id")
    where, params = _restrictions(tx, q.filters)
    if grain is not None:
        source_name = grain.table
        day, select_params = "r.day", []
        where.insert(0, "r.day >= ? AND r.day < ?")
        measures = (
            "sum(r.records)",
            "sum(r.quantity)",
            "sum(r.rework_minutes)",
            "sum(r.cost)",
            "sum(r.uncosted)",
        )
        table = grain.table
    else:
        source_name = "records"
        day, select_params = repo.bucket_expr(tx, "r.ts"), [DAY_SECONDS]
        where.insert(0, "r.ts >= ? AND r.ts < ?")
        measures = (
            "count(*)",
            "sum(r.quantity)",
            "sum(r.rework_minutes)",
            "coalesce(sum(r.cost), 0)",
            "sum(CASE WHEN r.cost IS NULL THEN 1 ELSE 0 END)",
        )
        table = "quality_defects"
    inner_select = [f"r.{c}" for c in columns] + ["r.currency AS currency"]
    outer_select: list[str] = []
    if q.bucket is not None:
        inner_select.insert(0, f"{calendar_bucket(tx, q.bucket, day)} AS bucket")
        outer_select.append("g.bucket AS bucket")
    else:
        select_params = []
    params = [*select_params, tx.ts(q.window.start), tx.ts(q.window.end), *params]
    sums = ", ".join(f"{expr} AS {name}" for expr, name in zip(measures, SUMS, strict=True))
    inner_groups = ", ".join(str(i + 1) for i in range(len(inner_select)))
    inner = (
        f"SELECT {', '.join(inner_select)}, {sums} FROM {table} r "
        f"WHERE {' AND '.join(where)} GROUP BY {inner_groups}"
    )
    joins = ""
    if dim is not None:
        outer_select += [f"{dim.key} AS key", f"{dim.name} AS name"]
        joins += dim.join
    if q.split_basis:
        outer_select.append("dp.basis AS basis")
        if DISPOSITION_JOIN not in joins:
            joins += DISPOSITION_JOIN
    outer_select.append("g.currency AS currency")
    groups = ", ".join(str(i + 1) for i in range(len(outer_select)))
    sql = (
        f"SELECT {', '.join(outer_select)}, CAST(sum(g.records) AS BIGINT) AS records, "
        "CAST(sum(g.quantity) AS BIGINT) AS quantity, sum(g.rework_minutes) AS rework_minutes, "
        "sum(g.cost) AS cost, CAST(sum(g.uncosted) AS BIGINT) AS uncosted "
        f"FROM ({inner}) g{joins} GROUP BY {groups} ORDER BY {groups}"
    )
    rows = tx.fetchall(sql, params)
    for row in rows:
        if "bucket" in row:
            row["bucket"] = tx.to_dt(row["bucket"])
        row["rework_minutes"] = float(row["rework_minutes"] or 0.0)
        row["cost"] = float(row["cost"] or 0.0)
    return rows, source_name


def merge_currencies(rows: list[dict[str, Any]], keys: Sequence[str]) -> list[dict[str, Any]]:
    """One row per `keys` and currency; rows without a currency (nothing costed) join the
    costed row of the same keys, so uncosted records are counted, not shown as a currency."""
    out: dict[tuple[Any, ...], dict[str, Any]] = {}
    orphans: list[dict[str, Any]] = []
    for row in rows:
        if row["currency"] is None:
            orphans.append(row)
            continue
        key = (*(row[k] for k in keys), row["currency"])
        if key in out:
            for name in SUMS:
                out[key][name] += row[name]
        else:
            out[key] = dict(row)
    costed = {k[:-1]: v for k, v in reversed(out.items())}  # first currency of each key
    for row in orphans:
        ident = tuple(row[k] for k in keys)
        target = costed.get(ident)
        if target is None:
            out[(*ident, None)] = dict(row)
            continue
        for name in SUMS:
            target[name] += row[name]
    return list(out.values())


def _sort_key(value: Any) -> tuple[bool, Any]:
    return (value is None, value if value is not None else "")


def quality_cost(tx: Tx, repo: Repository, q: Query) -> dict[str, Any]:
    """The cost time series: one row per bucket, key and currency."""
    rows, source = aggregate_defects(tx, repo, q)
    merged = merge_currencies(rows, ("bucket", "key", "name"))
    merged.sort(key=lambda r: (r["bucket"], _sort_key(r["key"]), _sort_key(r["currency"])))
    totals: dict[str | None, dict[str, Any]] = {}
    for row in merge_currencies(rows, ()):
        totals[row["currency"]] = {"currency": row["currency"], **{k: row[k] for k in SUMS}}
    return {
        "bucket": q.bucket,
        "by": q.by,
        **q.window.public(),
        "source": source,
        "rows": merged,
        "totals": sorted(totals.values(), key=lambda t: _sort_key(t["currency"])),
    }


def _currency(rows: list[dict[str, Any]], measure: str) -> str | None:
    currencies = sorted({r["currency"] for r in rows if r["currency"] is not None})
    if measure == "cost" and len(currencies) > 1:
        raise Conflict(
            f"costs in several currencies ({', '.join(currencies)}): filter by site to compare"
        )
    return currencies[0] if currencies else None


def _by_key(rows: list[dict[str, Any]]) -> dict[Any, dict[str, Any]]:
    out: dict[Any, dict[str, Any]] = {}
    for row in rows:
        found = out.get(row["key"])
        if found is None:
            out[row["key"]] = {k: row[k] for k in ("key", "name", *SUMS)}
        else:
            for name in SUMS:
                found[name] += row[name]
    return out


def pareto(
    tx: Tx, repo: Repository, q: Query, measure: Measure, limit: int | None
) -> dict[str, Any]:
    """Items in decreasing order of the measure (ties by key), with share and cumulative share;
    beyond `limit`, the rest is summed in ``other``."""
    rows, source = aggregate_defects(tx, repo, q)
    currency = _currency(rows, measure)
    column = MEASURE_COLUMN[measure]
    items = sorted(_by_key(rows).values(), key=lambda r: (-r[column], _sort_key(r["key"])))
    total = sum(r[column] for r in items)
    cumulative = 0.0
    for item in items:
        cumulative += item[column]
        item["value"] = item[column]
        item["share"] = item[column] / total if total else None
        item["cumulative_share"] = cumulative / total if total else None
    other = None
    if limit is not None and len(items) > limit:
        rest = items[limit:]
        items = items[:limit]
        value = sum(r["value"] for r in rest)
        other = {"items": len(rest), "value": value, "share": value / total if total else None}
    return {
        "by": q.by,
        "measure": measure,
        **q.window.public(),
        "source": source,
        "currency": currency if measure == "cost" else None,
        "total": total,
        "items": items,
        "other": other,
    }


def movers(tx: Tx, repo: Repository, q: Query, measure: Measure, limit: int) -> dict[str, Any]:
    """The keys whose measure changed most against the previous period of the same length."""
    current_rows, source = aggregate_defects(tx, repo, q)
    previous_q = Query(q.window.previous(), by=q.by, filters=q.filters)
    previous_rows, _ = aggregate_defects(tx, repo, previous_q)
    currency = _currency(current_rows + previous_rows, measure)
    column = MEASURE_COLUMN[measure]
    now, before = _by_key(current_rows), _by_key(previous_rows)
    items = []
    for key in set(now) | set(before):
        cur = now[key][column] if key in now else 0
        prev = before[key][column] if key in before else 0
        name = (now.get(key) or before[key])["name"]
        items.append(
            {
                "key": key,
                "name": name,
                "current": cur,
                "previous": prev,
                "delta": cur - prev,
                "change": (cur - prev) / prev if prev else None,
            }
        )
    items.sort(key=lambda r: (-abs(r["delta"]), _sort_key(r["key"])))
    return {
        "by": q.by,
        "measure": measure,
        "current": q.window.public(),
        "previous": q.window.previous().public(),
        "source": source,
        "currency": currency if measure == "cost" else None,
        "items": items[:limit],
    }


def _units(tx: Tx, repo: Repository, q: Query) -> list[dict[str, Any]]:
    """Good units per (bucket, key): the daily roll-up, or the counts for a ragged window."""
    analytic(tx)
    where, params = _restrictions(tx, q.filters)
    if q.window.aligned:
        table, day, select_params = "quality_units_daily", "r.day", []
        where.insert(0, "r.day >= ? AND r.day < ?")
        good = "r.good"
    else:
        table, day = "quality_good_units", repo.bucket_expr(tx, "r.ts")
        select_params = [DAY_SECONDS]
        where.insert(0, "r.ts >= ? AND r.ts < ?")
        good = "r.quantity"
    dim = DIMENSIONS[q.by or "line"]
    bucket = calendar_bucket(tx, q.bucket or "day", day)
    inner = (
        f"SELECT {bucket} AS bucket, r.{dim.column}, sum({good}) AS good FROM {table} r "
        f"WHERE {' AND '.join(where)} GROUP BY 1, r.{dim.column}"
    )
    rows = tx.fetchall(
        f"SELECT g.bucket AS bucket, {dim.key} AS key, {dim.name} AS name, "
        f"CAST(sum(g.good) AS BIGINT) AS good FROM ({inner}) g{dim.join} GROUP BY 1, 2, 3",
        [*select_params, tx.ts(q.window.start), tx.ts(q.window.end), *params],
    )
    for row in rows:
        row["bucket"] = tx.to_dt(row["bucket"])
    return rows


def rates(tx: Tx, repo: Repository, q: Query) -> dict[str, Any]:
    """FPY, PPM defective, scrap and rework rates per bucket and key (formulas above)."""
    q.split_basis = True
    defects, source = aggregate_defects(tx, repo, q)
    table: dict[tuple[Any, Any], dict[str, Any]] = {}

    def entry(bucket: datetime, key: Any, name: Any) -> dict[str, Any]:
        return table.setdefault(
            (bucket, key),
            {
                "bucket": bucket,
                "key": key,
                "name": name,
                "good": 0,
                "nonconforming": 0,
                "scrapped": 0,
                "reworked": 0,
                "customer_returns": 0,
            },
        )

    for row in _units(tx, repo, q):
        entry(row["bucket"], row["key"], row["name"])["good"] += int(row["good"])
    for row in defects:
        e = entry(row["bucket"], row["key"], row["name"])
        units, basis = int(row["quantity"]), row["basis"]
        if basis in INTERNAL_NONCONFORMING:
            e["nonconforming"] += units
        if basis == "scrap":
            e["scrapped"] += units
        elif basis in ("rework", "repair"):
            e["reworked"] += units
        elif basis == "customer_return":
            e["customer_returns"] += units
    out = []
    for e in sorted(table.values(), key=lambda r: (r["bucket"], _sort_key(r["key"]))):
        total = e["good"] + e["nonconforming"]
        e["total"] = total
        e["fpy"] = e["good"] / total if total else None
        e["ppm"] = e["nonconforming"] / total * 1e6 if total else None
        e["scrap_rate"] = e["scrapped"] / total if total else None
        e["rework_rate"] = e["reworked"] / total if total else None
        out.append(e)
    return {"bucket": q.bucket, "by": q.by, **q.window.public(), "source": source, "rows": out}
