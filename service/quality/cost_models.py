"""Cost model versions: the rates of one site, valid from a date until the next version.

History is costed with the rates of its time: a record takes the version of its site whose
validity holds its timestamp (UTC days). Creating, replacing or deleting a version re-costs the
records of that version's validity (and rebuilds their daily roll-ups) in the same
transaction, so a retroactive correction shows in every query at once. Each change is audited.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from service.errors import Conflict, Invalid, NotFound
from service.quality.costing import cost_records
from service.quality.rollups import lock_lines, rebuild_defects
from service.storage.db import Tx, utcnow
from service.storage.repository import Repository

MODEL_SELECT = """
SELECT m.id, si.key AS site, m.site_id, m.valid_from, m.valid_to, m.currency, m.labour_rate,
       m.note, m.created_by, m.created_at, m.updated_at
FROM quality_cost_models m JOIN sites si ON si.id = m.site_id
"""


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def list_models(tx: Tx, *, site: str | None = None) -> list[dict[str, Any]]:
    where, params = "", []
    if site is not None:
        where, params = " WHERE si.key = ?", [site]
    rows = tx.fetchall(MODEL_SELECT + where + " ORDER BY si.key, m.valid_from", params)
    return [_public(tx, r) for r in rows]


def get_model(tx: Tx, model_id: int) -> dict[str, Any]:
    row = tx.fetchone(MODEL_SELECT + " WHERE m.id = ?", [model_id])
    if row is None:
        raise NotFound(f"cost model {model_id} not found")
    return _public(tx, row)


def create_model(tx: Tx, repo: Repository, data: dict[str, Any], *, actor: str) -> dict[str, Any]:
    site_id = repo.plant_id(tx, "site", data["site"])
    if site_id is None:
        raise Invalid("site", f"unknown site {data['site']!r}")
    lines = _site_lines(tx, site_id)
    lock_lines(tx, lines)
    valid_from = midnight(data["valid_from"])
    if tx.scalar(
        "SELECT 1 FROM quality_cost_models WHERE site_id = ? AND valid_from = ?",
        [site_id, tx.ts(valid_from)],
    ):
        raise Conflict(
            f"site {data['site']!r} already has a cost model valid from {data['valid_from']}"
        )
    stations = _check_stations(tx, site_id, data["products"])
    now = tx.ts(utcnow())
    model_id = int(
        tx.insert(
            "quality_cost_models",
            {
                "site_id": site_id,
                "valid_from": tx.ts(valid_from),
                "currency": data["currency"],
                "labour_rate": data["labour_rate"],
                "note": data.get("note"),
                "created_by": actor,
                "created_at": now,
                "updated_at": now,
            },
        )
    )
    _write_products(tx, model_id, data["products"], stations)
    _relink(tx, site_id)
    created = get_model(tx, model_id)
    created["recosted"] = _recost(tx, repo, lines, created)
    repo.audit(
        tx,
        actor=actor,
        entity="cost_model",
        entity_key=str(model_id),
        action="create",
        after=_audit(created),
        reason=data.get("note"),
    )
    return created


def replace_model(
    tx: Tx, repo: Repository, model_id: int, data: dict[str, Any], *, actor: str
) -> dict[str, Any]:
    """Replace the rates of a version (site and valid_from stay: to move a version, delete it
    and create another)."""
    before = get_model(tx, model_id)
    site_id = int(tx.scalar("SELECT site_id FROM quality_cost_models WHERE id = ?", [model_id]))
    lines = _site_lines(tx, site_id)
    lock_lines(tx, lines)
    stations = _check_stations(tx, site_id, data["products"])
    tx.execute(
        "UPDATE quality_cost_models SET currency = ?, labour_rate = ?, note = ?, updated_at = ? "
        "WHERE id = ?",
        [data["currency"], data["labour_rate"], data.get("note"), tx.ts(utcnow()), model_id],
    )
    tx.execute("DELETE FROM quality_cost_stations WHERE model_id = ?", [model_id])
    tx.execute("DELETE FROM quality_cost_products WHERE model_id = ?", [model_id])
    _write_products(tx, model_id, data["products"], stations)
    updated = get_model(tx, model_id)
    updated["recosted"] = _recost(tx, repo, lines, updated)
    repo.audit(
        tx,
        actor=actor,
        entity="cost_model",
        entity_key=str(model_id),
        action="update",
        before=_audit(before),
        after=_audit(updated),
        reason=data.get("note"),
    )
    return updated


def delete_model(tx: Tx, repo: Repository, model_id: int, *, actor: str) -> int:
    """Delete a version; its records fall to the version before it (or become uncosted)."""
    before = get_model(tx, model_id)
    site_id = int(tx.scalar("SELECT site_id FROM quality_cost_models WHERE id = ?", [model_id]))
    lines = _site_lines(tx, site_id)
    lock_lines(tx, lines)
    tx.execute("DELETE FROM quality_cost_stations WHERE model_id = ?", [model_id])
    tx.execute("DELETE FROM quality_cost_products WHERE model_id = ?", [model_id])
    tx.execute("DELETE FROM quality_cost_models WHERE id = ?", [model_id])
    _relink(tx, site_id)
    recosted = _recost(tx, repo, lines, before)
    repo.audit(
        tx,
        actor=actor,
        entity="cost_model",
        entity_key=str(model_id),
        action="delete",
        before=_audit(before),
    )
    return recosted


def _site_lines(tx: Tx, site_id: int) -> list[int]:
    return [int(r[0]) for r in tx.rows("SELECT id FROM lines WHERE site_id = ?", [site_id])]


def _check_stations(tx: Tx, site_id: int, products: list[dict[str, Any]]) -> dict[str, int]:
    known = {
        r[0]: int(r[1])
        for r in tx.rows(
            "SELECT s.key, s.id FROM stations s JOIN lines l ON l.id = s.line_id "
            "WHERE l.site_id = ?",
            [site_id],
        )
    }
    for i, product in enumerate(products):
        for key in product.get("stations") or {}:
            if key not in known:
                raise Invalid(f"products.{i}.stations", f"{key!r} is not a station of this site")
    return known


def _write_products(
    tx: Tx, model_id: int, products: list[dict[str, Any]], stations: dict[str, int]
) -> None:
    for product in products:
        tx.insert(
            "quality_cost_products",
            {
                "model_id": model_id,
                "product": product["product"],
                "unit_cost": product["unit_cost"],
                "rework_material": product.get("rework_material", 0.0),
                "customer_return_cost": product.get("customer_return_cost", 0.0),
                "supplier_return_cost": product.get("supplier_return_cost", 0.0),
            },
            returning=None,
        )
        for key, unit_cost in (product.get("stations") or {}).items():
            tx.insert(
                "quality_cost_stations",
                {
                    "model_id": model_id,
                    "product": product["product"],
                    "station_id": stations[key],
                    "unit_cost": unit_cost,
                },
                returning=None,
            )


def _relink(tx: Tx, site_id: int) -> None:
    """valid_to of each version = valid_from of the next one (NULL for the latest)."""
    rows = tx.rows(
        "SELECT id, valid_from FROM quality_cost_models WHERE site_id = ? ORDER BY valid_from",
        [site_id],
    )
    if not rows:  # the site's last model was deleted
        return
    for (model_id, _), nxt in zip(rows, [*rows[1:], None], strict=True):
        tx.execute(
            "UPDATE quality_cost_models SET valid_to = ? WHERE id = ?",
            [None if nxt is None else nxt[1], model_id],
        )


def _recost(tx: Tx, repo: Repository, lines: list[int], model: dict[str, Any]) -> int:
    if not lines:
        return 0
    start = midnight(model["valid_from"])
    end = None if model["valid_to"] is None else midnight(model["valid_to"])
    marks = ", ".join("?" for _ in lines)
    where = f"d.line_id IN ({marks}) AND d.ts >= ?"
    params: list[Any] = [*lines, tx.ts(start)]
    if end is not None:
        where += " AND d.ts < ?"
        params.append(tx.ts(end))
    count = cost_records(tx, where, params)
    rebuild_defects(tx, repo, lines, start, end)
    return count


def _public(tx: Tx, row: dict[str, Any]) -> dict[str, Any]:
    products: dict[str, dict[str, Any]] = {}
    for p in tx.fetchall(
        "SELECT product, unit_cost, rework_material, customer_return_cost, supplier_return_cost "
        "FROM quality_cost_products WHERE model_id = ? ORDER BY product",
        [row["id"]],
    ):
        products[p["product"]] = {**p, "stations": {}}
    for s in tx.fetchall(
        "SELECT cs.product, st.key, cs.unit_cost FROM quality_cost_stations cs "
        "JOIN stations st ON st.id = cs.station_id WHERE cs.model_id = ? ORDER BY st.key",
        [row["id"]],
    ):
        products[s["product"]]["stations"][s["key"]] = s["unit_cost"]
    valid_to = tx.to_dt(row["valid_to"])
    return {
        "id": int(row["id"]),
        "site": row["site"],
        "valid_from": tx.to_dt(row["valid_from"]).date(),  # type: ignore[union-attr]
        "valid_to": None if valid_to is None else valid_to.date(),
        "currency": row["currency"],
        "labour_rate": row["labour_rate"],
        "note": row["note"],
        "products": list(products.values()),
        "created_by": row["created_by"],
        "created_at": tx.to_dt(row["created_at"]),
        "updated_at": tx.to_dt(row["updated_at"]),
    }


def _audit(model: dict[str, Any]) -> dict[str, Any]:
    keep = ("site", "valid_from", "valid_to", "currency", "labour_rate", "note", "products")
    return {k: model[k] for k in keep}
