"""The service contract basics over real HTTP, on SQLite and PostgreSQL: health, auth and
roles, characteristics CRUD, error shapes."""

from __future__ import annotations

import httpx
from service_helpers import BORE, LiveServer, create_characteristic


def test_health_needs_no_token_and_reports_the_store(live: LiveServer, database_url: str) -> None:
    response = httpx.get(f"{live.url}/health", timeout=10)
    assert response.status_code == 200
    assert response.json()["database"] == database_url.split(":")[0]


def test_every_api_route_needs_a_token(live: LiveServer) -> None:
    anonymous = live.client(None)
    for path in ("/api/v1/characteristics", "/api/v1/alarms", "/api/v1/me", "/api/v1/users"):
        response = anonymous.get(path)
        assert response.status_code == 401, path
        assert "token" in response.json()["detail"]
        assert response.headers["www-authenticate"] == "Bearer"
    bad = httpx.get(
        f"{live.url}/api/v1/characteristics", headers={"Authorization": "Bearer lw_nope"}
    )
    assert bad.status_code == 401
    assert anonymous.post("/api/v1/measurements", json={"measurements": []}).status_code == 401
    metrics = anonymous.get("/metrics")
    assert metrics.status_code == 200
    assert "linewatch_measurements_total" in metrics.text


def test_roles_are_ordered_and_a_low_role_gets_403(live: LiveServer) -> None:
    operator, engineer = live.client("operator"), live.client("engineer")
    manager, admin = live.client("manager"), live.client("admin")
    denied = operator.post("/api/v1/characteristics", json={**BORE})
    assert denied.status_code == 403
    assert "engineer" in denied.json()["detail"]
    assert engineer.post("/api/v1/characteristics", json={**BORE}).status_code == 201
    assert operator.get(f"/api/v1/characteristics/{BORE['key']}").status_code == 200
    assert engineer.get("/api/v1/users").status_code == 403
    assert manager.get("/api/v1/users").status_code == 403
    assert manager.get("/api/v1/audit").status_code == 200
    users = admin.get("/api/v1/users")
    assert users.status_code == 200
    assert {u["name"] for u in users.json()} >= {"operator-user", "engineer-user", "admin-user"}
    assert operator.get("/api/v1/me").json() == {"name": "operator-user", "role": "operator"}


def test_contract_create_and_get_characteristic(api: httpx.Client) -> None:
    created = api.post("/api/v1/characteristics", json=BORE)
    assert created.status_code == 201
    got = api.get(f"/api/v1/characteristics/{BORE['key']}")
    assert got.status_code == 200
    body = got.json()
    for field, value in BORE.items():
        assert body[field] == value
    assert body["current_limit_version"] is None
    assert api.post("/api/v1/characteristics", json=BORE).status_code == 409
    missing = api.get("/api/v1/characteristics/nope")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "characteristic 'nope' not found"}


def test_422_names_the_field(api: httpx.Client) -> None:
    cases = {
        "chart": {**BORE, "chart": "pie"},
        "key": {**BORE, "key": "bad key with spaces"},
        "rules": {**BORE, "rules": ["WE1", "XX9"]},
        "subgroup_size": {**BORE, "subgroup_size": 0},
        "lsl": {**BORE, "lsl": 80.0},
        "colour": {**BORE, "colour": "red"},
    }
    for field, body in cases.items():
        response = api.post("/api/v1/characteristics", json=body)
        assert response.status_code == 422, field
        detail = response.json()["detail"]
        assert isinstance(detail, str)
        assert field in detail or field in response.json()["field"], (field, detail)
    assert api.get("/api/v1/characteristics").json() == []


def test_update_is_audited_and_structure_is_frozen_once_limits_exist(api: httpx.Client) -> None:
    create_characteristic(api, key="c1", chart="imr", lsl=1.0, usl=3.0)
    patched = api.patch("/api/v1/characteristics/c1", json={"usl": 3.5, "reason": "drawing rev B"})
    assert patched.status_code == 200
    assert patched.json()["usl"] == 3.5
    audit = api.get("/api/v1/audit", params={"entity": "spec", "key": "c1"}).json()
    assert audit[0]["before"] == {"usl": 3.0}
    assert audit[0]["after"] == {"usl": 3.5}
    assert audit[0]["reason"] == "drawing rev B"
    assert audit[0]["actor"] == "admin-user"
    assert api.patch("/api/v1/characteristics/c1", json={"lsl": 4.0}).status_code == 422
    assert api.patch("/api/v1/characteristics/c1", json={"chart": "ewma"}).status_code == 200
    assert api.patch("/api/v1/characteristics/c1", json={"chart": "imr"}).status_code == 200
    api.post("/api/v1/characteristics/c1/limits", json={"center": 2.0, "sigma": 0.1})
    frozen = api.patch("/api/v1/characteristics/c1", json={"chart": "ewma"})
    assert frozen.status_code == 409
    assert api.delete("/api/v1/characteristics/c1").status_code == 204
    assert api.get("/api/v1/characteristics/c1").status_code == 404


def test_plant_hierarchy_and_characteristic_placement(api: httpx.Client) -> None:
    assert api.post("/api/v1/sites", json={"key": "p1", "name": "Plant 1"}).status_code == 201
    line = api.post(
        "/api/v1/lines", json={"key": "l1", "name": "Line 1", "site": "p1", "area": "Machining"}
    )
    assert line.status_code == 201
    assert line.json()["parent"] == "p1"
    bad = api.post("/api/v1/stations", json={"key": "s1", "name": "OP20", "line": "nope"})
    assert bad.status_code == 422
    assert bad.json()["field"] == "line"
    assert (
        api.post("/api/v1/stations", json={"key": "s1", "name": "OP20", "line": "l1"}).status_code
        == 201
    )
    char = create_characteristic(api, key="c1", station="s1")
    assert (char["station"], char["line"], char["site"]) == ("s1", "l1", "p1")
    assert api.delete("/api/v1/stations/s1").status_code == 409
    listed = api.get("/api/v1/characteristics", params={"line": "l1"}).json()
    assert [c["key"] for c in listed] == ["c1"]
    renamed = api.patch("/api/v1/lines/l1", json={"name": "Line One"})
    assert renamed.json()["name"] == "Line One"


def test_tokens_over_the_api_and_revocation(live: LiveServer) -> None:
    admin = live.client("admin")
    created = admin.post("/api/v1/tokens", json={"name": "collector-1", "role": "operator"})
    assert created.status_code == 201
    token = created.json()["token"]
    client = httpx.Client(base_url=live.url, headers={"Authorization": f"Bearer {token}"})
    assert client.get("/api/v1/me").json()["role"] == "operator"
    listed = admin.get("/api/v1/tokens").json()
    mine = [t for t in listed if t["user"] == "collector-1"]
    assert len(mine) == 1 and token.startswith(mine[0]["prefix"])
    assert token not in str(listed)
    assert admin.delete(f"/api/v1/tokens/{mine[0]['id']}").status_code == 204
    assert client.get("/api/v1/me").status_code == 401
    client.close()
