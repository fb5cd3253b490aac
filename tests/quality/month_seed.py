"""A seeded month of nonconformances and good units for a two-line plant (March 2026), with
the expected figures computed here, record by record, straight from the cost rules as the
issue states them (not from the service's SQL)."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

START = datetime(2026, 3, 1, tzinfo=UTC)
END = datetime(2026, 4, 1, tzinfo=UTC)
LINES = ("L1", "L2")
PRODUCTS = ("P-100", "P-200", "P-300")
CODES = ("DIM-001", "DIM-002", "SUR-001", "ASM-001", "MAT-001")
CODE_WEIGHTS = (30, 20, 25, 15, 10)
CATEGORY = {
    "DIM-001": "dimensional",
    "DIM-002": "dimensional",
    "SUR-001": "surface",
    "ASM-001": "assembly",
    "MAT-001": "material",
}
DISPOSITIONS = ("scrap", "rework", "repair", "use_as_is", "return_to_supplier", "customer_return")
DISPOSITION_WEIGHTS = (30, 30, 10, 10, 8, 12)

V1: dict[str, Any] = {
    "site": "plant1",
    "valid_from": "2026-03-01",
    "currency": "EUR",
    "labour_rate": 48.0,
    "products": [
        {
            "product": "P-100",
            "unit_cost": 40.0,
            "rework_material": 1.5,
            "customer_return_cost": 20.0,
            "supplier_return_cost": 2.0,
            "stations": {"L1.op10": 10.0, "L1.op20": 22.0, "L2.op10": 11.0},
        },
        {
            "product": "*",
            "unit_cost": 30.0,
            "rework_material": 1.0,
            "customer_return_cost": 15.0,
            "supplier_return_cost": 1.0,
        },
    ],
}
V2: dict[str, Any] = {
    "site": "plant1",
    "valid_from": "2026-03-16",
    "currency": "EUR",
    "labour_rate": 60.0,
    "products": [
        {
            "product": "P-100",
            "unit_cost": 44.0,
            "rework_material": 2.0,
            "customer_return_cost": 24.0,
            "supplier_return_cost": 2.5,
            "stations": {"L1.op10": 12.0, "L1.op20": 25.0},
        },
        {
            "product": "*",
            "unit_cost": 33.0,
            "rework_material": 1.25,
            "customer_return_cost": 18.0,
            "supplier_return_cost": 1.5,
            "stations": {"L2.op30": 20.0},
        },
    ],
}
# Two records either side of the change at 2026-03-16 00:00 UTC: 2 units of P-100 scrapped at
# L1.op20: 2 × 22.0 = 44.0 with V1, 2 × 25.0 = 50.0 with V2.
BOUNDARY = [
    {
        "ts": "2026-03-15T23:59:59Z",
        "line": "L1",
        "station": "L1.op20",
        "product": "P-100",
        "defect_code": "DIM-001",
        "disposition": "scrap",
        "quantity": 2,
        "lot": "LOT-B1",
    },
    {
        "ts": "2026-03-16T00:00:00Z",
        "line": "L1",
        "station": "L1.op20",
        "product": "P-100",
        "defect_code": "DIM-001",
        "disposition": "scrap",
        "quantity": 2,
        "lot": "LOT-B2",
    },
]
BOUNDARY_COSTS = (44.0, 50.0)


def iso(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse(ts: str) -> datetime:
    return datetime.fromisoformat(ts.replace("Z", "+00:00"))


def defects(seed: int = 20260301, n: int = 360) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    minutes = int((END - START).total_seconds() // 60)
    out: list[dict[str, Any]] = []
    for i in range(n):
        line = rng.choice(LINES)
        disposition = rng.choices(DISPOSITIONS, DISPOSITION_WEIGHTS)[0]
        record: dict[str, Any] = {
            "ts": iso(START + timedelta(minutes=rng.randrange(minutes))),
            "line": line,
            "product": rng.choice(PRODUCTS),
            "defect_code": rng.choices(CODES, CODE_WEIGHTS)[0],
            "disposition": disposition,
            "quantity": rng.randint(1, 5),
            "lot": f"LOT-{rng.randint(1, 40):02d}",
            "serial": f"SN{i:05d}",
        }
        station = rng.choice((None, "op10", "op20", "op30"))
        if station is not None:
            record["station"] = f"{line}.{station}"
        if disposition in ("rework", "repair"):
            record["rework_minutes"] = float(rng.choice((5, 10, 15, 30, 45, 90)))
        elif disposition == "use_as_is" and rng.random() < 0.5:
            record["rework_minutes"] = 12.5
        out.append(record)
    return out + [dict(r) for r in BOUNDARY]


def good_units(seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = []
    day = START
    while day < END:
        for line in LINES:
            for product in PRODUCTS:
                out.append(
                    {
                        "ts": iso(day + timedelta(hours=rng.randint(1, 23))),
                        "line": line,
                        "product": product,
                        "quantity": rng.randint(60, 140),
                    }
                )
        day += timedelta(days=1)
    return out


# --- the expected figures -----------------------------------------------------------------------
def version_for(ts: datetime, versions: list[dict[str, Any]]) -> dict[str, Any] | None:
    valid = [v for v in versions if date.fromisoformat(v["valid_from"]) <= ts.date()]
    return max(valid, key=lambda v: v["valid_from"]) if valid else None


def cost(record: dict[str, Any], versions: list[dict[str, Any]]) -> float | None:
    """The issue's rules: scrap = quantity × unit cost at the station of rejection; rework and
    repair = minutes × labour rate + material; customer return = the unit and its handling."""
    version = version_for(parse(record["ts"]), versions)
    if version is None:
        return None
    rates = {p["product"]: p for p in version["products"]}
    product = rates.get(record["product"]) or rates.get("*")
    if product is None:
        return None
    quantity = record.get("quantity", 1)
    labour_cost = record.get("rework_minutes", 0.0) * version["labour_rate"] / 60.0
    disposition = record["disposition"]
    if disposition == "scrap":
        station_costs = product.get("stations", {})
        material = quantity * station_costs.get(record.get("station"), product["unit_cost"])
    elif disposition in ("rework", "repair"):
        material = quantity * product["rework_material"]
    elif disposition == "return_to_supplier":
        material = quantity * product["supplier_return_cost"]
    elif disposition == "customer_return":
        material = quantity * (product["unit_cost"] + product["customer_return_cost"])
    else:
        material = 0.0
    return labour_cost + material


def week_of(ts: datetime) -> datetime:
    monday = ts.date() - timedelta(days=ts.weekday())
    return datetime(monday.year, monday.month, monday.day, tzinfo=UTC)


def totals(
    records: list[dict[str, Any]], versions: list[dict[str, Any]], key: Any
) -> dict[Any, dict[str, float]]:
    """Cost, units and records per key(record)."""
    out: dict[Any, dict[str, float]] = defaultdict(
        lambda: {"cost": 0.0, "quantity": 0, "records": 0, "uncosted": 0}
    )
    for r in records:
        t = out[key(r)]
        c = cost(r, versions)
        t["cost"] += c or 0.0
        t["uncosted"] += c is None
        t["quantity"] += r.get("quantity", 1)
        t["records"] += 1
    return dict(out)
