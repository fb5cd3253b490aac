"""The store-and-forward disk buffer: every reading is written here before anything else happens.

SQLite in WAL mode, one transaction per batch of readings: a committed batch survives a crash of
the collector (SIGKILL) with synchronous=NORMAL, and a power cut with synchronous=FULL; the
source acknowledges upstream only after the commit. Readings leave the buffer only when the
service acknowledged them; those it rejected move to `dead_letters` with the reason.

Sequence numbers: `seq` is the reading's number in the (source, seq) key that makes replays
idempotent in the service. It must never repeat for one source name, even when the buffer file
is deleted and created anew, so a new buffer starts counting at the current Unix time in
microseconds (AUTOINCREMENT then keeps it increasing across restarts); a new file therefore
starts past every number the old one could have handed out, unless it averaged over a million
readings a second. Values reach ~2e15: the service needs a 64-bit column (JSON- and
JavaScript-safe below 2^53).

This class is synchronous and not thread-safe: the collector calls it from one dedicated thread.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from array import array
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, NamedTuple, TypeVar

from collector.counters import BadCounterValue, counter_value, increment
from collector.sources.base import BufferFull, SourceSample

T = TypeVar("T")
WhenFull = Literal["stop-acknowledging", "drop-oldest", "drop-newest"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS readings (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    characteristic TEXT NOT NULL,
    ts TEXT NOT NULL,
    value REAL NOT NULL,
    subgroup TEXT,
    lot TEXT,
    serial TEXT,
    quality TEXT
);
CREATE TABLE IF NOT EXISTS dead_letters (
    seq INTEGER PRIMARY KEY,
    characteristic TEXT NOT NULL,
    ts TEXT NOT NULL,
    value REAL,
    subgroup TEXT,
    lot TEXT,
    serial TEXT,
    quality TEXT,
    reason TEXT NOT NULL,
    rejected_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS receipts (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    entries BLOB NOT NULL,
    n INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS receipts_by_source ON receipts (source, id);
CREATE TABLE IF NOT EXISTS counter_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    counter TEXT NOT NULL,
    ts TEXT NOT NULL,
    line TEXT NOT NULL,
    product TEXT NOT NULL,
    station TEXT,
    defect_code TEXT,
    disposition TEXT,
    quantity INTEGER NOT NULL,
    lot TEXT,
    serial TEXT
);
CREATE INDEX IF NOT EXISTS counter_events_by_kind ON counter_events (kind, seq);
CREATE TABLE IF NOT EXISTS counter_dead_letters (
    seq INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    counter TEXT NOT NULL,
    ts TEXT NOT NULL,
    line TEXT NOT NULL,
    product TEXT NOT NULL,
    station TEXT,
    defect_code TEXT,
    disposition TEXT,
    quantity INTEGER NOT NULL,
    lot TEXT,
    serial TEXT,
    reason TEXT NOT NULL,
    rejected_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS counter_state (
    counter TEXT PRIMARY KEY,
    value INTEGER NOT NULL,
    ts TEXT NOT NULL
);
"""

_COLUMNS = "seq, characteristic, ts, value, subgroup, lot, serial, quality"
_EVENT_COLUMNS = (
    "seq, kind, counter, ts, line, product, station, defect_code, disposition, quantity, "
    "lot, serial"
)
# Receipts kept per source: two full MQTT packet-id spaces, far more than can be in flight.
RECEIPTS_KEPT = 2 * 65536


class BufferedReading(NamedTuple):
    """A row of the buffer: a reading with its seq, as the sink forwards it (a tuple: cheap)."""

    seq: int
    characteristic: str
    ts: str
    value: float
    subgroup: str | None
    lot: str | None
    serial: str | None
    quality: str | None  # None means "good"


class CounterEvent(NamedTuple):
    """Pieces a counter counted between two readings, as the sink forwards them."""

    seq: int
    kind: str  # "defects" | "good-units"
    counter: str  # the characteristic naming the counter
    ts: str
    line: str
    product: str
    station: str | None
    defect_code: str | None
    disposition: str | None
    quantity: int
    lot: str | None
    serial: str | None


@dataclass(frozen=True, slots=True)
class AppendResult:
    stored: int
    dropped_oldest: int = 0
    dropped_newest: int = 0
    counter_events: int = 0


@dataclass(frozen=True, slots=True)
class BufferStats:
    readings: int
    bytes: int
    dead_letters: int
    full: bool
    counter_events: int = 0


class DiskBuffer:
    def __init__(
        self,
        path: Path | str,
        *,
        max_bytes: int = 1 << 30,
        when_full: WhenFull = "stop-acknowledging",
        synchronous: Literal["normal", "full"] = "normal",
        dead_letter_max_rows: int = 100_000,
    ) -> None:
        self.path = Path(path)
        self.max_bytes = int(max_bytes)
        self.when_full: WhenFull = when_full
        self.dead_letter_max_rows = dead_letter_max_rows
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={'FULL' if synchronous == 'full' else 'NORMAL'}")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)
        self._page_size = int(self._db.execute("PRAGMA page_size").fetchone()[0])
        seqs = dict(self._db.execute("SELECT name, seq FROM sqlite_sequence").fetchall())
        if "readings" not in seqs:
            # A new buffer: start past any seq an earlier buffer of this name could have used.
            base = time.time_ns() // 1000
            self._db.execute(
                "INSERT INTO sqlite_sequence (name, seq) VALUES ('readings', ?)", (base,)
            )
            seqs["readings"] = base
        # Readings and counter events share one numbering: (source, seq) stays unique.
        self._next_seq = max(int(seqs.get(n) or 0) for n in ("readings", "counter_events")) + 1
        self._counter_last: dict[str, int] = dict(
            self._db.execute("SELECT counter, value FROM counter_state").fetchall()
        )
        self._counter_pending: dict[str, int] = dict(
            self._db.execute("SELECT kind, count(*) FROM counter_events GROUP BY kind").fetchall()
        )
        self._counter_dead = int(
            self._db.execute("SELECT count(*) FROM counter_dead_letters").fetchone()[0]
        )
        self._pending = int(self._db.execute("SELECT count(*) FROM readings").fetchone()[0])
        self._dead = int(self._db.execute("SELECT count(*) FROM dead_letters").fetchone()[0])
        self._receipt_counts: dict[str, int] = dict(
            self._db.execute("SELECT source, sum(n) FROM receipts GROUP BY source").fetchall()
        )
        self._inflight_upto = 0  # rows up to this seq are being sent; drop-oldest spares them

    # ------------------------------------------------------------------ writing

    def used_bytes(self) -> int:
        pages, free = (
            self._db.execute("PRAGMA page_count").fetchone()[0],
            self._db.execute("PRAGMA freelist_count").fetchone()[0],
        )
        return (int(pages) - int(free)) * self._page_size

    def is_full(self) -> bool:
        return self._pending > 0 and self.used_bytes() >= self.max_bytes

    def append(
        self,
        samples: Sequence[SourceSample],
        receipts_source: str | None = None,
        receipts: Sequence[tuple[int, int]] = (),
    ) -> AppendResult:
        """Stores the samples (and the source's receipts) in one transaction, numbering them.

        When the buffer is full: stop-acknowledging raises BufferFull and stores nothing;
        drop-newest stores nothing and reports the samples as dropped; drop-oldest deletes
        the oldest waiting readings (never those being sent) until there is room.
        """
        if not samples and not receipts:
            return AppendResult(0)
        dropped_oldest = 0
        if samples and self.is_full():
            if self.when_full == "stop-acknowledging":
                raise BufferFull(f"buffer {self.path} holds {self.used_bytes()} bytes")
            if self.when_full == "drop-newest":
                self._write(receipts_source, receipts)
                return AppendResult(0, dropped_newest=len(samples))
            dropped_oldest = self._drop_oldest(len(samples))
        stored, events = self._write(receipts_source, receipts, samples)
        return AppendResult(stored, dropped_oldest=dropped_oldest, counter_events=events)

    def _write(
        self,
        receipts_source: str | None,
        receipts: Sequence[tuple[int, int]],
        samples: Sequence[SourceSample] = (),
    ) -> tuple[int, int]:
        """Writes in one transaction; returns (readings stored, counter events stored)."""
        if any(s.counter is not None for s in samples):
            counted = [s for s in samples if s.counter is not None]
            samples = [s for s in samples if s.counter is None]
        else:
            counted = []
        seq = self._next_seq
        # Readings without subgroup/lot/serial/quality go in through a 4-column INSERT: binding
        # the four NULLs doubles the cost per row in Python's sqlite3 (measured, ~5 vs ~11 us).
        plain: list[tuple[int, str, str, float]] = []
        full: list[tuple[Any, ...]] = []
        for i, s in enumerate(samples):
            if s.subgroup is None and s.lot is None and s.serial is None and s.quality == "good":
                plain.append((seq + i, s.characteristic, s.ts, s.value))
            else:
                full.append(
                    (
                        seq + i,
                        s.characteristic,
                        s.ts,
                        s.value,
                        s.subgroup,
                        s.lot,
                        s.serial,
                        None if s.quality == "good" else s.quality,
                    )
                )
        events, last = self._counter_events(counted, seq + len(samples))
        db = self._db
        receipt_total = None
        db.execute("BEGIN IMMEDIATE")
        try:
            if events:
                db.executemany(
                    f"INSERT INTO counter_events ({_EVENT_COLUMNS}) "
                    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    events,
                )
            if last:
                db.executemany(
                    "INSERT INTO counter_state (counter, value, ts) VALUES (?, ?, ?) "
                    "ON CONFLICT (counter) DO UPDATE SET value = excluded.value, ts = excluded.ts",
                    [(name, value, ts) for name, (value, ts) in last.items()],
                )
            if plain:
                db.executemany(
                    "INSERT INTO readings (seq, characteristic, ts, value) VALUES (?,?,?,?)", plain
                )
            if full:
                db.executemany(f"INSERT INTO readings ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?)", full)
            if receipts_source is not None and receipts:
                flat = array("Q", [v for pair in receipts for v in pair])
                db.execute(
                    "INSERT INTO receipts (source, entries, n) VALUES (?, ?, ?)",
                    (receipts_source, flat.tobytes(), len(receipts)),
                )
                receipt_total = self._prune_receipts(receipts_source, len(receipts))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        if receipts_source is not None and receipt_total is not None:
            self._receipt_counts[receipts_source] = receipt_total
        self._next_seq = seq + len(samples) + len(events)
        self._pending += len(samples)
        for name, (value, _) in last.items():
            self._counter_last[name] = value
        for event in events:
            self._counter_pending[event.kind] = self._counter_pending.get(event.kind, 0) + 1
        return len(samples), len(events)

    def _counter_events(
        self, counted: Sequence[SourceSample], first_seq: int
    ) -> tuple[list[CounterEvent], dict[str, tuple[int, str]]]:
        """The events of counter readings (numbered from first_seq) and the counters' new values.

        Readings flagged bad or uncertain, or that are not whole numbers, are skipped: the next
        good reading counts what they would have (see `collector.counters`).
        """
        events: list[CounterEvent] = []
        last: dict[str, tuple[int, str]] = {}
        for s in counted:
            spec = s.counter
            assert spec is not None
            if s.quality != "good":
                continue
            try:
                value = counter_value(s.value)
            except BadCounterValue:
                continue
            name = s.characteristic
            before = last[name][0] if name in last else self._counter_last.get(name)
            quantity = increment(before, value)
            last[name] = (value, s.ts)
            if quantity <= 0:
                continue
            defects = spec.kind == "defects"
            events.append(
                CounterEvent(
                    first_seq + len(events),
                    spec.kind,
                    name,
                    s.ts,
                    spec.line,
                    spec.product,
                    spec.station,
                    spec.defect_code,
                    (spec.disposition or "scrap") if defects else None,
                    quantity,
                    s.lot if defects else None,
                    s.serial if defects else None,
                )
            )
        return events, last

    def _prune_receipts(self, source: str, added: int) -> int:
        total = self._receipt_counts.get(source, 0) + added
        if total > 2 * RECEIPTS_KEPT:
            cur = self._db.execute(
                "SELECT id, n FROM receipts WHERE source = ? ORDER BY id DESC", (source,)
            )
            kept, cutoff = 0, None
            for rid, n in cur:
                kept += n
                if kept >= RECEIPTS_KEPT:
                    cutoff = rid
                    break
            if cutoff is not None:
                self._db.execute(
                    "DELETE FROM receipts WHERE source = ? AND id < ?", (source, cutoff)
                )
                total = kept
        return total

    def _drop_oldest(self, wanted: int) -> int:
        dropped = 0
        step = max(wanted, 256)
        while self._pending - dropped > 0 and self.used_bytes() >= self.max_bytes:
            cur = self._db.execute(
                "DELETE FROM readings WHERE seq IN "
                "(SELECT seq FROM readings WHERE seq > ? ORDER BY seq LIMIT ?)",
                (self._inflight_upto, step),
            )
            if cur.rowcount <= 0:
                break
            dropped += cur.rowcount
        self._pending -= dropped
        return dropped

    # ------------------------------------------------------------------ forwarding

    def peek(self, limit: int) -> list[BufferedReading]:
        """The oldest `limit` waiting readings, in seq order; they stay until `ack`."""
        rows = self._db.execute(
            f"SELECT {_COLUMNS} FROM readings ORDER BY seq LIMIT ?", (limit,)
        ).fetchall()
        if rows:
            self._inflight_upto = max(self._inflight_upto, rows[-1][0])
        return list(map(BufferedReading._make, rows))

    def ack(self, first_seq: int, last_seq: int, rejected: Sequence[tuple[int, str]] = ()) -> int:
        """The service has answered for seq first..last: dead-letter the rejected, delete all."""
        db = self._db
        now = datetime.now(UTC).isoformat(timespec="milliseconds")
        db.execute("BEGIN IMMEDIATE")
        try:
            if rejected:
                db.executemany(
                    f"INSERT OR REPLACE INTO dead_letters ({_COLUMNS}, reason, rejected_at) "
                    f"SELECT {_COLUMNS}, ?, ? FROM readings WHERE seq = ?",
                    [(reason, now, seq) for seq, reason in rejected],
                )
            cur = db.execute(
                "DELETE FROM readings WHERE seq >= ? AND seq <= ?", (first_seq, last_seq)
            )
            removed = max(cur.rowcount, 0)
            if rejected:
                self._dead = int(db.execute("SELECT count(*) FROM dead_letters").fetchone()[0])
                if self._dead > self.dead_letter_max_rows:
                    db.execute(
                        "DELETE FROM dead_letters WHERE seq IN "
                        "(SELECT seq FROM dead_letters ORDER BY seq LIMIT ?)",
                        (self._dead - self.dead_letter_max_rows,),
                    )
                    self._dead = self.dead_letter_max_rows
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        self._pending -= removed
        return removed

    def peek_counter_events(self, kind: str, limit: int) -> list[CounterEvent]:
        """The oldest `limit` waiting counter events of `kind`, in seq order; kept until acked."""
        rows = self._db.execute(
            f"SELECT {_EVENT_COLUMNS} FROM counter_events WHERE kind = ? ORDER BY seq LIMIT ?",
            (kind, limit),
        ).fetchall()
        return list(map(CounterEvent._make, rows))

    def ack_counter_events(
        self, kind: str, first_seq: int, last_seq: int, rejected: Sequence[tuple[int, str]] = ()
    ) -> int:
        """Like `ack`, for the counter events of `kind`."""
        db = self._db
        now = datetime.now(UTC).isoformat(timespec="milliseconds")
        db.execute("BEGIN IMMEDIATE")
        try:
            if rejected:
                db.executemany(
                    f"INSERT OR REPLACE INTO counter_dead_letters ({_EVENT_COLUMNS}, reason,"
                    f" rejected_at) SELECT {_EVENT_COLUMNS}, ?, ? FROM counter_events"
                    " WHERE seq = ?",
                    [(reason, now, seq) for seq, reason in rejected],
                )
            cur = db.execute(
                "DELETE FROM counter_events WHERE kind = ? AND seq >= ? AND seq <= ?",
                (kind, first_seq, last_seq),
            )
            removed = max(cur.rowcount, 0)
            if rejected:
                dead = int(db.execute("SELECT count(*) FROM counter_dead_letters").fetchone()[0])
                if dead > self.dead_letter_max_rows:
                    db.execute(
                        "DELETE FROM counter_dead_letters WHERE seq IN "
                        "(SELECT seq FROM counter_dead_letters ORDER BY seq LIMIT ?)",
                        (dead - self.dead_letter_max_rows,),
                    )
                    dead = self.dead_letter_max_rows
                self._counter_dead = dead
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        self._counter_pending[kind] = self._counter_pending.get(kind, 0) - removed
        return removed

    def counter_dead_letters(self, limit: int = 1000) -> list[tuple[CounterEvent, str]]:
        rows = self._db.execute(
            f"SELECT {_EVENT_COLUMNS}, reason FROM counter_dead_letters ORDER BY seq LIMIT ?",
            (limit,),
        ).fetchall()
        return [(CounterEvent(*r[:12]), r[12]) for r in rows]

    def counter_last(self) -> dict[str, int]:
        """The last value of every counter (as persisted)."""
        return dict(self._counter_last)

    def counter_pending(self, kind: str | None = None) -> int:
        """Counter events waiting to be forwarded (of `kind`, or all)."""
        if kind is not None:
            return self._counter_pending.get(kind, 0)
        return sum(self._counter_pending.values())

    # ------------------------------------------------------------------ reading back

    def receipts(self, source: str) -> list[tuple[int, int]]:
        """The receipts stored for `source`, oldest first."""
        out: list[tuple[int, int]] = []
        for (blob,) in self._db.execute(
            "SELECT entries FROM receipts WHERE source = ? ORDER BY id", (source,)
        ):
            flat = array("Q")
            flat.frombytes(blob)
            out.extend(zip(flat[0::2], flat[1::2], strict=True))
        return out

    def dead_letters(self, limit: int = 1000) -> list[tuple[BufferedReading, str]]:
        rows = self._db.execute(
            f"SELECT {_COLUMNS}, reason FROM dead_letters ORDER BY seq LIMIT ?", (limit,)
        ).fetchall()
        return [(BufferedReading(*r[:8]), r[8]) for r in rows]

    def stats(self) -> BufferStats:
        return BufferStats(
            readings=self._pending,
            bytes=self.used_bytes(),
            dead_letters=self._dead + self._counter_dead,
            full=self.is_full(),
            counter_events=self.counter_pending(),
        )

    @property
    def pending(self) -> int:
        return self._pending

    def close(self) -> None:
        self._db.close()


class AsyncBuffer:
    """The buffer as the event loop sees it: every call runs on one dedicated thread.

    SQLite commits take milliseconds; running them off the loop keeps the sources and the sink
    responsive, and one thread keeps calls in order without locks. `changed` is set after
    every append so that the sink wakes up.
    """

    def __init__(self, buffer: DiskBuffer) -> None:
        self.buffer = buffer
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="buffer")
        self.changed = asyncio.Event()

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def append(
        self,
        samples: Sequence[SourceSample],
        receipts_source: str | None = None,
        receipts: Sequence[tuple[int, int]] = (),
    ) -> AppendResult:
        result: AppendResult = await self._call(
            self.buffer.append, samples, receipts_source, receipts
        )
        if result.stored or result.counter_events:
            self.changed.set()
        return result

    async def peek(self, limit: int) -> list[BufferedReading]:
        rows: list[BufferedReading] = await self._call(self.buffer.peek, limit)
        return rows

    async def ack(
        self, first_seq: int, last_seq: int, rejected: Sequence[tuple[int, str]] = ()
    ) -> int:
        removed: int = await self._call(self.buffer.ack, first_seq, last_seq, rejected)
        return removed

    async def peek_counter_events(self, kind: str, limit: int) -> list[CounterEvent]:
        rows: list[CounterEvent] = await self._call(self.buffer.peek_counter_events, kind, limit)
        return rows

    async def ack_counter_events(
        self, kind: str, first_seq: int, last_seq: int, rejected: Sequence[tuple[int, str]] = ()
    ) -> int:
        removed: int = await self._call(
            self.buffer.ack_counter_events, kind, first_seq, last_seq, rejected
        )
        return removed

    def counter_pending(self, kind: str | None = None) -> int:
        return self.buffer.counter_pending(kind)

    async def receipts(self, source: str) -> list[tuple[int, int]]:
        out: list[tuple[int, int]] = await self._call(self.buffer.receipts, source)
        return out

    async def stats(self) -> BufferStats:
        stats: BufferStats = await self._call(self.buffer.stats)
        return stats

    @property
    def pending(self) -> int:
        return self.buffer.pending

    async def close(self) -> None:
        await self._call(self.buffer.close)
        self._executor.shutdown(wait=True)
