"""Defect codes, dispositions and cost model versions over the API."""

from __future__ import annotations

import httpx
from month_seed import V1, V2
from quality_helpers import LiveServer, build_plant, ok, post_defects

RECORD = {
    "ts": "2026-03-02T08:00:00Z",
    "line": "L1",
    "product": "P-100",
    "defect_code": "SUR-001",
    "disposition": "scrap",
    "quantity": 1,
}


def test_defect_codes_crud_retire_and_refuse_delete_in_use(
    plant: httpx.Client, live: LiveServer
) -> None:
    engineer, operator = live.client("engineer"), live.client("operator")
    codes = ok(operator.get("/api/v1/defect-codes"))
    assert [c["code"] for c in codes] == ["ASM-001", "DIM-001", "DIM-002", "MAT-001", "SUR-001"]
    dimensional = ok(operator.get("/api/v1/defect-codes", params={"category": "dimensional"}))
    assert [c["code"] for c in dimensional] == ["DIM-001", "DIM-002"]
    duplicate = engineer.post(
        "/api/v1/defect-codes", json={"code": "DIM-001", "name": "again", "category": "dimensional"}
    )
    assert duplicate.status_code == 409
    bad = engineer.post(
        "/api/v1/defect-codes", json={"code": "X", "name": "x", "category": "Not A Word"}
    )
    assert bad.status_code == 422 and bad.json()["field"] == "category"
    post_defects(operator, [RECORD])
    assert engineer.delete("/api/v1/defect-codes/SUR-001").status_code == 409
    retired = ok(engineer.patch("/api/v1/defect-codes/SUR-001", json={"active": False}))
    assert retired["active"] is False
    answer = post_defects(operator, [RECORD])
    assert answer["rejected"] == [{"index": 0, "error": "defect_code: 'SUR-001' is retired"}]
    assert engineer.delete("/api/v1/defect-codes/MAT-001").status_code == 204
    assert engineer.get("/api/v1/defect-codes/MAT-001").status_code == 404


def test_custom_disposition_is_costed_on_its_basis(plant: httpx.Client, live: LiveServer) -> None:
    engineer, manager = live.client("engineer"), live.client("manager")
    seeded = ok(engineer.get("/api/v1/dispositions"))
    assert [d["key"] for d in seeded] == [
        "scrap",
        "rework",
        "repair",
        "use_as_is",
        "return_to_supplier",
        "customer_return",
    ]
    ok(
        engineer.post(
            "/api/v1/dispositions", json={"key": "sort", "name": "Sort", "basis": "rework"}
        ),
        201,
    )
    bad = engineer.post("/api/v1/dispositions", json={"key": "x", "name": "x", "basis": "burn"})
    assert bad.status_code == 422 and bad.json()["field"] == "basis"
    ok(manager.post("/api/v1/cost-models", json=V1), 201)
    [record_id] = post_defects(
        engineer, [{**RECORD, "disposition": "sort", "quantity": 4, "rework_minutes": 30.0}]
    )["ids"]
    record = ok(manager.get(f"/api/v1/defects/{record_id}"))
    assert record["basis"] == "rework"
    assert record["cost"] == 30.0 * 48.0 / 60.0 + 4 * 1.5  # V1: labour 48/h, P-100 material 1.5
    changed = engineer.patch("/api/v1/dispositions/sort", json={"basis": "scrap"})
    assert changed.status_code == 409 and "re-price" in changed.json()["detail"]
    renamed = ok(engineer.patch("/api/v1/dispositions/sort", json={"name": "Sorting"}))
    assert renamed["name"] == "Sorting" and renamed["basis"] == "rework"


def test_cost_model_validation_and_validity_chain(plant: httpx.Client, live: LiveServer) -> None:
    manager = live.client("manager")
    v2 = ok(manager.post("/api/v1/cost-models", json=V2), 201)
    v1 = ok(manager.post("/api/v1/cost-models", json=V1), 201)  # an earlier one, added later
    assert (v1["valid_from"], v1["valid_to"]) == ("2026-03-01", "2026-03-16")
    assert ok(manager.get(f"/api/v1/cost-models/{v2['id']}"))["valid_to"] is None
    assert manager.post("/api/v1/cost-models", json=V1).status_code == 409
    cases = {
        "site": {**V1, "site": "nowhere", "valid_from": "2026-05-01"},
        "currency": {**V1, "currency": "euro", "valid_from": "2026-05-01"},
        "labour_rate": {**V1, "labour_rate": -1, "valid_from": "2026-05-01"},
        "products.0.stations": {
            **V1,
            "valid_from": "2026-05-01",
            "products": [{"product": "P-100", "unit_cost": 1.0, "stations": {"L7.op10": 1.0}}],
        },
        "products": {
            **V1,
            "valid_from": "2026-05-01",
            "products": [
                {"product": "P-100", "unit_cost": 1.0},
                {"product": "P-100", "unit_cost": 2.0},
            ],
        },
    }
    for field, body in cases.items():
        response = manager.post("/api/v1/cost-models", json=body)
        assert response.status_code == 422, (field, response.text)
        assert response.json()["field"].startswith(field), (field, response.json())
    got = ok(manager.get(f"/api/v1/cost-models/{v1['id']}"))
    p100 = next(p for p in got["products"] if p["product"] == "P-100")
    assert p100["stations"] == {"L1.op10": 10.0, "L1.op20": 22.0, "L2.op10": 11.0}
    assert manager.get("/api/v1/cost-models/999").status_code == 404
    # deleting versions re-links the chain, down to a site with none left
    assert manager.delete(f"/api/v1/cost-models/{v2['id']}").status_code == 204
    assert ok(manager.get(f"/api/v1/cost-models/{v1['id']}"))["valid_to"] is None
    assert manager.delete(f"/api/v1/cost-models/{v1['id']}").status_code == 204
    assert manager.get(f"/api/v1/cost-models/{v1['id']}").status_code == 404


def test_costs_in_two_currencies_are_never_added(live: LiveServer, admin: httpx.Client) -> None:
    plant = {
        "sites": [{"key": "plant1", "name": "Stuttgart"}, {"key": "plant2", "name": "Suzhou"}],
        "lines": [
            {"key": "L1", "name": "Line 1", "site": "plant1"},
            {"key": "L2", "name": "Line 2", "site": "plant2"},
        ],
        "stations": [],
    }
    build_plant(admin, plant)
    manager = live.client("manager")
    ok(manager.post("/api/v1/cost-models", json={**V1, "products": V1["products"][1:]}), 201)
    ok(
        manager.post(
            "/api/v1/cost-models",
            json={
                "site": "plant2",
                "valid_from": "2026-01-01",
                "currency": "CNY",
                "labour_rate": 90.0,
                "products": [{"product": "*", "unit_cost": 200.0}],
            },
        ),
        201,
    )
    post_defects(manager, [RECORD, {**RECORD, "line": "L2", "quantity": 2}])
    window = {"from": "2026-03-01T00:00:00Z", "to": "2026-04-01T00:00:00Z"}
    series = ok(manager.get("/api/v1/quality-cost", params={**window, "bucket": "month"}))
    assert {(r["key"], r["currency"], r["cost"]) for r in series["rows"]} == {
        ("L1", "EUR", 30.0),
        ("L2", "CNY", 400.0),
    }
    assert {t["currency"]: t["cost"] for t in series["totals"]} == {"CNY": 400.0, "EUR": 30.0}
    mixed = manager.get("/api/v1/defects/pareto", params={**window, "measure": "cost"})
    assert mixed.status_code == 409 and "CNY, EUR" in mixed.json()["detail"]
    one_site = ok(
        manager.get(
            "/api/v1/defects/pareto", params={**window, "measure": "cost", "site": "plant2"}
        )
    )
    assert (one_site["currency"], one_site["total"]) == ("CNY", 400.0)
