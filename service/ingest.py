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
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from service.alarms import AlarmBook
from service.domain import ATTRIBUTE_CHARTS, Characteristic, LimitVersion, Measurement
from service.evaluation.engine import EvaluatedPoint, Evaluator, Outcome, lock_characteristics
from service.group_commit import GroupCommitter
from service.storage.repository import Store

log = logging.getLogger("linewatch.ingest")

MAX_TEXT = 200
QUALITIES = ("good", "uncertain", "bad")
INT8 = 2**63


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


class Rejected(ValueError):
    pass


def _text(record: dict[str, Any], name: str) -> str | None:
    value = record.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise Rejected(f"{name} must be a string")
    value = str(value)
    if len(value) > MAX_TEXT:
        raise Rejected(f"{name} is longer than {MAX_TEXT} characters")
    return value


def parse_ts(raw: Any, now: datetime, skew: timedelta, naive: str) -> datetime:
    if type(raw) is str:  # the common case: an ISO string in UTC, before the horizon
        try:
            ts = datetime.fromisoformat(raw)
        except ValueError:
            ts = None
        if ts is not None and ts.tzinfo is UTC and ts <= now + skew:
            return ts
    if not isinstance(raw, str):
        raise Rejected(
            "ts is required: an ISO 8601 timestamp with a time zone"
            if raw is None
            else "ts must be an ISO 8601 string"
        )
    try:
        ts = datetime.fromisoformat(raw)
    except ValueError:
        raise Rejected(f"ts is not an ISO 8601 timestamp: {raw[:40]!r}") from None
    if ts.tzinfo is None:
        if naive != "utc":
            raise Rejected("ts has no time zone; send UTC with 'Z' or an offset like +01:00")
        ts = ts.replace(tzinfo=UTC)
    try:
        ts = ts.astimezone(UTC)
    except (OverflowError, ValueError):
        raise Rejected("ts is out of range") from None
    if ts > now + skew:
        ahead = (ts - now).total_seconds()
        raise Rejected(
            f"ts is {ahead:.0f} s in the future (more than {skew.total_seconds():.0f} s ahead "
            "of the server clock)"
        )
    return ts


def parse_value(raw: Any) -> float:
    kind = type(raw)
    if kind is float:
        value = raw
    elif kind is int:
        try:
            value = float(raw)
        except OverflowError:
            raise Rejected("value is out of range") from None
    elif raw is None:
        raise Rejected("value is required")
    elif kind is bool:
        raise Rejected("value must be a number, not a boolean")
    elif kind is str:
        raise Rejected("value must be a JSON number, not a string")
    else:
        raise Rejected("value must be a number")
    if math.isnan(value):
        raise Rejected("value is NaN")
    if math.isinf(value):
        raise Rejected("value is infinite")
    return value


def check_count(char: Characteristic, value: float) -> None:
    """Attribute charts count things: a whole number ≥ 0, at most the sample size for p/np."""
    if value < 0 or value != int(value):
        raise Rejected(f"value must be a whole count >= 0 for a {char.chart} chart")
    if char.chart in ("p", "np") and value > char.subgroup_size:
        raise Rejected(
            f"value {value:g} exceeds the sample size {char.subgroup_size} "
            f"of this {char.chart} chart"
        )


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
    seen_seq: set[tuple[str, int]] = set()
    seen_value: set[tuple[int, datetime, float]] = set()
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
            source = _text(record, "source") or ""
            m = Measurement(
                index,
                char.id,
                ts,
                value,
                _text(record, "subgroup") if "subgroup" in record else None,
                _text(record, "lot") if "lot" in record else None,
                _text(record, "serial") if "serial" in record else None,
                source,
                seq,
                None if quality == "good" else quality,
            )
        except Rejected as exc:
            rejected.append({"index": index, "error": str(exc)})
            continue
        if seq is not None:
            skey = (source, seq)
            if skey in seen_seq:
                duplicates += 1
                continue
            seen_seq.add(skey)
        else:
            vkey = (char.id, ts, value)
            if vkey in seen_value:
                duplicates += 1
                continue
            seen_value.add(vkey)
        accepted.append(m)
    return accepted, rejected, duplicates


def _unique(batch: list[Measurement]) -> list[Measurement]:
    """Drop records repeated across the merged batches of one group (first one wins)."""
    seen_seq: set[tuple[str, int]] = set()
    seen_value: set[tuple[int, datetime, float]] = set()
    out = []
    for m in batch:
        if m.seq is not None:
            key: Any = (m.source, m.seq)
            seen: set[Any] = seen_seq
        else:
            key = (m.characteristic_id, m.ts, m.value)
            seen = seen_value
        if key not in seen:
            seen.add(key)
            out.append(m)
    return out


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
        submitted = False
        try:
            keys = {
                r["characteristic"]
                for r in records
                if isinstance(r, dict) and isinstance(r.get("characteristic"), str)
            }
            chars_by_key = self.chars.resolve(keys)
            with self.parsing:
                accepted, rejected, duplicates = validate_records(
                    records,
                    chars_by_key.get,
                    now=datetime.now(UTC),
                    skew=timedelta(seconds=self.settings.max_future_skew_seconds),
                    naive=self.settings.naive_timestamps,
                )
            result = IngestResult(0, duplicates, rejected)
            if accepted:
                chars = {c.id: c for c in chars_by_key.values()}
                submitted = True
                stored, dup, violations = self.committer.submit(
                    (accepted, chars), announced=announced
                )
                result.accepted, result.violations = stored, violations
                result.duplicates += dup
            return result
        finally:
            if announced and not submitted:
                self.committer.withdraw()

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
