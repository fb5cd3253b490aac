"""Reading and deleting defect records (corrections are a delete and a new record, audited)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from service.errors import NotFound
from service.quality.rollups import lock_lines, rebuild_defects
from service.storage.db import Tx
from service.storage.repository import Repository

SELECT = """
SELECT d.id, d.ts, si.key AS site, l.key AS line, st.key AS station, d.product, d.lot, d.serial,
       dc.code AS defect_code, dc.category, dp.key AS disposition, dp.basis, d.quantity,
       d.rework_minutes, d.recorded_by, d.reported_by, d.note, d.source, d.seq, d.created_at,
       d.cost, d.currency, d.cost_model_id
FROM quality_defects d
JOIN lines l ON l.id = d.line_id
JOIN sites si ON si.id = l.site_id
LEFT JOIN stations st ON st.id = d.station_id
JOIN quality_defect_codes dc ON dc.id = d.defect_code_id
JOIN quality_dispositions dp ON dp.id = d.disposition_id
"""
COLUMNS = {
    "site": "si.key",
    "line": "l.key",
    "station": "st.key",
    "product": "d.product",
    "defect_code": "dc.code",
    "category": "dc.category",
    "disposition": "dp.key",
    "lot": "d.lot",
    "serial": "d.serial",
}
COST_FIELDS = ("cost", "currency", "cost_model_id")


def _public(tx: Tx, row: dict[str, Any]) -> dict[str, Any]:
    row["ts"] = tx.to_dt(row["ts"])
    row["created_at"] = tx.to_dt(row["created_at"])
    if row["source"] == "":
        row["source"] = None
    return row


def list_records(
    tx: Tx,
    start: datetime,
    end: datetime,
    filters: dict[str, list[str]],
    *,
    limit: int,
    offset: int = 0,
) -> list[dict[str, Any]]:
    where, params = ["d.ts >= ? AND d.ts < ?"], [tx.ts(start), tx.ts(end)]
    for name, values in filters.items():
        if values:
            where.append(f"{COLUMNS[name]} IN ({', '.join('?' for _ in values)})")
            params += values
    rows = tx.fetchall(
        SELECT + f" WHERE {' AND '.join(where)} ORDER BY d.ts, d.id LIMIT ? OFFSET ?",
        [*params, limit, offset],
    )
    return [_public(tx, r) for r in rows]


def get_record(tx: Tx, defect_id: int) -> dict[str, Any]:
    row = tx.fetchone(SELECT + " WHERE d.id = ?", [defect_id])
    if row is None:
        raise NotFound(f"defect record {defect_id} not found")
    return _public(tx, row)


def delete_record(
    tx: Tx, repo: Repository, defect_id: int, *, actor: str, reason: str | None
) -> None:
    record = get_record(tx, defect_id)
    line_id = int(tx.scalar("SELECT line_id FROM quality_defects WHERE id = ?", [defect_id]))
    lock_lines(tx, [line_id])
    tx.execute("DELETE FROM quality_defects WHERE id = ?", [defect_id])
    rebuild_defects(tx, repo, [line_id], record["ts"], record["ts"] + timedelta(microseconds=1))
    repo.audit(
        tx,
        actor=actor,
        entity="defect",
        entity_key=str(defect_id),
        action="delete",
        before=record,
        reason=reason,
    )


def hide_cost(record: dict[str, Any]) -> dict[str, Any]:
    """Cost fields are for managers; other roles see them as null."""
    return {**record, **dict.fromkeys(COST_FIELDS)}
