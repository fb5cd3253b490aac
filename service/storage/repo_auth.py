"""Users, API tokens (only their keyed hashes are stored) and the append-only audit log."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from service.domain import Principal
from service.storage.db import Tx, text_array, utcnow


class AuthRepository:
    def get_user(self, tx: Tx, name: str) -> dict[str, Any] | None:
        row = tx.fetchone(
            "SELECT id, name, role, created_at, disabled_at FROM users WHERE name = ?", [name]
        )
        return None if row is None else self._user(tx, row)

    def list_users(self, tx: Tx) -> list[dict[str, Any]]:
        rows = tx.fetchall(
            "SELECT id, name, role, created_at, disabled_at FROM users ORDER BY name"
        )
        return [self._user(tx, r) for r in rows]

    def create_user(self, tx: Tx, name: str, role: str) -> int:
        return int(tx.insert("users", {"name": name, "role": role, "created_at": tx.ts(utcnow())}))

    def update_user(self, tx: Tx, user_id: int, changes: dict[str, Any]) -> None:
        if "disabled_at" in changes:
            changes["disabled_at"] = tx.ts(changes["disabled_at"])
        sets = ", ".join(f"{c} = ?" for c in changes)
        tx.execute(f"UPDATE users SET {sets} WHERE id = ?", [*changes.values(), user_id])

    def create_token(self, tx: Tx, user_id: int, name: str, token_hash: str, prefix: str) -> int:
        return int(
            tx.insert(
                "api_tokens",
                {
                    "user_id": user_id,
                    "name": name,
                    "token_hash": token_hash,
                    "prefix": prefix,
                    "created_at": tx.ts(utcnow()),
                },
            )
        )

    def principal_for_hash(self, tx: Tx, token_hash: str) -> Principal | None:
        row = tx.fetchone(
            "SELECT t.id AS token_id, u.id AS user_id, u.name, u.role FROM api_tokens t "
            "JOIN users u ON u.id = t.user_id WHERE t.token_hash = ? AND t.revoked_at IS NULL "
            "AND u.disabled_at IS NULL",
            [token_hash],
        )
        if row is None:
            return None
        return Principal(int(row["user_id"]), row["name"], row["role"], int(row["token_id"]))

    def list_tokens(self, tx: Tx) -> list[dict[str, Any]]:
        rows = tx.fetchall(
            "SELECT t.id, t.name, t.prefix, u.name AS user, u.role, t.created_at, t.revoked_at "
            "FROM api_tokens t JOIN users u ON u.id = t.user_id ORDER BY t.id"
        )
        for row in rows:
            row["created_at"] = tx.to_dt(row["created_at"])
            row["revoked_at"] = tx.to_dt(row["revoked_at"])
        return rows

    def revoke_token(self, tx: Tx, token_id: int) -> int:
        return tx.execute(
            "UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
            [tx.ts(utcnow()), token_id],
        )

    @staticmethod
    def _user(tx: Tx, row: dict[str, Any]) -> dict[str, Any]:
        row["created_at"] = tx.to_dt(row["created_at"])
        row["disabled_at"] = tx.to_dt(row["disabled_at"])
        return row

    # --- audit --------------------------------------------------------------------------------
    def audit(
        self,
        tx: Tx,
        *,
        actor: str,
        entity: str,
        entity_key: str,
        action: str,
        before: Any = None,
        after: Any = None,
        reason: str | None = None,
        at: datetime | None = None,
    ) -> None:
        """Append one audit record (who, when, what, before, after, why) in the caller's tx."""
        tx.insert(
            "audit_log",
            {
                "at": tx.ts(at or utcnow()),
                "actor": actor,
                "entity": entity,
                "entity_key": entity_key,
                "action": action,
                "before": None if before is None else tx.dump_json(before),
                "after": None if after is None else tx.dump_json(after),
                "reason": reason,
            },
            returning=None,
        )

    def audit_many(self, tx: Tx, rows: Sequence[dict[str, Any]]) -> None:
        """`audit` of several records in one round trip (keys as `audit`'s arguments)."""
        if not rows:
            return
        records = [
            (
                tx.ts(r.get("at") or utcnow()),
                r["actor"],
                r["entity"],
                r["entity_key"],
                r["action"],
                None if r.get("before") is None else tx.dump_json(r["before"]),
                None if r.get("after") is None else tx.dump_json(r["after"]),
                r.get("reason"),
            )
            for r in rows
        ]
        if tx.dialect == "postgresql":  # one statement over arrays, not one per row
            tx.execute(
                "INSERT INTO audit_log (at, actor, entity, entity_key, action, before, after, "
                "reason) SELECT t, who, e, k, d, b, a, r FROM unnest(?::timestamptz[], "
                "?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[]) "
                "WITH ORDINALITY AS u(t, who, e, k, d, b, a, r, o) ORDER BY o",
                [
                    text_array(r[0].isoformat() for r in records),  # ISO 8601 with its offset
                    *(text_array(r[i] for r in records) for i in range(1, 8)),
                ],
            )
            return
        tx.executemany(
            "INSERT INTO audit_log (at, actor, entity, entity_key, action, before, after, reason) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            records,
        )

    def audit_log(
        self,
        tx: Tx,
        *,
        entity: str | None = None,
        entity_key: str | None = None,
        limit: int = 1000,
    ) -> list[dict[str, Any]]:
        where: list[str] = ["1 = 1"]
        params: list[Any] = []
        if entity is not None:
            where.append("entity = ?")
            params.append(entity)
        if entity_key is not None:
            where.append("entity_key = ?")
            params.append(entity_key)
        params.append(limit)
        rows = tx.fetchall(
            "SELECT id, at, actor, entity, entity_key, action, before, after, reason "
            f"FROM audit_log WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT ?",
            params,
        )
        for row in rows:
            row["at"] = tx.to_dt(row["at"])
            row["before"] = tx.load_json(row["before"])
            row["after"] = tx.load_json(row["after"])
        return rows
