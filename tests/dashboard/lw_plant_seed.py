"""A small plant for the browser tests, created over the real service's HTTP API.

Two lines, four stations, six characteristics (X̄-R, X̄-S, I-MR), phase I data, approved limits,
then production data with a shift on the bore diameter (beyond-limit alarms) and a run on the
fill weight (WE4), so every screen has something true to show. One characteristic is left
without limits. Deterministic (seeded) so screenshots are stable.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import numpy as np

PLANT = {
    "sites": [{"key": "plant1", "name": "Plant 1"}],
    "lines": [
        {"key": "line1", "name": "Line 1 machining", "site": "plant1"},
        {"key": "line2", "name": "Line 2 filling", "site": "plant1"},
    ],
    "stations": [
        {"key": "line1.op20", "name": "OP20 boring", "line": "line1"},
        {"key": "line1.op30", "name": "OP30 assembly", "line": "line1"},
        {"key": "line2.op10", "name": "OP10 slotting", "line": "line2"},
        {"key": "line2.op40", "name": "OP40 filling", "line": "line2"},
    ],
}


@dataclass(frozen=True)
class Spec:
    key: str
    name: str
    unit: str
    chart: str
    n: int
    mean: float
    sd: float
    lsl: float | None
    usl: float | None
    station: str
    shift_at: int | None = None
    shift: float = 0.0
    approve: bool = True

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "key": self.key,
            "name": self.name,
            "unit": self.unit,
            "chart": self.chart,
            "subgroup_size": self.n,
            "station": self.station,
            "rules": "western-electric",
        }
        if self.lsl is not None:
            body["lsl"] = self.lsl
        if self.usl is not None:
            body["usl"] = self.usl
        if self.lsl is not None and self.usl is not None:
            body["target"] = round((self.lsl + self.usl) / 2, 6)
        return body


SPECS = (
    Spec(
        "line1.op20.bore",
        "Bore diameter",
        "mm",
        "xbar-r",
        5,
        74.0,
        0.01,
        73.95,
        74.05,
        "line1.op20",
        shift_at=130,
        shift=0.022,
    ),
    Spec("line1.op20.depth", "Bore depth", "mm", "xbar-r", 5, 12.0, 0.02, 11.9, 12.1, "line1.op20"),
    Spec("line1.op30.torque", "Bolt torque", "N·m", "imr", 1, 25.0, 0.4, 23.5, 26.5, "line1.op30"),
    Spec("line2.op10.width", "Slot width", "mm", "xbar-s", 4, 8.0, 0.015, 7.95, 8.05, "line2.op10"),
    Spec(
        "line2.op40.weight",
        "Fill weight",
        "g",
        "imr",
        1,
        500.0,
        1.2,
        495.0,
        505.0,
        "line2.op40",
        shift_at=120,
        shift=1.6,
    ),
    Spec(
        "line2.op40.seal",
        "Seal strength",
        "N",
        "imr",
        1,
        40.0,
        1.5,
        34.0,
        48.0,
        "line2.op40",
        approve=False,
    ),
)
PHASE1 = 50
TOTAL = 150
STEP = timedelta(minutes=2)


def iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _check(response: httpx.Response, *ok: int) -> Any:
    if response.status_code not in ok:
        raise AssertionError(
            f"{response.request.method} {response.request.url}: "
            f"{response.status_code} {response.text}"
        )
    return response.json() if response.content else None


def measurements(
    spec: Spec, start: datetime, first: int, count: int, seed: int
) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    out = []
    for k in range(first, first + count):
        shift = spec.shift if spec.shift_at is not None and k >= spec.shift_at else 0.0
        values = rng.normal(spec.mean + shift, spec.sd, spec.n)
        ts0 = start + k * STEP
        for j, value in enumerate(values):
            out.append(
                {
                    "characteristic": spec.key,
                    "ts": iso(ts0 + timedelta(seconds=j)),
                    "value": round(float(value), 6),
                    "lot": f"L{k // 25 + 1:04d}",
                    "source": f"seed:{spec.key}",
                    "seq": k * 10 + j,
                }
            )
    return out


def ingest(client: httpx.Client, token: str, records: Iterable[dict[str, Any]]) -> dict[str, Any]:
    answer = _check(
        client.post(
            "/api/v1/measurements", json={"measurements": list(records)}, headers=_auth(token)
        ),
        200,
    )
    assert not answer["rejected"] and not answer["duplicates"], answer
    return answer


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def seed_plant(
    base_url: str, tokens: dict[str, str], now: datetime | None = None
) -> dict[str, Any]:
    """Create the plant and its data; returns the time the data ends at and the specs."""
    now = now or datetime.now(UTC)
    start = now - TOTAL * STEP - timedelta(minutes=5)
    admin, engineer, operator = tokens["admin"], tokens["engineer"], tokens["operator"]
    with httpx.Client(base_url=base_url, timeout=30.0) as client:
        for level in ("sites", "lines", "stations"):
            for node in PLANT[level]:
                _check(client.post(f"/api/v1/{level}", json=node, headers=_auth(admin)), 201)
        for number, spec in enumerate(SPECS):
            _check(
                client.post("/api/v1/characteristics", json=spec.body(), headers=_auth(engineer)),
                201,
            )
            ingest(client, operator, measurements(spec, start, 0, PHASE1, seed=number))
            if spec.approve:
                proposal = _check(
                    client.post(
                        f"/api/v1/characteristics/{spec.key}/limits",
                        json={
                            "from": iso(start - timedelta(minutes=1)),
                            "to": iso(start + PHASE1 * STEP),
                            "reason": "Initial capability study",
                        },
                        headers=_auth(engineer),
                    ),
                    201,
                )
                _check(
                    client.post(
                        f"/api/v1/characteristics/{spec.key}/limits/{proposal['version']}/approve",
                        json={"reason": "Phase I in control"},
                        headers=_auth(engineer),
                    ),
                    200,
                )
            ingest(
                client,
                operator,
                measurements(spec, start, PHASE1, TOTAL - PHASE1, seed=100 + number),
            )
    return {"start": start, "end": start + TOTAL * STEP, "specs": SPECS}


# --- quality cost: defect codes, a cost model, good units and nonconformance records ---------

DEFECT_CODES = (
    {"code": "SUR-001", "name": "Scratch", "category": "surface"},
    {"code": "DIM-001", "name": "Bore oversize", "category": "dimensional"},
    {"code": "DIM-002", "name": "Depth out of tolerance", "category": "dimensional"},
    {"code": "ASM-001", "name": "Missing washer", "category": "assembly"},
    {"code": "FIL-001", "name": "Underfill", "category": "dimensional"},
)
PRODUCTS = {"line1": "P-100", "line2": "P-200"}
COST_MODEL = {
    "site": "plant1",
    "currency": "EUR",
    "labour_rate": 48.0,
    "products": [
        {"product": "P-100", "unit_cost": 38.5, "rework_material": 4.0},
        {"product": "P-200", "unit_cost": 6.0, "rework_material": 0.5},
    ],
}
QUALITY_DAYS = 21


def expected_cost(record: dict[str, Any]) -> float:
    """The documented costing (service/quality/costing.py), computed independently."""
    rates = {p["product"]: p for p in COST_MODEL["products"]}[record["product"]]
    per_unit = rates["unit_cost"] if record["disposition"] == "scrap" else rates["rework_material"]
    return (
        record["rework_minutes"] * COST_MODEL["labour_rate"] / 60.0 + record["quantity"] * per_unit
    )


def quality_records(
    now: datetime, seed: int = 11
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(good units, defects) over the last QUALITY_DAYS days. Scratches are the most frequent
    defect (cheap rework); bore oversize the most costly (scrapped P-100), with a spike on
    line 1 yesterday, the day its bore diameter drifted."""
    rng = np.random.default_rng(seed)
    goods, defects = [], []
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    for day in range(QUALITY_DAYS, 0, -1):
        start = today - timedelta(days=day) + timedelta(hours=6)
        for line, product in PRODUCTS.items():
            goods.append(
                {
                    "ts": iso(start + timedelta(hours=10)),
                    "line": line,
                    "product": product,
                    "quantity": int(
                        rng.integers(900, 1000) if line == "line1" else rng.integers(2300, 2500)
                    ),
                    "source": "seed-good",
                    "seq": len(goods),
                }
            )
        plan = [
            ("line1", "SUR-001", "rework", int(rng.integers(8, 14)), 3.0),
            ("line1", "DIM-001", "scrap", int(rng.integers(1, 3)) + (18 if day == 1 else 0), 0.0),
            ("line1", "DIM-002", "scrap", int(rng.integers(0, 2)), 0.0),
            ("line2", "SUR-001", "rework", int(rng.integers(4, 8)), 2.0),
            ("line2", "FIL-001", "scrap", int(rng.integers(2, 5)), 0.0),
            ("line2", "ASM-001", "rework", int(rng.integers(0, 3)), 4.0),
        ]
        for k, (line, code, disposition, quantity, minutes_each) in enumerate(plan):
            if quantity <= 0:
                continue
            defects.append(
                {
                    "ts": iso(start + timedelta(hours=1 + k)),
                    "line": line,
                    "product": PRODUCTS[line],
                    "defect_code": code,
                    "disposition": disposition,
                    "quantity": quantity,
                    "rework_minutes": minutes_each * quantity,
                    "source": "seed-defects",
                    "seq": len(defects),
                }
            )
    return goods, defects


def seed_quality(
    base_url: str, tokens: dict[str, str], now: datetime | None = None
) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    goods, defects = quality_records(now)
    with httpx.Client(base_url=base_url, timeout=30.0) as client:
        for code in DEFECT_CODES:
            _check(
                client.post("/api/v1/defect-codes", json=code, headers=_auth(tokens["engineer"])),
                201,
            )
        model = {**COST_MODEL, "valid_from": (now - timedelta(days=90)).date().isoformat()}
        _check(
            client.post("/api/v1/cost-models", json=model, headers=_auth(tokens["manager"])), 201
        )
        answer = _check(
            client.post(
                "/api/v1/good-units", json={"good_units": goods}, headers=_auth(tokens["operator"])
            ),
            200,
        )
        assert not answer["rejected"], answer
        answer = _check(
            client.post(
                "/api/v1/defects", json={"defects": defects}, headers=_auth(tokens["operator"])
            ),
            200,
        )
        assert not answer["rejected"], answer
    return {"goods": goods, "defects": defects}
