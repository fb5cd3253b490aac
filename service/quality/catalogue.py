"""The defect catalogue (codes with categories) and the dispositions, audited like the rest.

A disposition names what was done with the nonconforming units and is costed on one of six
bases (see `service.quality.costing`); plants may add their own (a "sort" costed as rework, a
"downgrade" costed as scrap). Codes and dispositions in use are retired (``active = false``)
rather than deleted: history keeps pointing at them, new records may not use them. Changing the
basis of a disposition in use would silently re-price history, so it is refused.
"""

from __future__ import annotations

from typing import Any

from service.errors import Conflict, NotFound
from service.storage.db import Tx, ident, utcnow
from service.storage.repository import Repository

BASES = ("scrap", "rework", "repair", "use_as_is", "return_to_supplier", "customer_return")

CODE_COLUMNS = ("code", "name", "category", "description", "active", "created_at", "updated_at")
DISPOSITION_COLUMNS = ("key", "name", "basis", "active", "created_at", "updated_at")


def _public(tx: Tx, row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    out.pop("id", None)
    out["active"] = bool(out["active"])
    out["created_at"] = tx.to_dt(out["created_at"])
    out["updated_at"] = tx.to_dt(out["updated_at"])
    return out


# --- defect codes -------------------------------------------------------------------------------
def list_codes(
    tx: Tx, *, category: str | None = None, active: bool | None = None
) -> list[dict[str, Any]]:
    where: list[str] = ["1 = 1"]
    params: list[Any] = []
    if category is not None:
        where.append("category = ?")
        params.append(category)
    if active is not None:
        where.append("active = ?")
        params.append(int(active))
    rows = tx.fetchall(
        f"SELECT id, {', '.join(CODE_COLUMNS)} FROM quality_defect_codes "
        f"WHERE {' AND '.join(where)} ORDER BY code",
        params,
    )
    return [_public(tx, r) for r in rows]


def _code_row(tx: Tx, code: str) -> dict[str, Any]:
    row = tx.fetchone(
        f"SELECT id, {', '.join(CODE_COLUMNS)} FROM quality_defect_codes WHERE code = ?", [code]
    )
    if row is None:
        raise NotFound(f"defect code {code!r} not found")
    return row


def get_code(tx: Tx, code: str) -> dict[str, Any]:
    return _public(tx, _code_row(tx, code))


def create_code(tx: Tx, repo: Repository, data: dict[str, Any], *, actor: str) -> dict[str, Any]:
    if tx.scalar("SELECT 1 FROM quality_defect_codes WHERE code = ?", [data["code"]]):
        raise Conflict(f"defect code {data['code']!r} already exists")
    now = tx.ts(utcnow())
    tx.insert(
        "quality_defect_codes",
        {
            "code": data["code"],
            "name": data["name"],
            "category": data["category"],
            "description": data.get("description"),
            "active": int(data.get("active", True)),
            "created_at": now,
            "updated_at": now,
        },
    )
    created = get_code(tx, data["code"])
    repo.audit(
        tx,
        actor=actor,
        entity="defect_code",
        entity_key=data["code"],
        action="create",
        after=_audit(created),
    )
    return created


def update_code(
    tx: Tx, repo: Repository, code: str, changes: dict[str, Any], *, actor: str
) -> dict[str, Any]:
    before = get_code(tx, code)
    changes = {k: v for k, v in changes.items() if v is not None or k == "description"}
    if changes:
        if "active" in changes:
            changes["active"] = int(changes["active"])
        _update(tx, "quality_defect_codes", "code", code, changes)
        repo.audit(
            tx,
            actor=actor,
            entity="defect_code",
            entity_key=code,
            action="update",
            before=_audit(before),
            after=_audit(get_code(tx, code)),
        )
    return get_code(tx, code)


def delete_code(tx: Tx, repo: Repository, code: str, *, actor: str) -> None:
    row = _code_row(tx, code)
    if tx.scalar("SELECT 1 FROM quality_defects WHERE defect_code_id = ? LIMIT 1", [row["id"]]):
        raise Conflict(f"defect code {code!r} is used by records; retire it (active: false)")
    tx.execute("DELETE FROM quality_defect_codes WHERE id = ?", [row["id"]])
    repo.audit(
        tx,
        actor=actor,
        entity="defect_code",
        entity_key=code,
        action="delete",
        before=_audit(_public(tx, row)),
    )


# --- dispositions -------------------------------------------------------------------------------
def list_dispositions(tx: Tx, *, active: bool | None = None) -> list[dict[str, Any]]:
    where, params = "1 = 1", []
    if active is not None:
        where, params = "active = ?", [int(active)]
    rows = tx.fetchall(
        f"SELECT id, {', '.join(DISPOSITION_COLUMNS)} FROM quality_dispositions "
        f"WHERE {where} ORDER BY id",
        params,
    )
    return [_public(tx, r) for r in rows]


def _disposition_row(tx: Tx, key: str) -> dict[str, Any]:
    row = tx.fetchone(
        f"SELECT id, {', '.join(DISPOSITION_COLUMNS)} FROM quality_dispositions WHERE key = ?",
        [key],
    )
    if row is None:
        raise NotFound(f"disposition {key!r} not found")
    return row


def get_disposition(tx: Tx, key: str) -> dict[str, Any]:
    return _public(tx, _disposition_row(tx, key))


def create_disposition(
    tx: Tx, repo: Repository, data: dict[str, Any], *, actor: str
) -> dict[str, Any]:
    if tx.scalar("SELECT 1 FROM quality_dispositions WHERE key = ?", [data["key"]]):
        raise Conflict(f"disposition {data['key']!r} already exists")
    now = tx.ts(utcnow())
    tx.insert(
        "quality_dispositions",
        {
            "key": data["key"],
            "name": data["name"],
            "basis": data["basis"],
            "active": int(data.get("active", True)),
            "created_at": now,
            "updated_at": now,
        },
    )
    created = get_disposition(tx, data["key"])
    repo.audit(
        tx,
        actor=actor,
        entity="disposition",
        entity_key=data["key"],
        action="create",
        after=_audit(created),
    )
    return created


def update_disposition(
    tx: Tx, repo: Repository, key: str, changes: dict[str, Any], *, actor: str
) -> dict[str, Any]:
    row = _disposition_row(tx, key)
    changes = {k: v for k, v in changes.items() if v is not None}
    if (
        "basis" in changes
        and changes["basis"] != row["basis"]
        and tx.scalar("SELECT 1 FROM quality_defects WHERE disposition_id = ? LIMIT 1", [row["id"]])
    ):
        raise Conflict(
            f"disposition {key!r} is used by records: a new basis would re-price history; "
            "create another disposition instead"
        )
    if changes:
        before = _public(tx, row)
        if "active" in changes:
            changes["active"] = int(changes["active"])
        _update(tx, "quality_dispositions", "key", key, changes)
        repo.audit(
            tx,
            actor=actor,
            entity="disposition",
            entity_key=key,
            action="update",
            before=_audit(before),
            after=_audit(get_disposition(tx, key)),
        )
    return get_disposition(tx, key)


def _update(tx: Tx, table: str, key_column: str, key: str, changes: dict[str, Any]) -> None:
    changes = {**changes, "updated_at": tx.ts(utcnow())}
    sets = ", ".join(f"{ident(c)} = ?" for c in changes)
    tx.execute(
        f"UPDATE {ident(table)} SET {sets} WHERE {ident(key_column)} = ?",
        [*changes.values(), key],
    )


def _audit(public: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in public.items() if k not in ("created_at", "updated_at")}
