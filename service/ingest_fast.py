"""The common ingest batch, decoded straight into typed records and checked in one tight loop.

Nearly every batch a collector sends is all good. For those, msgspec decodes the body into
typed structs in C (no dict per record, no type test per field in Python) and `validate_typed`
only checks what a type cannot say: a known characteristic, a finite value, the time zone and
horizon of the timestamp, the range of ``seq``. The moment anything would be rejected, or the
body is anything msgspec will not read as such a batch, it answers None and the batch goes the
record-by-record way (`service.ingest.validate_records`), the only place that words a rejection.
This path therefore changes the speed, never the answer: tests/service/test_service_ingest_fast.py
holds the two to the same result on generated batches.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from service.domain import Characteristic, Measurement
from service.record_checks import (
    ATTRIBUTE_CHARTS,
    INT8,
    MAX_TEXT,
    QUALITIES,
    Rejected,
    RepeatFilter,
    check_count,
    parse_ts,
)


class Record(msgspec.Struct, gc=False):
    """One record of the ingest contract, with the types of a good one."""

    characteristic: str
    ts: str
    value: float
    subgroup: str | None = None
    lot: str | None = None
    serial: str | None = None
    source: str | None = None
    seq: int | None = None
    quality: str | None = None


class _Batch(msgspec.Struct, gc=False):
    measurements: list[Record]


_decoder = msgspec.json.Decoder(_Batch)


def decode_typed(body: bytes, limit: int) -> list[Record] | None:
    """The records of a body that is a batch of well-typed records, else None."""
    try:
        records = _decoder.decode(body).measurements
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    return records if len(records) <= limit else None


def validate_typed(
    records: list[Record],
    lookup: Callable[[str], Characteristic | None],
    *,
    now: datetime,
    skew: timedelta,
    naive: str = "reject",
) -> tuple[list[Measurement], int] | None:
    """Accepted measurements (unique within the batch) and duplicates within the batch, the
    same as `validate_records` gives; None when any record would be rejected."""
    horizon = now + skew
    fromisoformat, isfinite = datetime.fromisoformat, math.isfinite
    accepted: list[Measurement] = []
    repeats = RepeatFilter()
    duplicates = 0
    for index, r in enumerate(records):
        key = r.characteristic
        char = lookup(key) if key else None
        value = r.value
        if char is None or not isfinite(value):
            return None
        if char.chart in ATTRIBUTE_CHARTS:
            try:
                check_count(char, value)
            except Rejected:
                return None
        try:  # the common case inline: an ISO string in UTC before the horizon
            ts: Any = fromisoformat(r.ts)
        except ValueError:
            return None
        if ts.tzinfo is not UTC or ts > horizon:
            try:
                ts = parse_ts(r.ts, now, skew, naive)
            except Rejected:
                return None
        seq, quality, source = r.seq, r.quality, r.source or ""
        if seq is not None and not -INT8 <= seq < INT8:
            return None
        if quality is not None and quality not in QUALITIES:
            return None
        subgroup, lot, serial = r.subgroup, r.lot, r.serial
        if (
            len(source) > MAX_TEXT
            or (subgroup is not None and len(subgroup) > MAX_TEXT)
            or (lot is not None and len(lot) > MAX_TEXT)
            or (serial is not None and len(serial) > MAX_TEXT)
        ):
            return None
        m = Measurement(
            index,
            char.id,
            ts,
            value,
            subgroup,
            lot,
            serial,
            source,
            seq,
            None if quality == "good" else quality,
        )
        if repeats.first(m):
            accepted.append(m)
        else:
            duplicates += 1
    return accepted, duplicates
