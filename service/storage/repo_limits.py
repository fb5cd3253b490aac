"""Limit versions (immutable once written) and their approvals (written once each)."""

from __future__ import annotations

from typing import Any

from service.domain import LimitVersion
from service.storage.db import Tx
from service.storage.repo_plant import decode_rules, encode_rules

LIMIT_SELECT = """
SELECT v.characteristic_id, v.version, v.chart, v.center, v.sigma, v.nsigmas, v.subgroup_size,
       v.lcl, v.ucl, v.limits, v.rules, v.method, v.phase1, v.computed_by, v.computed_at,
       v.reason, a.approved_by, a.approved_at, a.reason AS approval_reason, a.start_after_id
FROM limit_versions v
LEFT JOIN limit_approvals a ON a.characteristic_id = v.characteristic_id AND a.version = v.version
"""


class LimitRepository:
    def next_limit_version(self, tx: Tx, cid: int) -> int:
        found = tx.scalar(
            "SELECT max(version) FROM limit_versions WHERE characteristic_id = ?", [cid]
        )
        return int(found or 0) + 1

    def insert_limit_version(self, tx: Tx, cid: int, values: dict[str, Any]) -> None:
        row = dict(values)
        row["characteristic_id"] = cid
        row["limits"] = tx.dump_json(row["limits"])
        row["phase1"] = tx.dump_json(row["phase1"])
        row["rules"] = encode_rules(row["rules"])
        row["computed_at"] = tx.ts(row["computed_at"])
        tx.insert("limit_versions", row, returning=None)

    def insert_approval(
        self,
        tx: Tx,
        cid: int,
        version: int,
        approved_by: str,
        approved_at: Any,
        reason: str | None,
        start_after_id: int,
    ) -> None:
        tx.insert(
            "limit_approvals",
            {
                "characteristic_id": cid,
                "version": version,
                "approved_by": approved_by,
                "approved_at": tx.ts(approved_at),
                "reason": reason,
                "start_after_id": start_after_id,
            },
            returning=None,
        )

    def current_version_number(self, tx: Tx, cid: int) -> int | None:
        """The approved version judged against now: the one approved last."""
        found = tx.scalar(
            "SELECT version FROM limit_approvals WHERE characteristic_id = ? "
            "ORDER BY approved_at DESC, id DESC LIMIT 1",
            [cid],
        )
        return None if found is None else int(found)

    def get_limit_version(self, tx: Tx, cid: int, version: int) -> LimitVersion | None:
        row = tx.fetchone(
            LIMIT_SELECT + " WHERE v.characteristic_id = ? AND v.version = ?", [cid, version]
        )
        if row is None:
            return None
        return self._limit(tx, row, self.current_version_number(tx, cid))

    def list_limit_versions(self, tx: Tx, cid: int) -> list[LimitVersion]:
        current = self.current_version_number(tx, cid)
        rows = tx.fetchall(
            LIMIT_SELECT + " WHERE v.characteristic_id = ? ORDER BY v.version", [cid]
        )
        return [self._limit(tx, r, current) for r in rows]

    def limit_versions_for(
        self, tx: Tx, pairs: list[tuple[int, int]]
    ) -> dict[tuple[int, int], LimitVersion]:
        """Several (characteristic_id, version) at once (without the `current` flag)."""
        wanted = set(pairs)
        out: dict[tuple[int, int], LimitVersion] = {}
        cids = sorted({cid for cid, _ in wanted})
        for start in range(0, len(cids), 500):
            chunk = cids[start : start + 500]
            rows = tx.fetchall(
                LIMIT_SELECT + f" WHERE v.characteristic_id IN ({', '.join('?' for _ in chunk)})",
                chunk,
            )
            for row in rows:
                key = (int(row["characteristic_id"]), int(row["version"]))
                if key in wanted:
                    out[key] = self._limit(tx, row, None)
        return out

    @staticmethod
    def _limit(tx: Tx, row: dict[str, Any], current: int | None) -> LimitVersion:
        return LimitVersion(
            characteristic_id=int(row["characteristic_id"]),
            version=int(row["version"]),
            chart=row["chart"],
            center=row["center"],
            sigma=row["sigma"],
            nsigmas=row["nsigmas"],
            subgroup_size=row["subgroup_size"],
            lcl=row["lcl"],
            ucl=row["ucl"],
            limits=tx.load_json(row["limits"]),
            rules=decode_rules(row["rules"]),
            method=row["method"],
            phase1=tx.load_json(row["phase1"]),
            computed_by=row["computed_by"],
            computed_at=tx.to_dt(row["computed_at"]),  # type: ignore[arg-type]
            reason=row["reason"],
            approved_by=row["approved_by"],
            approved_at=tx.to_dt(row["approved_at"]),
            approval_reason=row["approval_reason"],
            start_after_id=row["start_after_id"],
            current=current is not None and int(row["version"]) == current,
        )
