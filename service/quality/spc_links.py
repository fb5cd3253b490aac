"""Did the control charts warn in time? The SPC alarms that preceded a defect record.

An alarm counts for a record when it signalled inside the window before the record:
its first violation at or before the record's time and its last violation no earlier than
``window`` before it. It matches by

* ``line``: the alarm's characteristic is measured at a station of the record's line;
* ``lot``: one of the alarm's violating points was measured on the record's lot (on any line:
  a lot that went wrong upstream shows here too).

``lead_seconds`` is the time from the alarm's first violation to the record: how much warning
the chart gave. `warning_coverage` applies the same rule to every record of a period and
counts, per line, the share of records an alarm preceded.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from service.errors import Invalid, NotFound
from service.storage.db import Tx

ALARM_COLUMNS = """
SELECT a.id AS alarm_id, c.key AS characteristic, a.series, a.rule, a.state, a.opened_at,
       a.first_ts, a.last_ts, a.hits
FROM alarms a JOIN characteristics c ON c.id = a.characteristic_id
"""


def defect_head(tx: Tx, defect_id: int) -> dict[str, Any]:
    row = tx.fetchone(
        "SELECT d.id, d.ts, d.line_id, l.key AS line, d.lot FROM quality_defects d "
        "JOIN lines l ON l.id = d.line_id WHERE d.id = ?",
        [defect_id],
    )
    if row is None:
        raise NotFound(f"defect record {defect_id} not found")
    row["ts"] = tx.to_dt(row["ts"])
    return row


def preceding_alarms(tx: Tx, defect_id: int, window: timedelta) -> dict[str, Any]:
    defect = defect_head(tx, defect_id)
    ts: datetime = defect["ts"]
    since = ts - window
    found: dict[int, dict[str, Any]] = {}
    for row in tx.fetchall(
        ALARM_COLUMNS + "JOIN stations s ON s.id = c.station_id "
        "WHERE s.line_id = ? AND a.first_ts <= ? AND a.last_ts >= ?",
        [defect["line_id"], tx.ts(ts), tx.ts(since)],
    ):
        found[int(row["alarm_id"])] = {**row, "match": ["line"]}
    if defect["lot"] is not None:
        ids = [
            int(r[0])
            for r in tx.rows(
                "SELECT DISTINCT v.alarm_id FROM violations v JOIN measurements m "
                "ON m.characteristic_id = v.characteristic_id AND m.id = v.measurement_id "
                "WHERE m.lot = ? AND v.ts <= ? AND v.ts >= ? AND v.alarm_id IS NOT NULL",
                [defect["lot"], tx.ts(ts), tx.ts(since)],
            )
        ]
        for alarm_id in ids:
            if alarm_id in found:
                found[alarm_id]["match"].append("lot")
                continue
            alarm = tx.fetchone(ALARM_COLUMNS + "WHERE a.id = ?", [alarm_id])
            if alarm is not None and tx.to_dt(alarm["first_ts"]) <= ts:  # type: ignore[operator]
                found[alarm_id] = {**alarm, "match": ["lot"]}
    alarms = []
    for row in found.values():
        for column in ("opened_at", "first_ts", "last_ts"):
            row[column] = tx.to_dt(row[column])
        row["lead_seconds"] = (ts - row["first_ts"]).total_seconds()
        alarms.append(row)
    alarms.sort(key=lambda r: (r["first_ts"], r["alarm_id"]))
    return {
        "defect": {"id": defect["id"], "ts": ts, "line": defect["line"], "lot": defect["lot"]},
        "window_hours": window.total_seconds() / 3600.0,
        "warned": bool(alarms),
        "alarms": alarms,
    }


MAX_RECORDS = 200_000


def warning_coverage(
    tx: Tx,
    start: datetime,
    end: datetime,
    window: timedelta,
    line_ids: list[int] | None,
) -> dict[str, Any]:
    """Per line: how many records in [start, end) an alarm preceded (same rule as above)."""
    import bisect

    where, params = "d.ts >= ? AND d.ts < ?", [tx.ts(start), tx.ts(end)]
    if line_ids is not None:
        if not line_ids:
            line_ids = [0]
        where += f" AND d.line_id IN ({', '.join('?' for _ in line_ids)})"
        params += line_ids
    count = int(tx.scalar(f"SELECT count(*) FROM quality_defects d WHERE {where}", params))
    if count > MAX_RECORDS:
        raise Invalid("from", f"{count} records in the window; at most {MAX_RECORDS}: narrow it")
    records = tx.rows(
        f"SELECT d.ts, d.line_id, l.key, d.lot FROM quality_defects d "
        f"JOIN lines l ON l.id = d.line_id WHERE {where}",
        params,
    )
    since = start - window
    by_line: dict[int, list[tuple[datetime, datetime]]] = {}
    for line_id, first, last in tx.rows(
        "SELECT s.line_id, a.first_ts, a.last_ts FROM alarms a "
        "JOIN characteristics c ON c.id = a.characteristic_id "
        "JOIN stations s ON s.id = c.station_id WHERE a.first_ts < ? AND a.last_ts >= ?",
        [tx.ts(end), tx.ts(since)],
    ):
        by_line.setdefault(int(line_id), []).append((tx.to_dt(first), tx.to_dt(last)))  # type: ignore[arg-type]
    lots = sorted({r[3] for r in records if r[3] is not None})
    by_lot: dict[str, list[datetime]] = {}
    for offset in range(0, len(lots), 500):
        chunk = lots[offset : offset + 500]
        for lot, ts in tx.rows(
            "SELECT m.lot, v.ts FROM violations v JOIN measurements m "
            "ON m.characteristic_id = v.characteristic_id AND m.id = v.measurement_id "
            f"WHERE m.lot IN ({', '.join('?' for _ in chunk)}) AND v.ts >= ? AND v.ts < ? "
            "AND v.alarm_id IS NOT NULL",
            [*chunk, tx.ts(since), tx.ts(end)],
        ):
            by_lot.setdefault(lot, []).append(tx.to_dt(ts))  # type: ignore[arg-type]
    for times in by_lot.values():
        times.sort()
    rows: dict[str, dict[str, Any]] = {}
    for ts_raw, line_id, line, lot in records:
        ts = tx.to_dt(ts_raw)
        assert ts is not None
        row = rows.setdefault(line, {"line": line, "records": 0, "warned": 0})
        row["records"] += 1
        warned = any(
            first <= ts and last >= ts - window for first, last in by_line.get(int(line_id), ())
        )
        if not warned and lot in by_lot:
            times = by_lot[lot]
            i = bisect.bisect_left(times, ts - window)
            warned = i < len(times) and times[i] <= ts
        row["warned"] += warned
    out = sorted(rows.values(), key=lambda r: r["line"])
    for row in out:
        row["share"] = row["warned"] / row["records"]
    return {
        "from": start,
        "to": end,
        "window_hours": window.total_seconds() / 3600.0,
        "rows": out,
    }
