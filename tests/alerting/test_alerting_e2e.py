"""End to end through the real service app: HTTP ingest of a violating measurement → alarm →
outbox → worker → webhook received; then the notification log and the routes API."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alerting_receivers import HttpReceiver
from fastapi.testclient import TestClient

SECRET = "e2e-secret-key-with-enough-length-0123456789"


def _alerting_config(tmp_path: Path, receiver: HttpReceiver) -> Path:
    path = tmp_path / "alerting.toml"
    path.write_text(
        f"""
[alerting]
public_url = "http://dash.local:8050"

[alerting.channels.hook]
type = "webhook"
url = "{receiver.url}/hook"

[alerting.channels.other]
type = "webhook"
url = "{receiver.url}/other"

[[alerting.routes]]
name = "everything"
channels = ["hook"]
""",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def service(database_url, receiver, tmp_path, monkeypatch):
    from service.app import create_app
    from service.auth import issue_token
    from service.settings import Settings
    from service.storage import open_store

    monkeypatch.setenv("LINEWATCH_ALERTING_CONFIG", str(_alerting_config(tmp_path, receiver)))
    settings = Settings(database_url=database_url, secret_key=SECRET, config_file=None)
    store = open_store(settings)
    try:
        tokens = {
            role: issue_token(store, SECRET, role=role, name=f"e2e-{role}")
            for role in ("operator", "engineer", "admin")
        }
    finally:
        store.close()
    with TestClient(create_app(settings)) as client:
        yield client, tokens


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.slow
def test_violating_measurement_reaches_the_webhook_and_is_logged(service, receiver):
    client, tokens = service
    admin = _auth(tokens["admin"])
    r = client.post(
        "/api/v1/characteristics",
        json={
            "key": "line1.op20.bore",
            "name": "Bore diameter",
            "unit": "mm",
            "chart": "imr",
            "rules": "western-electric",
        },
        headers=admin,
    )
    assert r.status_code == 201, r.text
    r = client.post(
        "/api/v1/characteristics/line1.op20.bore/limits",
        json={"center": 10.0, "sigma": 1.0},
        headers=admin,
    )
    assert r.status_code == 201, r.text
    version = r.json()["version"]
    r = client.post(
        f"/api/v1/characteristics/line1.op20.bore/limits/{version}/approve", headers=admin
    )
    assert r.status_code == 200, r.text
    ts = datetime.now(UTC).isoformat()
    sent_at = time.time()
    r = client.post(
        "/api/v1/measurements",
        json={"measurements": [{"characteristic": "line1.op20.bore", "ts": ts, "value": 17.5}]},
        headers=admin,
    )
    assert r.status_code == 200 and r.json()["accepted"] == 1, r.text
    (req,) = receiver.wait_for(1, timeout=10)
    assert req.at - sent_at < 2.0
    body = req.json()
    assert body["event"] == "alarm.opened" and body["rule"] == "WE1"
    assert body["characteristic"] == "line1.op20.bore" and body["side"] == "above"
    assert body["value"] == pytest.approx(17.5)
    assert body["chart_url"].startswith("http://dash.local:8050/")
    alarm_id = body["alarm_id"]

    # the notification log, with roles
    url = f"/api/v1/alarms/{alarm_id}/notifications"
    deadline = time.monotonic() + 5
    while True:
        r = client.get(url, headers=_auth(tokens["engineer"]))
        assert r.status_code == 200, r.text
        if (r.json() and r.json()[0]["state"] == "sent") or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    (note,) = r.json()
    assert note["state"] == "sent" and note["channel"] == "hook" and note["route"] == "everything"
    assert note["attempt_log"][0]["ok"] is True and note["attempt_log"][0]["status_code"] == 200
    assert client.get(url, headers=_auth(tokens["operator"])).status_code == 403
    assert client.get(url).status_code == 401
    assert client.get("/api/v1/alarms/999999/notifications", headers=admin).status_code == 404
    huge = client.get(f"/api/v1/alarms/{2**70}/notifications", headers=admin)
    assert huge.status_code == 422  # beyond BIGINT: refused, never a 500


@pytest.mark.slow
def test_routes_api(service):
    client, tokens = service
    admin, engineer = _auth(tokens["admin"]), _auth(tokens["engineer"])
    route = {"channels": ["other"], "lines": ["line2"], "min_severity": "critical"}
    assert (
        client.put("/api/v1/alerting/routes/line2", json=route, headers=engineer).status_code == 403
    )
    r = client.put("/api/v1/alerting/routes/line2", json=route, headers=admin)
    assert r.status_code == 200, r.text
    assert r.json()["route"]["lines"] == ["line2"] and r.json()["updated_by"] == "e2e-admin"
    r = client.put("/api/v1/alerting/routes/everything", json=route, headers=admin)
    assert r.status_code == 409  # defined in the config file
    r = client.put("/api/v1/alerting/routes/bad", json={"channels": ["nope"]}, headers=admin)
    assert r.status_code == 422 and "nope" in r.text
    r = client.put(
        "/api/v1/alerting/routes/bad", json={"channels": ["other"], "x": 1}, headers=admin
    )
    assert r.status_code == 422
    listed = client.get("/api/v1/alerting/routes", headers=engineer).json()
    assert [(x["source"], x["route"]["name"]) for x in listed] == [
        ("config", "everything"),
        ("api", "line2"),
    ]
    assert client.delete("/api/v1/alerting/routes/line2", headers=admin).status_code == 204
    assert client.delete("/api/v1/alerting/routes/line2", headers=admin).status_code == 404
    openapi = client.get("/openapi.json").json()
    assert "/api/v1/alarms/{alarm_id}/notifications" in openapi["paths"]
