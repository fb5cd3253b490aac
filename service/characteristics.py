"""Creating, changing and deleting characteristics and plant nodes, always with an audit record.

Shared by the API routes and the declarative `linewatch.toml` loader. Once a characteristic
has limit versions, what the limits depend on (chart, subgroup size, subgroup_by) cannot change:
the stored limits would silently stop meaning anything; create a new characteristic instead.
Changes to lsl, usl or target are audited as entity ``spec``, other changes as
``characteristic``.
"""

from __future__ import annotations

from typing import Any

from service.domain import Characteristic
from service.errors import Conflict, Invalid, NotFound
from service.storage.db import Tx
from service.storage.repository import Repository

STRUCTURAL = ("chart", "subgroup_size", "subgroup_by")
SPEC = ("lsl", "usl", "target")
LEVELS = ("site", "line", "station")
PARENT_LEVEL = {"line": "site", "station": "line"}


def _station_id(tx: Tx, repo: Repository, station: str | None) -> int | None:
    if station is None:
        return None
    found = repo.plant_id(tx, "station", station)
    if found is None:
        raise Invalid("station", f"unknown station {station!r}")
    return found


def create(tx: Tx, repo: Repository, data: dict[str, Any], *, actor: str) -> Characteristic:
    if repo.get_characteristic(tx, data["key"]) is not None:
        raise Conflict(f"characteristic {data['key']!r} already exists")
    values = dict(data)
    values["station_id"] = _station_id(tx, repo, values.pop("station", None))
    char = repo.create_characteristic(tx, values)
    repo.audit(
        tx,
        actor=actor,
        entity="characteristic",
        entity_key=char.key,
        action="create",
        after=char.public(),
    )
    return char


def update(
    tx: Tx,
    repo: Repository,
    char: Characteristic,
    changes: dict[str, Any],
    *,
    actor: str,
    reason: str | None = None,
) -> Characteristic:
    """Apply `changes` (only the fields the caller set); the merged result must be valid."""
    from pydantic import ValidationError

    from service.api.schemas.characteristics import CharacteristicCreate

    before = char.public()
    merged = {k: before[k] for k in CharacteristicCreate.model_fields if k in before}
    merged.update(changes)
    try:
        CharacteristicCreate.model_validate(merged)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "body"
        raise Invalid(field, first["msg"]) from None
    structural = [f for f in STRUCTURAL if f in changes and changes[f] != before[f]]
    if structural and repo.next_limit_version(tx, char.id) > 1:
        raise Conflict(
            f"{', '.join(structural)} cannot change once limits exist; "
            "create a new characteristic instead"
        )
    values = {k: v for k, v in changes.items() if k != "station"}
    if "station" in changes:
        values["station_id"] = _station_id(tx, repo, changes["station"])
    updated = repo.update_characteristic(tx, char.id, values)
    after = updated.public()
    changed = {k for k in after if after[k] != before[k] and k != "updated_at"}
    if changed:
        entity = "spec" if changed <= set(SPEC) else "characteristic"
        repo.audit(
            tx,
            actor=actor,
            entity=entity,
            entity_key=char.key,
            action="update",
            before={k: before[k] for k in sorted(changed)},
            after={k: after[k] for k in sorted(changed)},
            reason=reason,
        )
    return updated


def delete(tx: Tx, repo: Repository, char: Characteristic, *, actor: str) -> None:
    if repo.has_measurements(tx, char.id):
        raise Conflict(f"characteristic {char.key!r} has measurements; it cannot be deleted")
    repo.delete_characteristic(tx, char.id)
    repo.audit(
        tx,
        actor=actor,
        entity="characteristic",
        entity_key=char.key,
        action="delete",
        before=char.public(),
    )


def plant_create(tx: Tx, repo: Repository, level: str, data: dict[str, Any], *, actor: str) -> Any:
    if repo.plant_id(tx, level, data["key"]) is not None:
        raise Conflict(f"{level} {data['key']!r} already exists")
    parent_id = None
    if level in PARENT_LEVEL:
        parent_level = PARENT_LEVEL[level]
        parent_key = data[parent_level]
        parent_id = repo.plant_id(tx, parent_level, parent_key)
        if parent_id is None:
            raise Invalid(parent_level, f"unknown {parent_level} {parent_key!r}")
    node = repo.plant_create(tx, level, data["key"], data["name"], parent_id, data.get("area"))
    repo.audit(tx, actor=actor, entity=level, entity_key=node.key, action="create", after=data)
    return node


def plant_update(
    tx: Tx, repo: Repository, level: str, key: str, changes: dict[str, Any], *, actor: str
) -> Any:
    node = repo.plant_get(tx, level, key)
    if node is None:
        raise NotFound(f"{level} {key!r} not found")
    values: dict[str, Any] = {}
    if changes.get("name") is not None:
        values["name"] = changes["name"]
    if "area" in changes:
        if level != "line":
            raise Invalid("area", f"a {level} has no area")
        values["area"] = changes["area"]
    if changes.get("parent") is not None:
        if level not in PARENT_LEVEL:
            raise Invalid("parent", "a site has no parent")
        parent_id = repo.plant_id(tx, PARENT_LEVEL[level], changes["parent"])
        if parent_id is None:
            raise Invalid("parent", f"unknown {PARENT_LEVEL[level]} {changes['parent']!r}")
        values["site_id" if level == "line" else "line_id"] = parent_id
    repo.plant_update(tx, level, key, values)
    after = repo.plant_get(tx, level, key)
    repo.audit(
        tx,
        actor=actor,
        entity=level,
        entity_key=key,
        action="update",
        before={"name": node.name, "parent": node.parent, "area": node.area},
        after={"name": after.name, "parent": after.parent, "area": after.area} if after else None,
    )
    return after


def plant_delete(tx: Tx, repo: Repository, level: str, key: str, *, actor: str) -> None:
    node = repo.plant_get(tx, level, key)
    if node is None:
        raise NotFound(f"{level} {key!r} not found")
    if repo.plant_children(tx, level, node.id):
        raise Conflict(f"{level} {key!r} is not empty")
    repo.plant_delete(tx, level, key)
    repo.audit(
        tx,
        actor=actor,
        entity=level,
        entity_key=key,
        action="delete",
        before={"name": node.name, "parent": node.parent},
    )
