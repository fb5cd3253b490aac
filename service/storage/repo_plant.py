"""Plant hierarchy (site > line > station) and characteristics."""

from __future__ import annotations

import json
from typing import Any

from service.domain import Characteristic, PlantNode
from service.storage.db import Tx, ident, utcnow

PLANT_TABLES = {"site": "sites", "line": "lines", "station": "stations"}
PARENT = {"line": ("site_id", "sites"), "station": ("line_id", "lines")}

CHAR_SELECT = """
SELECT c.id, c.key, c.name, c.unit, c.description, c.chart, c.subgroup_size, c.subgroup_by,
       c.lsl, c.usl, c.target, c.rules, c.sigma_method, c.decimals, c.params,
       c.auto_limits_after, c.created_at, c.updated_at,
       s.key AS station, l.key AS line, si.key AS site
FROM characteristics c
LEFT JOIN stations s ON s.id = c.station_id
LEFT JOIN lines l ON l.id = s.line_id
LEFT JOIN sites si ON si.id = l.site_id
"""

CHAR_COLUMNS = (
    "key",
    "name",
    "unit",
    "description",
    "station_id",
    "chart",
    "subgroup_size",
    "subgroup_by",
    "lsl",
    "usl",
    "target",
    "rules",
    "sigma_method",
    "decimals",
    "params",
    "auto_limits_after",
)


def encode_rules(rules: str | list[str]) -> str:
    return rules if isinstance(rules, str) else json.dumps(list(rules))


def decode_rules(text: str) -> str | list[str]:
    return json.loads(text) if text.startswith("[") else text


class PlantRepository:
    """Sites, lines, stations and characteristics; every method runs inside the caller's tx."""

    # --- plant hierarchy ----------------------------------------------------------------------
    def plant_list(self, tx: Tx, level: str) -> list[PlantNode]:
        return [self._node(tx, level, r) for r in tx.fetchall(self._plant_sql(level))]

    def plant_get(self, tx: Tx, level: str, key: str) -> PlantNode | None:
        row = tx.fetchone(self._plant_sql(level) + " WHERE n.key = ?", [key])
        return None if row is None else self._node(tx, level, row)

    def plant_id(self, tx: Tx, level: str, key: str) -> int | None:
        found = tx.scalar(f"SELECT id FROM {ident(PLANT_TABLES[level])} WHERE key = ?", [key])
        return None if found is None else int(found)

    def plant_create(
        self, tx: Tx, level: str, key: str, name: str, parent_id: int | None, area: str | None
    ) -> PlantNode:
        now = tx.ts(utcnow())
        values: dict[str, Any] = {"key": key, "name": name, "created_at": now, "updated_at": now}
        if level in PARENT:
            values[PARENT[level][0]] = parent_id
        if level == "line":
            values["area"] = area
        tx.insert(PLANT_TABLES[level], values)
        node = self.plant_get(tx, level, key)
        assert node is not None
        return node

    def plant_update(self, tx: Tx, level: str, key: str, changes: dict[str, Any]) -> None:
        if not changes:
            return
        changes = {**changes, "updated_at": tx.ts(utcnow())}
        sets = ", ".join(f"{ident(c)} = ?" for c in changes)
        tx.execute(
            f"UPDATE {ident(PLANT_TABLES[level])} SET {sets} WHERE key = ?",
            [*changes.values(), key],
        )

    def plant_delete(self, tx: Tx, level: str, key: str) -> int:
        return tx.execute(f"DELETE FROM {ident(PLANT_TABLES[level])} WHERE key = ?", [key])

    def plant_children(self, tx: Tx, level: str, node_id: int) -> int:
        if level == "site":
            return int(tx.scalar("SELECT count(*) FROM lines WHERE site_id = ?", [node_id]))
        if level == "line":
            return int(tx.scalar("SELECT count(*) FROM stations WHERE line_id = ?", [node_id]))
        return int(
            tx.scalar("SELECT count(*) FROM characteristics WHERE station_id = ?", [node_id])
        )

    @staticmethod
    def _plant_sql(level: str) -> str:
        if level == "site":
            return (
                "SELECT n.id, n.key, n.name, NULL AS parent, NULL AS area, n.created_at, "
                "n.updated_at FROM sites n"
            )
        col, table = PARENT[level]
        area = "n.area" if level == "line" else "NULL"
        return (
            f"SELECT n.id, n.key, n.name, p.key AS parent, {area} AS area, n.created_at, "
            f"n.updated_at FROM {PLANT_TABLES[level]} n JOIN {table} p ON p.id = n.{col}"
        )

    @staticmethod
    def _node(tx: Tx, level: str, row: dict[str, Any]) -> PlantNode:
        return PlantNode(
            level=level,  # type: ignore[arg-type]
            id=int(row["id"]),
            key=row["key"],
            name=row["name"],
            parent=row["parent"],
            area=row["area"],
            created_at=tx.to_dt(row["created_at"]),
            updated_at=tx.to_dt(row["updated_at"]),
        )

    # --- characteristics ----------------------------------------------------------------------
    def list_characteristics(
        self, tx: Tx, *, station: str | None = None, line: str | None = None
    ) -> list[Characteristic]:
        where: list[str] = []
        params: list[Any] = []
        if station is not None:
            where.append("s.key = ?")
            params.append(station)
        if line is not None:
            where.append("l.key = ?")
            params.append(line)
        sql = CHAR_SELECT + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY c.key"
        return [self._characteristic(tx, r) for r in tx.fetchall(sql, params)]

    def get_characteristic(self, tx: Tx, key: str) -> Characteristic | None:
        row = tx.fetchone(CHAR_SELECT + " WHERE c.key = ?", [key])
        return None if row is None else self._characteristic(tx, row)

    def get_characteristic_by_id(self, tx: Tx, cid: int) -> Characteristic | None:
        row = tx.fetchone(CHAR_SELECT + " WHERE c.id = ?", [cid])
        return None if row is None else self._characteristic(tx, row)

    def characteristic_keys(self, tx: Tx, keys: list[str]) -> dict[str, Characteristic]:
        """Characteristics by key for a batch of keys (unknown keys are simply absent)."""
        found: dict[str, Characteristic] = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ", ".join("?" for _ in chunk)
            for row in tx.fetchall(CHAR_SELECT + f" WHERE c.key IN ({marks})", chunk):
                found[row["key"]] = self._characteristic(tx, row)
        return found

    def create_characteristic(self, tx: Tx, values: dict[str, Any]) -> Characteristic:
        now = tx.ts(utcnow())
        row = self._char_values(tx, values)
        row.update(created_at=now, updated_at=now)
        cid = tx.insert("characteristics", row)
        tx.insert(
            "monitor_state",
            {"characteristic_id": cid, "checkpoint_id": 0, "updated_at": now},
            returning=None,
        )
        tx.insert("monitor_heads", {"characteristic_id": cid, "head_id": 0}, returning=None)
        created = self.get_characteristic_by_id(tx, int(cid))
        assert created is not None
        return created

    def update_characteristic(self, tx: Tx, cid: int, values: dict[str, Any]) -> Characteristic:
        row = self._char_values(tx, values)
        if row:
            row["updated_at"] = tx.ts(utcnow())
            sets = ", ".join(f"{ident(c)} = ?" for c in row)
            tx.execute(f"UPDATE characteristics SET {sets} WHERE id = ?", [*row.values(), cid])
        updated = self.get_characteristic_by_id(tx, cid)
        assert updated is not None
        return updated

    def delete_characteristic(self, tx: Tx, cid: int) -> None:
        tx.execute("DELETE FROM violations WHERE characteristic_id = ?", [cid])
        tx.execute("DELETE FROM characteristics WHERE id = ?", [cid])

    def has_measurements(self, tx: Tx, cid: int) -> bool:
        return (
            tx.scalar("SELECT 1 FROM measurements WHERE characteristic_id = ? LIMIT 1", [cid]) == 1
        )

    @staticmethod
    def _char_values(tx: Tx, values: dict[str, Any]) -> dict[str, Any]:
        row: dict[str, Any] = {}
        for column in CHAR_COLUMNS:
            if column not in values:
                continue
            value = values[column]
            if column == "rules":
                value = encode_rules(value)
            elif column == "params":
                value = tx.dump_json(value or {})
            row[column] = value
        return row

    @staticmethod
    def _characteristic(tx: Tx, row: dict[str, Any]) -> Characteristic:
        return Characteristic(
            id=int(row["id"]),
            key=row["key"],
            name=row["name"],
            unit=row["unit"],
            description=row["description"],
            station=row["station"],
            line=row["line"],
            site=row["site"],
            chart=row["chart"],
            subgroup_size=int(row["subgroup_size"]),
            subgroup_by=row["subgroup_by"],
            lsl=row["lsl"],
            usl=row["usl"],
            target=row["target"],
            rules=decode_rules(row["rules"]),
            sigma_method=row["sigma_method"],
            decimals=row["decimals"],
            params=tx.load_json(row["params"]) or {},
            auto_limits_after=row["auto_limits_after"],
            created_at=tx.to_dt(row["created_at"]),  # type: ignore[arg-type]
            updated_at=tx.to_dt(row["updated_at"]),  # type: ignore[arg-type]
        )
