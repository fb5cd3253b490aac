"""Recording defects and good units: a bad record is rejected with a clear reason naming the
field, the rest of the batch is stored; replays are duplicates; roles are enforced."""

from __future__ import annotations

import httpx
from quality_helpers import LiveServer, ok, post_defects

GOOD = {
    "ts": "2026-03-02T08:00:00Z",
    "line": "L1",
    "station": "L1.op20",
    "product": "P-100",
    "defect_code": "DIM-001",
    "disposition": "scrap",
    "quantity": 2,
}


def test_bad_records_are_rejected_one_by_one_and_the_rest_is_stored(
    plant: httpx.Client, live: LiveServer
) -> None:
    operator = live.client("operator", "otto")
    batch = [
        GOOD,
        {**GOOD, "quantity": -3},
        {**GOOD, "defect_code": "NOPE-9"},
        {**GOOD, "line": "L9", "station": None},
        {**GOOD, "disposition": "trash"},
        {**GOOD, "station": "L2.op10"},
        {**GOOD, "quantity": 0},
        {**GOOD, "quantity": "many"},
        {**GOOD, "rework_minutes": -5},
        {**GOOD, "ts": "2026-03-02 08:00:00"},
        {**GOOD, "ts": "2999-01-01T00:00:00Z"},
        {**GOOD, "colour": "red"},
        {k: v for k, v in GOOD.items() if k != "product"},
        "not a record",
        {**GOOD, "serial": "SN-2", "rework_minutes": 12.5, "disposition": "rework"},
    ]
    answer = post_defects(operator, batch)
    assert answer["accepted"] == 2 and answer["duplicates"] == 0
    errors = {r["index"]: r["error"] for r in answer["rejected"]}
    assert sorted(errors) == list(range(1, 14))
    assert errors[1].startswith("quantity:") and "greater than 0" in errors[1]
    assert errors[2] == "defect_code: unknown defect code 'NOPE-9'"
    assert errors[3] == "line: unknown line 'L9'"
    assert errors[4].startswith("disposition: unknown disposition 'trash' (one of ")
    assert "scrap" in errors[4] and "customer_return" in errors[4]
    assert errors[5] == "station: 'L2.op10' is not a station of line 'L1'"
    assert errors[6].startswith("quantity:")
    assert errors[7].startswith("quantity:")
    assert errors[8].startswith("rework_minutes:")
    assert "time zone" in errors[9]
    assert "future" in errors[10]
    assert errors[11] == "colour: unknown field"
    assert errors[12] == "product: is required"
    assert errors[13] == "record: must be an object"
    stored = ok(
        operator.get(
            "/api/v1/defects", params={"from": "2026-03-01T00:00:00Z", "to": "2026-04-01T00:00:00Z"}
        )
    )
    assert [(r["id"], r["disposition"], r["quantity"]) for r in stored] == [
        (answer["ids"][0], "scrap", 2),
        (answer["ids"][1], "rework", 2),
    ]
    assert stored[0]["recorded_by"] == "otto" and stored[0]["site"] == "plant1"
    assert stored[1]["rework_minutes"] == 12.5 and stored[1]["serial"] == "SN-2"


def test_replays_with_source_and_seq_are_duplicates(plant: httpx.Client, live: LiveServer) -> None:
    collector = live.client("operator", "collector-line1")
    batch = [{**GOOD, "source": "L1-plc:reject", "seq": i, "quantity": i + 1} for i in range(5)]
    first = post_defects(collector, batch)
    assert first["accepted"] == 5
    again = post_defects(
        collector,
        [
            *batch[3:],
            {**GOOD, "source": "L1-plc:reject", "seq": 5},
            {**GOOD, "source": "L1-plc:reject", "seq": 5},
        ],
    )
    assert (again["accepted"], again["duplicates"]) == (1, 3)
    manual = post_defects(collector, [GOOD, GOOD])  # no seq: two real events
    assert manual["accepted"] == 2
    pareto = ok(
        live.client("engineer").get(
            "/api/v1/defects/pareto",
            params={"from": "2026-03-02T00:00:00Z", "to": "2026-03-03T00:00:00Z"},
        )
    )
    assert pareto["total"] == sum(range(1, 6)) + 2 + 2 + 2  # seq 0-4, seq 5, two manual


def test_good_units_are_checked_like_defects(plant: httpx.Client, live: LiveServer) -> None:
    operator = live.client("operator")
    body = {
        "good_units": [
            {"ts": "2026-03-02T08:00:00Z", "line": "L1", "product": "P-100", "quantity": 90},
            {"ts": "2026-03-02T09:00:00Z", "line": "L1", "product": "P-100", "quantity": -1},
            {"ts": "2026-03-02T09:00:00Z", "line": "LX", "product": "P-100", "quantity": 4},
            {
                "ts": "2026-03-02T09:00:00Z",
                "line": "L1",
                "product": "P-100",
                "quantity": 10,
                "source": "L1-plc:good",
                "seq": 1,
            },
            {
                "ts": "2026-03-02T09:00:00Z",
                "line": "L1",
                "product": "P-100",
                "quantity": 10,
                "source": "L1-plc:good",
                "seq": 1,
            },
        ]
    }
    answer = ok(operator.post("/api/v1/good-units", json=body))
    assert (answer["accepted"], answer["duplicates"]) == (2, 1)
    assert [r["index"] for r in answer["rejected"]] == [1, 2]
    assert answer["rejected"][1]["error"] == "line: unknown line 'LX'"
    rates = ok(
        operator.get(
            "/api/v1/quality-rates",
            params={"from": "2026-03-02T00:00:00Z", "to": "2026-03-03T00:00:00Z", "bucket": "day"},
        )
    )
    assert [(r["key"], r["good"], r["fpy"]) for r in rates["rows"]] == [("L1", 100, 1.0)]


def test_malformed_bodies_and_roles(plant: httpx.Client, live: LiveServer) -> None:
    operator, engineer = live.client("operator"), live.client("engineer")
    manager, anonymous = live.client("manager"), live.client(None)
    assert anonymous.post("/api/v1/defects", json={"defects": [GOOD]}).status_code == 401
    assert anonymous.get("/api/v1/quality-rates").status_code == 401
    not_json = operator.post(
        "/api/v1/defects", content=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert not_json.status_code == 422 and not_json.json()["detail"] == "body: not valid JSON"
    wrong = operator.post("/api/v1/defects", json={"records": [GOOD]})
    assert wrong.status_code == 422 and wrong.json()["field"] == "defects"
    assert operator.post("/api/v1/defects", json={"defects": GOOD}).status_code == 422
    for client in (operator, engineer):
        denied = client.get("/api/v1/quality-cost")
        assert denied.status_code == 403 and "manager" in denied.json()["detail"]
        assert client.get("/api/v1/cost-models").status_code == 403
        assert client.get("/api/v1/quality-cost/movers").status_code == 403  # measure=cost
        assert (
            client.get("/api/v1/quality-cost/movers", params={"measure": "count"}).status_code
            == 200
        )
    assert manager.get("/api/v1/quality-cost").status_code == 200
    assert (
        operator.post(
            "/api/v1/defect-codes", json={"code": "X-1", "name": "x", "category": "surface"}
        ).status_code
        == 403
    )
    created = post_defects(operator, [GOOD])["ids"][0]
    assert operator.delete(f"/api/v1/defects/{created}").status_code == 403
    bad_query = manager.get("/api/v1/quality-cost", params={"bucket": "fortnight"})
    assert bad_query.status_code == 422 and bad_query.json()["field"] == "bucket"
    reversed_window = manager.get(
        "/api/v1/quality-cost",
        params={"from": "2026-03-02T00:00:00Z", "to": "2026-03-01T00:00:00Z"},
    )
    assert reversed_window.status_code == 422 and reversed_window.json()["field"] == "from"


def test_deleting_a_record_takes_it_out_of_every_figure(
    plant: httpx.Client, live: LiveServer
) -> None:
    engineer = live.client("engineer", "erik")
    ids = post_defects(engineer, [GOOD, {**GOOD, "quantity": 5}])["ids"]
    params = {"from": "2026-03-02T00:00:00Z", "to": "2026-03-03T00:00:00Z"}
    assert ok(engineer.get("/api/v1/defects/pareto", params=params))["total"] == 7
    assert (
        engineer.delete(f"/api/v1/defects/{ids[1]}", params={"reason": "typo"}).status_code == 204
    )
    assert ok(engineer.get("/api/v1/defects/pareto", params=params))["total"] == 2
    assert engineer.get(f"/api/v1/defects/{ids[1]}").status_code == 404
    assert engineer.delete(f"/api/v1/defects/{ids[1]}").status_code == 404
    audit = ok(live.client("admin").get("/api/v1/audit", params={"entity": "defect"}))
    assert audit[0]["actor"] == "erik" and audit[0]["reason"] == "typo"


def test_gzip_batches_are_read_like_the_measurement_route(
    plant: httpx.Client, live: LiveServer
) -> None:
    import gzip
    import json

    collector = live.client("operator", "collector-line1")
    batch = {"defects": [{**GOOD, "source": "L1-plc:gz", "seq": 1, "quantity": 4}]}
    body = gzip.compress(json.dumps(batch).encode())
    headers = {"content-type": "application/json", "content-encoding": "gzip"}
    answer = collector.post("/api/v1/defects", content=body, headers=headers)
    assert answer.status_code == 200, answer.text
    assert (answer.json()["accepted"], answer.json()["duplicates"]) == (1, 0)
    replay = collector.post("/api/v1/defects", content=body, headers=headers)
    assert (replay.json()["accepted"], replay.json()["duplicates"]) == (0, 1)
