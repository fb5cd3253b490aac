"""The ingest contract (ARCHITECTURE.md "Ingest contract"), record by record.

`POST /api/v1/measurements` answers ``200 {"accepted": N, "duplicates": D, "rejected":
[{"index": i, "error": "why"}]}``: good records are stored even when others in the batch are
rejected. A record is rejected for an unknown characteristic, a value that is not a finite
number (NaN, ±infinity, a string, a boolean), a timestamp that does not parse, has no time zone
(ambiguous on a shop floor; ``naive_timestamps = "utc"`` accepts it as UTC instead) or lies more
than ``max_future_skew_seconds`` ahead of the server clock, a non-integer ``seq``, or a count
that an attribute chart cannot take. A record seen before, by (source, seq) when it has a
``seq`` and by (characteristic, ts, value) otherwise, in an earlier batch or earlier in the same
batch, counts as a duplicate and is stored once.

Duplicates are found under the per-characteristic lock (see `service.evaluation.engine`), with
indexed look-ups, not unique constraints: that works on a TimescaleDB hypertable too, and the
accepted rows then go in with one binary COPY. Evaluation happens in the same transaction, so
a point, its violations, its alarms and the outbox rows commit together.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from service import ingest_fast
from service.alarms import AlarmBook
from service.domain import Characteristic, LimitVersion, Measurement
from service.evaluation.engine import EvaluatedPoint, Evaluator, Outcome, lock_characteristics
from service.group_commit import GroupCommitter
from service.record_checks import (
    ATTRIBUTE_CHARTS,
    INT8,
    QUALITIES,
    Rejected,
    RepeatFilter,
    check_count,
    parse_ts,
    parse_value,
    text_field,
)
from service.storage.repository import Store

log = logging.getLogger("linewatch.ingest")


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
    violations: int = 0

    def public(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "duplicates": self.duplicates, "rejected": self.rejected}


PARSING_SLOTS = 2
"""Requests that parse and validate at once. With the GIL, more parsers do not parse faster;
they only take turns with the group commit leader, whose transaction is the one thing every
request waits for (bench/bench_ingest.py: about 10 % more measurements/s than unlimited)."""


def validate_records(
    records: Sequence[Any],
    lookup: Callable[[str], Characteristic | None],
    *,
    now: datetime,
    skew: timedelta,
    naive: str = "reject",
) -> tuple[list[Measurement], list[dict[str, Any]], int]:
    """Accepted measurements (unique within the batch), rejections, duplicates within the batch."""
    accepted: list[Measurement] = []
    rejected: list[dict[str, Any]] = []
    repeats = RepeatFilter()
    duplicates = 0
    for index, record in enumerate(records):
        try:
            if not isinstance(record, dict):
                raise Rejected("record must be a JSON object")
            key = record.get("characteristic")
            if not isinstance(key, str) or not key:
                raise Rejected("characteristic is required (a string key)")
            char = lookup(key)
            if char is None:
                raise Rejected(f"unknown characteristic {key[:80]!r}")
            value = parse_value(record.get("value"))
            if char.chart in ATTRIBUTE_CHARTS:
                check_count(char, value)
            ts = parse_ts(record.get("ts"), now, skew, naive)
            seq = record.get("seq")
            if seq is not None and (type(seq) is not int or not -INT8 <= seq < INT8):
                raise Rejected("seq must be an integer (64-bit)")
            quality = record.get("quality")
            if quality is not None and quality not in QUALITIES:
                raise Rejected(f"quality must be one of {', '.join(QUALITIES)}")
            source = text_field(record, "source") or ""
            m = Measurement(
                index,
                char.id,
                ts,
                value,
                text_field(record, "subgroup") if "subgroup" in record else None,
                text_field(record, "lot") if "lot" in record else None,
                text_field(record, "serial") if "serial" in record else None,
                source,
                seq,
                None if quality == "good" else quality,
            )
        except Rejected as exc:
            rejected.append({"index": index, "error": str(exc)})
            continue
        if repeats.first(m):
            accepted.append(m)
        else:
            duplicates += 1
    return accepted, rejected, duplicates


def _unique(batch: list[Measurement]) -> list[Measurement]:
    """Drop records repeated across the merged batches of one group (first one wins)."""
    first = RepeatFilter().first
    return [m for m in batch if first(m)]


class CharacteristicCache:
    """Characteristics by key for ingest; misses go to the database, entries expire."""

    def __init__(self, store: Store, ttl: float = 30.0) -> None:
        self.store = store
        self.ttl = ttl
        self._by_key: dict[str, tuple[float, Characteristic]] = {}
        self._lock = threading.Lock()

    def resolve(self, keys: set[str]) -> dict[str, Characteristic]:
        now = time.monotonic()
        found: dict[str, Characteristic] = {}
        missing: list[str] = []
        by_key = self._by_key
        for key in keys:
            hit = by_key.get(key)
            if hit is not None and now - hit[0] < self.ttl:
                found[key] = hit[1]
            else:
                missing.append(key)
        if missing:
            with self.store.transaction(readonly=True) as tx:
                loaded = self.store.repo.characteristic_keys(tx, missing)
            with self._lock:
                for key, char in loaded.items():
                    self._by_key[key] = (now, char)
            found.update(loaded)
        return found

    def forget(self, key: str | None = None) -> None:
        with self._lock:
            if key is None:
                self._by_key.clear()
            else:
                self._by_key.pop(key, None)


class IngestService:
    """Validate → lock → de-duplicate → evaluate → store, in one transaction per batch."""

    def __init__(
        self,
        store: Store,
        evaluator: Evaluator,
        alarms: AlarmBook,
        settings: Any,
        *,
        on_commit: Callable[
            [list[EvaluatedPoint], list[dict[str, Any]], dict[int, Characteristic]], None
        ]
        | None = None,
        want_points: Callable[[], bool] = lambda: False,
        auto_limits: Callable[[Any, Characteristic], LimitVersion | None] | None = None,
        on_evaluated: Callable[[float], None] | None = None,
    ) -> None:
        self.store = store
        self.evaluator = evaluator
        self.alarms = alarms
        self.settings = settings
        self.chars = CharacteristicCache(store)
        self.on_commit = on_commit
        self.want_points = want_points
        self.auto_limits = auto_limits
        self.on_evaluated = on_evaluated
        self.parsing = threading.BoundedSemaphore(PARSING_SLOTS)
        self.committer: GroupCommitter[Any, tuple[int, int, int]] = GroupCommitter(
            self._store_group,
            size_of=lambda item: len(item[0]),
            max_items=max(settings.max_batch, 1),
        )

    def ingest(self, records: Sequence[Any], *, announced: bool = False) -> IngestResult:
        """`announced`: the caller has called `committer.announce()` for this request (see
        `service.group_commit`); it is withdrawn here when nothing gets submitted."""
        try:
            keys = {
                r["characteristic"]
                for r in records
                if isinstance(r, dict) and isinstance(r.get("characteristic"), str)
            }
            chars_by_key = self.chars.resolve(keys)
            with self.parsing:
                accepted, rejected, duplicates = validate_records(
                    records, chars_by_key.get, **self._clock()
                )
        except BaseException:
            if announced:
                self.committer.withdraw()
            raise
        return self._submit(accepted, rejected, duplicates, chars_by_key, announced)

    def ingest_typed(
        self, records: list[ingest_fast.Record], *, announced: bool = False
    ) -> IngestResult | None:
        """`ingest` of records decoded by `service.ingest_fast`; None (nothing done, the
        announcement kept) when one of them would be rejected: the caller then goes `ingest`'s
        way, which words the rejections."""
        try:
            chars_by_key = self.chars.resolve({r.characteristic for r in records})
            with self.parsing:
                checked = ingest_fast.validate_typed(records, chars_by_key.get, **self._clock())
        except BaseException:
            if announced:
                self.committer.withdraw()
            raise
        if checked is None:
            return None
        return self._submit(checked[0], [], checked[1], chars_by_key, announced)

    def _clock(self) -> dict[str, Any]:
        """What a record's timestamp is checked against, read once per request."""
        return {
            "now": datetime.now(UTC),
            "skew": timedelta(seconds=self.settings.max_future_skew_seconds),
            "naive": self.settings.naive_timestamps,
        }

    def _submit(
        self,
        accepted: list[Measurement],
        rejected: list[dict[str, Any]],
        duplicates: int,
        chars_by_key: dict[str, Characteristic],
        announced: bool,
    ) -> IngestResult:
        result = IngestResult(0, duplicates, rejected)
        if not accepted:
            if announced:
                self.committer.withdraw()
            return result
        chars = {c.id: c for c in chars_by_key.values()}
        stored, dup, violations = self.committer.submit((accepted, chars), announced=announced)
        result.accepted, result.violations = stored, violations
        result.duplicates += dup
        return result

    def _store_group(
        self, group: Sequence[tuple[list[Measurement], dict[int, Characteristic]]]
    ) -> list[tuple[int, int, int]]:
        """Store and evaluate several batches in one transaction; (accepted, duplicates,
        violations) per batch."""
        chars: dict[int, Characteristic] = {}
        merged: list[Measurement] = []
        for number, (batch, batch_chars) in enumerate(group):
            chars.update(batch_chars)
            for m in batch:
                m.batch = number
            merged.extend(batch)
        if len(group) > 1:
            merged = _unique(merged)
        fresh, violations = self._store(merged, chars)
        accepted = [0] * len(group)
        for m in fresh:
            accepted[m.batch] += 1
        found = [0] * len(group)
        for v in violations:
            found[v] += 1
        return [
            (accepted[i], len(batch) - accepted[i], found[i]) for i, (batch, _) in enumerate(group)
        ]

    def _store(
        self, batch: list[Measurement], chars: dict[int, Characteristic]
    ) -> tuple[list[Measurement], list[int]]:
        """One transaction: lock, drop stored duplicates, number, evaluate, COPY, alarms.
        Returns the stored measurements and the batch number of each violation."""
        store, repo = self.store, self.store.repo
        cids = sorted({m.characteristic_id for m in batch})
        want_points = self.want_points()
        started = time.perf_counter()
        try:
            with store.transaction() as tx:
                with tx.pipeline():  # the locks and every look-up: one round trip
                    lock_characteristics(tx, cids)
                    found = repo.ingest_lookups(
                        tx,
                        [(m.source, m.seq) for m in batch if m.seq is not None],
                        [(m.characteristic_id, m.ts, m.value) for m in batch if m.seq is None],
                        len(batch),  # ids for all: a duplicate's id is simply never used
                        cids,
                    )()
                fresh = _not_stored(batch, found.seen_seq, found.seen_value)
                if not fresh:
                    return [], []
                for m, mid in zip(fresh, found.ids, strict=False):
                    m.id = mid
                plan = self.evaluator.prepare(
                    tx, fresh, chars, found.heads, want_points=want_points
                )
                judged: list[Outcome] = []
                repo.insert_measurements(
                    tx, fresh, meanwhile=lambda: judged.append(self.evaluator.judge(plan))
                )
                (outcome,) = judged
                events: list[dict[str, Any]] = []
                with tx.pipeline():  # the writes below go out together
                    if outcome.violations:
                        limits = {
                            cid: self.evaluator.limits_of(cid)
                            for cid in {v.characteristic_id for v in outcome.violations}
                        }
                        events = self.alarms.record(
                            tx, outcome.violations, chars, limits, outcome.payload
                        )
                        repo.insert_violations(tx, outcome.violations)
                    repo.save_heads(tx, outcome.heads)
                    if outcome.checkpoints:
                        repo.save_checkpoints(tx, outcome.checkpoints)
                    if self.auto_limits is not None:
                        for cid in outcome.unevaluated:
                            char = chars[cid]
                            if char.auto_limits_after:
                                self.auto_limits(tx, char)
                if self.on_commit is not None and (outcome.points or events):
                    points, on_commit = outcome.points, self.on_commit
                    tx.after_commit(lambda: on_commit(points, events, chars))
        except BaseException:
            self.evaluator.invalidate(cids)
            raise
        if self.on_evaluated is not None:
            self.on_evaluated(time.perf_counter() - started)
        by_id = {m.id: m.batch for m in fresh} if outcome.violations else {}
        return fresh, [by_id[v.measurement_id] for v in outcome.violations]


def _not_stored(
    batch: list[Measurement],
    seen_seq: set[tuple[str, int]],
    seen_value: set[tuple[int, datetime, float]],
) -> list[Measurement]:
    if not seen_seq and not seen_value:
        return batch
    return [
        m
        for m in batch
        if (
            (m.source, m.seq) not in seen_seq
            if m.seq is not None
            else (m.characteristic_id, m.ts, m.value) not in seen_value
        )
    ]
