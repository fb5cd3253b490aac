"""Recording nonconformances and good-unit counts, record by record.

Answer (as the measurement ingest contract): ``{"accepted": N, "duplicates": D, "rejected":
[{"index": i, "error": "field: why"}], "ids": [...]}``; good records are stored even when others
in the batch are rejected. A record is rejected for a missing or malformed field, a quantity
that is not a whole number above zero (good units: zero or more), negative rework minutes, an
unknown or retired line, station (or one of another line), defect code or disposition, or a
timestamp the ingest contract refuses (no zone, far future; `service.record_checks.parse_ts`).
A record with a ``seq`` that was seen before from the same ``source`` is a duplicate (the
collector's replays); records without a ``seq`` are never deduplicated, since two identical
manual entries may be two real events.

One transaction per batch: lock the lines, store the records with one bulk insert, cost them
(`service.quality.costing`), add them to the daily roll-ups.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from service.quality import rollups
from service.quality.costing import cost_records
from service.record_checks import Rejected, parse_ts
from service.storage.db import Tx, utcnow
from service.storage.repository import Store

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
SOURCE_LOCK_NAMESPACE = 0x4C52  # taken after the line locks, keyed by crc32(source)
MAX_TEXT = 200
Text = Field(default=None, max_length=MAX_TEXT)


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    ts: str
    line: str = Field(min_length=1, max_length=MAX_TEXT)
    product: str = Field(min_length=1, max_length=MAX_TEXT)
    source: str | None = Text
    seq: int | None = Field(default=None, ge=0, le=2**63 - 1)


class DefectRecord(_Record):
    station: str | None = Text
    lot: str | None = Text
    serial: str | None = Text
    defect_code: str = Field(min_length=1, max_length=MAX_TEXT)
    disposition: str = Field(min_length=1, max_length=MAX_TEXT)
    quantity: int = Field(default=1, gt=0, le=10_000_000)
    rework_minutes: float = Field(default=0.0, ge=0, le=1e7, allow_inf_nan=False)
    reported_by: str | None = Text
    note: str | None = Field(default=None, max_length=2000)


class GoodUnitRecord(_Record):
    quantity: int = Field(ge=0, le=10_000_000)


@dataclass
class BatchResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
    ids: list[int] = field(default_factory=list)

    def public(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "ids": self.ids,
        }


def _reason(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "record"
    message = str(first["msg"])
    if first["type"] == "extra_forbidden":
        message = "unknown field"
    elif first["type"] == "missing":
        message = "is required"
    return f"{where}: {message}"


@dataclass
class _Catalogue:
    """The small tables a batch is checked against, read once per batch."""

    lines: dict[str, int]
    stations: dict[str, tuple[int, int]]
    codes: dict[str, tuple[int, bool]]
    dispositions: dict[str, tuple[int, bool]]

    @classmethod
    def load(cls, tx: Tx) -> _Catalogue:
        return cls(
            lines={r[0]: int(r[1]) for r in tx.rows("SELECT key, id FROM lines")},
            stations={
                r[0]: (int(r[1]), int(r[2]))
                for r in tx.rows("SELECT key, id, line_id FROM stations")
            },
            codes={
                r[0]: (int(r[1]), bool(r[2]))
                for r in tx.rows("SELECT code, id, active FROM quality_defect_codes")
            },
            dispositions={
                r[0]: (int(r[1]), bool(r[2]))
                for r in tx.rows("SELECT key, id, active FROM quality_dispositions")
            },
        )

    def line(self, key: str) -> int:
        found = self.lines.get(key)
        if found is None:
            raise Rejected(f"line: unknown line {key!r}")
        return found

    def station(self, key: str | None, line_id: int, line: str) -> int | None:
        if key is None:
            return None
        found = self.stations.get(key)
        if found is None:
            raise Rejected(f"station: unknown station {key!r}")
        if found[1] != line_id:
            raise Rejected(f"station: {key!r} is not a station of line {line!r}")
        return found[0]

    def code(self, key: str) -> int:
        found = self.codes.get(key)
        if found is None:
            raise Rejected(f"defect_code: unknown defect code {key!r}")
        if not found[1]:
            raise Rejected(f"defect_code: {key!r} is retired")
        return found[0]

    def disposition(self, key: str) -> int:
        found = self.dispositions.get(key)
        active = sorted(k for k, (_, on) in self.dispositions.items() if on)
        if found is None or not found[1]:
            what = "unknown disposition" if found is None else "retired disposition"
            raise Rejected(f"disposition: {what} {key!r} (one of {', '.join(active)})")
        return found[0]


@dataclass(frozen=True)
class _Table:
    name: str
    columns: tuple[str, ...]
    pg_types: tuple[str, ...]

    @classmethod
    def of(cls, name: str, spec: str) -> _Table:
        """``"id int8, ts timestamptz, ..."``: columns and their binary COPY types."""
        pairs = [item.split() for item in spec.split(",")]
        return cls(name, tuple(p[0] for p in pairs), tuple(p[1] for p in pairs))


DEFECTS = _Table.of(
    "quality_defects",
    "id int8, ts timestamptz, line_id int8, station_id int8, product text, lot text, "
    "serial text, defect_code_id int8, disposition_id int8, quantity int4, "
    "rework_minutes float8, recorded_by text, reported_by text, note text, source text, "
    "seq int8, created_at timestamptz",
)
GOOD_UNITS = _Table.of(
    "quality_good_units",
    "id int8, ts timestamptz, line_id int8, product text, quantity int8, source text, "
    "seq int8, recorded_by text, created_at timestamptz",
)


def allocate_ids(tx: Tx, table: str, n: int) -> list[int]:
    """Ids for `n` new rows of `table` (so that the batch is one bulk insert and its rows can
    be costed and rolled up by id range)."""
    if n <= 0:
        return []
    if tx.dialect == "postgresql":
        rows = tx.rows(
            "SELECT nextval(pg_get_serial_sequence(?, 'id')) FROM generate_series(1, ?)",
            [table, n],
        )
        return sorted(int(r[0]) for r in rows)
    start = (
        int(
            tx.scalar(
                "SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = ?), 0), "
                f"coalesce((SELECT max(id) FROM {table}), 0))",
                [table],
            )
        )
        + 1
    )
    return list(range(start, start + n))


def _seen(tx: Tx, table: str, keys: set[tuple[str, int]]) -> set[tuple[str, int]]:
    by_source: dict[str, list[int]] = {}
    for source, seq in keys:
        by_source.setdefault(source, []).append(seq)
    found: set[tuple[str, int]] = set()
    for source, seqs in by_source.items():
        for start in range(0, len(seqs), 500):
            chunk = seqs[start : start + 500]
            rows = tx.rows(
                f"SELECT seq FROM {table} WHERE source = ? AND seq IN "
                f"({', '.join('?' for _ in chunk)})",
                [source, *chunk],
            )
            found.update((source, int(r[0])) for r in rows)
    return found


class Recorder:
    """Stores batches of defect records or good-unit counts (one transaction per batch)."""

    def __init__(
        self, store: Store, *, future_skew_seconds: float = 300.0, naive_timestamps: str = "reject"
    ) -> None:
        self.store = store
        self.skew = timedelta(seconds=future_skew_seconds)
        self.naive = naive_timestamps

    @classmethod
    def for_settings(cls, store: Store, settings: Any) -> Recorder:
        return cls(
            store,
            future_skew_seconds=settings.max_future_skew_seconds,
            naive_timestamps=settings.naive_timestamps,
        )

    def record_defects(self, records: Sequence[Any], actor: str) -> BatchResult:
        return self._record(
            records,
            actor,
            DefectRecord,
            DEFECTS,
            self._defect_row,
            rollups.add_defects,
            costed=True,
        )

    def record_good_units(self, records: Sequence[Any], actor: str) -> BatchResult:
        return self._record(
            records,
            actor,
            GoodUnitRecord,
            GOOD_UNITS,
            self._unit_row,
            rollups.add_units,
            costed=False,
        )

    # --- rows -----------------------------------------------------------------------------------
    @staticmethod
    def _defect_row(cat: _Catalogue, r: Any, ts: datetime) -> tuple[int, list[Any]]:
        line_id = cat.line(r.line)
        return line_id, [
            ts,
            line_id,
            cat.station(r.station, line_id, r.line),
            r.product,
            r.lot,
            r.serial,
            cat.code(r.defect_code),
            cat.disposition(r.disposition),
            r.quantity,
            float(r.rework_minutes),
            None,
            r.reported_by,
            r.note,
            r.source or "",
            r.seq,
        ]

    @staticmethod
    def _unit_row(cat: _Catalogue, r: Any, ts: datetime) -> tuple[int, list[Any]]:
        line_id = cat.line(r.line)
        return line_id, [ts, line_id, r.product, r.quantity, r.source or "", r.seq, None]

    def _record(
        self,
        records: Sequence[Any],
        actor: str,
        model: type[_Record],
        table: _Table,
        make_row: Callable[[_Catalogue, Any, datetime], tuple[int, list[Any]]],
        roll_up: Callable[..., None],
        *,
        costed: bool,
    ) -> BatchResult:
        result = BatchResult()
        now = utcnow()
        parsed: list[tuple[int, Any, datetime]] = []
        for index, raw in enumerate(records):
            if not isinstance(raw, dict):
                result.rejected.append({"index": index, "error": "record: must be an object"})
                continue
            try:
                record = model.model_validate(raw)
                ts = parse_ts(record.ts, now, self.skew, self.naive)
                if ts < EARLIEST:
                    raise Rejected("ts is before 1970-01-01")
            except ValidationError as exc:
                result.rejected.append({"index": index, "error": _reason(exc)})
                continue
            except Rejected as exc:
                result.rejected.append({"index": index, "error": str(exc)})
                continue
            parsed.append((index, record, ts))
        if not parsed:
            return result
        with self.store.transaction() as tx:
            catalogue = _Catalogue.load(tx)
            rows: list[tuple[int, int, list[Any], tuple[str, int] | None]] = []
            for index, record, ts in parsed:
                try:
                    line_id, row = make_row(catalogue, record, ts)
                except Rejected as exc:
                    result.rejected.append({"index": index, "error": str(exc)})
                    continue
                key = None if record.seq is None else (record.source or "", int(record.seq))
                rows.append((index, line_id, row, key))
            rows = self._drop_duplicates(tx, table.name, rows, result)
            if rows:
                self._store(tx, table, rows, actor, now, result, roll_up, costed=costed)
        result.rejected.sort(key=lambda r: r["index"])
        return result

    @staticmethod
    def _drop_duplicates(
        tx: Tx,
        table: str,
        rows: list[tuple[int, int, list[Any], tuple[str, int] | None]],
        result: BatchResult,
    ) -> list[tuple[int, int, list[Any], tuple[str, int] | None]]:
        rollups.lock_lines(tx, [r[1] for r in rows])
        keys = {r[3] for r in rows if r[3] is not None}
        if not keys:
            return rows
        tx.lock_keys(
            SOURCE_LOCK_NAMESPACE,
            sorted({zlib.crc32(k[0].encode()) & 0x7FFFFFFF for k in keys}),
        )
        seen = _seen(tx, table, keys)
        kept = []
        for row in rows:
            key = row[3]
            if key is not None:
                if key in seen:
                    result.duplicates += 1
                    continue
                seen.add(key)
            kept.append(row)
        return kept

    def _store(
        self,
        tx: Tx,
        table: _Table,
        rows: list[tuple[int, int, list[Any], tuple[str, int] | None]],
        actor: str,
        now: datetime,
        result: BatchResult,
        roll_up: Callable[..., None],
        *,
        costed: bool,
    ) -> None:
        ids = allocate_ids(tx, table.name, len(rows))
        by_recorder = table.columns.index("recorded_by") - 1  # position in a row (no id)
        created = tx.ts(now)
        out = []
        for new_id, (_, _, row, _) in zip(ids, rows, strict=True):
            row[by_recorder] = actor
            row[0] = tx.ts(row[0])
            out.append([new_id, *row, created])
        tx.copy_rows(table.name, table.columns, out, table.pg_types)
        lines = sorted({r[1] for r in rows})
        if costed:
            marks = ", ".join("?" for _ in lines)
            cost_records(
                tx,
                f"d.id >= ? AND d.id <= ? AND d.line_id IN ({marks})",
                [ids[0], ids[-1], *lines],
            )
        roll_up(tx, self.store.repo, ids[0], ids[-1], lines)
        result.accepted = len(rows)
        result.ids = ids
